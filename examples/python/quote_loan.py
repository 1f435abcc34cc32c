"""Quote a loan with the tanxiao scoring service and decode its errors (Python, grpcio).

    python examples/python/quote_loan.py ADDRESS USCC [REQUEST_ID]

Needs ``grpcio``, ``grpcio-status``, ``protobuf`` and ``googleapis-common-protos`` (PyPI), and the
generated contract code: ``tanxiao.scoring.v1`` as checked into this repository, or your own
``python -m grpc_tools.protoc -Iprotos --python_out=. --grpc_python_out=. protos/tanxiao/**/*.proto``.

Plaintext unless TANXIAO_TLS_CA_FILE names the CA of the server certificate; TANXIAO_TOKEN, when set,
is sent as ``authorization: Bearer <token>``. Prints one JSON object per line: the quote, then the
error of a request with a malformed USCC, decoded from the google.rpc.Status details (one ErrorInfo;
a BadRequest naming the fields at fault).
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tanxiao.scoring.v1 import scoring_pb2, scoring_pb2_grpc

LENDER = "lenders/huzhou-bank"


def dial(address: str) -> grpc.Channel:
    ca_file = os.environ.get("TANXIAO_TLS_CA_FILE")
    if not ca_file:
        return grpc.insecure_channel(address)
    with open(ca_file, "rb") as handle:
        return grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=handle.read()))


def metadata() -> list[tuple[str, str]]:
    token = os.environ.get("TANXIAO_TOKEN")
    return [("authorization", f"Bearer {token}")] if token else []


def quote_request(uscc: str, request_id: str) -> scoring_pb2.QuoteLoanTermsRequest:
    return scoring_pb2.QuoteLoanTermsRequest(
        request_id=request_id,
        lender=LENDER,
        enterprise=f"enterprises/{uscc}",
        product=scoring_pb2.GENERAL,
        requested_amount_fen=500_000_000,  # 5,000,000 yuan
        tenor_months=36,
    )


def decode_error(error: grpc.RpcError) -> dict[str, Any]:
    """The status code, ErrorInfo (reason, domain, metadata) and BadRequest field violations."""
    decoded: dict[str, Any] = {"code": error.code().name, "message": error.details()}
    status = rpc_status.from_call(error)  # google.rpc.Status from the grpc-status-details-bin trailer
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            decoded.update(reason=info.reason, domain=info.domain, metadata=dict(info.metadata))
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            decoded["field_violations"] = [
                {"field": v.field, "description": v.description} for v in bad.field_violations
            ]
    return decoded


def main() -> None:
    address, uscc = sys.argv[1], sys.argv[2]
    request_id = sys.argv[3] if len(sys.argv) > 3 else str(uuid.uuid4())
    with dial(address) as channel:
        stub = scoring_pb2_grpc.LoanScoringStub(channel)
        decision = stub.QuoteLoanTerms(quote_request(uscc, request_id), metadata=metadata(), timeout=30)
        print(json.dumps({
            "decision": decision.name,
            "eligible": decision.eligible,
            "product": scoring_pb2.Product.Name(decision.product),
            "grade": decision.grade.grade,
            "final_rate_bp": decision.final_rate_bp,
            "approved_limit_fen": decision.approved_limit_fen,
        }))  # fmt: skip
        bad = quote_request("NOT-A-USCC", request_id + "-bad")  # INVALID_ARGUMENT naming `enterprise`
        try:
            stub.QuoteLoanTerms(bad, metadata=metadata(), timeout=30)
        except grpc.RpcError as error:
            print(json.dumps({"error": decode_error(error)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
