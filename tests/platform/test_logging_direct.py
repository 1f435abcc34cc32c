"""The interceptor's direct log line (tanxiao.platform.logging.emit_direct, and emit_call with the
call's access-log entry) is the line structlog's own logger writes under configure_logging, is seen by
structlog's capture, and steps aside for any other configuration."""

from __future__ import annotations

import contextvars
import json
import logging
import random
from pathlib import Path

import pytest
import structlog

from tanxiao.platform import logging as tanxiao_logging
from tanxiao.platform.access_log import AccessLog
from tanxiao.platform.logging import configure_logging, emit_call, emit_direct


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


def test_a_calls_end_is_its_line_and_its_access_entry(
    configured: object, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """emit_call queues the entry on the access log, in order, whether the call has a line or not, and
    the line on the log's writer, which renders the line emit_direct would have written from the same
    fields."""
    access = AccessLog(tmp_path, server="t")
    caller = {"token_id": "tok", "role": "lender", "tenant": "lenders/a"}
    entry = ("rpc.ok", "/s/M", "decisions/1", "OK", "", "req-9", "ipv4:10.0.0.1:9", caller, "allowed", "")
    peer = "ipv4:10.0.0.1:9"
    refused = ("rpc.rejected", "/s/M", "", "NOT_FOUND", "GONE", "req-10", peer, {}, "refused", "")
    token = structlog.contextvars.bind_contextvars(request_id="req-9", method="/s/M")
    try:
        assert emit_call(logging.INFO, 1_800_000_000.5, entry, 0.0012345, access)
        fields = {"peer": "ipv4:10.0.0.1:9", "elapsed_ms": 1.234, "request_id": "req-9", "method": "/s/M"}
        assert emit_direct(logging.INFO, "rpc.ok", {**fields, **caller, "code": "OK"}, now=1_800_000_000.5)
        assert emit_call(None, 1_800_000_001.0, refused, 0.0, access)  # the entry only, no line
    finally:
        structlog.contextvars.reset_contextvars(**token)
    access.flush()
    tanxiao_logging.flush()
    first, second = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert list(first.items()) == list(second.items())
    assert first["tenant"] == "lenders/a" and first["elapsed_ms"] == 1.234
    (path,) = tmp_path.iterdir()
    entries = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert [(e["request_id"], e["outcome"], e["code"], e["time"]) for e in entries] == [
        ("req-9", "allowed", "OK", "2027-01-15T08:00:00.500000+00:00"),
        ("req-10", "refused", "NOT_FOUND", "2027-01-15T08:00:01+00:00"),
    ]
    assert entries[0]["token_id"] == "tok" and entries[0]["resource"] == "decisions/1"
    access.close()


def test_under_another_configuration_a_calls_end_is_left_to_the_caller(configured: object) -> None:
    entry = ("rpc.ok", "/s/M", "", "OK", "", "r", "p", {}, "allowed", "")
    with structlog.testing.capture_logs():
        assert not emit_call(logging.INFO, 0.0, entry, 0.0, None)


def test_a_plain_calls_line_is_the_loggers_line(
    configured: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """A call without a caller in a context of its own (request id and method only, no tracing): the
    writer's one-step line is the line emit_direct writes from the same fields, whole second or not."""
    for stamp, elapsed in ((1_800_000_000.5, 0.000_123_4), (1_800_000_001.0, 0.0)):
        entry = ("rpc.ok", "/s/M", "", "OK", "", "req-7", "ipv4:10.0.0.1:9", {}, "allowed", "")

        def call() -> None:
            structlog.contextvars.bind_contextvars(request_id="req-7", method="/s/M")
            assert emit_call(logging.INFO, stamp, entry, elapsed, None)  # noqa: B023
            fields = {"peer": "ipv4:10.0.0.1:9", "elapsed_ms": round(elapsed * 1000, 3)}  # noqa: B023
            line = {**fields, "request_id": "req-7", "method": "/s/M", "code": "OK"}
            assert emit_direct(logging.INFO, "rpc.ok", line, now=stamp)  # noqa: B023

        contextvars.Context().run(call)
    tanxiao_logging.flush()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 4
    assert list(lines[0].items()) == list(lines[1].items()) and list(lines[2].items()) == list(
        lines[3].items()
    )
    assert lines[0]["timestamp"] == "2027-01-15T08:00:00.500000Z" and lines[0]["elapsed_ms"] == 0.123
    assert lines[2]["timestamp"] == "2027-01-15T08:00:01Z"


def test_elapsed_ms_is_the_rounding_to_three_decimals() -> None:
    """Rounding whole microseconds gives ``round(seconds * 1000, 3)`` (seeded sample over six orders of
    magnitude; only exact float ties could differ, by the last digit)."""
    sample = random.Random(14)
    for _ in range(100_000):
        seconds = sample.random() * 10 ** sample.randint(-6, 1)
        assert tanxiao_logging.elapsed_ms(seconds) == round(seconds * 1000, 3)
    assert tanxiao_logging.elapsed_ms(0.0012345) == 1.234 and tanxiao_logging.elapsed_ms(0.0) == 0.0


def test_calls_far_ahead_of_the_writer_wait_for_it_and_lose_nothing(
    configured: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """emit_call queues on the running writer itself (LineWriter.put's path, inline): past
    ``max_pending`` items it flushes as put does, and every line is written, in order."""
    tanxiao_logging.WRITER.put("warm\n")  # the writer thread running: the inline path
    tanxiao_logging.flush()
    monkeypatch.setattr(tanxiao_logging.WRITER, "max_pending", 3)
    for n in range(20):
        entry = ("rpc.ok", "/s/M", "", "OK", "", f"req-{n}", "p", {}, "allowed", "")
        assert emit_call(logging.INFO, 1_800_000_000.5, entry, 0.001, None)
    tanxiao_logging.flush()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line != "warm"]
    assert [line["request_id"] for line in lines] == [f"req-{n}" for n in range(20)]
