"""A Health/Watch that closes while the servicer is sending a status to another watch must not deadlock
the server.

gRPC runs a call's close callbacks on the server's one polling thread, and a non-blocking Watch's send
waits for that same thread to report the message sent. grpcio-health-checking's servicer sends while
holding the lock its close callback takes: a watch closing mid-send left the polling thread waiting on
the lock and the sender waiting on the polling thread, for good (the server answered nothing more and
a SIGTERM's stop hung in ``enter_graceful_shutdown``). Here the close is made to happen exactly then.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers import DEVELOPMENT

from tanxiao.platform.config import Settings
from tanxiao.platform.health import HealthServicer
from tanxiao.platform.server import start_server

WATCH = "/grpc.health.v1.Health/Watch"
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# Only how long a failure takes to show: a close is processed in milliseconds unless it is deadlocked.
PATIENCE = 30.0


class CloseDuringSend(grpc.ServerInterceptor):  # type: ignore[misc]
    """The first watch is A, the second B. When the servicer sends NOT_SERVING to B, A is cancelled and
    the send waits until A's close callbacks (the servicer's, then ours) have run; if they cannot run
    (the polling thread is stuck), B's send is skipped so that the test ends instead of hanging."""

    def __init__(self) -> None:
        self.contexts: list[grpc.ServicerContext] = []
        self.a_closed = threading.Event()
        self.cancel_a: Callable[[], None] = lambda: None
        self.closed_during_send: bool | None = None

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = continuation(details)
        if details.method != WATCH:
            return handler
        watch = handler.unary_stream

        def wrapped(request: Any, context: grpc.ServicerContext, send: Callable[[Any], None]) -> Any:
            self.contexts.append(context)
            first = len(self.contexts) == 1
            result = watch(request, context, send if first else self._closing_a_first(send))
            if first:
                context.add_callback(self.a_closed.set)  # after the servicer's own close callback
            return result

        wrapped.experimental_non_blocking = True  # type: ignore[attr-defined]
        return grpc.unary_stream_rpc_method_handler(
            wrapped, handler.request_deserializer, handler.response_serializer
        )

    def _closing_a_first(self, send: Callable[[Any], None]) -> Callable[[Any], None]:
        def send_to_b(response: Any) -> None:
            if response is not None and response.status == NOT_SERVING and self.closed_during_send is None:
                self.cancel_a()
                self.closed_during_send = self.a_closed.wait(PATIENCE)
                if not self.closed_during_send:
                    return  # the polling thread is stuck: sending would wait for it forever
            send(response)

        return send_to_b


@pytest.fixture
def watched() -> Iterator[tuple[HealthServicer, CloseDuringSend, grpc.Channel]]:
    servicer = HealthServicer()
    interceptor = CloseDuringSend()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=[interceptor])
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield servicer, interceptor, channel
    finally:
        channel.close()
        server.stop(None)  # not waited for: a deadlocked server would never report stopped


@pytest.mark.parametrize(
    "change",
    [lambda s: s.set("", NOT_SERVING), lambda s: s.enter_graceful_shutdown()],
    ids=["set", "enter_graceful_shutdown"],
)
def test_a_watch_closing_while_a_status_is_sent_is_processed(
    watched: tuple[HealthServicer, CloseDuringSend, grpc.Channel], change: Callable[[HealthServicer], None]
) -> None:
    servicer, interceptor, channel = watched
    stub = health_pb2_grpc.HealthStub(channel)
    a = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=60)
    assert next(a).status == health_pb2.HealthCheckResponse.SERVING
    b = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=60)
    assert next(b).status == health_pb2.HealthCheckResponse.SERVING
    interceptor.cancel_a = a.cancel

    changing = threading.Thread(target=change, args=(servicer,), daemon=True)
    changing.start()
    changing.join(PATIENCE * 2)
    assert not changing.is_alive(), "the status change never returned"
    assert interceptor.closed_during_send, "A closing waited for the send to B: the polling thread blocked"
    assert next(b).status == NOT_SERVING  # B still gets the change, after A closed
    # And the server still serves: a new watch is answered.
    assert next(stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)).status == NOT_SERVING
    b.cancel()


def test_watch_through_the_servers_own_stack_sees_each_change_once() -> None:
    """Through start_server's interceptors (metrics, admission of watches): the current status, then
    only changes (a readiness check that finds nothing new sends nothing), then NOT_SERVING at stop."""
    running = start_server("watched", [], "127.0.0.1:0", Settings.from_env(DEVELOPMENT))
    try:
        with grpc.insecure_channel(running.address) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=""), timeout=60
            )
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            running.health.set("", health_pb2.HealthCheckResponse.SERVING)  # unchanged: not sent
            running.health.set("", NOT_SERVING)
            running.health.set("", health_pb2.HealthCheckResponse.SERVING)
            assert [next(watch).status, next(watch).status] == [
                NOT_SERVING,
                health_pb2.HealthCheckResponse.SERVING,
            ]
            running.stop(0)
            assert next(watch).status == NOT_SERVING
    finally:
        running.stop(0)
