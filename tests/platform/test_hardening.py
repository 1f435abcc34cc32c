"""Interceptor hardening (issue 13) on a probe service: log lines stay short whatever a request holds,
idle streams end, and a token revoked or expired mid-stream ends the stream."""

from __future__ import annotations

import json
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import structlog
from helpers import DEVELOPMENT, error_details

from tanxiao.errors import ValidationError
from tanxiao.platform import interceptors
from tanxiao.platform.auth import Principal
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine
from tanxiao.platform.logging import configure_logging
from tanxiao.platform.server import RunningServer, ServiceBinding, start_server
from tanxiao.platform.tls import ConfigError, generate_dev_certs, secure_channel

SERVICE = "tanxiao.test.v1.Hardening"
SECRET = "tx_0123456789abcdef_" + "A" * 32


def _reject_echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    raise ValidationError.for_field("name", f"no such thing: {request.decode()}")


def _count(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
    return str(sum(1 for _ in requests)).encode()


def _echo_each(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
    yield from requests


class _Probe:
    def add(self, _servicer: object, server: grpc.Server) -> None:
        same = lambda b: b  # noqa: E731
        handlers = {
            "Reject": grpc.unary_unary_rpc_method_handler(_reject_echo, same, same),
            "Count": grpc.stream_unary_rpc_method_handler(_count, same, same),
            "EchoEach": grpc.stream_stream_rpc_method_handler(_echo_each, same, same),
        }
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])


class Tokens:
    """An authenticator whose one token can be revoked."""

    def __init__(self) -> None:
        self.valid = True

    def principal(self, secret: str) -> Principal | None:
        return Principal("0123456789abcdef", "admin", "") if self.valid and secret == SECRET else None


def _start(env: dict[str, str], authenticator: Tokens | None = None) -> RunningServer:
    return start_server(
        "probe",
        [ServiceBinding(SERVICE, None, _Probe().add)],
        "127.0.0.1:0",
        Settings.from_env(env),
        authenticator=authenticator,
    )


def test_a_huge_request_field_is_truncated_in_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    running = _start(DEVELOPMENT)
    try:
        with grpc.insecure_channel(running.address) as channel, pytest.raises(grpc.RpcError):
            channel.unary_unary(f"/{SERVICE}/Reject")(b"y" * (1024 * 1024), timeout=10)
    finally:
        running.stop(None)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    rejected = [line for line in lines if line.get("event") == "rpc.rejected"]
    assert rejected and max(len(json.dumps(line)) for line in lines) < 2_000
    assert rejected[0]["error"].endswith("(1048597 chars)")  # "name: no such thing: " (21) + 1,048,576


def _silent(stop: threading.Event) -> Iterator[bytes]:
    yield b"first"
    stop.wait()


def test_an_idle_client_stream_is_cancelled() -> None:
    running = _start({**DEVELOPMENT, "TANXIAO_STREAM_IDLE_SECONDS": "1"})
    stop = threading.Event()
    try:
        with grpc.insecure_channel(running.address) as channel:
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as caught:
                channel.stream_unary(f"/{SERVICE}/Count")(_silent(stop), timeout=30)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
            assert "no message for 1 s" in (caught.value.details() or "")  # type: ignore[attr-defined]
            assert time.monotonic() - started < 4  # idle 1 s + a check every second
            # The slot is back: a fresh stream works.
            assert channel.stream_unary(f"/{SERVICE}/Count")(iter([b"a", b"b"]), timeout=10) == b"2"
    finally:
        stop.set()
        running.stop(None)


@pytest.mark.parametrize("method", ["Count", "EchoEach"])
def test_revoking_a_token_ends_its_open_stream(method: str) -> None:
    tokens = Tokens()
    env = {"TANXIAO_ALLOW_PLAINTEXT": "true", "TANXIAO_AUTH_REQUIRED": "true"}
    running = _start(env, tokens)
    stop = threading.Event()
    try:
        with grpc.insecure_channel(running.address) as channel:
            auth = [("authorization", f"Bearer {SECRET}")]
            call = getattr(channel, "stream_unary" if method == "Count" else "stream_stream")
            future_or_stream = call(f"/{SERVICE}/{method}")
            if method == "Count":
                outcome = future_or_stream.future(_silent(stop), metadata=auth, timeout=30)
            else:
                outcome = future_or_stream(_silent(stop), metadata=auth, timeout=30)
                assert next(outcome) == b"first"
            time.sleep(0.5)
            revoked = time.monotonic()
            tokens.valid = False
            with pytest.raises(grpc.RpcError) as caught:
                outcome.result() if method == "Count" else next(outcome)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
            assert "revoked or has expired" in (caught.value.details() or "")  # type: ignore[attr-defined]
            assert time.monotonic() - revoked < 3  # the stream monitor checks every second
            with pytest.raises(grpc.RpcError) as caught:
                channel.stream_unary(f"/{SERVICE}/Count")(iter([b"a"]), metadata=auth, timeout=10)
            assert error_details(caught.value).code == grpc.StatusCode.UNAUTHENTICATED
    finally:
        stop.set()
        running.stop(None)


@pytest.mark.parametrize(
    "target", ["10.0.0.5:50051", "dns:///registry.bank.internal:50051", "ipv4:192.168.1.2:1"]
)
def test_plaintext_dialling_is_refused_off_loopback(target: str) -> None:
    settings = Settings.from_env({"TANXIAO_ALLOW_PLAINTEXT": "true"})
    with pytest.raises(ConfigError, match=r"refusing to dial .* in plaintext"):
        secure_channel(target, settings)
    secure_channel("127.0.0.1:50051", settings).close()  # loopback development stays possible
    secure_channel("dns:///localhost:50051", settings).close()


def test_the_start_up_log_states_the_real_transport(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    configure_logging("INFO", "json")
    certs = generate_dev_certs(tmp_path / "certs")
    env = {
        "TANXIAO_AUTH_REQUIRED": "false",
        "TANXIAO_TLS_CERT_FILE": str(certs.server_cert),
        "TANXIAO_TLS_KEY_FILE": str(certs.server_key),
        "TANXIAO_TLS_CLIENT_CA_FILE": str(certs.ca_cert),
    }
    for settings_env, expected in [(env, "mutual_tls"), (DEVELOPMENT, "plaintext")]:
        _start(settings_env).stop(None)
        started = [
            json.loads(line)
            for line in capsys.readouterr().err.splitlines()
            if line.startswith("{") and '"server.started"' in line
        ]
        assert started[-1]["transport"] == expected and "plaintext" not in started[-1]


def test_sqlite_files_are_owner_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/var/new.db"
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        for path in (tmp_path / "var").iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path  # new.db, new.db-wal, new.db-shm
        assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    finally:
        engine.dispose()


def _slow(request: bytes, context: grpc.ServicerContext) -> bytes:
    time.sleep(1.0)
    return request


def test_an_answer_the_caller_no_longer_waits_for_is_not_logged_ok() -> None:
    with structlog.testing.capture_logs() as logs, pytest.MonkeyPatch.context() as patch:
        patch.setattr(interceptors, "log", structlog.get_logger("tanxiao.rpc"))  # bypass a cached logger
        running = start_server(
            "probe",
            [ServiceBinding(SERVICE, None, _SlowProbe().add)],
            "127.0.0.1:0",
            Settings.from_env(DEVELOPMENT),
        )
        try:
            with grpc.insecure_channel(running.address) as channel, pytest.raises(grpc.RpcError):
                channel.unary_unary(f"/{SERVICE}/Slow")(b"x", timeout=0.3)
            time.sleep(1.2)
        finally:
            running.stop(None)
    outcomes = [e for e in logs if e.get("method") == f"/{SERVICE}/Slow" and e["event"].startswith("rpc.")]
    assert [(e["event"], e["code"]) for e in outcomes] == [("rpc.not_sent", "DEADLINE_EXCEEDED")]


class _SlowProbe:
    def add(self, _servicer: object, server: grpc.Server) -> None:
        handlers = {"Slow": grpc.unary_unary_rpc_method_handler(_slow, lambda b: b, lambda b: b)}
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])
