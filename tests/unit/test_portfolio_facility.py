"""Carbon emission reduction facility ledger (scoring_service.portfolio.facility), worked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from scoring_service.portfolio.facility import ledger, quarter_bounds, summary, terms_on

M = 100_000_000  # one million yuan, in fen


def test_terms_are_dated_data_marked_unconfirmed() -> None:
    assert terms_on(date(2021, 11, 7)) is None
    terms = terms_on(date(2024, 1, 1))
    assert terms is not None
    assert (terms.refinance_share, terms.rate_bp, terms.eligible_categories) == (
        Decimal("0.60"),
        175,
        ("1", "3"),
    )
    assert terms.confirmed == "unconfirmed" and "2021-11-08" in terms.source


def test_a_facility_eligible_loan_and_its_attributable_reduction() -> None:
    # S: PV plant (3.2), 3 years from 2023-09-01 at 345 bp = the 1-year LPR then (345): eligible.
    #    Outstanding 10,000,000.01 yuan -> refinanceable 60 % = 6,000,000.006 -> 600,000,000 fen (floor).
    #    Committed 12M of a 48M project whose verified reduction is 4,000 tCO2/yr: 12/48 = 1/4 -> 1,000 t.
    # E: same but 400 bp: 55 bp above the LPR (> 10 bp): not eligible, no refinancing.
    # U: unclassified (no use of proceeds): not eligible.
    base = {"green_category": "3.2", "start_date": date(2023, 9, 1), "maturity_date": date(2026, 9, 1),
            "rate_bp": 345.0, "outstanding_fen": 1_000_000_001, "committed_amount_fen": 12 * M,
            "verified_tco2_per_year": 4_000.0, "project_investment_fen": 48 * M}  # fmt: skip
    rows = pd.DataFrame([
        {**base, "loan": "S"}, {**base, "loan": "E", "rate_bp": 400.0},
        {**base, "loan": "U", "green_category": ""},
    ])  # fmt: skip
    lines = {line.loan: line for line in ledger(rows, date(2023, 12, 31))}
    s = lines["S"]
    assert (s.eligible, s.lpr_bp, s.refinanceable_fen, s.attributable_tco2_per_year) == (
        True,
        345,
        600_000_000,
        1_000.0,
    )
    assert (s.lpr_tenor, s.project_share, s.terms_effective) == ("1Y", 0.25, date(2021, 11, 8))
    e = lines["E"]
    assert (e.eligible, e.reason, e.refinanceable_fen) == (False, "RATE", 0)
    assert e.reason_text("en") == "rate not within the tolerance of the same-tenor LPR"
    assert e.attributable_tco2_per_year == 1_000.0  # the verified reduction is attributed either way
    assert (lines["U"].reason, lines["U"].reason_text("zh")) == ("CATEGORY", "贷款用途不属于支持领域")
    assert ledger(rows, date(2023, 8, 31)) == []  # not started by the quarter's end


def test_before_the_launch_and_the_five_year_lpr() -> None:
    # B: started 2021-06-01, before the launch (2021-11-08): not eligible whatever its rate.
    # F: 2022-03-01 .. 2029-03-01 (7 years: the over-5-year LPR, 460 bp then) at 455 bp: 5 bp off: eligible.
    base = {"loan": "B", "green_category": "1.5", "start_date": date(2021, 6, 1),
            "maturity_date": date(2024, 6, 1), "rate_bp": 385.0, "outstanding_fen": 3 * M,
            "committed_amount_fen": 3 * M}  # fmt: skip
    five = {**base, "loan": "F", "start_date": date(2022, 3, 1), "maturity_date": date(2029, 3, 1),
            "rate_bp": 455.0}  # fmt: skip
    lines = {line.loan: line for line in ledger(pd.DataFrame([base, five]), date(2022, 3, 31))}
    assert (lines["B"].eligible, lines["B"].reason) == (False, "BEFORE_LAUNCH")
    f = lines["F"]
    assert (f.eligible, f.lpr_tenor, f.lpr_bp, f.refinanceable_fen) == (True, "5Y", 460, 180_000_000)
    assert f.attributable_tco2_per_year == 0.0  # no project: nothing attributed


def test_ledger_totals_by_category_and_disclosure() -> None:
    # Three eligible PV loans (3.2) of 10M to borrowers a, b, c and one unclassified 5M loan to d.
    # Totals: 4 loans, 35M outstanding, 3 eligible = 30M, refinanceable 60 % = 18M.
    # Regulator (k = 3): category 3 holds 3 borrowers (shown), unclassified 1 (primary) and the only
    # other cell goes with it (complementary: at least two cells hidden) - total 4 borrowers: shown.
    rows = pd.DataFrame([
        {"loan": f"L{n}", "uscc": who, "green_category": "3.2" if who != "d" else "",
         "start_date": date(2024, 1, 10), "maturity_date": date(2027, 1, 10), "rate_bp": 345.0,
         "outstanding_fen": (10 if who != "d" else 5) * M, "committed_amount_fen": 10 * M}
        for n, who in enumerate("abcd")
    ])  # fmt: skip
    lines = ledger(rows, date(2024, 3, 31))
    assert [line.eligible for line in lines] == [True, True, True, False]
    totals, by_category = summary(rows, lines)
    assert (totals.loans, totals.outstanding_fen, totals.eligible_loans) == (4, 35 * M, 3)
    assert (totals.eligible_outstanding_fen, totals.refinanceable_fen) == (30 * M, 18 * M)
    assert [(r.key, r.loans, r.refinanceable_fen) for r in by_category] == [("", 1, 0), ("3", 3, 18 * M)]
    totals, by_category = summary(rows, lines, min_cell_size=3)
    assert totals.refinanceable_fen == 18 * M and not totals.suppressed
    assert [(r.key, r.suppressed, r.loans) for r in by_category] == [("", True, 0), ("3", True, 0)]
    totals, _ = summary(rows.iloc[:2], lines[:2], min_cell_size=3)
    assert totals.suppressed and totals.loans == 0  # two borrowers: withheld


def test_quarters() -> None:
    assert quarter_bounds("2026Q3") == (date(2026, 7, 1), date(2026, 9, 30))
    assert quarter_bounds("2024q4") == (date(2024, 10, 1), date(2024, 12, 31))
    assert quarter_bounds("2024Q1")[1] == date(2024, 3, 31)
    for bad in ("2026Q5", "2026-Q3", "26Q3", "0000Q1", ""):
        with pytest.raises(ValueError):
            quarter_bounds(bad)
