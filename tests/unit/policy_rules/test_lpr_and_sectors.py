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
    assert day_before.rate_bp == 310.0 and day_before.effective_date == dt.date(2024, 10, 21)
    assert table.lpr_for(12, dt.date(2021, 11, 9)).rate_bp == 385.0  # the facility's launch: 3.85 %
    with pytest.raises(LprTableError, match="no LPR fixing"):
        table.lpr_for(12, dt.date(2019, 1, 1))
    assert all(f.source.strip() for f in table.fixings)


# Every change of the LPR from 2020-04 to 2025-05 (NIFC fixings, each checked against the reports the
# data file cites): effective date -> (1-year, over-5-year) in bp.
FIXINGS = {
    "2020-04-20": (385, 465),
    "2021-12-20": (380, 465),
    "2022-01-20": (370, 460),
    "2022-05-20": (370, 445),
    "2022-08-22": (365, 430),
    "2023-06-20": (355, 420),
    "2023-08-21": (345, 420),
    "2024-02-20": (345, 395),
    "2024-07-22": (335, 385),
    "2024-10-21": (310, 360),
    "2025-05-20": (300, 350),
}


def test_the_table_holds_every_fixing_from_2020_with_its_source() -> None:
    table = lr.default_lpr_table()
    got = {f.effective_date.isoformat(): (f.rates_bp["1Y"], f.rates_bp["5Y"]) for f in table.fixings}
    assert got == FIXINGS
    assert all(f.confirmed and f.source.strip() for f in table.fixings)
    assert "NIFC" in table.source and table.version == "2025-05" and "2020-04-20" in table.coverage
    # a quote in the 2022-2024 range prices on the fixing then in force, by tenor
    assert table.lpr_for(36, dt.date(2023, 7, 1)).rate_bp == 355.0
    assert table.lpr_for(120, dt.date(2024, 3, 1)).rate_bp == 395.0
    assert table.lpr_for(12, dt.date(2022, 8, 21)).rate_bp == 370.0  # the day before the cut


def test_pricing_and_the_reports_read_the_same_lpr_table() -> None:
    """One table: the reports' lookup (tanxiao.standards.lpr_bp) answers what loan pricing's table
    (loan_rules.default_lpr_table) answers, on every fixing date, the day before it, and beyond."""
    from pathlib import Path

    from tanxiao.standards import lpr_bp, lpr_source

    table = lr.default_lpr_table()
    days = [dt.date(2020, 4, 19)]
    for f in table.fixings:
        days += [
            f.effective_date - dt.timedelta(days=1),
            f.effective_date,
            f.effective_date + dt.timedelta(1),
        ]
    days.append(dt.date(2026, 11, 30))
    for day in days:
        for tenor, months in (("1Y", 36), ("5Y", 120)):
            try:
                expected: int | None = round(table.lpr_for(months, day).rate_bp)
            except LprTableError:
                expected = None
            assert lpr_bp(day.isoformat(), tenor) == expected, (day, tenor)
    assert lpr_bp("2020-04-19") is None and lpr_bp("2024-02-10") == 345 and lpr_bp("2024-08-01", "5Y") == 385
    assert table.source in lpr_source()
    # and there is no second LPR data file anywhere in the packages
    root = Path(lr.__file__).resolve().parents[1]
    files = [
        p.relative_to(root).as_posix()
        for folder in ("loan_rules", "tanxiao", "scoring_service", "registry_service")
        for p in (root / folder).rglob("*")
        if p.is_file() and "lpr" in p.name.lower() and p.suffix in (".csv", ".yaml", ".yml", ".json")
    ]
    assert files == ["loan_rules/data/lpr.yaml"]


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
