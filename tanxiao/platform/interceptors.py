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

import logging
import random
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
import structlog

from tanxiao.errors import (
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    TanxiaoError,
    Unauthenticated,
    ValidationError,
)
from tanxiao.platform import authz, response_metadata
from tanxiao.platform.access_log import AccessLog, resource_of
from tanxiao.platform.auth import Principal, current_principal, token_id_of
from tanxiao.platform.input_limits import input_violations
from tanxiao.platform.limits import ANONYMOUS, Admission, LimitSettings, Ticket, peer_host
from tanxiao.platform.logging import emit_direct
from tanxiao.platform.rpc_status import internal_status, to_grpc_status
from tanxiao.platform.streams import StreamMonitor, WatchedStream, run_off_workers

log = structlog.get_logger("tanxiao.rpc")
_LOG = log
REQUEST_ID_KEY = "x-request-id"
AUTHORIZATION_KEY = "authorization"
_CALLER_KEYS = ("token_id", "role", "tenant")
_HEALTH_PREFIX = "/grpc.health.v1.Health/"
# Longest text of any one field in a log line: a request may carry a 16 MiB string, a log line must not.
MAX_LOGGED_CHARS = 300


def _structlog_vars(*keys: str) -> dict[str, ContextVar[Any]]:
    """The ContextVars behind structlog's contextvars keys (got through its public bind/reset, once):
    a call sets and clears them directly instead of through bind/unbind_contextvars."""
    tokens = structlog.contextvars.bind_contextvars(**dict.fromkeys(keys))
    structlog.contextvars.reset_contextvars(**tokens)
    return {key: token.var for key, token in tokens.items()}


_LOG_VARS = _structlog_vars("request_id", "method", *_CALLER_KEYS)
_REQUEST_ID_VAR, _METHOD_VAR = _LOG_VARS["request_id"], _LOG_VARS["method"]


def truncated(value: Any) -> Any:
    """A log field cut to MAX_LOGGED_CHARS characters (with its full length said), others unchanged."""
    if isinstance(value, str) and len(value) > MAX_LOGGED_CHARS:
        return f"{value[:MAX_LOGGED_CHARS]}… ({len(value)} chars)"
    return value


@dataclass
class Serving:
    """What bounds a server: admission (rates, quotas, streams, failed authentication), the monitor of
    open streams and the pool streams run on (never the unary workers)."""

    admission: Admission
    monitor: StreamMonitor
    stream_pool: futures.ThreadPoolExecutor
    access_log: AccessLog | None = None

    @classmethod
    def create(
        cls,
        limits: LimitSettings,
        idle_seconds: float,
        check_seconds: float = 1.0,
        access_log: AccessLog | None = None,
    ) -> Serving:
        pool = futures.ThreadPoolExecutor(limits.max_streams_total + 2, thread_name_prefix="stream")
        return cls(Admission(limits), StreamMonitor(idle_seconds, check_seconds), pool, access_log)

    def stop(self, drain_seconds: float = 10.0) -> None:
        """After the server stopped (every call cancelled): let stream bodies still running on the pool
        end, boundedly, before the caller closes what they use. A stream body calling into a gRPC
        channel that the server's stop hooks closed under it crashes the process (segfault in grpcio,
        seen with BatchQuote on a stopping scoring server)."""
        self.monitor.stop()
        self.stream_pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + drain_seconds
        # ThreadPoolExecutor has no bounded join; its worker threads are the only way to wait with a limit.
        for thread in list(getattr(self.stream_pool, "_threads", ())):
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.access_log is not None:
            self.access_log.close()


def _unlimited() -> Serving:
    """For servers built without settings (tests of the interceptor alone): generous bounds."""
    return Serving.create(
        LimitSettings(
            max_streams_total=64, max_streams_per_caller=64, default_rate=1e6, default_concurrency=1e6
        ),
        idle_seconds=3600,
    )


class Authenticator(Protocol):
    """Resolves a bearer secret to its principal; None when unknown or revoked."""

    def principal(self, secret: str) -> Principal | None: ...


def _new_request_id() -> str:
    """32 random hex digits. An id names a call in logs, it guards nothing: the random module's
    generator (seeded from the system at start, reseeded in a forked child), not a system call per call
    (os.urandom releases the interpreter lock to the other threads every time)."""
    return f"{random.getrandbits(128):032x}"


def _request_ids(context: grpc.ServicerContext) -> tuple[str, str]:
    """The call's request id: the caller's ``x-request-id`` when it has 1-128 characters, else a new
    one; and the ``x-request-id`` the caller sent, as sent ("" when none), echoed in errors as the
    caller's."""
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str):
            return (value if 0 < len(value) <= 128 else _new_request_id()), value
    return _new_request_id(), ""


def _field_request_id(request: Any) -> str:
    """A request message's own ``request_id`` field (its idempotency key), "" when it has none."""
    value = getattr(request, "request_id", "")
    return value if isinstance(value, str) else ""


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


class _CallScope:
    """Binds log context for one call, authenticates its caller and turns exceptions into statuses.
    ``streaming``: the response is a stream, whose initial metadata is sent at once (a unary answer
    carries it in its own batch, tanxiao.platform.response_metadata)."""

    def __init__(
        self,
        method: str,
        context: grpc.ServicerContext,
        access_log: AccessLog | None = None,
        *,
        streaming: bool = False,
    ) -> None:
        self.method = method
        self.context = context
        # the request's request_id field wins over the sent x-request-id as the caller's id
        self.request_id, self.caller_request_id = _request_ids(context)
        self.streaming = streaming
        self.started = time.perf_counter()
        self.caller: dict[str, str] = {}
        self._principal_token: Token[Principal | None] | None = None
        self.access_log = access_log
        self.resource = ""
        self.concealed = ""  # the real denial reason behind an answer of NOT_FOUND
        self._peer: str | None = None

    @property
    def peer(self) -> str:
        """The caller's address, asked of gRPC once per call."""
        if self._peer is None:
            self._peer = self.context.peer() or ""
        return self._peer

    def note_request(self, request: Any) -> None:
        """The resource a unary request names (access log) and its request_id field (errors)."""
        self.resource = resource_of(request)
        self.caller_request_id = _field_request_id(request) or self.caller_request_id

    def __enter__(self) -> _CallScope:
        _REQUEST_ID_VAR.set(self.request_id)
        _METHOD_VAR.set(self.method)
        # Echoed once: a second interceptor of this kind stacked on the same call (tests do) finds it
        # attached or sent already.
        response_metadata.attach(self.context, ((REQUEST_ID_KEY, self.request_id),), merge=not self.streaming)
        return self

    def authenticate(self, authenticator: Authenticator, admission: Admission) -> tuple[Principal, str]:
        """The caller's principal and secret, bound to the log context and ``current_principal``; raises
        Unauthenticated, or ResourceExhausted for a peer that failed too often. The secret itself goes
        nowhere but the authenticator."""
        host = peer_host(self.peer)
        admission.check_peer(host)
        secret = _bearer(self.context)
        if secret is None:
            self._bind_caller({"token_id": "", "role": ANONYMOUS, "tenant": ""})
            admission.auth_failed(host)
            raise Unauthenticated(
                "missing bearer token: send metadata 'authorization: Bearer <token>'", reason="TOKEN_MISSING"
            )
        principal = authenticator.principal(secret) if secret else None
        if principal is None:
            # The id part of a well-formed secret is not secret and helps find the token.
            self._bind_caller({"token_id": token_id_of(secret) or "", "role": ANONYMOUS, "tenant": ""})
            admission.auth_failed(host)
            raise Unauthenticated(
                "unknown, malformed, expired or revoked bearer token", reason="TOKEN_INVALID"
            )
        self._bind_caller(principal.log_fields())
        self._principal_token = current_principal.set(principal)
        return principal, secret

    def _bind_caller(self, caller: dict[str, str]) -> None:
        self.caller = caller = {key: truncated(value) for key, value in caller.items()}
        for key, value in caller.items():
            var = _LOG_VARS.get(key)
            if var is not None:
                var.set(value)
            else:  # a field beyond _CALLER_KEYS: bound (and left bound) the general way
                structlog.contextvars.bind_contextvars(**{key: value})

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, TanxiaoError):
            self._log("rpc.rejected", code=exc.code, reason=exc.reason, error=exc.message)
            self.context.abort_with_status(to_grpc_status(exc, self.request_id, self.caller_request_id))
        log.exception(
            "rpc.internal_error",
            peer=self.peer,
            request_id=self.request_id,
            method=self.method,
            **self.caller,
        )
        self._audit("rpc.internal_error", code="INTERNAL", reason="INTERNAL")
        self.context.abort_with_status(internal_status(self.request_id, self.caller_request_id))

    def _log(self, event: str, **fields: Any) -> None:
        elapsed_ms = round((time.perf_counter() - self.started) * 1000, 3)
        line = {
            "peer": self.peer,
            "elapsed_ms": elapsed_ms,
            "request_id": self.request_id,
            "method": self.method,
            **self.caller,  # cut when bound
            **{key: truncated(value) for key, value in fields.items()},
        }
        # Probes call health every few seconds: at info they would bury the real calls.
        health = self.method.startswith(_HEALTH_PREFIX)
        # The configured logger straight to its processors (tanxiao.platform.logging), unless replaced
        # (tests capture log lines through a logger of their own).
        if log is not _LOG or not emit_direct(logging.DEBUG if health else logging.INFO, event, line):
            (log.debug if health else log.info)(event, **line)
        self._audit(event, code=str(fields.get("code", "")), reason=str(fields.get("reason", "")))

    def _audit(self, event: str, *, code: str, reason: str) -> None:
        """One access-log entry per call outcome (tanxiao.platform.access_log)."""
        if self.access_log is None:
            return
        entry = {"outcome": "allowed" if code == "OK" else "refused" if event == "rpc.rejected" else event}
        if self.concealed:
            entry["denied_as_not_found"] = self.concealed
        self.access_log.record(
            event=event,
            method=self.method,
            resource=self.resource,
            code=code,
            reason=reason,
            request_id=self.request_id,
            peer=self.peer,
            **self.caller,
            **entry,
        )

    def log_outcome(self) -> None:
        """rpc.ok only when the answer can still reach the caller: a cancelled call or one past its
        deadline is logged as not sent."""
        if self.context.is_active():
            self._log("rpc.ok", code="OK")
        else:
            code = "DEADLINE_EXCEEDED" if self.context.time_remaining() <= 0 else "CANCELLED"
            self._log("rpc.not_sent", code=code)

    def __exit__(self, *exc_info: object) -> None:
        for var in _LOG_VARS.values():  # unbound: structlog's merge skips a key set to Ellipsis
            var.set(Ellipsis)
        if self._principal_token is not None:
            try:
                current_principal.reset(self._principal_token)
            except ValueError:  # a stream closed from another context (client cancelled)
                current_principal.set(None)
            self._principal_token = None


class _Guard:
    """The authorization of one authenticated call, and whether its token is still good."""

    def __init__(
        self, method: str, principal: Principal, still_allowed: Callable[[], bool] = lambda: True
    ) -> None:
        self.method = method
        self.principal = principal
        self.still_allowed = still_allowed
        self.denied: TanxiaoError | None = None
        self.scope: _CallScope | None = None

    def check_call(self) -> None:
        denial = authz.authorize_call(self.method, self.principal)
        if denial is not None:
            raise _permission_denied(denial, self.method)

    def check_request(self, request: Any) -> None:
        denial = authz.authorize_request(self.method, self.principal, request)
        if denial is not None:
            raise _permission_denied(denial, self.method)

    def check_token(self) -> None:
        """Revocation and expiry reach open streams: checked on every message (cached lookups)."""
        if not self.still_allowed():
            self.denied = Unauthenticated(
                "the bearer token was revoked or has expired during the stream", reason="TOKEN_REVOKED"
            )
            raise self.denied

    @property
    def checks_responses(self) -> bool:
        return authz.has_response_check(self.method, self.principal)

    def check_response(self, response: Any, request: Any = None) -> None:
        """A denied response is answered as a missing resource when the rule says how (uniform denial);
        the real reason goes to the log only."""
        denial = authz.authorize_response(self.method, self.principal, response)
        if denial is None:
            return
        conceal = authz.concealment(self.method, self.principal)
        if conceal is not None and request is not None:
            log.info(
                "authz.concealed", method=self.method, denial=denial.reason, detail=truncated(denial.message)
            )
            if self.scope is not None:
                self.scope.concealed = denial.reason
            reason, message = conceal(request)
            raise NotFound(message, reason=reason)
        raise _permission_denied(denial, self.method)

    def raise_if_denied(self) -> None:
        """A stream message was denied: fail the call even if the handler swallowed the error."""
        if self.denied is not None:
            raise self.denied


class _CheckedRequests:
    """A client stream whose messages are checked as the handler reads them (NUL text; with a guard,
    the token and the rules); a refused message is never handed to the handler. Every message read
    counts as activity for the idle timeout."""

    def __init__(self, requests: Iterator[Any], watched: WatchedStream, guard: _Guard | None) -> None:
        self.requests = requests
        self.watched = watched
        self.guard = guard
        self.index = 0

    def __iter__(self) -> _CheckedRequests:
        return self

    def __next__(self) -> Any:
        guard = self.guard
        if guard is not None:
            guard.raise_if_denied()
        message = next(self.requests)
        self.watched.touch()
        _check_input(message)
        if guard is not None:
            guard.check_token()
            denial = authz.authorize_request(guard.method, guard.principal, message)
            if denial is not None:
                guard.denied = _permission_denied(denial, guard.method, self.index)
                raise guard.denied
        self.index += 1
        return message


def _is_abort(exc: BaseException) -> bool:
    # context.abort raises a plain Exception after setting the status; let it through untouched.
    return type(exc) is Exception and not exc.args


def _check_input(message: Any) -> Any:
    """Bounds and NUL characters of every field (tanxiao.platform.input_limits), before any work."""
    violations = input_violations(message)
    if violations:
        raise ValidationError.from_violations(violations)
    return message


@dataclass
class _Admitted:
    """What a call holds once admitted: its guard (None when auth is off), its slot, its watch."""

    guard: _Guard | None
    ticket: Ticket
    watched: WatchedStream | None = None


class _Policy:
    """The checks every call passes, in this order: failed-authentication throttle of the peer,
    authentication, admission (rate, concurrency, streams), text (NUL), authorization. Authentication
    comes before anything that looks at the request, so an anonymous caller learns nothing from it."""

    def __init__(self, method: str, authenticator: Authenticator | None, serving: Serving) -> None:
        self.method = method
        self.authenticator = authenticator
        self.serving = serving
        self._peers: dict[str, str] = {}  # peer address -> its identity when unauthenticated

    def admit(self, scope: _CallScope, *, streaming: bool) -> _Admitted:
        authenticator = self.authenticator
        if authenticator is None:
            peer = scope.peer
            identity = self._peers.get(peer)
            if identity is None:
                if len(self._peers) > 10_000:  # one per client connection: bounded all the same
                    self._peers.clear()
                identity = self._peers[peer] = f"peer:{peer_host(peer)}"
            ticket = self.serving.admission.admit(identity, ANONYMOUS, streaming=streaming)
            return _Admitted(None, ticket)
        principal, secret = scope.authenticate(authenticator, self.serving.admission)
        ticket = self.serving.admission.admit(principal.token_id, principal.role, streaming=streaming)
        guard = _Guard(self.method, principal, lambda: authenticator.principal(secret) is not None)
        guard.scope = scope
        return _Admitted(guard, ticket)

    def check_request(self, admitted: _Admitted, request: Any) -> None:
        _check_input(request)
        if admitted.guard is not None:
            admitted.guard.check_request(request)

    def watch(self, admitted: _Admitted, context: grpc.ServicerContext) -> WatchedStream:
        guard = admitted.guard
        still_allowed = guard.still_allowed if guard is not None else (lambda: True)
        admitted.watched = self.serving.monitor.watch(WatchedStream(self.method, context, still_allowed))
        return admitted.watched

    def release(self, admitted: _Admitted | None) -> None:
        if admitted is None:
            return
        admitted.ticket.release()
        if admitted.watched is not None:
            self.serving.monitor.forget(admitted.watched)


def _ended(scope: _CallScope, admitted: _Admitted | None) -> bool:
    """A call the client cancelled, that passed its deadline or that the stream monitor ended: logged
    as such (never as rpc.ok, nor as an internal error). False while the call is still live."""
    if scope.context.is_active():
        return False
    ended = admitted.watched.ended_because if admitted is not None and admitted.watched else ""
    code = "DEADLINE_EXCEEDED" if scope.context.time_remaining() <= 0 else "CANCELLED"
    scope._log("rpc.not_sent", code=code, reason=ended or "CALLER_GONE")
    return True


def _wrap_unary(
    behavior: Callable[..., Any], policy: _Policy, client_streaming: bool = False
) -> Callable[..., Any]:
    """Unary responses. A client stream (stream -> unary) is a stream for admission and the monitor."""

    def handler(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
        with _CallScope(policy.method, context, policy.serving.access_log) as scope:
            if not client_streaming:
                scope.note_request(request_or_iterator)
            admitted = None
            try:
                admitted = policy.admit(scope, streaming=client_streaming)
                if client_streaming:
                    if admitted.guard is not None:
                        admitted.guard.check_call()
                    watched = policy.watch(admitted, context)
                    request = _CheckedRequests(request_or_iterator, watched, admitted.guard)
                else:
                    policy.check_request(admitted, request_or_iterator)
                    request = request_or_iterator
                response = behavior(request, context)
                if admitted.guard is not None:
                    admitted.guard.raise_if_denied()
                    admitted.guard.check_response(response, None if client_streaming else request)
            except Exception as exc:
                if _is_abort(exc):
                    raise
                if _ended(scope, admitted):
                    return None
                scope.fail(exc)
            finally:
                policy.release(admitted)
            scope.log_outcome()
            return response

    return handler


def _wrap_streaming(
    behavior: Callable[..., Iterator[Any]], policy: _Policy, client_streaming: bool = False
) -> Callable[..., Iterator[Any]]:
    """Streamed responses: admitted as a stream, watched for idleness and revocation; the token is
    re-checked before every response."""

    def handler(request_or_iterator: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        with _CallScope(policy.method, context, policy.serving.access_log, streaming=True) as scope:
            if not client_streaming:
                scope.note_request(request_or_iterator)
            admitted = None
            finished = False
            try:
                admitted = policy.admit(scope, streaming=True)
                guard = admitted.guard
                watched = policy.watch(admitted, context)
                if client_streaming:
                    if guard is not None:
                        guard.check_call()
                    request = _CheckedRequests(request_or_iterator, watched, guard)
                else:
                    policy.check_request(admitted, request_or_iterator)
                    request = request_or_iterator
                check_responses = guard is not None and guard.checks_responses
                for item in behavior(request, context):
                    if guard is not None:
                        guard.raise_if_denied()
                        guard.check_token()
                        if check_responses:
                            guard.check_response(item)
                    watched.touch()
                    yield item
                if guard is not None:
                    guard.raise_if_denied()
                finished = True
            except Exception as exc:
                if _is_abort(exc):
                    raise
                if _ended(scope, admitted):
                    finished = True
                    return
                scope.fail(exc)
            finally:
                policy.release(admitted)
                if not finished:  # closed by the sender: the client went away mid-stream
                    _ended(scope, admitted)
            scope.log_outcome()

    return handler


def _public_stream(
    behavior: Callable[..., Iterator[Any]], method: str, serving: Serving
) -> Callable[..., Iterator[Any]]:
    """Reflection: no token, but a stream like any other (per-peer slots, idle timeout)."""

    def handler(request_or_iterator: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        identity = f"peer:{peer_host(context.peer() or '')}"
        try:
            ticket = serving.admission.admit(identity, ANONYMOUS, streaming=True)
        except ResourceExhausted as exc:
            context.abort_with_status(to_grpc_status(exc))
        watched = serving.monitor.watch(WatchedStream(method, context))
        try:
            for item in behavior(_Touching(request_or_iterator, watched), context):
                watched.touch()
                yield item
        finally:
            ticket.release()
            serving.monitor.forget(watched)

    return handler


class _Touching:
    def __init__(self, requests: Iterator[Any], watched: WatchedStream) -> None:
        self.requests = requests
        self.watched = watched

    def __iter__(self) -> _Touching:
        return self

    def __next__(self) -> Any:
        message = next(self.requests)
        self.watched.touch()
        return message


def _non_blocking_watch(behavior: Callable[..., Any], serving: Serving) -> Callable[..., Any]:
    """Health Watch stays non-blocking (no thread at all while it waits), with a per-peer bound on how
    many watches may be open."""

    def handler(request: Any, context: grpc.ServicerContext, send_response_callback: Any = None) -> Any:
        identity = f"watch:{peer_host(context.peer() or '')}"
        try:
            ticket = serving.admission.admit_watch(identity)
        except ResourceExhausted as exc:
            context.abort_with_status(to_grpc_status(exc))
        context.add_callback(ticket.release)
        return behavior(request, context, send_response_callback=send_response_callback)

    handler.experimental_non_blocking = True  # type: ignore[attr-defined]
    return handler


class ServerCallInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """``authenticator``: None = no authentication (auth_required = false, tests); else a TokenStore.
    ``serving``: the server's bounds (admission, stream monitor, stream pool)."""

    def __init__(self, authenticator: Authenticator | None = None, serving: Serving | None = None) -> None:
        self.authenticator = authenticator
        self.serving = serving or _unlimited()
        response_metadata.install()
        # The wrapped handler of each method, built on its first call: gRPC runs interceptors for every
        # call on its one polling thread, and what this one returns depends on the method only.
        self._handlers: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        cached = self._handlers.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler, method)
        self._handlers[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        serving = self.serving
        if authz.is_public(method):
            return self._public(handler, method)
        policy = _Policy(method, self.authenticator, serving)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(handler.unary_unary, policy),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap_unary(handler.stream_unary, policy, client_streaming=True),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                run_off_workers(_wrap_streaming(handler.unary_stream, policy), serving.stream_pool),
                handler.request_deserializer,
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            run_off_workers(
                _wrap_streaming(handler.stream_stream, policy, client_streaming=True), serving.stream_pool
            ),
            handler.request_deserializer,
            handler.response_serializer,
        )

    def _public(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """Health and reflection: no token. Check stays as it is (unary, quick); Watch stays
        non-blocking; reflection streams run on the stream pool under the stream limits."""
        if handler.unary_stream and getattr(handler.unary_stream, "experimental_non_blocking", False):
            return grpc.unary_stream_rpc_method_handler(
                _non_blocking_watch(handler.unary_stream, self.serving),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                run_off_workers(
                    _public_stream(handler.stream_stream, method, self.serving), self.serving.stream_pool
                ),
                handler.request_deserializer,
                handler.response_serializer,
            )
        return handler
