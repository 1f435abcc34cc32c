// Quote a loan with the tanxiao scoring service and decode its errors (Node, @grpc/grpc-js).
//
//   node quote_loan.js ADDRESS USCC [REQUEST_ID]
//
// The contract is loaded at run time from protos/ (@grpc/proto-loader); google.rpc.Status and its
// details (ErrorInfo, BadRequest) from the vendored protos/google/rpc (protobufjs). TANXIAO_PROTOS
// points elsewhere if the protos are not two directories up. Plaintext unless TANXIAO_TLS_CA_FILE names
// the CA of the server certificate; TANXIAO_TOKEN, when set, is sent as "authorization: Bearer <token>".
// Prints one JSON object per line: the quote, then the decoded error of a request with a bad USCC.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTOS = process.env.TANXIAO_PROTOS || path.resolve(__dirname, '..', '..', 'protos');
const LENDER = 'lenders/huzhou-bank';

const definition = protoLoader.loadSync('tanxiao/scoring/v1/scoring.proto', {
  includeDirs: [PROTOS],
  keepCase: true, // field names as in the .proto (request_id), not camelCase
  longs: String, // int64 fen amounts exceed 2^53 in principle: keep them exact as strings
  enums: String,
  defaults: true,
});
const scoring = grpc.loadPackageDefinition(definition).tanxiao.scoring.v1;

// google.rpc error details. protobufjs ships google/protobuf/{any,duration}.proto itself.
const rpc = new protobuf.Root();
rpc.resolvePath = (origin, target) => path.join(PROTOS, target);
rpc.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
const Status = rpc.lookupType('google.rpc.Status');

function credentials() {
  const ca = process.env.TANXIAO_TLS_CA_FILE;
  return ca ? grpc.credentials.createSsl(fs.readFileSync(ca)) : grpc.credentials.createInsecure();
}

function metadata() {
  const md = new grpc.Metadata();
  if (process.env.TANXIAO_TOKEN) md.set('authorization', `Bearer ${process.env.TANXIAO_TOKEN}`);
  return md;
}

function quoteRequest(uscc, requestId) {
  return {
    request_id: requestId,
    lender: LENDER,
    enterprise: `enterprises/${uscc}`,
    product: 'GENERAL',
    requested_amount_fen: '500000000', // 5,000,000 yuan
    tenor_months: 36,
  };
}

// The status code, ErrorInfo (reason, domain, metadata) and BadRequest field violations.
function decodeError(error) {
  const decoded = { code: grpc.status[error.code], message: error.details };
  const [raw] = error.metadata.get('grpc-status-details-bin');
  if (!raw) return decoded;
  const status = Status.decode(raw);
  for (const detail of status.details) {
    const typeName = detail.type_url.slice(detail.type_url.lastIndexOf('/') + 1);
    const message = rpc.lookupType(typeName).decode(detail.value);
    if (typeName === 'google.rpc.ErrorInfo') {
      Object.assign(decoded, { reason: message.reason, domain: message.domain, metadata: message.metadata });
    } else if (typeName === 'google.rpc.BadRequest') {
      decoded.field_violations = message.field_violations.map((v) => ({
        field: v.field,
        description: v.description,
      }));
    }
  }
  return decoded;
}

function call(client, request) {
  const deadline = new Date(Date.now() + 30_000);
  return new Promise((resolve, reject) => {
    client.QuoteLoanTerms(request, metadata(), { deadline }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

async function main() {
  const [address, uscc, requestId = crypto.randomUUID()] = process.argv.slice(2);
  const client = new scoring.LoanScoring(address, credentials());
  try {
    const decision = await call(client, quoteRequest(uscc, requestId));
    console.log(JSON.stringify({
      decision: decision.name,
      eligible: decision.eligible,
      product: decision.product,
      grade: decision.grade ? decision.grade.grade : 0,
      final_rate_bp: decision.final_rate_bp,
      approved_limit_fen: decision.approved_limit_fen,
    }));
    try {
      await call(client, quoteRequest('NOT-A-USCC', `${requestId}-bad`)); // INVALID_ARGUMENT, `enterprise`
    } catch (error) {
      if (error.code === undefined) throw error;
      console.log(JSON.stringify({ error: decodeError(error) }));
    }
  } finally {
    client.close();
  }
}

main().catch((error) => {
  console.error(error.message || error);
  process.exit(1);
});
