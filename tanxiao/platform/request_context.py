"""The request id across services: outgoing calls made while serving a call carry its id.

The server interceptor binds ``request_id`` to the structlog context of each call (and echoes it in the
response's initial metadata); ``RequestIdClientInterceptor`` on a channel copies it into the
``x-request-id`` metadata of every call made from that context, so one id names the caller's call in
the scoring service's logs and in the registry's. A call that already carries an id keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import grpc
import structlog

REQUEST_ID_KEY = "x-request-id"


def current_request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) and value else None


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


def _with_request_id(details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
    request_id = current_request_id()
    metadata = list(details.metadata or ())
    if request_id is None or any(key == REQUEST_ID_KEY for key, _ in metadata):
        return details
    metadata.append((REQUEST_ID_KEY, request_id))
    return _ClientCallDetails(
        details.method,
        details.timeout,
        metadata,
        details.credentials,
        getattr(details, "wait_for_ready", None),
        getattr(details, "compression", None),
    )


class _ClientCallDetails(_Details, grpc.ClientCallDetails):  # type: ignore[misc]
    pass


class RequestIdClientInterceptor(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(_with_request_id(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(_with_request_id(details), request)

    def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, requests: Iterator[Any]
    ) -> Any:
        return continuation(_with_request_id(details), requests)

    def intercept_stream_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, requests: Iterator[Any]
    ) -> Any:
        return continuation(_with_request_id(details), requests)
