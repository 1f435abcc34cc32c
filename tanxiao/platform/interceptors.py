"""The server interceptor every service gets: request id, structured access log, error mapping.

A request id comes from the caller's ``x-request-id`` metadata or is generated; it is bound to the
structlog context for the whole call and returned in ErrorInfo metadata on failure.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import structlog

from tanxiao.errors import TanxiaoError
from tanxiao.platform.rpc_status import internal_status, to_grpc_status

log = structlog.get_logger("tanxiao.rpc")
REQUEST_ID_KEY = "x-request-id"


def _request_id(context: grpc.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and 0 < len(value) <= 128:
            return value
    return uuid.uuid4().hex


class _CallScope:
    """Binds log context for one call and turns exceptions into statuses."""

    def __init__(self, method: str, context: grpc.ServicerContext) -> None:
        self.method = method
        self.context = context
        self.request_id = _request_id(context)
        self.started = time.perf_counter()

    def __enter__(self) -> _CallScope:
        structlog.contextvars.bind_contextvars(request_id=self.request_id, method=self.method)
        return self

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, TanxiaoError):
            self._log("rpc.rejected", code=exc.code, reason=exc.reason, error=exc.message)
            self.context.abort_with_status(to_grpc_status(exc, self.request_id))
        log.exception("rpc.internal_error", peer=self.context.peer())
        self.context.abort_with_status(internal_status(self.request_id))

    def _log(self, event: str, **fields: Any) -> None:
        elapsed_ms = round((time.perf_counter() - self.started) * 1000, 3)
        log.info(event, peer=self.context.peer(), elapsed_ms=elapsed_ms, **fields)

    def __exit__(self, *exc_info: object) -> None:
        structlog.contextvars.unbind_contextvars("request_id", "method")


def _is_abort(exc: BaseException) -> bool:
    # context.abort raises a plain Exception after setting the status; let it through untouched.
    return type(exc) is Exception and not exc.args


def _wrap_unary(behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
    def handler(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
        with _CallScope(method, context) as scope:
            try:
                response = behavior(request_or_iterator, context)
            except Exception as exc:
                if _is_abort(exc):
                    raise
                scope.fail(exc)
            scope._log("rpc.ok", code="OK")
            return response

    return handler


def _wrap_streaming(behavior: Callable[..., Iterator[Any]], method: str) -> Callable[..., Iterator[Any]]:
    def handler(request_or_iterator: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        with _CallScope(method, context) as scope:
            try:
                yield from behavior(request_or_iterator, context)
            except Exception as exc:
                if _is_abort(exc):
                    raise
                scope.fail(exc)
            scope._log("rpc.ok", code="OK")

    return handler


class ServerCallInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(handler.unary_unary, method),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap_unary(handler.stream_unary, method),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_streaming(handler.unary_stream, method),
                handler.request_deserializer,
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            _wrap_streaming(handler.stream_stream, method),
            handler.request_deserializer,
            handler.response_serializer,
        )
