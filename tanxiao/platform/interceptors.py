"""The server interceptor every service gets: RPC metrics, request id, authentication and
authorization, admission, structured access log, error mapping.

It is the outermost interceptor and the only one of ours (tracing sits inside it when on). A unary
call goes through one function (``_unary``) that does all of it, the method's share of the work done
once when the method is first called (``_Plan``); streams, health and reflection go through the
layers below it, counted by ``tanxiao.platform.metrics.count_calls``.

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

import bisect
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from contextvars import Token
from dataclasses import dataclass, field
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
from tanxiao.platform import authz, encoded, grpc_context, response_metadata
from tanxiao.platform.access_log import RESOURCE_FIELDS, AccessLog, CallEntry, resource_of
from tanxiao.platform.auth import Principal, current_principal, token_id_of
from tanxiao.platform.input_limits import input_violations
from tanxiao.platform.limits import ANONYMOUS, Admission, LimitSettings, Ticket, peer_host
from tanxiao.platform.logging import context_vars, elapsed_ms, emit_call, emit_direct
from tanxiao.platform.metrics import MethodMetrics, ServerMetrics, count_calls
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


_LOG_VARS = context_vars("request_id", "method", *_CALLER_KEYS)
_LOG_VAR_LIST = tuple(_LOG_VARS.values())
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
    # A caller's address as gRPC gives it (bytes or text) -> (the address as text, the identity of an
    # unauthenticated caller there): one per client connection, bounded all the same.
    peers: dict[Any, tuple[str, str]] = field(default_factory=dict)

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

    def known_peer(self, raw: Any) -> tuple[str, str]:
        """The address as text and the anonymous identity of a caller at ``raw`` (``peers``)."""
        found = self.peers.get(raw)
        if found is None:
            peer = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
            if len(self.peers) > 10_000:
                self.peers.clear()
            found = self.peers[raw] = (peer, f"peer:{peer_host(peer)}")
        return found

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
    (os.urandom releases the interpreter lock to the other threads every time). The bytes' hex is the
    text ``f"{n:032x}"`` gives, in about half the time."""
    return random.getrandbits(128).to_bytes(16, "big").hex()


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


def _level_of(method: str) -> int:
    # Probes call health every few seconds: at info they would bury the real calls.
    return logging.DEBUG if method.startswith(_HEALTH_PREFIX) else logging.INFO


def _ok_level_of(method: str, access_log: AccessLog | None) -> int:
    """The level of a call's ``rpc.ok`` line. With an access log the call's record is its entry there
    (as nginx and Envoy record requests), so the line is at debug, not a second record of every call at
    info; without one the line is the only record of the call (``_level_of``). Calls that fail or are
    not sent keep their lines at ``_level_of`` either way."""
    return logging.DEBUG if access_log is not None else _level_of(method)


def _emit(level: int, event: str, line: dict[str, Any], now: float) -> None:
    """The call's log line: the configured logger straight to its processors
    (tanxiao.platform.logging), unless replaced (tests capture log lines through a logger of their own)."""
    if log is not _LOG or not emit_direct(level, event, line, now):
        (log.debug if level == logging.DEBUG else log.info)(event, **line)


def _bind_caller(caller: dict[str, str], fields: dict[str, str]) -> None:
    """``fields`` of the caller, cut, into ``caller`` and the log context."""
    caller.clear()
    for key, value in fields.items():
        value = caller[key] = truncated(value)
        var = _LOG_VARS.get(key)
        if var is not None:
            var.set(value)
        else:  # a field beyond _CALLER_KEYS: bound (and left bound) the general way
            structlog.contextvars.bind_contextvars(**{key: value})


def _authenticate(
    context: grpc.ServicerContext,
    peer: str,
    authenticator: Authenticator,
    admission: Admission,
    caller: dict[str, str],
) -> tuple[Principal, str]:
    """The caller's principal and secret, its fields bound to ``caller`` and the log context; raises
    Unauthenticated, or ResourceExhausted for a peer that failed too often. The secret itself goes
    nowhere but the authenticator."""
    host = peer_host(peer)
    admission.check_peer(host)
    secret = _bearer(context)
    if secret is None:
        _bind_caller(caller, {"token_id": "", "role": ANONYMOUS, "tenant": ""})
        admission.auth_failed(host)
        raise Unauthenticated(
            "missing bearer token: send metadata 'authorization: Bearer <token>'", reason="TOKEN_MISSING"
        )
    principal = authenticator.principal(secret) if secret else None
    if principal is None:
        # The id part of a well-formed secret is not secret and helps find the token.
        _bind_caller(caller, {"token_id": token_id_of(secret) or "", "role": ANONYMOUS, "tenant": ""})
        admission.auth_failed(host)
        raise Unauthenticated("unknown, malformed, expired or revoked bearer token", reason="TOKEN_INVALID")
    _bind_caller(caller, principal.log_fields())
    return principal, secret


def _unbind(principal_token: Token[Principal | None] | None) -> None:
    """The call's log context and principal unbound (structlog's merge skips a key set to Ellipsis)."""
    for var in _LOG_VAR_LIST:
        var.set(Ellipsis)
    if principal_token is not None:
        try:
            current_principal.reset(principal_token)
        except ValueError:  # a stream closed from another context (client cancelled)
            current_principal.set(None)


_NO_CALLER: dict[str, str] = {}  # the caller fields of a call without authentication (never filled)


class _CallScope:
    """One call's log context, caller and outcome lines. A stream holds one for the whole call; a
    unary call (``_unary``) keeps the same things in locals and makes one only to fail.
    ``streaming``: the response is a stream, whose initial metadata is sent at once (a unary answer
    carries it in its own batch, tanxiao.platform.response_metadata)."""

    def __init__(
        self,
        method: str,
        context: grpc.ServicerContext,
        access_log: AccessLog | None,
        request_id: str,
        caller_request_id: str,
        peer: str,
        started: float,
        *,
        streaming: bool = False,
    ) -> None:
        self.method = method
        self.level = _level_of(method)
        self.ok_level = _ok_level_of(method, access_log)
        self.context = context
        self.request_id = request_id
        # the request's request_id field wins over the sent x-request-id as the caller's id
        self.caller_request_id = caller_request_id
        self.peer = peer
        self.streaming = streaming
        self.started = started
        self.caller: dict[str, str] = _NO_CALLER
        self.principal_token: Token[Principal | None] | None = None
        self.access_log = access_log
        self.resource = ""
        self.guard: _Guard | None = None  # its concealed: the real denial behind an answer of NOT_FOUND

    @classmethod
    def begin(
        cls, method: str, context: grpc.ServicerContext, access_log: AccessLog | None, *, streaming: bool
    ) -> _CallScope:
        request_id, sent = _request_ids(context)
        peer = context.peer() or ""
        return cls(
            method, context, access_log, request_id, sent, peer, time.perf_counter(), streaming=streaming
        )

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
        """``_authenticate`` for this call; the principal is ``current_principal`` until the call ends."""
        self.caller = {}
        principal, secret = _authenticate(self.context, self.peer, authenticator, admission, self.caller)
        self.principal_token = current_principal.set(principal)
        return principal, secret

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
        now = time.time()
        entry = self._entry("rpc.internal_error", "INTERNAL", "INTERNAL")
        if self.access_log is not None and not emit_call(None, now, entry, 0.0, self.access_log):
            self.access_log.record_call(now, entry)
        self.context.abort_with_status(internal_status(self.request_id, self.caller_request_id))

    def _log(self, event: str, **fields: Any) -> None:
        now = time.time()
        line = {
            "peer": self.peer,
            "elapsed_ms": elapsed_ms(time.perf_counter() - self.started),
            "request_id": self.request_id,
            "method": self.method,
            **self.caller,  # cut when bound
            **{key: truncated(value) for key, value in fields.items()},
        }
        entry = self._entry(event, str(fields.get("code", "")), str(fields.get("reason", "")))
        level = self.ok_level if event == "rpc.ok" else self.level
        # the entry and the line queued unrendered (tanxiao.platform.logging.emit_call), else each its way
        if log is not _LOG or not emit_call(level, now, entry, 0.0, self.access_log, line):
            _emit(level, event, line, now)
            if self.access_log is not None:
                self.access_log.record_call(now, entry)

    def _entry(self, event: str, code: str, reason: str) -> CallEntry:
        """The call's access-log entry for this outcome (tanxiao.platform.access_log)."""
        outcome = "allowed" if code == "OK" else "refused" if event == "rpc.rejected" else event
        concealed = self.guard.concealed if self.guard is not None else ""
        return (
            event,
            self.method,
            self.resource,
            code,
            reason,
            self.request_id,
            self.peer,
            self.caller,
            outcome,
            concealed,
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
        _unbind(self.principal_token)
        self.principal_token = None


class _Guard:
    """The authorization of one authenticated call, and whether its token is still good."""

    def __init__(
        self, method: str, principal: Principal, still_allowed: Callable[[], bool] = lambda: True
    ) -> None:
        self.method = method
        self.principal = principal
        self.still_allowed = still_allowed
        self.denied: TanxiaoError | None = None
        self.concealed = ""  # the real denial reason behind an answer of NOT_FOUND

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
            self.concealed = denial.reason
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

    def admit(self, scope: _CallScope, *, streaming: bool) -> _Admitted:
        authenticator = self.authenticator
        admission = self.serving.admission
        if authenticator is None:
            identity = self.serving.known_peer(scope.peer)[1]
            return _Admitted(None, admission.admit(identity, ANONYMOUS, streaming=streaming))
        principal, secret = scope.authenticate(authenticator, admission)
        ticket = admission.admit(principal.token_id, principal.role, streaming=streaming)
        guard = scope.guard = _Guard(
            self.method, principal, lambda: authenticator.principal(secret) is not None
        )
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


class _RequestKind:
    """What the plumbing reads of a request of one type, found once per type: the resource fields it
    has (access log), whether it may carry a ``request_id`` field (the caller's id in errors) and
    whether it is a message whose fields are checked (input_limits; raw bytes are not)."""

    __slots__ = ("checked", "request_id", "resource")

    def __init__(self, kind: type) -> None:
        descriptor = getattr(kind, "DESCRIPTOR", None)
        fields = getattr(descriptor, "fields_by_name", None)
        raw = kind in (bytes, str)
        self.resource = bool(_resource_names(kind, fields, raw))
        self.request_id = not raw and (fields is None or "request_id" in fields)
        self.checked = hasattr(kind, "ListFields")


def _resource_names(kind: type, fields: Any, raw: bool) -> tuple[str, ...]:
    if fields is not None:
        return tuple(n for n in RESOURCE_FIELDS if n in fields)
    return () if raw else RESOURCE_FIELDS


_REQUEST_KINDS: dict[type, _RequestKind] = {}


def _request_kind(kind: type) -> _RequestKind:
    found = _REQUEST_KINDS.get(kind)
    if found is None:
        found = _REQUEST_KINDS[kind] = _RequestKind(kind)
    return found


def _unary(
    behavior: Callable[..., Any], policy: _Policy, counts: MethodMetrics | None, encoding: bool = False
) -> Callable[[Any, grpc.ServicerContext], Any]:
    """Everything a unary call passes through, in one function per call: metrics, request id (echoed
    in the answer's initial metadata), log context, authentication, admission, input limits,
    authorization of the request and the response, the log line and the access-log entry. What
    depends on the method only is looked up here, once. Failures leave through ``_unary_failed``."""
    method, authenticator, serving = policy.method, policy.authenticator, policy.serving
    admission, access_log, level = serving.admission, serving.access_log, _level_of(method)
    ok_level = _ok_level_of(method, access_log)
    series = counts.series if counts is not None else None
    by_thread, get_ident = (series.by_thread if series is not None else {}), threading.get_ident
    bounds, bucket_of = (series.bounds if series is not None else ()), bisect.bisect_left
    enter, known_peer = admission.enter, serving.known_peer
    peers = serving.peers
    clock, wall, bits = time.perf_counter, time.time, random.getrandbits
    set_request_id, set_method = _REQUEST_ID_VAR.set, _METHOD_VAR.set
    direct_type, cancelled = grpc_context.CONTEXT, grpc_context.CANCELLED
    merged = response_metadata.install()
    assert response_metadata.ATTRIBUTE == "tanxiao_initial_metadata"  # stored by name below
    kinds = _REQUEST_KINDS
    encoded_type = encoded.Encoded

    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        started = clock()
        if series is not None:
            shard = by_thread.get(get_ident()) or series.shard()  # series.shard(), its fast path inline
            shard.started += 1
        if type(context) is direct_type:  # grpcio's own context: its fields read directly (grpc_context)
            direct: Any = context
            state = direct._state
            metadata = direct._rpc_event.invocation_metadata
            raw_peer = direct._rpc_event.call.peer()
        else:
            state = None
            metadata = context.invocation_metadata()
            raw_peer = context.peer()
        request_id = sent_id = ""
        for key, value in metadata or ():
            if key == REQUEST_ID_KEY and isinstance(value, str):
                sent_id = value
                if 0 < len(value) <= 128:
                    request_id = value
                break
        if not request_id:
            request_id = bits(128).to_bytes(16, "big").hex()  # _new_request_id
        set_request_id(request_id)
        set_method(method)
        if merged and state is not None and state.initial_metadata_allowed:
            # response_metadata.attach, merged (ATTRIBUTE: one store, no setattr call)
            state.tanxiao_initial_metadata = ((REQUEST_ID_KEY, request_id),)
        else:
            response_metadata.attach(context, ((REQUEST_ID_KEY, request_id),))
        peer, identity = peers.get(raw_peer) or known_peer(raw_peer)
        kind = kinds.get(type(request)) or _request_kind(type(request))
        resource = resource_of(request) if kind.resource else ""
        caller = _NO_CALLER
        guard = principal_token = slots = None
        try:
            if authenticator is None:
                slots = enter(identity, ANONYMOUS)
            else:
                caller = {}
                principal, secret = _authenticate(context, peer, authenticator, admission, caller)
                principal_token = current_principal.set(principal)
                slots = enter(principal.token_id, principal.role)
                guard = _Guard(method, principal, lambda: authenticator.principal(secret) is not None)
            if kind.checked:
                _check_input(request)
            if guard is not None:
                guard.check_request(request)
            response = behavior(request, context)
            if type(response) is encoded_type and not encoding:  # marked, but hidden by another interceptor
                response = response.decoded()
            if guard is not None:
                guard.raise_if_denied()
                guard.check_response(response, request)
        except Exception as exc:
            caller_id = (_field_request_id(request) if kind.request_id else "") or sent_id
            scope = _CallScope(method, context, access_log, request_id, caller_id, peer, started)
            scope.caller, scope.resource, scope.guard = caller, resource, guard
            return _unary_failed(scope, exc, counts, principal_token)
        except BaseException:
            if counts is not None:
                counts.finish(context, started, "UNKNOWN")
            _unbind(principal_token)
            raise
        finally:
            if slots is not None:
                slots.append(None)  # the call's in-flight slot back (Admission.enter)
        # rpc.ok only when the answer can still reach the caller (_CallScope.log_outcome)
        if state is not None:
            active = state.client is not cancelled and not state.statused  # grpc_context.is_active
        else:
            active = context.is_active()
        if active:
            event, code, outcome, event_level = "rpc.ok", "OK", "allowed", ok_level
        else:
            event = outcome = "rpc.not_sent"
            code = "DEADLINE_EXCEEDED" if context.time_remaining() <= 0 else "CANCELLED"
            event_level = level
        elapsed, now = clock() - started, wall()
        concealed = guard.concealed if guard is not None else ""
        entry: CallEntry = (event, method, resource, code, "", request_id, peer, caller, outcome, concealed)
        # the access-log entry and the log line (if any) queued, rendered by their writer threads
        # (tanxiao.platform.logging.emit_call); else (another logging set-up) each its own way
        if log is not _LOG or not emit_call(event_level, now, entry, elapsed, access_log):
            _log_call(event_level, entry, elapsed, now, access_log)
        if series is not None:  # handled by the code the call ends with (a handler may set one)
            assert counts is not None
            if state is None:
                counts.finish(context, started)
            elif state.code is None:  # series.finished(shard, "OK", elapsed), inline
                shard.ok += 1
                shard.seconds += elapsed
                shard.buckets[bucket_of(bounds, elapsed)] += 1
            else:
                counts.ended(state.code.name, elapsed, context)
        if state is None:  # grpcio runs each call in a context of its own: nothing to unbind there
            set_request_id(Ellipsis)
            set_method(Ellipsis)
            if authenticator is not None:
                _unbind(principal_token)
        return response

    return handler


def _log_call(level: int, entry: CallEntry, elapsed: float, now: float, access_log: AccessLog | None) -> None:
    """A unary call's log line and access-log entry each its own way (emit_direct, record_call): when
    the log is not configure_logging's JSON set-up (tests capturing lines, the console format)."""
    event, method, _, code, _, request_id, peer, caller, _, _ = entry
    line = {"peer": peer, "elapsed_ms": elapsed_ms(elapsed), "request_id": request_id, "method": method}
    if caller:
        line.update(caller)
    line["code"] = code
    _emit(level, event, line, now)
    if access_log is not None:
        access_log.record_call(now, entry)


def _unary_failed(
    scope: _CallScope,
    exc: Exception,
    counts: MethodMetrics | None,
    principal_token: Token[Principal | None] | None,
) -> Any:
    """A unary call whose checks or handler raised: an abort of the handler's own passes through; a
    call the caller is no longer waiting for is logged as not sent; anything else is logged, audited
    and turned into its status (tanxiao.platform.rpc_status)."""
    try:
        if _is_abort(exc):  # context.abort in the handler: the status is set, let it through
            raise exc
        if not _ended(scope, None):
            scope.fail(exc)  # raises: abort_with_status
    except BaseException:
        if counts is not None:
            counts.finish(scope.context, scope.started, "UNKNOWN")
        raise
    finally:
        _unbind(principal_token)
    if counts is not None:
        counts.finish(scope.context, scope.started)
    return None


def _client_stream(behavior: Callable[..., Any], policy: _Policy) -> Callable[..., Any]:
    """Stream -> unary: a stream for admission and the monitor, its messages checked as read."""

    def handler(request_iterator: Any, context: grpc.ServicerContext) -> Any:
        with _CallScope.begin(policy.method, context, policy.serving.access_log, streaming=False) as scope:
            admitted = None
            try:
                admitted = policy.admit(scope, streaming=True)
                if admitted.guard is not None:
                    admitted.guard.check_call()
                watched = policy.watch(admitted, context)
                response = behavior(_CheckedRequests(request_iterator, watched, admitted.guard), context)
                if admitted.guard is not None:
                    admitted.guard.raise_if_denied()
                    admitted.guard.check_response(response, None)
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
        with _CallScope.begin(policy.method, context, policy.serving.access_log, streaming=True) as scope:
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
    ``serving``: the server's bounds (admission, stream monitor, stream pool). ``metrics``: the server's
    RPC metrics, counted here for every call, refusals included (start_server makes this interceptor
    the outermost); None counts nothing (an interceptor of this kind stacked inside another, as tests
    do).

    gRPC runs the interceptor chain for every call, on the server's one polling thread. The handler
    this one returns depends on the method only (the tracing interceptor inside it wraps by method
    too), so it keeps it per method: after a method's first call the chain is not run again and
    nothing is rebuilt or looked up but the handler."""

    def __init__(
        self,
        authenticator: Authenticator | None = None,
        serving: Serving | None = None,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self.authenticator = authenticator
        self.serving = serving or _unlimited()
        self.metrics = metrics
        response_metadata.install()
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        wrapped = self._handlers.get(method)
        if wrapped is not None:
            return wrapped
        handler = continuation(handler_call_details)
        if handler is None:
            return None  # unknown methods are not kept: their names come from the callers
        wrapped = self._handlers[method] = self._wrap(handler, method)
        return wrapped

    def registering(self, server: grpc.Server) -> Any:
        """``server`` for adding handlers to (the generated ``add_*_to_server``, health, reflection):
        every handler added through it is wrapped as ``intercept_service`` wraps it, registered methods
        when added, generic ones at a method's first call. For a server built without interceptors
        (start_server, when no other interceptor is asked for): gRPC then runs no interceptor pipeline
        on its polling thread per call, only looks the handler up."""
        return _Registering(self, server)

    def wrapped(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """``handler`` of ``method`` wrapped (once per method, as by intercept_service)."""
        found = self._handlers.get(method)
        if found is None:
            found = self._handlers[method] = self._wrap(handler, method)
        return found

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        counts = self.metrics.method(handler, method) if self.metrics is not None else None
        if authz.is_public(method):
            wrapped = self._public(handler, method)
        else:
            policy = _Policy(method, self.authenticator, self.serving)
            if handler.unary_unary:  # metrics included
                # a handler marked answers_encoded may answer its wire bytes: sent as they are
                encoding = encoded.answers_encoded_by(handler.unary_unary)
                return grpc.unary_unary_rpc_method_handler(
                    _unary(handler.unary_unary, policy, counts, encoding),
                    handler.request_deserializer,
                    encoded.serializer(handler.response_serializer)
                    if encoding
                    else handler.response_serializer,
                )
            wrapped = self._stream(handler, policy)
        return count_calls(wrapped, counts) if counts is not None else wrapped

    def _stream(self, handler: grpc.RpcMethodHandler, policy: _Policy) -> grpc.RpcMethodHandler:
        serving = self.serving
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _client_stream(handler.stream_unary, policy),
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


class _Registering:
    """A server's ``add_generic_rpc_handlers`` and ``add_registered_method_handlers`` with the handlers
    wrapped by ``interceptor`` (ServerCallInterceptor.registering); anything else is the server's."""

    def __init__(self, interceptor: ServerCallInterceptor, server: grpc.Server) -> None:
        self._interceptor = interceptor
        self._server = server
        self._generic: _GenericHandlers | None = None

    def add_generic_rpc_handlers(self, handlers: Iterable[grpc.GenericRpcHandler]) -> None:
        if self._generic is None:
            self._generic = _GenericHandlers(self._interceptor)
            self._server.add_generic_rpc_handlers((self._generic,))
        self._generic.inner.extend(handlers)

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        wrap = self._interceptor.wrapped
        self._server.add_registered_method_handlers(
            service, {name: wrap(handler, f"/{service}/{name}") for name, handler in handlers.items()}
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


class _GenericHandlers(grpc.GenericRpcHandler):  # type: ignore[misc]
    """The generic handlers added through ``_Registering``, asked in the order added; what they give is
    wrapped at a method's first call and kept (unknown methods are not: their names are the callers')."""

    def __init__(self, interceptor: ServerCallInterceptor) -> None:
        self.inner: list[grpc.GenericRpcHandler] = []
        self._handlers = interceptor._handlers
        self._intercept = interceptor.intercept_service

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        found = self._handlers.get(handler_call_details.method)
        return found if found is not None else self._intercept(self._query, handler_call_details)

    def _query(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        for handler in self.inner:
            found = handler.service(handler_call_details)
            if found is not None:
                return found  # type: ignore[no-any-return]
        return None
