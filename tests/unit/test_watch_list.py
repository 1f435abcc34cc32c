"""Watch-list flags from a booked decision and the borrower's current profile (hand-checked dates)."""

from __future__ import annotations

import datetime as dt

from scoring_service.repricing import _watch_item, period_end
from scoring_service.storage.decisions import StoredDecision
from tanxiao.registry.v1 import registry_pb2


def booked(grade: int) -> StoredDecision:
    content = {"profile": {"grade": {"grade": grade}}, "request": {"profile_period": "2025"}}
    return StoredDecision(
        "d1", "lenders/b", "r", "91330500MA2B3C4D5E", "GENERAL", "f", content, "", dt.datetime.now(dt.UTC)
    )


def profile(grade: int, period: str = "2025", stale_flag: bool = False) -> registry_pb2.CarbonProfile:
    p = registry_pb2.CarbonProfile(period=period)
    p.grade.grade = grade
    if stale_flag:
        p.data_quality.flags.add(code="STALE_DATA")
    return p


def test_period_end() -> None:
    assert period_end("2025") == dt.date(2025, 12, 31)
    assert period_end("R12-2024-02") == dt.date(2024, 2, 29)  # a leap year


def test_flags() -> None:
    today = dt.date(2026, 11, 30)  # 2025-12-31 + 334 days
    calm = _watch_item(booked(2), profile(2), today, 550)
    assert list(calm.flags) == [] and calm.data_age_days == 334
    assert list(_watch_item(booked(2), profile(3), today, 550).flags) == ["GRADE_DROPPED"]
    assert list(_watch_item(booked(3), profile(2), today, 550).flags) == []  # improved: nothing to watch
    assert list(_watch_item(booked(2), profile(0), today, 550).flags) == ["UNGRADED"]
    assert list(_watch_item(booked(2), profile(2), today, 300).flags) == ["STALE_DATA"]  # 334 > 300
    assert list(_watch_item(booked(2), profile(2), today, 334).flags) == []  # at the bound: not yet
    assert list(_watch_item(booked(2), profile(2, stale_flag=True), today, None).flags) == ["STALE_DATA"]
