"""Disclosure control of the regional dashboard (tanxiao.disclosure), worked by hand on small tables."""

from __future__ import annotations

import pandas as pd

from registry_service.domain import dashboard
from scoring_service.portfolio import disclosure as portfolio_disclosure
from tanxiao.disclosure import suppressed_keys, two_way


def _firms(prefix: str, n: int) -> set[str]:
    return {f"{prefix}{i}" for i in range(n)}


def test_the_one_way_rule_is_the_portfolio_reports_rule() -> None:
    table = {"a": _firms("a", 1), "b": _firms("b", 4), "c": _firms("c", 2), "d": _firms("d", 9)}
    # a (1) and c (2) are below 3; together they hold 3 firms: nothing more to hide.
    assert suppressed_keys(table, 3) == {"a", "c"} == portfolio_disclosure.suppressed_keys(table, 3)
    lone = {"a": _firms("a", 1), "b": _firms("b", 4), "d": _firms("d", 9)}
    # a alone could be recovered from the total: b (the smallest other) is hidden with it.
    assert suppressed_keys(lone, 3) == {"a", "b"} == portfolio_disclosure.suppressed_keys(lone, 3)
    assert suppressed_keys(lone, 1) == set()


def test_a_two_way_table_hides_a_small_cell_in_its_row_and_its_column() -> None:
    # Rows r1..r3, columns g2/g3; row, column and grand totals are published. Only (r1, g3) is small.
    cells = {
        ("r1", "g2"): _firms("p", 5), ("r1", "g3"): _firms("q", 1),
        ("r2", "g2"): _firms("s", 4), ("r2", "g3"): _firms("t", 6),
        ("r3", "g2"): _firms("u", 7), ("r3", "g3"): _firms("v", 8),
    }  # fmt: skip
    hidden = two_way(cells, 3)
    # Row r1: (r1, g3) and its complement (r1, g2). Column g3: (r1, g3) with (r2, g3) (6 < 8). Row r2
    # then has one hidden cell: (r2, g2) joins. Column g2 now hides (r1, g2) and (r2, g2): enough.
    assert hidden.cells == {("r1", "g2"), ("r1", "g3"), ("r2", "g2"), ("r2", "g3")}
    assert hidden.rows == frozenset() and hidden.columns == frozenset()  # every total holds >= 3 firms
    shown = {key for key in cells if key not in hidden.cells}
    assert shown == {("r3", "g2"), ("r3", "g3")}


def test_the_distribution_never_shows_a_suppressed_count_as_a_number() -> None:
    profiles = pd.DataFrame(
        {
            "uscc": ["a", "b", "c", "d", "e"],
            "year": [2022] * 5,
            "industry_code": ["2822"] * 5,
            "region_code": ["330502", "330502", "330502", "330502", "330521"],
            "grade": [2, 2, 2, 5, 2],
        }
    )
    result = dashboard.grade_distribution(profiles, [2022], [dashboard.COUNTY], 3)
    rows = {r.county: r for r in result.rows}
    # 330521 holds one firm: hidden, and 330502 with it (the year's total is published).
    assert rows["330521"].suppressed and rows["330502"].suppressed
    assert rows["330521"].enterprises == 0 and rows["330521"].hidden_grades == frozenset({2})
    (total,) = result.year_totals
    assert total.enterprises == 5 and total.hidden_grades == frozenset({2, 5})
    tiny = dashboard.grade_distribution(profiles.iloc[:2], [2022], [], 3)
    assert tiny.withheld_years == (2022,) and tiny.year_totals[0].enterprises == 0
