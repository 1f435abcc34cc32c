"""Disclosure control (scoring_service.portfolio.disclosure): minimum cell size 3 borrowers, primary
and complementary suppression, worked by hand."""

from __future__ import annotations

from typing import Any

import pandas as pd

from scoring_service.portfolio.disclosure import apply, suppressed_keys, suppressed_periods
from scoring_service.portfolio.metrics import compute_report

M = 100_000_000  # one million yuan in fen


def _loan(name: str, uscc: str, county: str, lender: str = "lenders/a", **fields: Any) -> dict[str, Any]:
    return {
        "loan": f"{lender}/loans/{name}", "lender": lender, "uscc": uscc, "outstanding_fen": 10 * M,
        "has_profile": True, "grade": 3, "industry_code": "2822", "region_code": county,
        "scope1_tco2": 800.0, "scope2_tco2": 200.0, "total_equity_10k_cny": 3000.0,
        "total_debt_10k_cny": 1000.0,
        **fields,
    }  # fmt: skip


def test_primary_then_complementary_suppression() -> None:
    # cells: A 1 borrower (< 3: primary), B 4, C 3, D 5. Hiding only A lets total - (B + C + D) = A;
    # the smallest other cell (C, 3 borrowers) is hidden too: 2 cells, 1 + 3 = 4 >= 3 borrowers.
    cells = {
        "A": {"a1"},
        "B": {"b1", "b2", "b3", "b4"},
        "C": {"c1", "c2", "c3"},
        "D": {"d1", "d2", "d3", "d4", "d5"},
    }
    assert suppressed_keys(cells, 3) == {"A", "C"}
    # two small cells that together still hold < 3 borrowers: A {x}, B {x} (the same firm) -> add C
    assert suppressed_keys({"A": {"x"}, "B": {"x"}, "C": {"y", "z", "w"}}, 3) == {"A", "B", "C"}
    assert suppressed_keys(cells, 1) == set()  # k = 1: no control
    assert suppressed_keys({"B": cells["B"], "D": cells["D"]}, 3) == set()


def test_regulator_report_hides_small_county_cells_and_their_complement() -> None:
    # 330502: 4 borrowers, 330503: 3 borrowers, 330521: 1 borrower (2 loans) -> 330521 primary,
    # 330503 complementary (smallest left); 330502 shown: 4 loans x 10M = 40M of the 80M total.
    rows = [_loan(f"w{i}", f"W{i}", "330502") for i in range(4)]
    rows += [_loan(f"n{i}", f"N{i}", "330503") for i in range(3)]
    rows += [_loan("d1", "D1", "330521"), _loan("d2", "D1", "330521")]
    frame = pd.DataFrame(rows)
    report = compute_report(frame, dimensions=["COUNTY", "GRADE"], include_loans=False)
    safe, withheld = apply(report, frame, min_cell_size=3)
    assert not withheld and safe.totals.outstanding_fen == 90 * M
    county = {r.key: r for r in safe.breakdown("COUNTY").rows}
    assert [k for k, r in county.items() if r.suppressed] == ["330503", "330521"]
    assert county["330521"].metrics.loans == 0 and county["330521"].label_zh == "湖州市德清县"
    assert county["330502"].metrics.outstanding_fen == 40 * M and not county["330502"].suppressed
    (grade3,) = safe.breakdown("GRADE").rows  # 8 borrowers: shown
    assert not grade3.suppressed and grade3.metrics.loans == 9


def test_a_report_over_fewer_borrowers_than_the_minimum_is_withheld() -> None:
    frame = pd.DataFrame([_loan("x1", "X1", "330502"), _loan("x2", "X2", "330502")])
    report = compute_report(frame, dimensions=["COUNTY"], include_loans=False)
    safe, withheld = apply(report, frame, min_cell_size=3)
    assert withheld and safe.totals.outstanding_fen == 0 and safe.totals.loans == 0
    assert all(r.suppressed for r in safe.breakdown("COUNTY").rows)
    assert all(t.suppressed for t in safe.lenders)


def test_lender_totals_and_migration_cells_obey_the_minimum() -> None:
    # lender a: 5 borrowers, lender b: 1 borrower -> b primary, a complementary (2 lenders: both hidden).
    now = pd.DataFrame(
        [_loan(f"a{i}", f"A{i}", "330502") for i in range(5)] + [_loan("b1", "B1", "330502", "lenders/b")]
    )
    earlier = now.assign(grade=[3, 3, 3, 3, 2, 3])  # one loan moved 2 -> 3: a one-borrower cell
    report = compute_report(now, dimensions=[], include_loans=False, earlier=earlier)
    safe, _ = apply(report, now, min_cell_size=3, earlier=earlier)
    assert all(t.suppressed and t.metrics.loans == 0 for t in safe.lenders)
    cells = {(c.from_grade, c.to_grade): c for c in safe.migration}
    # (3 -> 3) 5 borrowers, (2 -> 3) 1 borrower: primary + its complement, both hidden
    assert cells[(2, 3)].suppressed and cells[(3, 3)].suppressed and cells[(2, 3)].loans == 0


def test_suppressed_cells_read_as_suppressed_in_html_and_xlsx() -> None:
    import io

    from openpyxl import load_workbook

    from scoring_service.portfolio_export import export_report, render_html
    from tanxiao.portfolio.v1 import portfolio_pb2 as pb

    hidden = pb.GroupRow(
        key="330521", label_zh="湖州市德清县", label_en="Deqing County, Huzhou", suppressed=True
    )
    shown = pb.GroupRow(
        key="330502", label_zh="湖州市吴兴区", label_en="Wuxing", outstanding_share=1.0,
        metrics=pb.Metrics(loans=4, outstanding_fen=4_000_000_000),
    )  # fmt: skip
    report = pb.PortfolioReport(
        scope="regulator", as_of_date="2026-06-30", min_cell_size=3,
        breakdowns=[pb.Breakdown(dimension=pb.COUNTY, rows=[shown, hidden])],
    )  # fmt: skip
    page = render_html(report, "en")
    assert 'title="suppressed">—</td>' in page and "minimum cell size" in page
    sheet = load_workbook(io.BytesIO(export_report(report, "XLSX", "en")[0]))["By county"]
    assert sheet.cell(3, 1).value == "330521" and sheet.cell(3, 4).value is None  # blank, not 0
    assert sheet.cell(3, sheet.max_column).value == "*" and sheet.cell(2, 4).value == 40_000_000.0


def test_a_quarterly_trend_with_running_totals_isolates_no_one() -> None:
    """k = 3. Q1 new loans to a, b, c (shown). Q2 one drawdown by a (1 borrower: primary). Q3 nothing
    happened - but cum(Q3) - cum(Q1) would give Q2's figure, and Q2's run {a} is below 3: Q3 hidden too.
    Q4 new loans to d, e, f: its own figures are fine but the pending run {a} is still below 3, so Q4 is
    hidden as well and the run becomes {a, d, e, f} (4 >= 3). Q5 new loans to g, h, i: shown (the run
    Q2..Q4 is revealed only as a whole: 4 borrowers). Nothing is pending at the end."""
    periods = [{"a", "b", "c"}, {"a"}, set(), {"d", "e", "f"}, {"g", "h", "i"}]
    assert suppressed_periods(periods, 3) == {1, 2, 3}
    # the same without Q5: the run after Q1 ({a, d, e, f}) holds 4 borrowers: overall total minus
    # cum(Q1) reveals it only as a whole
    assert suppressed_periods(periods[:4], 3) == {1, 2, 3}
    # a trailing single drawdown after shown quarters: total - cum(last shown) would isolate it, so
    # the last shown quarter goes with it (the 碳效贷 gRPC test: Q1 3 borrowers, Q2 one drawdown)
    assert suppressed_periods([{"a", "b", "c"}, {"a"}], 3) == {0, 1}
    assert suppressed_periods([{"a", "b", "c"}, set(), {"d", "e", "f"}], 3) == set()
    assert suppressed_periods([{"a"}], 1) == set()  # k <= 1: no control
