"""Portfolio metrics (scoring_service.portfolio.metrics): PCAF attribution, WDQS, intensities, breakdowns.

Every expected number is worked out by hand in the comments (money: 1万元 = 10,000 yuan; 1M = 1,000,000
yuan = 10^8 fen, and amounts are integer fen). The same examples are in docs/portfolio.md.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring_service.portfolio.metrics import (
    DIMENSIONS,
    Attribution,
    Metrics,
    MigrationCell,
    attribute,
    compute_report,
)

M = 100_000_000  # one million yuan, in fen (money is integer fen)


def loan(name: str, **fields: Any) -> dict[str, Any]:
    """A loan row with a profile and unlisted financials; ``fields`` override."""
    row: dict[str, Any] = {
        "loan": f"lenders/bank/loans/{name}",
        "lender": "lenders/bank",
        "uscc": f"USCC-{name}",
        "enterprise_name": f"企业{name}",
        "product": "GENERAL",
        "outstanding_fen": 10 * M,
        "has_profile": True,
        "grade": 3,
        "level": "MEDIUM_CARBON",
        "industry_code": "2822",
        "region_code": "330502",
        "scope1_tco2": 800.0,
        "scope2_tco2": 200.0,
        "revenue_10k_cny": float("nan"),
        "total_equity_10k_cny": 3000.0,
        "total_debt_10k_cny": 1000.0,
        "evic_10k_cny": float("nan"),
        "listed": False,
        "pcaf_score": 2,
        "commitment_status": "",
        "committed_tco2_per_year": float("nan"),
        "achieved_tco2_per_year": float("nan"),
    }
    row.update(fields)
    return row


def book(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def af(row: dict[str, Any]) -> float:
    return float(attribute(book(row))["attribution_factor"].iloc[0])


# ------------------------------------------------------------------ attribution factor


def test_attribution_factor_unlisted_is_outstanding_over_equity_plus_debt() -> None:
    # equity 3000万 + debt 1000万 = 4000万 = 40M yuan; outstanding 10M -> AF = 10/40 = 0.25
    # financed scope 1 = 0.25 x 800 = 200 t, scope 2 = 0.25 x 200 = 50 t, total 250 t
    frame = attribute(book(loan("a")))
    assert frame["attribution_factor"].iloc[0] == 0.25
    assert frame["financed_scope1_tco2"].iloc[0] == 200.0
    assert frame["financed_scope2_tco2"].iloc[0] == 50.0
    assert frame["financed_tco2"].iloc[0] == 250.0


def test_attribution_factor_listed_uses_evic() -> None:
    # EVIC 20000万 = 200M yuan; outstanding 10M -> AF = 10/200 = 0.05 (equity + debt would give 0.25)
    assert af(loan("a", listed=True, evic_10k_cny=20000.0)) == pytest.approx(0.05)


def test_negative_equity_counts_as_zero() -> None:
    # equity -1000万 -> 0; debt 4000万 = 40M; AF = 10/40 = 0.25 (not 10/30 = 0.333 with the negative)
    assert af(loan("a", total_equity_10k_cny=-1000.0, total_debt_10k_cny=4000.0)) == 0.25


def test_attribution_factor_is_capped_at_one() -> None:
    # outstanding 60M over equity + debt 40M would be 1.5; capped at 1 -> the whole 1000 t is financed
    frame = attribute(book(loan("a", outstanding_fen=60 * M)))
    assert frame["attribution_factor"].iloc[0] == 1.0
    assert frame["financed_tco2"].iloc[0] == 1000.0


@pytest.mark.parametrize(
    "fields",
    [
        {"total_debt_10k_cny": float("nan")},  # unlisted, debt missing
        {"total_equity_10k_cny": float("nan")},  # unlisted, equity missing
        {"listed": True},  # listed, EVIC missing
        {"total_equity_10k_cny": -500.0, "total_debt_10k_cny": 0.0},  # denominator 0
        {"listed": True, "evic_10k_cny": -1.0},  # denominator < 0
        {"has_profile": False, "pcaf_score": 5},  # no profile
        {"scope1_tco2": float("nan")},  # no emissions
    ],
)
def test_missing_financials_give_no_financed_emissions(fields: dict[str, Any]) -> None:
    # one attributable loan (AF 0.25, 250 t) and one that is not: its emissions are not counted, it is
    # counted in loans_without_profile and weighs with DQ 5 in the WDQS
    report = compute_report(book(loan("a"), loan("b", **fields)), dimensions=[])
    assert math.isnan(report.loans[1].attribution_factor)
    assert report.loans[1].financed_scope1_tco2 == 0.0
    assert report.totals.loans == 2
    assert report.totals.outstanding_fen == 20 * M
    assert report.totals.financed_tco2 == 250.0
    assert report.totals.loans_without_profile == 1
    # WDQS = (10M x 2 + 10M x 5) / 20M = 3.5
    assert report.totals.wdqs == 3.5


# ------------------------------------------------------------------ WDQS and intensities


def test_wdqs_of_six_loans_is_3_03() -> None:
    # Constructed example (the PCAF standard's own table was not found in the reference search):
    #   loan  outstanding  score
    #   1     20M          1     20 x 1 =  20
    #   2     15M          2     15 x 2 =  30
    #   3     25M          3     25 x 3 =  75
    #   4     10M          4     10 x 4 =  40
    #   5     12M          4     12 x 4 =  48
    #   6     18M          -     18 x 5 =  90   (no profile: counts with score 5)
    #         100M                       303   -> WDQS = 303 / 100 = 3.03
    # a seventh loan with outstanding 0 and score 1 weighs nothing
    rows = [
        loan("1", outstanding_fen=20 * M, pcaf_score=1),
        loan("2", outstanding_fen=15 * M, pcaf_score=2),
        loan("3", outstanding_fen=25 * M, pcaf_score=3),
        loan("4", outstanding_fen=10 * M, pcaf_score=4),
        loan("5", outstanding_fen=12 * M, pcaf_score=4),
        loan("6", outstanding_fen=18 * M, has_profile=False, pcaf_score=5),
        loan("7", outstanding_fen=0, pcaf_score=1),
    ]
    report = compute_report(book(*rows), dimensions=[])
    assert report.totals.wdqs == pytest.approx(3.03, abs=1e-12)
    assert report.totals.loans_without_profile == 1


def test_economic_intensity_and_waci() -> None:
    # a: 10M, AF 0.25 (equity+debt 40M), emissions 800 + 200 = 1000 t -> financed 250 t;
    #    revenue 5000万 = 50M yuan -> intensity 1000 / 50 = 20 t per M revenue
    # b: 30M, no profile -> no financed emissions, out of the WACI
    # c: 10M, equity 10000万 + debt 0 = 100M -> AF 0.1, emissions 500 + 500 = 1000 t -> financed 100 t;
    #    revenue 20000万 = 200M yuan -> intensity 1000 / 200 = 5 t per M
    # economic intensity = (250 + 100) / 50 (M yuan outstanding) = 7.0 t per M lent
    # WACI (weights renormalised over a and c, 10M each) = 0.5 x 20 + 0.5 x 5 = 12.5
    rows = [
        loan("a", revenue_10k_cny=5000.0),
        loan("b", outstanding_fen=30 * M, has_profile=False, pcaf_score=5, revenue_10k_cny=9000.0),
        loan(
            "c",
            total_equity_10k_cny=10000.0,
            total_debt_10k_cny=0.0,
            scope1_tco2=500.0,
            scope2_tco2=500.0,
            revenue_10k_cny=20000.0,
        ),
    ]
    totals = compute_report(book(*rows), dimensions=[]).totals
    assert totals.financed_tco2 == pytest.approx(350.0)
    assert totals.economic_intensity == pytest.approx(7.0)
    assert totals.waci == pytest.approx(12.5)


# ------------------------------------------------------------------ year-over-year attribution


def _attribution_books() -> tuple[pd.DataFrame, pd.DataFrame]:
    # Before:                                               after:
    #   L1 10M / 40M = AF 0.25, E 1000 (800+200) -> 250 t     L1 15M / 40M = AF 0.375, E 900 (700+200)
    #   L2  5M / 40M = AF 0.125, E 800 (600+200) -> 100 t        -> 337.5 t
    #   before = 350 t                                        L3 4M / 8M = AF 0.5, E 200 (150+50) -> 100 t
    #                                                         after = 437.5 t
    earlier = book(
        loan("L1", grade=3),
        loan("L2", outstanding_fen=5 * M, scope1_tco2=600.0, grade=4),
    )
    now = book(
        loan("L1", outstanding_fen=15 * M, scope1_tco2=700.0, grade=2),
        loan(
            "L3",
            outstanding_fen=4 * M,
            total_equity_10k_cny=500.0,
            total_debt_10k_cny=300.0,
            scope1_tco2=150.0,
            scope2_tco2=50.0,
            grade=1,
        ),
    )
    return earlier, now


def test_attribution_by_hand() -> None:
    earlier, now = _attribution_books()
    result = compute_report(now, dimensions=[], earlier=earlier).attribution
    # L1: emissions effect = AF_before x (E_after - E_before) = 0.25 x (900 - 1000) = -25
    #     attribution effect = (AF_after - AF_before) x E_after = (0.375 - 0.25) x 900 = 112.5
    #     (-25 + 112.5 = 87.5 = 337.5 - 250)
    # new (L3) = 100, ended (L2) = 100
    # 350 - 25 + 112.5 + 100 - 100 = 437.5
    assert result == Attribution(
        financed_tco2_before=350.0,
        financed_tco2_after=437.5,
        emissions_effect_tco2=-25.0,
        attribution_effect_tco2=112.5,
        new_loans_tco2=100.0,
        ended_loans_tco2=100.0,
    )
    assert (
        result.financed_tco2_before
        + result.emissions_effect_tco2
        + result.attribution_effect_tco2
        + result.new_loans_tco2
        - result.ended_loans_tco2
        == result.financed_tco2_after
    )


def test_migration_matrix() -> None:
    earlier, now = _attribution_books()
    cells = compute_report(now, dimensions=[], earlier=earlier).migration
    # L3 new (0 -> 1, 4M now), L1 3 -> 2 (15M now), L2 ended (4 -> 0, 5M at the earlier date)
    assert cells == (
        MigrationCell(0, 1, 1, 4 * M),
        MigrationCell(3, 2, 1, 15 * M),
        MigrationCell(4, 0, 1, 5 * M),
    )


def test_no_earlier_book_gives_no_migration_nor_attribution() -> None:
    report = compute_report(book(loan("a")), dimensions=[])
    assert report.migration == ()
    assert report.attribution is None


# ------------------------------------------------------------------ breakdowns, shares, lists


def test_breakdown_labels() -> None:
    rows = [
        loan("a", grade=5, level="HIGH_CARBON", industry_code="2822", region_code="330502"),
        loan(
            "b",
            grade=0,
            level="",
            industry_code="4411",
            region_code="330521",
            product="HIGH_CARBON_RETROFIT",
        ),
    ]
    labels = {"330502": "吴兴区", "330500": "湖州市"}
    report = compute_report(book(*rows), dimensions=DIMENSIONS, region_labels=labels)
    grade = {r.key: (r.label_zh, r.label_en) for r in report.breakdown("GRADE").rows}
    assert grade == {"0": ("未评级", "Ungraded"), "5": ("5级", "Grade 5")}
    level = [(r.key, r.label_zh, r.label_en) for r in report.breakdown("LEVEL").rows]
    assert level == [("HIGH_CARBON", "高碳", "High carbon"), ("", "未分级", "No level")]
    section = {r.key: r.label_zh for r in report.breakdown("INDUSTRY_SECTION").rows}
    assert section == {"C": "制造业", "D": "电力、热力、燃气及水生产和供应业"}
    assert [r.key for r in report.breakdown("INDUSTRY_DIVISION").rows] == ["28", "44"]
    county = {r.key: r.label_zh for r in report.breakdown("COUNTY").rows}
    assert county == {"330502": "吴兴区", "330521": "湖州市德清县"}  # caller's label, else GB/T 2260
    division = {r.key: (r.label_zh, r.label_en) for r in report.breakdown("INDUSTRY_DIVISION").rows}
    assert division == {
        "28": ("化学纤维制造业", "Manufacture of chemical fibres"),
        "44": ("电力、热力生产和供应业", "Production and supply of electricity and heat"),
    }
    (lender,) = report.lenders
    assert (lender.label_zh, lender.label_en) == ("bank", "bank")  # not in tanxiao/standards/data/lenders.csv
    (city,) = report.breakdown("CITY").rows
    assert (city.key, city.label_zh, city.metrics.loans, city.outstanding_share) == (
        "330500",
        "湖州市",
        2,
        1.0,
    )
    assert [r.key for r in report.breakdown("PRODUCT").rows] == ["HIGH_CARBON_RETROFIT", "GENERAL"]
    assert report.breakdown("PRODUCT").rows[0].label_zh == "高碳技改贷"


def test_group_metrics_are_recomputed_not_summed() -> None:
    # grade 3: a (10M, score 2); grade 4: b (30M, score 4) -> group WDQS 2 and 4,
    # book (10 x 2 + 30 x 4) / 40 = 140 / 40 = 3.5
    rows = [loan("a"), loan("b", grade=4, outstanding_fen=30 * M, pcaf_score=4)]
    report = compute_report(book(*rows), dimensions=["GRADE"])
    by_key = {r.key: r for r in report.breakdown("GRADE").rows}
    assert (by_key["3"].metrics.wdqs, by_key["4"].metrics.wdqs, report.totals.wdqs) == (2.0, 4.0, 3.5)
    assert (by_key["3"].outstanding_share, by_key["4"].outstanding_share) == (0.25, 0.75)


def test_shares_retrofit_and_top_emitters() -> None:
    # green: LCE to grade 1 (20M); LCE to grade 3 (10M) is "other"; transition: retrofit (30M + 0);
    # general grade 5 (40M). Book 100M -> green 0.2, transition 0.3, other 0.5, grade-5 share 0.4
    rows = [
        loan("g", product="LOW_CARBON_EXPANSION", grade=1, outstanding_fen=20 * M),
        loan("x", product="LOW_CARBON_EXPANSION", grade=3, outstanding_fen=10 * M),
        loan(
            "r",
            product="HIGH_CARBON_RETROFIT",
            outstanding_fen=30 * M,
            commitment_status="ON_TRACK",
            committed_tco2_per_year=500.0,
            achieved_tco2_per_year=200.0,
        ),
        loan(
            "r2",
            product="HIGH_CARBON_RETROFIT",
            outstanding_fen=0,
            commitment_status="MISSED",
            committed_tco2_per_year=100.0,
        ),
        loan("big", grade=5, outstanding_fen=40 * M, uscc="USCC-g"),  # same enterprise as "g"
    ]
    report = compute_report(book(*rows), dimensions=[], top_n=2)
    shares = (report.green_share, report.transition_share, report.other_share)
    assert shares == pytest.approx((0.2, 0.3, 0.5))
    assert sum(shares) == pytest.approx(1.0)
    assert report.grade5_share == pytest.approx(0.4)
    retrofit = report.retrofit
    assert (retrofit.loans, retrofit.outstanding_fen, retrofit.on_track, retrofit.missed) == (2, 30 * M, 1, 1)
    # committed 500 + 100 = 600; achieved 200 (+ NaN skipped)
    assert (retrofit.committed_tco2_per_year, retrofit.achieved_tco2_per_year) == (600.0, 200.0)
    # financed (AF = outstanding / 40M, capped at 1, x 1000 t): g 500, x 250, r 750, r2 0, big 1000
    # per enterprise: USCC-g = 500 + 1000 = 1500 (60M), USCC-r = 750, USCC-x = 250 -> top 2
    assert [(e.enterprise, e.financed_tco2, e.outstanding_fen) for e in report.top_emitters] == [
        ("enterprises/USCC-g", 1500.0, 60 * M),
        ("enterprises/USCC-r", 750.0, 30 * M),
    ]


@pytest.mark.parametrize("empty", [pd.DataFrame(), pd.DataFrame([loan("a")]).iloc[0:0]])
def test_empty_book_gives_zeros(empty: pd.DataFrame) -> None:
    report = compute_report(empty, dimensions=DIMENSIONS, earlier=empty)
    assert report.totals == Metrics()
    assert all(b.rows == () for b in report.breakdowns)
    shares = (report.green_share, report.transition_share, report.other_share, report.grade5_share)
    assert shares == (0.0, 0.0, 0.0, 0.0)
    assert report.loans == () and report.top_emitters == () and report.lenders == ()
    assert report.migration == ()
    assert report.attribution == Attribution()
    assert report.retrofit.loans == 0


def test_unknown_dimension_and_negative_outstanding_are_rejected() -> None:
    with pytest.raises(ValueError, match="dimension"):
        compute_report(book(loan("a")), dimensions=["COLOUR"])
    with pytest.raises(ValueError, match="outstanding"):
        compute_report(book(loan("a", outstanding_fen=-1)), dimensions=[])


def test_lender_totals_and_loan_lines() -> None:
    rows = [loan("a"), loan("b", lender="lenders/other", loan="lenders/other/loans/b")]
    report = compute_report(book(*rows), dimensions=["LENDER"], include_loans=False)
    assert report.loans == ()
    assert [(t.lender, t.metrics.financed_tco2) for t in report.lenders] == [
        ("lenders/bank", 250.0),
        ("lenders/other", 250.0),
    ]
    line = compute_report(book(loan("a")), dimensions=[]).loans[0]
    assert (line.enterprise, line.attribution_factor, line.financed_scope1_tco2, line.pcaf_score) == (
        "enterprises/USCC-a",
        0.25,
        200.0,
        2,
    )


# ------------------------------------------------------------------ invariants (hypothesis)

_money = st.one_of(st.just(float("nan")), st.floats(-5000, 50000, allow_nan=False))
_loan_fields: dict[str, st.SearchStrategy[Any]] = {
    "uscc": st.sampled_from(["U1", "U2", "U3", "U4"]),
    "lender": st.sampled_from(["lenders/a", "lenders/b"]),
    "product": st.sampled_from(["LOW_CARBON_EXPANSION", "HIGH_CARBON_RETROFIT", "GENERAL"]),
    "outstanding_fen": st.one_of(st.just(0), st.integers(1, 10**11)),
    "has_profile": st.booleans(),
    "grade": st.integers(0, 5),
    "level": st.sampled_from(["LOW_CARBON", "MEDIUM_CARBON", "HIGH_CARBON", ""]),
    "industry_code": st.sampled_from(["2822", "4411", "0511", "9999", "", "3011"]),
    "region_code": st.sampled_from(["330502", "330503", "330521", "330102", ""]),
    "scope1_tco2": st.one_of(st.just(float("nan")), st.floats(0, 1e6)),
    "scope2_tco2": st.floats(0, 1e5),
    "revenue_10k_cny": _money,
    "total_equity_10k_cny": _money,
    "total_debt_10k_cny": _money,
    "evic_10k_cny": _money,
    "listed": st.booleans(),
    "pcaf_score": st.integers(1, 5),
}
_loan_rows = st.lists(st.fixed_dictionaries(_loan_fields), max_size=25)


def _frame(rows: list[dict[str, Any]], prefix: str, names: list[str] | None = None) -> pd.DataFrame:
    """A book of ``rows``; loan names are ``names`` first, then generated ones."""
    given_names = names or []
    named = [
        {**row, "loan": given_names[i] if i < len(given_names) else f"{row['lender']}/loans/{prefix}{i}"}
        for i, row in enumerate(rows)
    ]
    return pd.DataFrame(named, columns=["loan", *_loan_fields])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_loan_rows)
def test_breakdowns_reconcile_to_totals(rows: list[dict[str, Any]]) -> None:
    report = compute_report(_frame(rows, "x"), dimensions=DIMENSIONS)
    totals = report.totals
    for b in report.breakdowns:
        assert sum(r.metrics.loans for r in b.rows) == totals.loans, b.dimension
        assert sum(r.metrics.loans_without_profile for r in b.rows) == totals.loans_without_profile
        for name in ("outstanding_fen", "financed_scope1_tco2", "financed_scope2_tco2", "financed_tco2"):
            group_sum = sum(getattr(r.metrics, name) for r in b.rows)
            assert group_sum == pytest.approx(getattr(totals, name), rel=1e-9, abs=1e-6), (b.dimension, name)
        if totals.outstanding_fen > 0:
            assert sum(r.outstanding_share for r in b.rows) == pytest.approx(1.0)
    lender_sum = sum(t.metrics.financed_tco2 for t in report.lenders)
    assert lender_sum == pytest.approx(totals.financed_tco2, rel=1e-9, abs=1e-6)
    shares = (report.green_share, report.transition_share, report.other_share)
    assert all(0 <= s <= 1 for s in shares)
    assert sum(shares) == pytest.approx(1.0 if totals.outstanding_fen > 0 else 0.0)
    assert 1 <= totals.wdqs <= 5 or totals.outstanding_fen == 0
    for line in report.loans:
        assert math.isnan(line.attribution_factor) or 0 <= line.attribution_factor <= 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_loan_rows, _loan_rows, st.integers(0, 25))
def test_attribution_identity(before: list[dict[str, Any]], after: list[dict[str, Any]], shared: int) -> None:
    # the first `shared` loans of the later book are the first loans of the earlier one (same names)
    earlier = _frame(before, "b")
    n = min(shared, len(before), len(after))
    now = _frame(after, "a", names=list(earlier["loan"])[:n])
    report = compute_report(now, dimensions=[], earlier=earlier)
    result = report.attribution
    assert result is not None
    lhs = (
        result.financed_tco2_before
        + result.emissions_effect_tco2
        + result.attribution_effect_tco2
        + result.new_loans_tco2
        - result.ended_loans_tco2
    )
    scale = max(1.0, result.financed_tco2_before, result.financed_tco2_after)
    assert lhs == pytest.approx(result.financed_tco2_after, abs=1e-9 * scale)
    assert sum(c.loans for c in report.migration) == len(before) + len(after) - n


def test_ungraded_profile_counts_as_no_emissions_data_never_as_zero() -> None:
    # "u": a profile that the registry could not grade (grade 0, level ""), emissions filled in as 0 t.
    # It must not dilute the book as a zero emitter: no AF, no financed emissions, DQ 5, and counted
    # apart in loans_ungraded (and in loans_without_profile).
    # "a": 10M / (3000万 + 1000万 = 40M) = AF 0.25 -> 0.25 x (800 + 200) = 250 t, score 2.
    # WDQS = (10M x 2 + 30M x 5) / 40M = 170 / 40 = 4.25 (not (10 x 2 + 30 x 2) / 40 = 2.0).
    rows = [
        loan("a"),
        loan("u", grade=0, level="", outstanding_fen=30 * M, scope1_tco2=0.0, scope2_tco2=0.0, pcaf_score=2),
        loan("n", has_profile=False, grade=0, outstanding_fen=0),
    ]
    report = compute_report(book(*rows), dimensions=["GRADE"])
    t = report.totals
    assert (t.loans, t.loans_without_profile, t.loans_ungraded) == (3, 2, 1)
    assert t.financed_tco2 == 250.0
    assert t.wdqs == pytest.approx(4.25)
    line = next(x for x in report.loans if x.loan.endswith("/u"))
    assert math.isnan(line.attribution_factor)
    ungraded = next(r for r in report.breakdown("GRADE").rows if r.key == "0")
    assert (ungraded.label_en, ungraded.metrics.loans_ungraded) == ("Ungraded", 1)


def test_money_is_exact_integer_fen() -> None:
    # 0.1 + 0.2 yuan is 10 + 20 = 30 fen exactly (as floats, 0.1 + 0.2 != 0.3).
    rows = [loan("a", outstanding_fen=10), loan("b", outstanding_fen=20)]
    totals = compute_report(book(*rows), dimensions=[]).totals
    assert totals.outstanding_fen == 30 and isinstance(totals.outstanding_fen, int)
    with pytest.raises(ValueError, match="whole fen"):
        compute_report(book(loan("c", outstanding_fen=10.5)), dimensions=[])


# ------------------------------------------------------------------ scope 2: both methods


def test_both_scope2_methods_are_financed_side_by_side() -> None:
    # Loan a: equity 3000万 + debt 1000万 = 40M yuan, outstanding 10M -> AF = 0.25.
    #   location-based scope 2 200 t -> 0.25 x 200 = 50 t; market-based 120 t -> 0.25 x 120 = 30 t.
    # Loan b: equity 1500万 + debt 500万 = 20M yuan, outstanding 10M -> AF = 0.5.
    #   location 200 t -> 0.5 x 200 = 100 t; market 260 t (residual mix above the grid) -> 0.5 x 260 = 130 t.
    # Loan c: no market-based figure (NaN) -> 0 market-based, location 0.25 x 200 = 50 t as before.
    # Book: location 50 + 100 + 50 = 200 t; market 30 + 130 + 0 = 160 t.
    # financed_tco2 stays scope 1 + location-based scope 2: 0.25x800 + 0.5x800 + 0.25x800 + 200 = 1000 t.
    rows = [
        loan("a", scope2_market_tco2=120.0),
        loan("b", scope2_market_tco2=260.0, total_equity_10k_cny=1500.0, total_debt_10k_cny=500.0),
        loan("c"),
    ]
    report = compute_report(book(*rows), dimensions=[])
    assert report.totals.financed_scope2_tco2 == 200.0
    assert report.totals.financed_scope2_market_tco2 == 160.0
    assert report.totals.financed_tco2 == 1000.0
    lines = {line.loan.rsplit("/", 1)[-1]: line for line in report.loans}
    assert (lines["a"].financed_scope2_tco2, lines["a"].financed_scope2_market_tco2) == (50.0, 30.0)
    assert (lines["b"].financed_scope2_tco2, lines["b"].financed_scope2_market_tco2) == (100.0, 130.0)
    assert (lines["c"].financed_scope2_tco2, lines["c"].financed_scope2_market_tco2) == (50.0, 0.0)
    # Not covered (ungraded) -> no financed emissions by either method.
    ungraded = compute_report(book(loan("u", grade=0, scope2_market_tco2=120.0)), dimensions=[])
    assert ungraded.totals.financed_scope2_market_tco2 == 0.0


def test_market_based_scope2_reaches_the_report_message() -> None:
    # Same vector as above, loan a alone: 0.25 x 120 = 30 t market-based, 0.25 x 200 = 50 t location-based.
    from scoring_service.portfolio_servicer import _to_proto

    message = _to_proto(compute_report(book(loan("a", scope2_market_tco2=120.0)), dimensions=[]))
    assert message.totals.financed_scope2_tco2 == 50.0
    assert message.totals.financed_scope2_market_tco2 == 30.0
    assert message.loans[0].financed_scope2_market_tco2 == 30.0
