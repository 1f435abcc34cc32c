"""The interceptor's direct log line (tanxiao.platform.logging.emit_direct) is the line structlog's own
logger writes under configure_logging, is seen by structlog's capture, and steps aside for any other
configuration."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from tanxiao.platform import logging as tanxiao_logging
from tanxiao.platform.logging import configure_logging, emit_direct


@pytest.fixture
def configured() -> object:
    saved = structlog.get_config()
    configure_logging("INFO", "json")
    yield
    structlog.configure(**saved)


def test_the_direct_line_is_the_loggers_line(configured: object, capsys: pytest.CaptureFixture[str]) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-1")
    try:
        assert emit_direct(logging.INFO, "rpc.ok", {"peer": "ipv4:127.0.0.1:1", "code": "OK"})
        structlog.get_logger("fresh").info("rpc.ok", peer="ipv4:127.0.0.1:1", code="OK")
        assert emit_direct(logging.DEBUG, "health", {"code": "OK"})  # below the level: dropped
        tanxiao_logging.flush()
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    direct, ordinary = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert direct.pop("timestamp") <= ordinary.pop("timestamp")
    assert list(direct.items()) == list(ordinary.items())
    assert direct["request_id"] == "req-1" and direct["level"] == "info"


def test_a_capture_sees_the_direct_line(configured: object) -> None:
    with structlog.testing.capture_logs() as entries:
        assert emit_direct(logging.INFO, "rpc.ok", {"code": "OK"})
    assert entries == [{"code": "OK", "event": "rpc.ok", "log_level": "info"}]


def test_another_configuration_gets_the_ordinary_path(configured: object) -> None:
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    assert not emit_direct(logging.INFO, "rpc.ok", {"code": "OK"})


def test_the_line_keeps_the_context_and_time_it_was_logged_with(
    configured: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """The writer thread renders the line later, from the context the call had when it logged."""
    token = structlog.contextvars.bind_contextvars(request_id="req-2")
    try:
        assert emit_direct(logging.INFO, "rpc.ok", {"code": "OK"}, now=1_800_000_000.25)
    finally:
        structlog.contextvars.reset_contextvars(**token)  # unbound before the writer gets to the line
    structlog.contextvars.bind_contextvars(request_id="req-3")  # and another call's id bound since
    try:
        tanxiao_logging.flush()
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    (line,) = [json.loads(text) for text in capsys.readouterr().err.splitlines()]
    assert line == {
        "code": "OK",
        "event": "rpc.ok",
        "request_id": "req-2",
        "level": "info",
        "timestamp": "2027-01-15T08:00:00.250000Z",
    }
