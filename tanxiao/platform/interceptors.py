"""The server interceptor every service gets: request id, authentication and authorization, structured
access log, error mapping.

A request id comes from the caller's ``x-request-id`` metadata or is generated; it is bound to the
structlog context for the whole call and returned in ErrorInfo metadata on failure.

With an ``authenticator`` (a ``tanxiao.platform.auth.TokenStore``), every call but health checking and
reflection must carry ``authorization: Bearer <token>``: a missing, unknown or revoked token is
UNAUTHENTICATED; what ``tanxiao.platform.authz`` denies is PERMISSION_DENIED with the denial's reason.
Requests are checked before the handler runs (client streams: each message as the handler reads it),
responses before they are sent (server streams: each message). The caller (token id, role, tenant) is
bound to the log context and ``auth.current_principal`` for the call; the secret is never logged.
Without an authenticator (``auth_required = false``, tests) calls are not authenticated.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import Token
from typing import Any, Protocol

import grpc
import structlog

from tanxiao.errors import FieldViolation, PermissionDenied, TanxiaoError, Unauthenticated, ValidationError
from tanxiao.platform import authz
from tanxiao.platform.auth import Principal, current_principal, token_id_of
from tanxiao.platform.rpc_status import internal_status, to_grpc_status

log = structlog.get_logger("tanxiao.rpc")
REQUEST_ID_KEY = "x-request-id"
AUTHORIZATION_KEY = "authorization"
_CALLER_KEYS = ("token_id", "role", "tenant")
_HEALTH_PREFIX = "/grpc.health.v1.Health/"


class Authenticator(Protocol):
    """Resolves a bearer secret to its principal; None when unknown or revoked."""

    def principal(self, secret: str) -> Principal | None: ...


def _request_id(context: grpc.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and 0 < len(value) <= 128:
            return value
    return uuid.uuid4().hex


def _bearer(context: grpc.ServicerContext) -> str | None:
    """The secret of ``authorization: Bearer <secret>``; "" when the header is malformed, None when absent."""
    for key, value in context.invocation_metadata() or ():
        if key == AUTHORIZATION_KEY:
            if not isinstance(value, str):
                return ""
            scheme, _, secret = value.strip().partition(" ")
            return secret.strip() if scheme.lower() == "bearer" else ""
    return None


def _permission_denied(
    denial: authz.Denial, method: str, message_index: int | None = None
) -> PermissionDenied:
    metadata = {"method": method}
    if denial.field:
        metadata["field"] = denial.field
    text = denial.message
    if message_index is not None:
        metadata["message_index"] = str(message_index)
        text = f"stream message {message_index}: {text}"
    return PermissionDenied(text, reason=denial.reason, metadata=metadata)


def _echo_request_id(context: grpc.ServicerContext, request_id: str) -> None:
    """Send the request id back in the response's initial metadata, once: a second interceptor of
    this kind stacked on the same call (tests do) finds it sent already."""
    with contextlib.suppress(ValueError):  # "Initial metadata no longer allowed!"
        context.send_initial_metadata(((REQUEST_ID_KEY, request_id),))


class _CallScope:
    """Binds log context for one call, authenticates its caller and turns exceptions into statuses."""

    def __init__(self, method: str, context: grpc.ServicerContext) -> None:
        self.method = method
        self.context = context
        self.request_id = _request_id(context)
        self.started = time.perf_counter()
        self.caller: dict[str, str] = {}
        self._principal_token: Token[Principal | None] | None = None

    def __enter__(self) -> _CallScope:
        structlog.contextvars.bind_contextvars(request_id=self.request_id, method=self.method)
        _echo_request_id(self.context, self.request_id)
        return self

    def authenticate(self, authenticator: Authenticator) -> Principal:
        """The caller's principal, bound to the log context and ``current_principal``; raises
        Unauthenticated. The secret itself goes nowhere but the authenticator."""
        secret = _bearer(self.context)
        if secret is None:
            self._bind_caller({"token_id": "", "role": "anonymous", "tenant": ""})
            raise Unauthenticated(
                "missing bearer token: send metadata 'authorization: Bearer <token>'", reason="TOKEN_MISSING"
            )
        principal = authenticator.principal(secret) if secret else None
        if principal is None:
            # The id part of a well-formed secret is not secret and helps find the token.
            self._bind_caller({"token_id": token_id_of(secret) or "", "role": "anonymous", "tenant": ""})
            raise Unauthenticated("unknown, malformed or revoked bearer token", reason="TOKEN_INVALID")
        self._bind_caller(principal.log_fields())
        self._principal_token = current_principal.set(principal)
        return principal

    def _bind_caller(self, caller: dict[str, str]) -> None:
        self.caller = caller
        structlog.contextvars.bind_contextvars(**caller)

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, TanxiaoError):
            self._log("rpc.rejected", code=exc.code, reason=exc.reason, error=exc.message)
            self.context.abort_with_status(to_grpc_status(exc, self.request_id))
        log.exception(
            "rpc.internal_error",
            peer=self.context.peer(),
            request_id=self.request_id,
            method=self.method,
            **self.caller,
        )
        self.context.abort_with_status(internal_status(self.request_id))

    def _log(self, event: str, **fields: Any) -> None:
        elapsed_ms = round((time.perf_counter() - self.started) * 1000, 3)
        # Probes call health every few seconds: at info they would bury the real calls.
        emit = log.debug if self.method.startswith(_HEALTH_PREFIX) else log.info
        emit(
            event,
            peer=self.context.peer(),
            elapsed_ms=elapsed_ms,
            request_id=self.request_id,
            method=self.method,
            **self.caller,
            **fields,
        )

    def __exit__(self, *exc_info: object) -> None:
        structlog.contextvars.unbind_contextvars("request_id", "method", *_CALLER_KEYS)
        if self._principal_token is not None:
            try:
                current_principal.reset(self._principal_token)
            except ValueError:  # a stream closed from another context (client cancelled)
                current_principal.set(None)
            self._principal_token = None


class _Guard:
    """The authorization of one authenticated call."""

    def __init__(self, method: str, principal: Principal) -> None:
        self.method = method
        self.principal = principal
        self.denied: PermissionDenied | None = None

    def check_call(self) -> None:
        denial = authz.authorize_call(self.method, self.principal)
        if denial is not None:
            raise _permission_denied(denial, self.method)

    def check_request(self, request: Any) -> None:
        denial = authz.authorize_request(self.method, self.principal, request)
        if denial is not None:
            raise _permission_denied(denial, self.method)

    def guard_stream(self, requests: Iterator[Any]) -> Iterator[Any]:
        return _GuardedRequests(self, requests)

    @property
    def checks_responses(self) -> bool:
        return authz.has_response_check(self.method, self.principal)

    def check_response(self, response: Any) -> None:
        denial = authz.authorize_response(self.method, self.principal, response)
        if denial is not None:
            raise _permission_denied(denial, self.method)

    def raise_if_denied(self) -> None:
        """A stream message was denied: fail the call even if the handler swallowed the error."""
        if self.denied is not None:
            raise self.denied


class _GuardedRequests:
    """A client stream whose messages are authorized as the handler reads them; a denied message is
    never handed to the handler."""

    def __init__(self, guard: _Guard, requests: Iterator[Any]) -> None:
        self.guard = guard
        self.requests = requests
        self.index = 0

    def __iter__(self) -> _GuardedRequests:
        return self

    def __next__(self) -> Any:
        if self.guard.denied is not None:
            raise self.guard.denied
        message = next(self.requests)
        denial = authz.authorize_request(self.guard.method, self.guard.principal, message)
        if denial is not None:
            self.guard.denied = _permission_denied(denial, self.guard.method, self.index)
            raise self.guard.denied
        self.index += 1
        return message


def _is_abort(exc: BaseException) -> bool:
    # context.abort raises a plain Exception after setting the status; let it through untouched.
    return type(exc) is Exception and not exc.args


# Ingested records are judged row by row (a bad row is reported, the good ones stored): the ingest
# pipeline checks their text itself (registry_service.domain.records).
ROW_CHECKED_FIELDS = frozenset({"records"})


def nul_violations(message: Any, prefix: str = "", depth: int = 0) -> list[FieldViolation]:
    """String fields holding NUL characters (PostgreSQL text cannot store them, and no identifier or
    name has a reason to contain one), as violations with paths like ``records[3].external_id``."""
    found: list[FieldViolation] = []
    if depth > 8 or not hasattr(message, "ListFields"):
        return found
    for field, value in message.ListFields():
        if field.name in ROW_CHECKED_FIELDS:
            continue
        path = f"{prefix}{field.name}"
        values = list(value) if _is_repeated(field) else [value]
        for index, item in enumerate(values):
            item_path = f"{path}[{index}]" if _is_repeated(field) else path
            if isinstance(item, str) and "\x00" in item:
                found.append(FieldViolation(item_path, "must not contain NUL characters"))
            elif field.type == field.TYPE_MESSAGE:
                found.extend(nul_violations(item, item_path + ".", depth + 1))
    return found


def _is_repeated(field: Any) -> bool:
    return bool(field.is_repeated)


def _reject_nul(message: Any) -> Any:
    violations = nul_violations(message)
    if violations:
        raise ValidationError.from_violations(violations)
    return message


def _authorize(
    scope: _CallScope, authenticator: Authenticator | None, request_or_iterator: Any, client_streaming: bool
) -> tuple[_Guard | None, Any]:
    """Check the call before its handler runs: text fields (NUL), then authentication and the rules.
    Returns the guard (None when auth is off) and the request (a checked iterator for client streams)."""
    if client_streaming:
        request_or_iterator = (_reject_nul(m) for m in request_or_iterator)
    else:
        _reject_nul(request_or_iterator)
    if authenticator is None:
        return None, request_or_iterator
    guard = _Guard(scope.method, scope.authenticate(authenticator))
    if client_streaming:
        guard.check_call()
        return guard, guard.guard_stream(request_or_iterator)
    guard.check_request(request_or_iterator)
    return guard, request_or_iterator


def _wrap_unary(
    behavior: Callable[..., Any],
    method: str,
    authenticator: Authenticator | None = None,
    client_streaming: bool = False,
) -> Callable[..., Any]:
    def handler(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
        with _CallScope(method, context) as scope:
            try:
                guard, request = _authorize(scope, authenticator, request_or_iterator, client_streaming)
                response = behavior(request, context)
                if guard is not None:
                    guard.raise_if_denied()
                    guard.check_response(response)
            except Exception as exc:
                if _is_abort(exc):
                    raise
                scope.fail(exc)
            scope._log("rpc.ok", code="OK")
            return response

    return handler


def _wrap_streaming(
    behavior: Callable[..., Iterator[Any]],
    method: str,
    authenticator: Authenticator | None = None,
    client_streaming: bool = False,
) -> Callable[..., Iterator[Any]]:
    def handler(request_or_iterator: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        with _CallScope(method, context) as scope:
            try:
                guard, request = _authorize(scope, authenticator, request_or_iterator, client_streaming)
                if guard is not None and guard.checks_responses:
                    for item in behavior(request, context):
                        guard.raise_if_denied()
                        guard.check_response(item)
                        yield item
                else:
                    yield from behavior(request, context)
                if guard is not None:
                    guard.raise_if_denied()
            except Exception as exc:
                if _is_abort(exc):
                    raise
                scope.fail(exc)
            scope._log("rpc.ok", code="OK")

    return handler


class ServerCallInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """``authenticator``: None = no authentication (auth_required = false, tests); else a TokenStore."""

    def __init__(self, authenticator: Authenticator | None = None) -> None:
        self.authenticator = authenticator

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        auth = None if authz.is_public(method) else self.authenticator
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(handler.unary_unary, method, auth),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap_unary(handler.stream_unary, method, auth, client_streaming=True),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_streaming(handler.unary_stream, method, auth),
                handler.request_deserializer,
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            _wrap_streaming(handler.stream_stream, method, auth, client_streaming=True),
            handler.request_deserializer,
            handler.response_serializer,
        )
