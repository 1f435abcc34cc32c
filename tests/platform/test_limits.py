"""Admission control (tanxiao.platform.limits) with a hand-driven clock: rates, quotas, streams and
failed-authentication throttling, each refusal with the time to wait."""

from __future__ import annotations

import pytest

from tanxiao.errors import ResourceExhausted
from tanxiao.platform.config import Settings
from tanxiao.platform.limits import Admission, LimitSettings, parse_role_numbers, peer_host


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _admission(**kwargs: object) -> tuple[Admission, Clock]:
    clock = Clock()
    return Admission(LimitSettings(**kwargs), clock), clock  # type: ignore[arg-type]


def test_rate_per_role_is_a_bucket_of_twice_the_rate() -> None:
    admission, clock = _admission(rates={"lender": 2.0}, concurrency={"lender": 100})
    for _ in range(4):  # capacity 2 x 2/s = 4 calls at once
        admission.admit("tok-a", "lender", streaming=False).release()
    with pytest.raises(ResourceExhausted) as caught:
        admission.admit("tok-a", "lender", streaming=False)
    assert caught.value.reason == "RATE_LIMITED"
    assert caught.value.retry_after_seconds == pytest.approx(0.5)  # 1 token at 2 tokens/s
    admission.admit("tok-b", "lender", streaming=False)  # another identity has its own bucket
    clock.now += 0.5
    admission.admit("tok-a", "lender", streaming=False)


def test_concurrency_quota_per_identity() -> None:
    admission, _ = _admission(concurrency={"regulator": 2}, default_rate=1000)
    first = admission.admit("r", "regulator", streaming=False)
    admission.admit("r", "regulator", streaming=False)
    with pytest.raises(ResourceExhausted) as caught:
        admission.admit("r", "regulator", streaming=False)
    assert caught.value.reason == "CONCURRENCY_LIMITED" and caught.value.retry_after_seconds == 1.0
    first.release()
    first.release()  # idempotent: one slot back, not two
    admission.admit("r", "regulator", streaming=False)
    with pytest.raises(ResourceExhausted):
        admission.admit("r", "regulator", streaming=False)


def test_streams_per_caller_and_in_total() -> None:
    admission, _ = _admission(max_streams_total=3, max_streams_per_caller=2, default_rate=1000)
    a1 = admission.admit("a", "lender", streaming=True)
    admission.admit("a", "lender", streaming=True)
    with pytest.raises(ResourceExhausted, match="per caller"):
        admission.admit("a", "lender", streaming=True)
    admission.admit("a", "lender", streaming=False)  # unary calls are not streams
    admission.admit("b", "lender", streaming=True)
    with pytest.raises(ResourceExhausted, match="open-stream limit"):
        admission.admit("c", "lender", streaming=True)
    assert admission.open_streams() == 3
    a1.release()
    admission.admit("c", "lender", streaming=True)


def test_failed_authentication_window_per_peer() -> None:
    admission, clock = _admission(auth_failures_per_minute=3)
    for _ in range(3):
        admission.check_peer("10.0.0.1")
        admission.auth_failed("10.0.0.1")
        clock.now += 10
    with pytest.raises(ResourceExhausted) as caught:
        admission.check_peer("10.0.0.1")
    # failures at 100, 110, 120; now 130: the first leaves the window at 160 -> wait 30 s
    assert caught.value.reason == "AUTH_THROTTLED" and caught.value.retry_after_seconds == pytest.approx(30)
    admission.check_peer("10.0.0.2")
    clock.now += 30.5
    admission.check_peer("10.0.0.1")


def test_settings_parse_per_role_numbers() -> None:
    assert parse_role_numbers(" lender=20, regulator=2.5 ") == {"lender": 20.0, "regulator": 2.5}
    with pytest.raises(ValueError, match="role=positive number"):
        parse_role_numbers("lender=-1")
    limits = Settings.from_env({"TANXIAO_RATE_LIMITS": "lender=3"}).limits()
    assert limits.rate_of("lender") == 3.0
    with pytest.raises(ValueError):
        Settings.from_env({"TANXIAO_CONCURRENCY_QUOTAS": "lender"}).limits()


def test_peer_host() -> None:
    assert peer_host("ipv4:127.0.0.1:5555") == "127.0.0.1"
    assert peer_host("ipv6:[::1]:5555") == "::1"
    assert peer_host("unix:/tmp/s") == "unix:/tmp/s"
