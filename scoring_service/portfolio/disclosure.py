"""Disclosure control for aggregates a regulator or the public sees: a minimum cell size with primary
and complementary suppression.

A cell (a breakdown group, a lender total, a grade-migration cell) computed from fewer than ``k``
distinct borrowers could identify a borrower: it is *primarily* suppressed. One-dimensional tables add
up to the report's totals, so a single suppressed cell could be recovered as total minus the shown
cells; hence *complementary* suppression: within each table, further cells (smallest borrower count
first, then key) are suppressed until the suppressed cells are at least two and together hold at least
``k`` distinct borrowers. When the whole report covers fewer than ``k`` borrowers, the totals, shares,
retrofit progress and attribution are withheld too.

A suppressed cell keeps its key and labels, its figures are emptied (all zero) and it is marked
``suppressed``: readers show it as suppressed, never as zero. Pure (pandas only).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import replace

import pandas as pd

from scoring_service.portfolio.metrics import (
    Attribution,
    Breakdown,
    GroupRow,
    Metrics,
    MigrationCell,
    Report,
    RetrofitProgress,
    group_keys,
    normalise,
)

DEFAULT_MIN_CELL_SIZE = 3


def suppressed_keys(borrowers: Mapping[Hashable, set[str]], k: int) -> set[Hashable]:
    """The keys to suppress in one table whose cells hold the given borrower sets (primary: fewer than
    ``k`` borrowers; complementary: until the suppressed cells are >= 2 and hold >= ``k`` borrowers)."""
    if k <= 1:
        return set()
    hidden = {key for key, who in borrowers.items() if len(who) < k}
    if not hidden:
        return hidden
    rest = sorted(
        (key for key in borrowers if key not in hidden), key=lambda key: (len(borrowers[key]), str(key))
    )

    def covered() -> int:
        return len(set().union(*(borrowers[key] for key in hidden)))

    while rest and (len(hidden) < 2 or covered() < k):
        hidden.add(rest.pop(0))
    return hidden


def suppressed_periods(borrowers: list[set[str]], k: int) -> set[int]:
    """The periods (indices) of a time series to suppress when each period's own figures and the running
    totals are published beside the overall total (e.g. the 碳效贷 quarterly trend): a period whose
    own figures come from 1..k-1 borrowers is suppressed; so is every later period until the suppressed
    run since the last shown period holds >= k borrowers (else the shown running total minus the
    period's own figures minus the last shown running total would isolate the run); and, when the run
    after the last shown period stays below k, shown periods from the end are suppressed too until it
    holds k (the overall total minus the last shown running total would isolate it). A period without
    borrowers (nothing happened) is shown when nothing is pending."""
    if k <= 1:
        return set()
    hidden: set[int] = set()
    shown: list[int] = []
    pending: set[str] = set()
    for index, who in enumerate(borrowers):
        own_ok = not who or len(who) >= k
        if own_ok and (not pending or len(pending) >= k):
            shown.append(index)
            pending = set()
        else:
            hidden.add(index)
            pending |= who
    while pending and len(pending) < k and shown:
        last = shown.pop()
        hidden.add(last)
        pending |= borrowers[last]
    return hidden


def _borrowers_by(frame: pd.DataFrame, keys: pd.Series) -> dict[Hashable, set[str]]:
    out: dict[Hashable, set[str]] = {}
    for key, uscc in zip(keys, frame["uscc"], strict=True):
        out.setdefault(str(key), set()).add(str(uscc))
    return out


def _hide_rows(rows: Iterable[GroupRow], hidden: set[Hashable]) -> tuple[GroupRow, ...]:
    return tuple(
        replace(r, metrics=Metrics(), outstanding_share=0.0, suppressed=True) if r.key in hidden else r
        for r in rows
    )


def _migration_borrowers(now: pd.DataFrame, earlier: pd.DataFrame) -> dict[Hashable, set[str]]:
    before = earlier[["loan", "grade", "uscc"]]
    after = now[["loan", "grade", "uscc"]]
    merged = before.merge(after, on="loan", how="outer", suffixes=("_b", "_a"))
    cells: dict[Hashable, set[str]] = {}
    for row in merged.itertuples(index=False):
        key = (
            int(0 if pd.isna(row.grade_b) else row.grade_b),
            int(0 if pd.isna(row.grade_a) else row.grade_a),
        )
        uscc = row.uscc_a if isinstance(row.uscc_a, str) else row.uscc_b
        cells.setdefault(key, set()).add(str(uscc))
    return cells


def apply(
    report: Report,
    loans: pd.DataFrame,
    *,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
    earlier: pd.DataFrame | None = None,
) -> tuple[Report, bool]:
    """``report`` (computed from ``loans``, and ``earlier`` for the migration) with every aggregate obeying
    the minimum cell size; also whether the totals themselves were withheld."""
    k = min_cell_size
    frame = normalise(loans)
    if len(set(frame["uscc"])) < k and k > 1 and not frame.empty:
        return _withhold_everything(report), True
    breakdowns = []
    for b in report.breakdowns:
        hidden = suppressed_keys(_borrowers_by(frame, group_keys(frame, b.dimension)), k)
        breakdowns.append(Breakdown(b.dimension, _hide_rows(b.rows, hidden)))
    hidden_lenders = suppressed_keys(_borrowers_by(frame, frame["lender"]), k)
    lenders = tuple(
        replace(t, metrics=Metrics(), suppressed=True) if t.lender in hidden_lenders else t
        for t in report.lenders
    )
    migration = report.migration
    if earlier is not None and migration:
        hidden_cells = suppressed_keys(_migration_borrowers(frame, normalise(earlier)), k)
        migration = tuple(
            MigrationCell(c.from_grade, c.to_grade, 0, 0, suppressed=True)
            if (c.from_grade, c.to_grade) in hidden_cells
            else c
            for c in migration
        )
    retrofit = report.retrofit
    retrofit_borrowers = set(frame.loc[frame["product"] == "HIGH_CARBON_RETROFIT", "uscc"])
    if 0 < len(retrofit_borrowers) < k:
        retrofit = RetrofitProgress()
    return replace(
        report, breakdowns=tuple(breakdowns), lenders=lenders, migration=migration, retrofit=retrofit
    ), False


def _withhold_everything(report: Report) -> Report:
    hide: Callable[[GroupRow], GroupRow] = lambda r: replace(  # noqa: E731
        r, metrics=Metrics(), outstanding_share=0.0, suppressed=True
    )
    return replace(
        report,
        totals=Metrics(),
        breakdowns=tuple(Breakdown(b.dimension, tuple(hide(r) for r in b.rows)) for b in report.breakdowns),
        loans=(),
        retrofit=RetrofitProgress(),
        green_share=0.0,
        transition_share=0.0,
        other_share=0.0,
        migration=tuple(
            MigrationCell(c.from_grade, c.to_grade, 0, 0, suppressed=True) for c in report.migration
        ),
        grade5_share=0.0,
        top_emitters=(),
        attribution=Attribution() if report.attribution is not None else None,
        lenders=tuple(replace(t, metrics=Metrics(), suppressed=True) for t in report.lenders),
    )
