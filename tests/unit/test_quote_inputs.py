"""parse_quote: a profile period in the future is the caller's mistake, named as profile_period
(issue 11: "2031" used to reach the registry and come back as FAILED_PRECONDITION REGISTRY_REFUSED)."""

from __future__ import annotations

from datetime import date

import pytest
from helpers import make_uscc

from scoring_service.inputs import parse_quote
from tanxiao.errors import ValidationError
from tanxiao.scoring.v1 import scoring_pb2

TODAY = date(2026, 11, 30)
USCC = make_uscc(1)


def _request(period: str) -> scoring_pb2.QuoteLoanTermsRequest:
    return scoring_pb2.QuoteLoanTermsRequest(
        request_id="q-1",
        lender="lenders/demo-bank",
        enterprise=f"enterprises/{USCC}",
        product="GENERAL",
        requested_amount_fen=500_000_000,
        tenor_months=12,
        profile_period=period,
    )


@pytest.mark.parametrize("period", ["2031", "2027", "R12-2026-12", "R12-2027-01"])
def test_a_future_profile_period_is_invalid_naming_the_field(period: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_quote(_request(period), today=TODAY)
    fields = [violation.field for violation in raised.value.violations]
    assert "profile_period" in fields


@pytest.mark.parametrize("period", ["2026", "2025", "R12-2026-11", "R12-2025-06"])
def test_this_or_an_earlier_period_is_accepted(period: str) -> None:
    assert parse_quote(_request(period), today=TODAY).profile_period == period
