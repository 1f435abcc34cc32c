"""碳效贷 cumulative statistics (scoring_service.portfolio.cumulative), worked by hand."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from scoring_service.portfolio.cumulative import statistics
from tanxiao.standards import lpr_bp

M = 100_000_000  # one million yuan, in fen


def _events() -> pd.DataFrame:
    def ev(loan: str, product: str, rate: float, start: date, maturity: date, kind: str, when: date,
           fen: int, county: str) -> dict[str, object]:  # fmt: skip
        return {"loan": loan, "product": product, "rate_bp": rate, "start_date": start,
                "maturity_date": maturity, "kind": kind, "as_of_date": when, "amount_fen": fen,
                "county": county}  # fmt: skip

    a = ("A", "LOW_CARBON_EXPANSION", 300.0, date(2024, 2, 10), date(2027, 2, 10))
    b = ("B", "HIGH_CARBON_RETROFIT", 350.0, date(2024, 8, 1), date(2030, 8, 2))  # > 5 years: 5Y LPR
    c = ("C", "GENERAL", 400.0, date(2024, 3, 1), date(2026, 3, 1))  # not a 碳效贷
    d = ("D", "LOW_CARBON_EXPANSION", 280.0, date(2025, 1, 5), date(2028, 1, 5))  # after the report date
    return pd.DataFrame([
        ev(*a, "START", date(2024, 2, 10), 10 * M, "330502"),
        ev(*a, "DRAWDOWN", date(2024, 5, 1), 5 * M, "330502"),
        ev(*a, "REPAYMENT", date(2024, 9, 1), 3 * M, "330502"),
        ev(*b, "START", date(2024, 8, 1), 20 * M, "330523"),
        ev(*c, "START", date(2024, 3, 1), 100 * M, "330502"),
        ev(*d, "START", date(2025, 1, 5), 30 * M, "330502"),
    ])  # fmt: skip


def test_cumulative_statistics_headline_trend_and_spread() -> None:
    assert (lpr_bp("2024-02-10"), lpr_bp("2024-08-01", "5Y")) == (345, 385)  # unconfirmed table values
    outstanding = pd.Series({"A": 12 * M, "B": 20 * M, "C": 100 * M})
    stats = statistics(_events(), outstanding, date(2024, 12, 31), group_by="county")
    t = stats.totals
    # A: 10M + 5M drawn = 15M; B: 20M -> 2 loans, 35M = 3.5 x 10^9 fen; outstanding 12M + 20M
    assert (t.loans, t.disbursed_fen, t.outstanding_fen) == (2, 35 * M, 32 * M)
    # rate (300 x 15 + 350 x 20) / 35 = 11,500 / 35 = 328.57 bp
    assert t.weighted_rate_bp == pytest.approx(11_500 / 35)
    # spread: A 300 - 345 = -45, B 350 - 385 (5Y) = -35: (-45 x 15 - 35 x 20) / 35 = -1,375 / 35
    assert t.spread_to_lpr_bp == pytest.approx(-1_375 / 35)
    assert stats.headline() == "累计发放碳效贷 2 笔、0.35 亿元"
    trend = [(q.quarter, q.new_loans, q.disbursed_fen, q.cumulative_loans, q.cumulative_disbursed_fen)
             for q in stats.quarters]  # fmt: skip
    assert trend == [
        ("2024Q1", 1, 10 * M, 1, 10 * M),
        ("2024Q2", 0, 5 * M, 1, 15 * M),  # A's drawdown counts in the quarter it was drawn
        ("2024Q3", 1, 20 * M, 2, 35 * M),
        ("2024Q4", 0, 0, 2, 35 * M),
    ]
    by = {g.key: g.figures for g in stats.groups}
    assert (by["330502"].disbursed_fen, by["330523"].disbursed_fen) == (15 * M, 20 * M)
    later = statistics(_events(), outstanding, date(2025, 3, 31))
    assert (
        later.headline("en").startswith("3 carbon-efficiency loans") and later.totals.disbursed_fen == 65 * M
    )
