"""Map tanxiao errors to gRPC statuses with google.rpc details (BadRequest, ErrorInfo)."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from tanxiao.errors import FieldViolation, TanxiaoError

ERROR_DOMAIN = "tanxiao.io"
# Errors travel in trailers, which clients cap (8 KiB by default): a message quoting a 10,000-character
# value would hide the error itself. Texts are cut, violations counted beyond the first ones.
MAX_TEXT = 300
MAX_VIOLATIONS = 20


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _pack(message: object) -> any_pb2.Any:
    detail = any_pb2.Any()
    detail.Pack(message)
    return detail


def bad_request(violations: tuple[FieldViolation, ...]) -> error_details_pb2.BadRequest:
    shown = [
        error_details_pb2.BadRequest.FieldViolation(
            field=_short(v.field), description=_short(v.description), reason=v.reason or "INVALID_ARGUMENT"
        )
        for v in violations[:MAX_VIOLATIONS]
    ]
    if len(violations) > MAX_VIOLATIONS:
        shown.append(
            error_details_pb2.BadRequest.FieldViolation(
                field=_short(violations[MAX_VIOLATIONS].field),
                description=f"and {len(violations) - MAX_VIOLATIONS} more problems",
                reason="INVALID_ARGUMENT",
            )
        )
    return error_details_pb2.BadRequest(field_violations=shown)


def retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    info = error_details_pb2.RetryInfo()
    info.retry_delay.FromNanoseconds(int(max(seconds, 0.0) * 1e9))
    return info


def to_grpc_status(
    error: TanxiaoError, request_id: str | None = None, caller_request_id: str | None = None
) -> grpc.Status:
    """One ErrorInfo always (AIP-193), plus BadRequest when fields are at fault. Its metadata carries
    ``request_id``, the server's id of the call (what its logs and access log say; the caller's
    ``x-request-id`` when it sent a usable one), and ``caller_request_id``, the caller's own id: the
    request's ``request_id`` field (its idempotency key) when set, else the ``x-request-id`` it sent."""
    return rpc_status.to_status(to_status_proto(error, request_id, caller_request_id))


def to_status_proto(
    error: TanxiaoError, request_id: str | None = None, caller_request_id: str | None = None
) -> status_pb2.Status:
    """``to_grpc_status`` as a google.rpc.Status message (a batch answer's per-item error)."""
    metadata = {k: _short(v) for k, v in error.metadata.items()}
    if request_id:
        metadata["request_id"] = request_id
    if caller_request_id:
        metadata["caller_request_id"] = _short(caller_request_id)
    details = [
        _pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata))
    ]
    if error.violations:
        details.append(_pack(bad_request(error.violations)))
    retry_after = getattr(error, "retry_after_seconds", None)
    if retry_after is not None:
        details.append(_pack(retry_info(retry_after)))
    return status_pb2.Status(
        code=getattr(code_pb2, error.code), message=_short(error.message), details=details
    )


def internal_status(request_id: str | None, caller_request_id: str | None = None) -> grpc.Status:
    """What an unexpected failure looks like to a caller: no internals leaked, a request id to quote."""
    error = TanxiaoError(
        f"internal error; quote request id {request_id} to the operator",
        reason="INTERNAL",
    )
    return to_grpc_status(error, request_id, caller_request_id)
