"""The regional dashboard (dashboard.proto): grade distribution, grade migration, the grade-5 list's
largest energy source, the commitments' savings pipeline, each under disclosure control.

Pure and columnar (pandas): the storage layer hands in frames of the stored yearly profiles, the records
and the commitments; the RPC layer adds names and converts. Counts are of distinct enterprises.
Suppression follows tanxiao.disclosure (minimum cell size ``k``, complementary suppression).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from registry_service.domain.catalog import Catalog, CategoryKind, Scope
from registry_service.domain.precedence import Precedence, current_records, effective_mask
from tanxiao.disclosure import TwoWay, complete, suppressed_keys, two_way

GRADES = (0, 1, 2, 3, 4, 5)  # 0 = UNGRADED
COUNTY, DIVISION = "county", "division"
NO_PROFILE = "none"  # migration column of enterprises without a to-year profile
PROFILE_COLUMNS = ("uscc", "year", "industry_code", "region_code", "grade")


# --- grade distribution ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GradeRow:
    year: int
    county: str  # "" when not grouped by county (and for a year's totals)
    division: str
    enterprises: int
    grades: Mapping[int, int]  # grade -> enterprises (0 when hidden)
    hidden_grades: frozenset[int] = frozenset()
    suppressed: bool = False  # the whole row (its total) is withheld


@dataclass(frozen=True)
class Distribution:
    rows: tuple[GradeRow, ...]
    year_totals: tuple[GradeRow, ...]
    withheld_years: tuple[int, ...] = ()


def _keys(frame: pd.DataFrame, group_by: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            COUNTY: frame["region_code"].astype(str) if COUNTY in group_by else "",
            DIVISION: frame["industry_code"].astype(str).str[:2] if DIVISION in group_by else "",
        },
        index=frame.index,
    )


def _sets(frame: pd.DataFrame, by: list[str]) -> dict[tuple[Any, ...], set[str]]:
    """The distinct enterprises (uscc) of each combination of the ``by`` columns."""
    out: dict[tuple[Any, ...], set[str]] = {}
    keys = zip(*(frame[column].tolist() for column in by), strict=True)
    for key, uscc in zip(keys, frame["uscc"].astype(str).tolist(), strict=True):
        out.setdefault(key, set()).add(uscc)
    return out


def grade_distribution(
    profiles: pd.DataFrame, years: Sequence[int], group_by: Sequence[str], k: int
) -> Distribution:
    """Enterprises by grade per year (and county and/or division) from yearly profiles (PROFILE_COLUMNS,
    one row per enterprise and year). Each year is a two-way table (rows x grades) whose row totals,
    grade totals and grand total are published: tanxiao.disclosure.two_way suppresses it."""
    frame = profiles[profiles["year"].isin(list(years))]
    frame = frame.assign(**_keys(frame, group_by), grade=frame["grade"].astype(int))
    rows: list[GradeRow] = []
    totals: list[GradeRow] = []
    withheld: list[int] = []
    for year in sorted(set(years)):
        own = frame[frame["year"] == year]
        if own.empty:
            continue
        cells: dict[Any, set[str]] = {
            ((key[0], key[1]), key[2]): who for key, who in _sets(own, [COUNTY, DIVISION, "grade"]).items()
        }
        everyone = set(own["uscc"].astype(str))
        if k > 1 and len(everyone) < k:
            withheld.append(year)
            hidden, hide_all = TwoWay(frozenset(), frozenset(), frozenset()), True
        else:
            hidden = two_way(cells, k)
            hide_all = False
        for line in sorted({key[0] for key in cells}):
            counts = {g: len(cells.get((line, g), ())) for g in GRADES}
            row_hidden = hide_all or line in hidden.rows
            hidden_grades = frozenset(g for g in GRADES if hide_all or (line, g) in hidden.cells)
            rows.append(
                GradeRow(
                    year,
                    line[0],
                    line[1],
                    0 if row_hidden else sum(counts.values()),
                    {g: 0 if g in hidden_grades else n for g, n in counts.items()},
                    hidden_grades,
                    row_hidden,
                )
            )
        per_grade = own.groupby("grade")["uscc"].nunique()
        grade_counts = {g: int(per_grade.get(g, 0)) for g in GRADES}
        hidden_cols = frozenset(g for g in GRADES if hide_all or g in hidden.columns)
        totals.append(
            GradeRow(
                year,
                "",
                "",
                0 if hide_all else len(everyone),
                {g: 0 if g in hidden_cols else n for g, n in grade_counts.items()},
                hidden_cols,
                hide_all,
            )
        )
    return Distribution(tuple(rows), tuple(totals), tuple(withheld))


# --- grade migration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MigrationCell:
    from_grade: int
    to_grade: int | str  # a grade, or NO_PROFILE
    enterprises: int
    suppressed: bool = False


@dataclass(frozen=True)
class Migration:
    cells: tuple[MigrationCell, ...]
    rows: tuple[tuple[int, int, bool], ...]  # (from_grade, enterprises, suppressed)
    enterprises: int
    withheld: bool = False


def grade_migration(profiles: pd.DataFrame, from_year: int, to_year: int, k: int) -> Migration:
    """The enterprises profiled in ``from_year`` by (their grade then, their grade in ``to_year`` or
    NO_PROFILE). Row totals (firms per from-grade), column totals and the total are published: the
    matrix is suppressed as a two-way table."""
    before = profiles.loc[profiles["year"] == from_year, ["uscc", "grade"]].drop_duplicates("uscc")
    after = profiles.loc[profiles["year"] == to_year, ["uscc", "grade"]].drop_duplicates("uscc")
    merged = before.merge(after, on="uscc", how="left", suffixes=("_from", "_to"))
    to = merged["grade_to"].map(lambda g: NO_PROFILE if pd.isna(g) else int(g))
    cells: dict[tuple[Hashable, Hashable], set[str]] = {}
    for uscc, g_from, g_to in zip(
        merged["uscc"].astype(str), merged["grade_from"].astype(int), to, strict=True
    ):
        cells.setdefault((int(g_from), g_to), set()).add(uscc)
    total = len(merged)
    if total == 0:
        return Migration((), (), 0)
    withheld = k > 1 and total < k
    hidden = two_way(cells, k)

    def order(key: tuple[Hashable, Hashable]) -> tuple[int, int]:
        return int(str(key[0])), 99 if key[1] == NO_PROFILE else int(str(key[1]))

    out = []
    for key in sorted(cells, key=order):
        hide = withheld or key in hidden.cells
        out.append(MigrationCell(int(str(key[0])), key[1], 0 if hide else len(cells[key]), hide))  # type: ignore[arg-type]
    row_counts: dict[int, int] = {}
    for (g_from, _), who in cells.items():
        row_counts[int(str(g_from))] = row_counts.get(int(str(g_from)), 0) + len(who)
    rows = tuple(
        (g, 0 if withheld or g in hidden.rows else n, withheld or g in hidden.rows)
        for g, n in sorted(row_counts.items())
    )
    return Migration(tuple(out), rows, 0 if withheld else total, withheld)


# --- the grade-5 list: largest energy source ------------------------------------------------------


def effective_records(records: pd.DataFrame, precedence: Precedence) -> pd.DataFrame:
    """The records a profile uses (current revisions, the winning source per enterprise, month and
    category), as registry_service.domain.profiles selects them."""
    if records.empty:
        return records
    current = current_records(records)
    return current[effective_mask(current, precedence).to_numpy(dtype=bool)]


def largest_sources(records: pd.DataFrame, regions: Mapping[str, str], catalog: Catalog) -> pd.DataFrame:
    """Per enterprise: its energy category with the most tCO2 over ``records`` (effective records in
    canonical units: uscc, period "YYYY-MM", category, canonical_quantity), that tCO2 and its share of
    the tCO2 of all its energy categories. One record's tCO2 is the accounting's (docs/accounting.md):
    kWh / 1000 x the grid factor of the enterprise's region and the month's year for grid-factor
    categories, else quantity x kgCO2 per unit / 1000. Energy categories: kind ENERGY, scope 1 or 2.
    Ties go to the category code first in order. Columns: uscc, category, tco2, share."""
    columns = ["uscc", "category", "tco2", "share"]
    energy = {
        c.code: c
        for c in catalog.categories
        if c.kind == CategoryKind.ENERGY and c.scope in (Scope.SCOPE_1, Scope.SCOPE_2)
    }
    frame = records[records["category"].isin(list(energy))]
    if frame.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=float if c in ("tco2", "share") else object) for c in columns}
        )
    quantity = pd.to_numeric(frame["canonical_quantity"]).to_numpy(dtype=float)
    year = frame["period"].astype(str).str[:4].astype(int).to_numpy()
    region = frame["uscc"].astype(str).map(lambda u: regions.get(u, "")).to_numpy()
    pairs = {(r, int(y)) for r, y in zip(region, year, strict=True)}
    factors = {pair: catalog.grid_factor(pair[0], pair[1]).tco2_per_mwh for pair in pairs}
    grid_factor = np.array([factors[(r, int(y))] for r, y in zip(region, year, strict=True)], dtype=float)
    cats = frame["category"].astype(str).to_numpy()
    uses_grid = np.array([energy[c].uses_grid_factor for c in cats], dtype=bool)
    kgco2 = np.array([energy[c].kgco2_per_unit or 0.0 for c in cats], dtype=float)
    tco2 = np.where(uses_grid, quantity / 1000 * grid_factor, quantity * kgco2 / 1000)
    per = (
        pd.DataFrame({"uscc": frame["uscc"].astype(str).to_numpy(), "category": cats, "tco2": tco2})
        .groupby(["uscc", "category"], sort=True, as_index=False)["tco2"]
        .sum()
    )
    total = per.groupby("uscc")["tco2"].transform("sum")
    per = per.assign(share=np.where(total > 0, per["tco2"] / total.where(total > 0, 1.0), 0.0))
    top = per.sort_values(["uscc", "tco2", "category"], ascending=[True, False, True], kind="stable")
    return top.drop_duplicates("uscc").reset_index(drop=True)[columns]


# --- savings pipeline -----------------------------------------------------------------------------

COMMITMENT_COLUMNS = ("id", "uscc", "region_code", "industry_code", "target_tco2", "first_due")
VERIFICATION_COLUMNS = ("commitment_id", "verification_date", "order", "passed", "verified_tco2")


@dataclass(frozen=True)
class PipelineFigures:
    pledged: int = 0
    pledged_tco2: float = 0.0
    verified: int = 0
    verified_tco2: float = 0.0
    overdue: int = 0
    overdue_tco2: float = 0.0
    enterprises: int = 0


@dataclass(frozen=True)
class PipelineRow:
    key: str
    figures: PipelineFigures
    suppressed: bool = False
    verified_suppressed: bool = False
    overdue_suppressed: bool = False


@dataclass(frozen=True)
class Pipeline:
    totals: PipelineFigures
    rows: tuple[PipelineRow, ...] = ()
    verified_suppressed: bool = False
    overdue_suppressed: bool = False
    withheld: bool = False


def pipeline_states(commitments: pd.DataFrame, checks: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """``commitments`` (COMMITMENT_COLUMNS) with ``verified`` (the latest verification dated by
    ``as_of`` passed), ``verified_tco2`` (its verified savings, else 0) and ``overdue`` (not verified and
    the first milestone due by ``as_of``)."""
    upto = checks[pd.to_datetime(checks["verification_date"]).dt.date <= as_of]
    latest = upto.sort_values(["commitment_id", "verification_date", "order"], kind="stable").drop_duplicates(
        "commitment_id", keep="last"
    )
    passed = latest[latest["passed"].astype(bool)].set_index("commitment_id")["verified_tco2"].astype(float)
    verified = commitments["id"].isin(passed.index)
    due = pd.to_datetime(commitments["first_due"]).dt.date <= as_of
    return commitments.assign(
        verified=verified.to_numpy(),
        verified_tco2=commitments["id"].map(passed).fillna(0.0).to_numpy(dtype=float),
        overdue=(~verified & due).to_numpy(),
    )


def _figures(frame: pd.DataFrame) -> PipelineFigures:
    verified, overdue = frame[frame["verified"]], frame[frame["overdue"]]
    return PipelineFigures(
        len(frame),
        float(frame["target_tco2"].sum()),
        len(verified),
        float(verified["verified_tco2"].sum()),
        len(overdue),
        float(overdue["target_tco2"].sum()),
        frame["uscc"].nunique(),
    )


def savings_pipeline(states: pd.DataFrame, group_by: str, k: int) -> Pipeline:
    """Totals and rows (by COUNTY or DIVISION, or none) of ``pipeline_states``. Disclosure: a row is a
    cell of the enterprises with pledges (one-way table, its total published); its verified and
    overdue figures are cells of their own columns (one-way tables over the rows, totals published)."""
    if states.empty:
        return Pipeline(PipelineFigures())
    everyone = set(states["uscc"].astype(str))
    withheld = k > 1 and len(everyone) < k
    totals = _figures(states)
    verified_firms = set(states.loc[states["verified"], "uscc"].astype(str))
    overdue_firms = set(states.loc[states["overdue"], "uscc"].astype(str))
    v_hidden = withheld or (k > 1 and 0 < len(verified_firms) < k)
    o_hidden = withheld or (k > 1 and 0 < len(overdue_firms) < k)
    if withheld:
        return Pipeline(PipelineFigures(), (), True, True, True)
    rows: list[PipelineRow] = []
    if group_by:
        key = (
            states["region_code"].astype(str)
            if group_by == COUNTY
            else states["industry_code"].astype(str).str[:2]
        )
        framed = states.assign(key=key.to_numpy())
        pledged = {g: set(f["uscc"].astype(str)) for g, f in framed.groupby("key", sort=True)}
        hidden_rows = suppressed_keys(pledged, k)
        parts = {}
        for column in ("verified", "overdue"):
            sets = {g: set(f.loc[f[column], "uscc"].astype(str)) for g, f in framed.groupby("key", sort=True)}
            primary = {g for g, who in sets.items() if 0 < len(who) < k} if k > 1 else set()
            with_rows = primary | {g for g in hidden_rows if sets[g]}
            parts[column] = complete(sets, with_rows, k) if k > 1 else set()
        for g, own in framed.groupby("key", sort=True):
            if g in hidden_rows:
                rows.append(PipelineRow(str(g), PipelineFigures(), True, True, True))
                continue
            f = _figures(own)
            hv, ho = g in parts["verified"], g in parts["overdue"]
            f = PipelineFigures(
                f.pledged,
                f.pledged_tco2,
                0 if hv else f.verified,
                0.0 if hv else f.verified_tco2,
                0 if ho else f.overdue,
                0.0 if ho else f.overdue_tco2,
                f.enterprises,
            )
            rows.append(PipelineRow(str(g), f, False, hv, ho))
    if v_hidden or o_hidden:
        totals = PipelineFigures(
            totals.pledged,
            totals.pledged_tco2,
            0 if v_hidden else totals.verified,
            0.0 if v_hidden else totals.verified_tco2,
            0 if o_hidden else totals.overdue,
            0.0 if o_hidden else totals.overdue_tco2,
            totals.enterprises,
        )
    return Pipeline(totals, tuple(rows), v_hidden, o_hidden, False)
