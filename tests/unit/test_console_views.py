"""Console building blocks without servers: sessions, outcome colours, Beijing time, the grade chart."""

from __future__ import annotations

import time

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tanxiao.common.v1 import common_pb2
from tanxiao.console import views
from tanxiao.console.i18n import code_label
from tanxiao.console.session import Session, SessionCodec, csrf_matches
from tanxiao.locale import has
from tanxiao.registry.v1 import registry_pb2
from tanxiao.scoring.v1 import scoring_pb2


def test_a_session_round_trips_encrypted_and_rejects_tampering_and_age() -> None:
    codec = SessionCodec("secret")
    session = Session(csrf="c", lang="en", token="tx_abc", role="lender", tenant="lenders/huzhou-bank")
    value = codec.encode(session)
    assert "tx_abc" not in value and "lender" not in value
    assert codec.decode(value) == session
    assert SessionCodec("another secret").decode(value) is None
    # a character in the middle: all six of its bits are data (the last one before "=" padding has bits a
    # decoder ignores, so changing it could leave the bytes, and the token, as they were)
    middle = len(value) // 2
    assert codec.decode(value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]) is None
    assert codec.decode("") is None and codec.decode("not-a-cookie") is None
    old = SessionCodec("secret", max_age=1)
    aged = old.encode(session)
    time.sleep(2.1)
    assert old.decode(aged) is None


def test_csrf_comparison() -> None:
    session = Session(csrf="token-1")
    assert csrf_matches(session, "token-1")
    assert not csrf_matches(session, "token-2") and not csrf_matches(session, None)
    assert not csrf_matches(Session(csrf=""), "")


@pytest.mark.parametrize(
    ("eligible", "review", "kind"),
    [
        (True, False, "approved"),
        (True, True, "review"),
        (False, True, "declined"),
        (False, False, "declined"),
    ],
)
def test_outcome_colour(eligible: bool, review: bool, kind: str) -> None:
    decision = scoring_pb2.Decision(eligible=eligible, manual_review=review)
    assert views.outcome(decision).kind == kind


def test_beijing_time_to_the_second() -> None:
    stamp = Timestamp(seconds=1_796_000_000, nanos=123_456_789)
    # 1,796,000,000 s = 20,787 days + 3,200 s: day 20,787 after 1970-01-01 is 2026-11-30, and 3,200 s is
    # 00:53:20 UTC; Beijing is UTC+8, and the nanoseconds are dropped (to the second)
    assert views.beijing_time(stamp) == "2026-11-30 08:53:20"
    assert views.beijing_time(Timestamp()) == "–"


def test_money_and_rates() -> None:
    assert views.yuan(80_000_000) == "80,000,000"
    assert views.rate(295) == "2.95%" and views.signed_bp(-15) == "-15 bp" and views.signed_bp(20) == "+20 bp"


def test_grade_chart_axis_starts_at_zero() -> None:
    profiles = [
        registry_pb2.CarbonProfile(
            period=str(year), grade=common_pb2.CarbonGrade(grade=grade, colour="#ff0000")
        )
        for year, grade in ((2023, 5), (2024, 3), (2025, 0))
    ]
    chart = views.grade_chart(profiles, width=420, height=200)
    plot = 200 - 16 - 28  # top and bottom margins
    assert chart.ticks[0] == (16 + plot, "0") and chart.ticks[-1] == (16, "5")
    heights = [bar.height for bar in chart.bars]
    assert heights == [plot, plot * 3 / 5, 0]  # grade 5 fills the axis, an ungraded year is a gap
    assert all(bar.y + bar.height == chart.baseline for bar in chart.bars)


def test_every_code_the_console_shows_is_in_the_catalogue() -> None:
    assert code_label("reason", "AMOUNT_REVIEW", "zh") == "大额需审核"
    assert code_label("review_state", "BOOKED", "en") == "Booked"
    assert code_label("trend", "NO_SUCH_CODE", "zh") == "NO_SUCH_CODE"  # shown as itself, never KeyError
    from tanxiao.registry.v1 import consent_pb2

    enums = {
        "commitment_status": registry_pb2.CommitmentStatus,
        "size": registry_pb2.SizeClass,
        "trend": common_pb2.TrendDirection,
        "consent_scope": consent_pb2.ConsentScope,
    }
    for kind, enum in enums.items():
        for value in enum.keys():  # noqa: SIM118 (protobuf enum wrapper)
            assert has(f"{kind}.{value}"), (kind, value)


@pytest.mark.skipif(not views.has_reviews(), reason="review states arrive with the underwriting contract")
def test_outcome_follows_the_review_state() -> None:
    state = scoring_pb2.DecisionState
    assert (
        views.outcome(
            scoring_pb2.Decision(eligible=True, manual_review=True, state=state.Value("OVERRIDDEN"))
        ).kind
        == "approved"
    )
    assert (
        views.outcome(
            scoring_pb2.Decision(eligible=True, manual_review=True, state=state.Value("DECLINED"))
        ).kind
        == "declined"
    )
    assert (
        views.outcome(
            scoring_pb2.Decision(eligible=True, manual_review=True, state=state.Value("IN_REVIEW"))
        ).kind
        == "review"
    )


def test_each_role_is_offered_only_the_pages_its_rules_open() -> None:
    assert [key for _path, key in views.navigation("approver")] == ["queue"]
    assert [key for _path, key in views.navigation("credit_officer")] == ["queue", "enterprises"]
    assert [key for _path, key in views.navigation("lender")] == ["nav_portfolio", "quote"]
    assert len(views.navigation("admin")) == 5  # every page
