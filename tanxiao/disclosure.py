"""Disclosure control shared by the services: the minimum cell size with primary and complementary
suppression, for one-way tables and for two-way tables with published row and column totals.

The rule (docs/security.md "Disclosure control"): a cell computed from fewer than ``k`` distinct
enterprises (borrowers) is *primarily* suppressed. Where a table's totals are published, one hidden cell
could be recovered as total minus the shown cells; so *complementary* suppression hides further cells of
the same line (fewest enterprises first, then key) until the hidden cells of that line are at least two
and together hold at least ``k`` distinct enterprises. Empty cells are structural zeros: shown, never
counted. A suppressed cell keeps its key and is marked; its figures are emptied and readers show it as
suppressed, never as zero.

The one-way rule is the one scoring_service.portfolio.disclosure applies to portfolio breakdowns (same
order, same result); the two-way form repeats it over rows and columns until nothing changes. Pure: no
I/O, no grpc.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Borrowers = Mapping[Hashable, set[str]]


def _covered(cells: Borrowers, keys: Iterable[Hashable]) -> int:
    return len(set().union(*(cells[key] for key in keys)))


def complete(cells: Borrowers, hidden: set[Hashable], k: int) -> set[Hashable]:
    """``hidden`` (keys of ``cells``, one line of a table) extended by complementary suppression: while
    some but fewer than two cells, or fewer than ``k`` enterprises, are hidden, hide the next non-empty
    cell (fewest enterprises first, then key). Returns the new hidden set of the line."""
    mine = {key for key in cells if key in hidden}
    if k <= 1 or not mine:
        return mine
    rest = sorted(
        (key for key, who in cells.items() if key not in mine and who),
        key=lambda key: (len(cells[key]), str(key)),
    )
    while rest and (len(mine) < 2 or _covered(cells, mine) < k):
        mine.add(rest.pop(0))
    return mine


def suppressed_keys(cells: Borrowers, k: int) -> set[Hashable]:
    """The keys to suppress in a one-way table whose total is published (primary: 1 to ``k``-1
    enterprises; complementary: until the hidden cells are >= 2 and hold >= ``k`` enterprises)."""
    if k <= 1:
        return set()
    primary = {key for key, who in cells.items() if 0 < len(who) < k}
    return complete(cells, primary, k)


@dataclass(frozen=True)
class TwoWay:
    """What a two-way table may show: hidden cells, hidden row totals, hidden column totals."""

    cells: frozenset[Any]  # (row, column) pairs
    rows: frozenset[Hashable]
    columns: frozenset[Hashable]


def two_way(cells: Mapping[Any, set[str]], k: int) -> TwoWay:
    # keys are (row, column) pairs
    """Suppression of a table of (row, column) cells whose row totals, column totals and grand total
    are published.

    Row totals form a one-way table (summing to the grand total), and so do column totals. A hidden
    total hides every cell of its line (else the shown cells would add up to it); then every row and
    every column is completed as a line; a line whose hidden cells still hold fewer than ``k``
    enterprises, or is a single cell (nothing left to hide), has its total hidden too. Repeated until
    nothing changes."""
    if k <= 1:
        return TwoWay(frozenset(), frozenset(), frozenset())
    row_sets: dict[Hashable, set[str]] = {}
    col_sets: dict[Hashable, set[str]] = {}
    by_row: dict[Hashable, dict[Any, set[str]]] = {}
    by_col: dict[Hashable, dict[Any, set[str]]] = {}
    for (row, col), who in cells.items():
        row_sets.setdefault(row, set()).update(who)
        col_sets.setdefault(col, set()).update(who)
        by_row.setdefault(row, {})[(row, col)] = who
        by_col.setdefault(col, {})[(row, col)] = who
    hidden_rows = suppressed_keys(row_sets, k)
    hidden_cols = suppressed_keys(col_sets, k)
    hidden: set[Any] = {key for key, who in cells.items() if 0 < len(who) < k}
    while True:
        before = (len(hidden), len(hidden_rows), len(hidden_cols))
        hidden_rows = complete(row_sets, hidden_rows, k)
        hidden_cols = complete(col_sets, hidden_cols, k)
        hidden |= {
            key for key, who in cells.items() if who and (key[0] in hidden_rows or key[1] in hidden_cols)
        }
        for lines, hidden_totals in ((by_row, hidden_rows), (by_col, hidden_cols)):
            for line, line_cells in lines.items():
                mine = complete(line_cells, hidden, k)
                hidden |= mine
                if mine and line not in hidden_totals and (len(mine) < 2 or _covered(line_cells, mine) < k):
                    hidden_totals.add(line)
        if (len(hidden), len(hidden_rows), len(hidden_cols)) == before:
            break
    return TwoWay(frozenset(hidden), frozenset(hidden_rows), frozenset(hidden_cols))
