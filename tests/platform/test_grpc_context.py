"""The serving layer reads a unary call's fields straight from grpcio's context (tanxiao.platform.
grpc_context): the pinned grpcio takes that way, the fields read so are what the public methods say, and
any other context gets the same plumbing through the public methods."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import _server
from helpers import DEVELOPMENT, captured_rpc_logs

from tanxiao.platform import grpc_context
from tanxiao.platform.access_log import AccessLog
from tanxiao.platform.config import Settings
from tanxiao.platform.interceptors import ServerCallInterceptor, Serving
from tanxiao.platform.limits import LimitSettings
from tanxiao.platform.metrics import ServerMetrics
from tanxiao.platform.server import RunningServer, ServiceBinding, start_server

SERVICE = "tanxiao.test.v1.Fields"
seen: list[dict[str, Any]] = []


def _compare(request: bytes, context: grpc.ServicerContext) -> bytes:
    state, event = context._state, context._rpc_event  # type: ignore[attr-defined]
    seen.append(
        {
            "type": type(context) is grpc_context.CONTEXT,
            "active": (grpc_context.is_active(state), context.is_active()),
            "peer": (event.call.peer().decode(), context.peer()),
            "metadata": (event.invocation_metadata, context.invocation_metadata()),
            "code": (state.code, context.code()),
        }
    )
    return request


def _add(_servicer: object, server: grpc.Server) -> None:
    handlers = {"Compare": grpc.unary_unary_rpc_method_handler(_compare)}
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    running = start_server(
        "fields", [ServiceBinding(SERVICE, None, _add)], "127.0.0.1:0", Settings.from_env(DEVELOPMENT)
    )
    yield running
    running.stop(None)


def test_the_pinned_grpcio_is_read_directly() -> None:
    assert grpc_context.CONTEXT is _server._Context
    assert grpc_context.CANCELLED is _server._CANCELLED


def test_the_fields_read_directly_are_what_the_public_methods_say(server: RunningServer) -> None:
    seen.clear()
    with grpc.insecure_channel(server.address) as channel:
        channel.unary_unary(f"/{SERVICE}/Compare")(b"x", metadata=[("x-request-id", "r-1")], timeout=10)
    (call,) = seen
    assert call["type"]
    for direct, public in (call["active"], call["peer"], call["metadata"], call["code"]):
        assert direct == public
    assert call["active"] == (True, True) and ("x-request-id", "r-1") in call["metadata"][0]


class _FakeContext:
    """A servicer context with the public methods only (no grpcio internals)."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.metadata = metadata
        self.sent: list[Any] = []

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def peer(self) -> str:
        return "ipv4:10.0.0.7:5555"

    def is_active(self) -> bool:
        return True

    def time_remaining(self) -> float:
        return 10.0

    def code(self) -> None:
        return None

    def send_initial_metadata(self, metadata: Any) -> None:
        self.sent.append(metadata)


def test_another_context_gets_the_same_plumbing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    access = AccessLog(tmp_path, server="fake")
    limits = LimitSettings(default_rate=1e6, default_concurrency=1e6)
    metrics = ServerMetrics("fake")
    serving = Serving.create(limits, idle_seconds=3600, access_log=access)
    interceptor = ServerCallInterceptor(None, serving, metrics)
    method = f"/{SERVICE}/Echo"
    echo = grpc.unary_unary_rpc_method_handler(lambda request, _context: request)
    details = _server._HandlerCallDetails(method, ())
    handler = interceptor.intercept_service(lambda _details: echo, details)
    context = _FakeContext((("x-request-id", "fake-1"),))
    try:
        # every level: with an access log the call's rpc.ok line is at debug
        with captured_rpc_logs(monkeypatch) as logs:
            assert handler.unary_unary(b"x", context) == b"x"
        access.flush()
    finally:
        serving.stop(1.0)
    assert context.sent == [(("x-request-id", "fake-1"),)]  # no grpcio state: sent the public way
    (line,) = [entry for entry in logs if entry["event"] == "rpc.ok"]
    assert (line["peer"], line["request_id"], line["method"], line["code"]) == (
        "ipv4:10.0.0.7:5555",
        "fake-1",
        method,
        "OK",
    )
    (entry,) = [json.loads(text) for text in next(tmp_path.glob("access-*.jsonl")).read_text().splitlines()]
    assert {k: entry[k] for k in ("event", "method", "code", "request_id", "peer", "outcome")} == {
        "event": "rpc.ok",
        "method": method,
        "code": "OK",
        "request_id": "fake-1",
        "peer": "ipv4:10.0.0.7:5555",
        "outcome": "allowed",
    }
    started = handled = 0.0
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.labels.get("grpc_method") == "Echo" and sample.name == "grpc_server_started_total":
                started = sample.value
            if sample.name == "grpc_server_handled_total" and sample.labels.get("grpc_code") == "OK":
                handled = sample.value
    assert (started, handled) == (1.0, 1.0)
