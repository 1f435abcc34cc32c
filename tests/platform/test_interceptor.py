"""The shared interceptor: domain errors become rich statuses, surprises become INTERNAL with a request id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from helpers import DEVELOPMENT

from tanxiao.errors import FieldViolation, NotFound, ValidationError
from tanxiao.platform.config import Settings
from tanxiao.platform.server import RunningServer, ServiceBinding, start_server

SERVICE = "tanxiao.test.v1.Probe"


def _raise_validation(request: bytes, context: grpc.ServicerContext) -> bytes:
    raise ValidationError.from_violations([FieldViolation("records[3].quantity", "must be >= 0")])


def _raise_not_found(request: bytes, context: grpc.ServicerContext) -> bytes:
    raise NotFound("enterprises/X not found", reason="ENTERPRISE_NOT_FOUND")


def _raise_bug(request: bytes, context: grpc.ServicerContext) -> bytes:
    raise KeyError("secret internal detail")


def _stream_then_fail(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield b"one"
    raise ValidationError.for_field("page_size", "must be <= 1000")


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    return request


class _Probe:
    def add(self, _servicer: object, server: grpc.Server) -> None:
        identity = lambda b: b  # noqa: E731 - raw bytes in and out
        handlers = {
            "Validation": grpc.unary_unary_rpc_method_handler(_raise_validation, identity, identity),
            "NotFound": grpc.unary_unary_rpc_method_handler(_raise_not_found, identity, identity),
            "Bug": grpc.unary_unary_rpc_method_handler(_raise_bug, identity, identity),
            "Echo": grpc.unary_unary_rpc_method_handler(_echo, identity, identity),
            "Stream": grpc.unary_stream_rpc_method_handler(_stream_then_fail, identity, identity),
        }
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])


@pytest.fixture(scope="module")
def probe() -> Iterator[RunningServer]:
    running = start_server(
        "probe", [ServiceBinding(SERVICE, None, _Probe().add)], "127.0.0.1:0", Settings.from_env(DEVELOPMENT)
    )
    yield running
    running.stop(None)


@pytest.fixture(scope="module")
def channel(probe: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(probe.address) as ch:
        yield ch


def _call(channel: grpc.Channel, method: str, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as excinfo:
        channel.unary_unary(f"/{SERVICE}/{method}")(b"x", metadata=metadata, timeout=5)
    return excinfo.value


def _details(error: grpc.RpcError) -> tuple[error_details_pb2.ErrorInfo, error_details_pb2.BadRequest | None]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    info, bad = None, None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
    assert info is not None, "every error carries exactly one ErrorInfo"
    return info, bad


def test_validation_error_carries_field_violations(channel: grpc.Channel) -> None:
    error = _call(channel, "Validation", (("x-request-id", "req-42"),))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, bad = _details(error)
    assert info.domain == "tanxiao.io" and info.metadata["request_id"] == "req-42"
    assert bad is not None
    violations = [(v.field, v.description) for v in bad.field_violations]
    assert violations == [("records[3].quantity", "must be >= 0")]


def test_not_found_keeps_its_reason(channel: grpc.Channel) -> None:
    error = _call(channel, "NotFound")
    assert error.code() == grpc.StatusCode.NOT_FOUND
    info, bad = _details(error)
    assert info.reason == "ENTERPRISE_NOT_FOUND" and bad is None


def test_unexpected_exception_is_internal_without_leaking(channel: grpc.Channel) -> None:
    error = _call(channel, "Bug", (("x-request-id", "req-7"),))
    assert error.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (error.details() or "")
    assert "req-7" in (error.details() or "")


def test_streaming_error_after_first_message(channel: grpc.Channel) -> None:
    call = channel.unary_stream(f"/{SERVICE}/Stream")(b"x", timeout=5)
    assert next(call) == b"one"
    with pytest.raises(grpc.RpcError) as excinfo:
        next(call)
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_success_passes_through(channel: grpc.Channel) -> None:
    assert channel.unary_unary(f"/{SERVICE}/Echo")(b"ping", timeout=5) == b"ping"


def test_health_and_reflection_are_served(probe: RunningServer, channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    response = health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


class _PassThrough(grpc.ServerInterceptor):  # type: ignore[misc]
    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        return continuation(details)


@pytest.mark.parametrize("others", [(), (_PassThrough(),)], ids=["wrapped-when-added", "interceptor-chain"])
def test_the_plumbing_is_the_same_with_and_without_an_interceptor_chain(
    others: tuple[grpc.ServerInterceptor, ...],
) -> None:
    """Alone, the serving layer wraps handlers as they are added (gRPC runs no interceptor pipeline per
    call); with other interceptors it is the chain's outermost. Calls see the same either way."""
    running = start_server(
        "probe",
        [ServiceBinding(SERVICE, None, _Probe().add)],
        "127.0.0.1:0",
        Settings.from_env(DEVELOPMENT),
        interceptors=others,
    )
    try:
        assert (running.server._state.interceptor_pipeline is None) == (not others)  # type: ignore[attr-defined]
        with grpc.insecure_channel(running.address) as channel:
            echo = channel.unary_unary(f"/{SERVICE}/Echo")
            answer, call = echo.with_call(b"ping", metadata=[("x-request-id", "req-5")], timeout=5)
            assert answer == b"ping" and ("x-request-id", "req-5") in call.initial_metadata()
            info, _ = _details(_call(channel, "NotFound", (("x-request-id", "req-6"),)))
            assert info.metadata["request_id"] == "req-6"
            missing = _call(channel, "Missing")
            assert missing.code() == grpc.StatusCode.UNIMPLEMENTED
            health = health_pb2_grpc.HealthStub(channel)
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == 1
        assert running.observability is not None
        samples = {
            (s.labels.get("grpc_method"), s.labels.get("grpc_code")): s.value
            for family in running.observability.metrics.registry.collect()
            for s in family.samples
            if s.name == "grpc_server_handled_total"
        }
        assert samples == {("Echo", "OK"): 1.0, ("NotFound", "NOT_FOUND"): 1.0, ("Check", "OK"): 1.0}
    finally:
        running.stop(None)
