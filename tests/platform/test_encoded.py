"""A unary answer sent as the wire bytes its handler made (tanxiao.platform.encoded): the bytes go out as
they are for a handler marked ``answers_encoded``; hidden behind another interceptor (tracing), the
answer is the same message; the call is logged and counted as any other."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from helpers import DEVELOPMENT

from tanxiao.platform.config import Settings
from tanxiao.platform.encoded import Encoded, answers_encoded, answers_encoded_by, serializer
from tanxiao.platform.server import RunningServer, ServiceBinding, start_server
from tanxiao.registry.v1 import registry_pb2

SERVICE = "tanxiao.test.v1.Encoded"
Name = registry_pb2.GetEnterpriseRequest
# name = 1 and a field the message does not know (number 15): any order of fields on the wire parses
# to the same message; the bytes as sent tell whether they went out as they are.
WIRE = b"\x7a\x03abc" + Name(name="enterprises/X").SerializeToString()


@answers_encoded
def _encoded(request: Any, context: grpc.ServicerContext) -> Any:
    return Encoded(WIRE, Name)


@answers_encoded
def _message(request: Any, context: grpc.ServicerContext) -> Any:
    return Name(name="enterprises/Y")


def _add(_servicer: object, server: grpc.Server) -> None:
    def unary(behavior: Callable[..., Any]) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(behavior, Name.FromString, Name.SerializeToString)

    handlers = {"Encoded": unary(_encoded), "Message": unary(_message)}
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])


class _Hiding(grpc.ServerInterceptor):  # type: ignore[misc]
    """Wraps every unary handler in a function of its own (as OpenTelemetry's interceptor does)."""

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        return grpc.unary_unary_rpc_method_handler(
            lambda request, context: inner(request, context),
            handler.request_deserializer,
            handler.response_serializer,
        )


def _serve(interceptors: tuple[grpc.ServerInterceptor, ...]) -> Iterator[RunningServer]:
    settings = Settings.from_env(DEVELOPMENT)
    running = start_server(
        "encoded", [ServiceBinding(SERVICE, None, _add)], "127.0.0.1:0", settings, interceptors=interceptors
    )
    yield running
    running.stop(None)


@pytest.fixture(scope="module", params=["alone", "behind another interceptor"])
def server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    yield from _serve(() if request.param == "alone" else (_Hiding(),))


def _raw(server: RunningServer, method: str) -> bytes:
    with grpc.insecure_channel(server.address) as channel:
        answer: bytes = channel.unary_unary(f"/{SERVICE}/{method}")(
            Name(name="q").SerializeToString(), timeout=10
        )
    return answer


def test_an_encoded_answer_is_the_message_its_bytes_encode(server: RunningServer) -> None:
    answer = Name.FromString(_raw(server, "Encoded"))
    assert answer.name == "enterprises/X"
    assert answer == Name.FromString(WIRE)
    assert Name.FromString(_raw(server, "Message")).name == "enterprises/Y"  # a message as before


def test_alone_the_bytes_go_out_as_they_are() -> None:
    for running in _serve(()):
        assert _raw(running, "Encoded") == WIRE  # not re-serialized (that would put name first)


def test_the_answer_reads_as_its_message_and_the_serializer_passes_the_bytes() -> None:
    answer = Encoded(WIRE, Name)
    assert answer.name == "enterprises/X" and answer.decoded() is answer.decoded()
    assert answer.ListFields() == Name.FromString(WIRE).ListFields()
    send = serializer(Name.SerializeToString)
    assert send(answer) == WIRE
    assert send(Name(name="n")) == Name(name="n").SerializeToString()
    assert answers_encoded_by(_encoded) and not answers_encoded_by(_add)
