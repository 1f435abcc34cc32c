"""Carbon emission reduction facility ledger (scoring_service.portfolio.facility), worked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from scoring_service.portfolio.facility import ledger, terms_on

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
    assert (
        not lines["E"].eligible and "within 10 bp" in lines["E"].reason and lines["E"].refinanceable_fen == 0
    )
    assert lines["U"].reason == "use of proceeds not in an eligible field"
    assert ledger(rows, date(2023, 8, 31)) == []  # not started by the quarter's end
