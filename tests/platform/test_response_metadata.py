"""The request id rides in the batch that answers the call (tanxiao.platform.response_metadata): a unary
call starts no batch of its own for it, success or failure; a stream still gets it at once."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from grpc import _server
from helpers import DEVELOPMENT

from tanxiao.errors import NotFound
from tanxiao.platform import response_metadata
from tanxiao.platform.config import Settings
from tanxiao.platform.server import RunningServer, ServiceBinding, start_server

SERVICE = "tanxiao.test.v1.Metadata"


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    return request


def _missing(request: bytes, context: grpc.ServicerContext) -> bytes:
    raise NotFound("enterprises/X not found", reason="ENTERPRISE_NOT_FOUND")


def _own_metadata(request: bytes, context: grpc.ServicerContext) -> bytes:
    context.send_initial_metadata((("x-handler", "mine"),))
    return request


def _stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield b"one"
    yield b"two"


def _add(_servicer: object, server: grpc.Server) -> None:
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Missing": grpc.unary_unary_rpc_method_handler(_missing),
        "Own": grpc.unary_unary_rpc_method_handler(_own_metadata),
        "Stream": grpc.unary_stream_rpc_method_handler(_stream),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    running = start_server(
        "meta", [ServiceBinding(SERVICE, None, _add)], "127.0.0.1:0", Settings.from_env(DEVELOPMENT)
    )
    yield running
    running.stop(None)


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every initial-metadata batch a handler starts itself (grpcio's send_initial_metadata)."""
    started: list[object] = []
    original = _server._Context.send_initial_metadata

    def counting(self: object, metadata: object) -> None:
        started.append(metadata)
        original(self, metadata)  # type: ignore[arg-type]

    monkeypatch.setattr(_server._Context, "send_initial_metadata", counting)
    return started


def test_the_pinned_grpcio_takes_the_merge() -> None:
    assert response_metadata.install()


def test_a_unary_answer_carries_the_request_id_in_its_own_batch(
    server: RunningServer, batches: list[object]
) -> None:
    with grpc.insecure_channel(server.address) as channel:
        answer, call = channel.unary_unary(f"/{SERVICE}/Echo").with_call(
            b"x", metadata=[("x-request-id", "req-7")], timeout=10
        )
        _, unnamed = channel.unary_unary(f"/{SERVICE}/Echo").with_call(b"y", timeout=10)
    assert answer == b"x" and dict(call.initial_metadata())["x-request-id"] == "req-7"
    assert len(dict(unnamed.initial_metadata())["x-request-id"]) == 32
    assert batches == []


def test_a_failed_call_carries_it_too(server: RunningServer, batches: list[object]) -> None:
    with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(f"/{SERVICE}/Missing")(b"x", metadata=[("x-request-id", "req-8")], timeout=10)
    error: grpc.Call = caught.value  # type: ignore[assignment]
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert dict(error.initial_metadata())["x-request-id"] == "req-8"
    assert batches == []


def test_a_handlers_own_initial_metadata_goes_with_the_request_id(server: RunningServer) -> None:
    with grpc.insecure_channel(server.address) as channel:
        _, call = channel.unary_unary(f"/{SERVICE}/Own").with_call(
            b"x", metadata=[("x-request-id", "r9")], timeout=10
        )
    sent = dict(call.initial_metadata())
    assert (sent["x-request-id"], sent["x-handler"]) == ("r9", "mine")


def test_a_stream_gets_it_before_its_first_message(server: RunningServer, batches: list[object]) -> None:
    with grpc.insecure_channel(server.address) as channel:
        call = channel.unary_stream(f"/{SERVICE}/Stream")(
            b"x", metadata=[("x-request-id", "r10")], timeout=10
        )
        assert dict(call.initial_metadata())["x-request-id"] == "r10"
        assert list(call) == [b"one", b"two"]
    assert len(batches) == 1
