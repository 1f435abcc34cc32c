"""One record a call (issue 14): with an access log, a call that ends OK is recorded by its access-log
entry and its ``rpc.ok`` line is at debug (the nginx/Envoy model); a call that fails or is not sent
keeps its line at its level besides its entry; without an access log every call keeps its line at info.
On a real server under configure_logging's JSON set-up (the lines on stderr)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import structlog
from helpers import DEVELOPMENT

from tanxiao.errors import ValidationError
from tanxiao.platform.config import Settings
from tanxiao.platform.logging import configure_logging
from tanxiao.platform.server import ServiceBinding, start_server

SERVICE = "tanxiao.test.v1.Records"
ECHO, REJECT, EACH = f"/{SERVICE}/Echo", f"/{SERVICE}/Reject", f"/{SERVICE}/EchoEach"


def _reject(request: bytes, context: grpc.ServicerContext) -> bytes:
    raise ValidationError.for_field("name", "no such thing")


def _each(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield request
    yield request


def _add(_servicer: object, server: grpc.Server) -> None:
    same = lambda b: b  # noqa: E731
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(lambda request, _context: request, same, same),
        "Reject": grpc.unary_unary_rpc_method_handler(_reject, same, same),
        "EchoEach": grpc.unary_stream_rpc_method_handler(_each, same, same),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])


@pytest.fixture
def restore_logging() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def _serve(access_dir: str, level: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Three calls (an OK one with a request id, a refused one, an OK stream); the rpc.* lines."""
    configure_logging(level, "json")
    capsys.readouterr()
    settings = Settings.from_env({**DEVELOPMENT, "TANXIAO_ACCESS_LOG_DIR": access_dir})
    running = start_server("probe", [ServiceBinding(SERVICE, None, _add)], "127.0.0.1:0", settings)
    try:
        with grpc.insecure_channel(running.address) as channel:
            assert channel.unary_unary(ECHO)(b"x", metadata=[("x-request-id", "ok-1")], timeout=10) == b"x"
            with pytest.raises(grpc.RpcError):
                channel.unary_unary(REJECT)(b"y", metadata=[("x-request-id", "bad-1")], timeout=10)
            stream = channel.unary_stream(EACH)(b"z", metadata=[("x-request-id", "each-1")], timeout=10)
            assert list(stream) == [b"z", b"z"]
    finally:
        running.stop(None)  # flushes the log and the access log
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    return [line for line in lines if str(line.get("event", "")).startswith("rpc.")]


def _entries(access_dir: Path) -> list[tuple[str, str, str]]:
    (day,) = access_dir.glob("access-*.jsonl")
    entries = [json.loads(line) for line in day.read_text().splitlines()]
    return [(e["method"], e["event"], e["request_id"]) for e in entries]


def _calls(lines: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(line["method"], line["event"], line["level"], line["request_id"]) for line in lines]


RECORDED = [(ECHO, "rpc.ok", "ok-1"), (REJECT, "rpc.rejected", "bad-1"), (EACH, "rpc.ok", "each-1")]


@pytest.mark.usefixtures("restore_logging")
def test_with_an_access_log_an_ok_call_is_its_entry_and_no_info_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _serve(str(tmp_path), "INFO", capsys)
    assert _calls(lines) == [(REJECT, "rpc.rejected", "info", "bad-1")]
    assert _entries(tmp_path) == RECORDED


@pytest.mark.usefixtures("restore_logging")
def test_with_an_access_log_an_ok_calls_line_is_at_debug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _serve(str(tmp_path), "DEBUG", capsys)
    assert _calls(lines) == [
        (ECHO, "rpc.ok", "debug", "ok-1"),
        (REJECT, "rpc.rejected", "info", "bad-1"),
        (EACH, "rpc.ok", "debug", "each-1"),
    ]
    assert lines[0]["code"] == "OK" and lines[0]["peer"].startswith("ipv4:127.0.0.1:")
    assert _entries(tmp_path) == RECORDED


@pytest.mark.usefixtures("restore_logging")
def test_without_an_access_log_every_call_keeps_its_info_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _serve("", "INFO", capsys)
    assert _calls(lines) == [
        (ECHO, "rpc.ok", "info", "ok-1"),
        (REJECT, "rpc.rejected", "info", "bad-1"),
        (EACH, "rpc.ok", "info", "each-1"),
    ]
    assert not list(tmp_path.iterdir())
