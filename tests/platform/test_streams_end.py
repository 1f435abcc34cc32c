"""A stream body that fails because its call was cancelled (idle, revoked, the server stopping) is no
server error: not logged as one, no INTERNAL status over the cancellation. A body that fails on a live
call still is."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from tanxiao.platform import streams


class FakeContext:
    def __init__(self, active: bool) -> None:
        self.active = active
        self.codes: list[grpc.StatusCode] = []

    def is_active(self) -> bool:
        return self.active

    def set_code(self, code: grpc.StatusCode) -> None:
        self.codes.append(code)

    def set_details(self, details: str) -> None:
        pass


def _reading(requests: Iterator[Any], _context: Any) -> Iterator[Any]:
    yield from requests


def _cancelled_requests() -> Iterator[Any]:
    raise grpc.RpcError()  # what grpc's request iterator raises once the call is cancelled
    yield  # pragma: no cover - makes this a generator


class Log:
    """The module's logger, recorded (structlog's capture depends on what configured it before)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def exception(self, event: str, **_fields: Any) -> None:
        self.errors.append(event)

    def debug(self, event: str, **_fields: Any) -> None:
        pass


def _run(active: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[FakeContext, list[Any], list[str]]:
    context, sent, log = FakeContext(active), [], Log()
    monkeypatch.setattr(streams, "log", log)
    with futures.ThreadPoolExecutor(1) as pool:
        handler = streams.run_off_workers(_reading, pool)
        handler(_cancelled_requests(), context, sent.append)
    return context, sent, log.errors


def test_a_body_failing_on_a_cancelled_call_is_not_a_server_error(monkeypatch: pytest.MonkeyPatch) -> None:
    context, sent, errors = _run(False, monkeypatch)
    assert context.codes == [] and sent == [None] and errors == []  # the call ends with the status it has


def test_a_body_failing_on_a_live_call_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    context, sent, errors = _run(True, monkeypatch)
    assert context.codes == [grpc.StatusCode.INTERNAL] and sent == [None]
    assert errors == ["stream.unexpected_error"]
