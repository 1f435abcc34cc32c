"""The LPR table and the 两高 list: data with sources, looked up by tenor/date and industry code."""

from __future__ import annotations

import datetime as dt

import pytest

import loan_rules as lr
from loan_rules.lpr import LprTableError, parse_lpr_table, term_for
from loan_rules.sectors import two_high_list


def test_tenor_picks_the_term() -> None:
    # up to five years: the 1-year LPR; beyond: the over-5-year LPR
    assert term_for(1) == "1Y" and term_for(60) == "1Y" and term_for(61) == "5Y" and term_for(360) == "5Y"


def test_the_newest_fixing_on_or_before_the_date() -> None:
    table = lr.default_lpr_table()
    may = table.lpr_for(36, dt.date(2025, 5, 20))
    assert (may.term, may.rate_bp, may.confirmed) == ("1Y", 300.0, True)
    assert may.effective_date == dt.date(2025, 5, 20)
    assert table.lpr_for(84, dt.date(2025, 5, 20)).rate_bp == 350.0
    day_before = table.lpr_for(12, dt.date(2025, 5, 19))
    assert day_before.rate_bp == 310.0 and not day_before.confirmed  # that entry's date is unconfirmed
    assert table.lpr_for(12, dt.date(2021, 11, 9)).rate_bp == 385.0  # the facility's launch: 3.85 %
    with pytest.raises(LprTableError, match="no LPR fixing"):
        table.lpr_for(12, dt.date(2019, 1, 1))
    assert all(f.source.strip() for f in table.fixings)


def test_a_lender_table_is_validated() -> None:
    entry = "  - {effective_date: %s, rates_bp: {1Y: %d, 5Y: %d}, confirmed: true, source: bank}\n"
    good = "entries:\n" + entry % ("2026-01-20", 290, 340)
    assert parse_lpr_table(good).lpr_for(12, dt.date(2026, 2, 1)).rate_bp == 290.0
    with pytest.raises(LprTableError, match="rates_bp: must give exactly the terms"):
        parse_lpr_table(good.replace("5Y: 340", "3Y: 340"))
    with pytest.raises(LprTableError, match="needs confirmed"):
        parse_lpr_table(good.replace("confirmed: true, ", ""))
    two = good + entry % ("2025-01-20", 300, 350)
    with pytest.raises(LprTableError, match="ascending"):
        parse_lpr_table(two)


def test_the_two_high_list() -> None:
    listed = two_high_list()
    assert "环环评〔2021〕45号" in listed.source and listed.status == "unconfirmed"
    assert lr.is_two_high("3011") and lr.is_two_high("31") is False  # a division is not a listed class
    assert lr.is_two_high("3120") and lr.is_two_high("2511") and lr.is_two_high("4411")
    assert not lr.is_two_high("2822") and not lr.is_two_high("") and not lr.is_two_high("3911")
