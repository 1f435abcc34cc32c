// List a server's services and describe one of them over grpc.reflection.v1 (Node, @grpc/grpc-js):
// what grpcurl, Postman and other tools do before they call a service they have no stubs for.
//
//   node reflect.js ADDRESS SERVICE          e.g. node reflect.js 127.0.0.1:50052 tanxiao.scoring.v1.LoanScoring
//
// Uses the official v1 reflection.proto: Debian's grpc-proto package (/usr/share/grpc-proto), or the
// directory in GRPC_PROTOS (a checkout of github.com/grpc/grpc-proto). Plaintext unless
// TANXIAO_TLS_CA_FILE is set (reflection needs no token). Prints one JSON object: the services, the
// methods of SERVICE and the messages of the files that describe it.
'use strict';

const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const descriptor = require('protobufjs/ext/descriptor');

const GRPC_PROTOS = process.env.GRPC_PROTOS || '/usr/share/grpc-proto';
const definition = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', {
  includeDirs: [GRPC_PROTOS],
  keepCase: true,
});
const reflection = grpc.loadPackageDefinition(definition).grpc.reflection.v1;

function credentials() {
  const ca = process.env.TANXIAO_TLS_CA_FILE;
  return ca ? grpc.credentials.createSsl(fs.readFileSync(ca)) : grpc.credentials.createInsecure();
}

function ask(client, requests) {
  return new Promise((resolve, reject) => {
    const answers = [];
    const call = client.ServerReflectionInfo({ deadline: new Date(Date.now() + 30_000) });
    call.on('data', (answer) => {
      if (answer.error_response) {
        reject(new Error(`${answer.error_response.error_code}: ${answer.error_response.error_message}`));
      }
      answers.push(answer);
      if (answers.length === requests.length) call.end();
    });
    call.on('error', reject);
    call.on('end', () => resolve(answers));
    for (const request of requests) call.write(request);
  });
}

async function main() {
  const [address, service] = process.argv.slice(2);
  const client = new reflection.ServerReflection(address, credentials());
  try {
    const [listed, described] = await ask(client, [
      { list_services: '' },
      { file_containing_symbol: service },
    ]);
    const files = described.file_descriptor_response.file_descriptor_proto.map((bytes) =>
      descriptor.FileDescriptorProto.decode(bytes),
    );
    const methods = [];
    const messages = [];
    for (const file of files) {
      for (const message of file.messageType) messages.push(`${file.package}.${message.name}`);
      for (const s of file.service) {
        if (`${file.package}.${s.name}` === service) methods.push(...s.method.map((m) => m.name));
      }
    }
    console.log(JSON.stringify({
      version: 'v1',
      services: listed.list_services_response.service.map((s) => s.name),
      methods,
      messages,
    }));
  } finally {
    client.close();
  }
}

main().catch((error) => {
  console.error(error.message || error);
  process.exit(1);
});
