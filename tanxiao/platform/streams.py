"""Open streams: run them off the unary workers, and end the idle, revoked and expired ones.

Every streaming RPC (client, server or both) runs on the server's *stream pool*, not on the worker
threads unary calls use: a stream's handler is started "non-blocking" (gRPC's
``experimental_non_blocking`` handlers) and its body submitted to the pool. Admission
(``tanxiao.platform.limits``) keeps the number of open streams at most ``max_streams_total``; the pool
has two more threads so a refusal is answered at once even when every admitted stream is busy.

``StreamMonitor`` wakes every ``check_seconds`` and cancels streams that moved no message in either
direction for ``idle_seconds`` (a client that opened a stream and went silent, or stopped reading),
and streams whose caller's token has since been revoked or has expired. Between checks the
interceptor also re-checks the token on every message, so the revocation latency is at most the token
cache time plus ``check_seconds`` (docs/security.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import structlog

log = structlog.get_logger("tanxiao.streams")


@dataclass(eq=False)
class WatchedStream:
    """One open stream: when it last moved and how to tell whether its caller is still allowed."""

    method: str
    context: grpc.ServicerContext
    still_allowed: Callable[[], bool] = lambda: True
    last_seen: float = field(default_factory=time.monotonic)
    ended_because: str = ""

    def touch(self) -> None:
        self.last_seen = time.monotonic()


class StreamMonitor:
    def __init__(self, idle_seconds: float, check_seconds: float = 1.0) -> None:
        self.idle_seconds = idle_seconds
        self.check_seconds = check_seconds
        self._streams: set[WatchedStream] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-monitor", daemon=True)
        self._thread.start()

    def watch(self, stream: WatchedStream) -> WatchedStream:
        with self._lock:
            self._streams.add(stream)
        return stream

    def forget(self, stream: WatchedStream) -> None:
        with self._lock:
            self._streams.discard(stream)

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.check_seconds):
            with self._lock:
                streams = list(self._streams)
            for stream in streams:
                try:
                    self._check(stream)
                except Exception:  # one bad stream must not stop the monitor
                    log.exception("stream.check_failed", method=stream.method)

    def _check(self, stream: WatchedStream) -> None:
        idle = time.monotonic() - stream.last_seen
        if idle > self.idle_seconds:
            self._end(stream, "STREAM_IDLE", f"no message for {self.idle_seconds:g} s")
        elif not stream.still_allowed():
            self._end(stream, "TOKEN_REVOKED", "the caller's token was revoked or has expired")

    def _end(self, stream: WatchedStream, reason: str, text: str) -> None:
        stream.ended_because = reason
        self.forget(stream)
        log.warning("stream.cancelled", method=stream.method, reason=reason, detail=text)
        cancel(stream.context, text)


def cancel(context: grpc.ServicerContext, text: str) -> None:
    """End a call from outside its handler thread: with a status the client sees when the core allows
    (CANCELLED otherwise). Wakes a handler blocked reading the next request."""
    call = getattr(getattr(context, "_rpc_event", None), "call", None)
    try:
        from grpc._cython import cygrpc

        if call is not None:
            call.cancel(cygrpc.StatusCode.deadline_exceeded, text)
            return
    except Exception:  # an older core without cancel-with-status
        pass
    context.cancel()


def run_off_workers(
    body: Callable[[Any, grpc.ServicerContext], Iterator[Any]], pool: futures.ThreadPoolExecutor
) -> Callable[..., None]:
    """A non-blocking handler that runs ``body`` (a response generator) on ``pool`` and sends what it
    yields; the gRPC worker thread returns at once."""

    def handler(
        request_or_iterator: Any, context: grpc.ServicerContext, send_response_callback: Callable[[Any], None]
    ) -> None:
        def run() -> None:
            try:
                for response in body(request_or_iterator, context):
                    if not context.is_active():  # the client went away: stop producing
                        break
                    send_response_callback(response)
            except Exception as exc:  # aborts set the status; the call ends below either way
                if not context.is_active():
                    # Cancelled (idle, revoked, the server stopping, the client gone): reading the next
                    # request raised. The call has its status already; this is no server error.
                    log.debug("stream.ended_while_reading", error=type(exc).__name__)
                elif not (type(exc) is Exception and not exc.args):
                    log.exception("stream.unexpected_error")
                    context.set_code(grpc.StatusCode.INTERNAL)
                    context.set_details("internal error")
            send_response_callback(None)  # the status: OK, or the one an abort set

        pool.submit(run)

    handler.experimental_non_blocking = True  # type: ignore[attr-defined]
    return handler
