"""Industry benchmarks: the industry average carbon intensity L per (industry, region, year) and which
benchmark each enterprise is compared with (pure: numpy/pandas). Documented in docs/accounting.md.

* average_intensity = sum(net_tco2) / sum(added value) over the enterprises of the cell (the industry
  average L of the method: a ratio of totals, so large enterprises weigh more), plus the median and
  quartiles of the enterprises' own L (linear interpolation, numpy's default).
* Only profiles with a finite net_tco2 and added value > 0 count. A code is only cut to a depth or
  level it actually has: a 2-digit industry code has no 4-digit benchmark and a city-level region code
  no county benchmark.
* Fallback (``assign_benchmarks``): the configured (depth, level) when it has >= min_enterprises; else
  coarser industry depths (4 -> 3 -> 2) at the same region level; else the next coarser region level
  (county -> city -> province), starting again from the configured depth. When no candidate
  qualifies, the coarsest one that exists is used and ``benchmark_qualified`` is False.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import numpy.typing as npt
import pandas as pd

from registry_service.domain.region import RegionLevel

LEVEL_ORDER = (RegionLevel.COUNTY, RegionLevel.CITY, RegionLevel.PROVINCE)  # finest first
DEPTH_ORDER = (4, 3, 2)
PROFILE_COLUMNS = ("uscc", "year", "industry_code", "region_code", "net_tco2", "added_value_10k_cny")
BENCHMARK_COLUMNS = (
    "industry_code",
    "industry_depth",
    "region_code",
    "region_level",
    "year",
    "average_intensity",
    "median_intensity",
    "q1_intensity",
    "q3_intensity",
    "enterprise_count",
    "total_tco2",
    "total_added_value",
    "loo_min_intensity",
    "loo_max_intensity",
)
ASSIGNED_COLUMNS = (
    "benchmark_industry_code",
    "benchmark_industry_depth",
    "benchmark_region_code",
    "benchmark_region_level",
    "benchmark_intensity",
    "benchmark_count",
    "benchmark_fallback",
    "benchmark_qualified",
)
_KEY = ["industry_code", "industry_depth", "region_code", "region_level", "year"]


def industry_key(codes: pd.Series, depth: int) -> pd.Series:
    """Codes cut to ``depth`` digits; NaN where the code is shorter (no benchmark at that depth)."""
    text = _digits(codes)
    return text.str[:depth].where(text.str.len() >= depth)


def region_key(codes: pd.Series, level: RegionLevel) -> pd.Series:
    """The enclosing code at ``level`` (see region.region_at); NaN where the code is coarser."""
    text = _digits(codes).where(lambda t: t.str.len() == 6)
    if level is RegionLevel.PROVINCE:
        return text.str[:2] + "0000"
    if level is RegionLevel.CITY:
        return (text.str[:4] + "00").where(text.str[2:4] != "00")
    return text.where(text.str[4:6] != "00")


def _digits(codes: pd.Series) -> pd.Series:
    """Codes as strings, missing (NA) where absent or not all digits (an unknown enterprise's NaN)."""
    text = codes.astype("string")
    return text.where(text.str.fullmatch(r"\d+").fillna(False).astype(bool))


def compute_benchmarks(
    profiles: pd.DataFrame,
    *,
    depths: Sequence[int] = DEPTH_ORDER,
    levels: Sequence[RegionLevel] = LEVEL_ORDER,
) -> pd.DataFrame:
    """One row per (industry at depth, region at level, year) with BENCHMARK_COLUMNS, from yearly
    profiles (PROFILE_COLUMNS); sorted by the key."""
    valid = _valid(profiles)
    cells = pd.concat(
        [_cell_rows(valid, depth, RegionLevel(level)) for depth in depths for level in levels],
        ignore_index=True,
    )
    if cells.empty:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in BENCHMARK_COLUMNS})
    grouped = cells.groupby(_KEY, sort=True)
    out = grouped.agg(
        total_tco2=("net_tco2", "sum"),
        total_added_value=("added_value_10k_cny", "sum"),
        enterprise_count=("intensity", "size"),
    )
    quartiles = grouped["intensity"].quantile([0.25, 0.5, 0.75]).unstack()
    out["average_intensity"] = out["total_tco2"] / out["total_added_value"]
    out["q1_intensity"] = quartiles[0.25]
    out["median_intensity"] = quartiles[0.5]
    out["q3_intensity"] = quartiles[0.75]
    out = out.join(_leave_one_out(cells))
    return out.reset_index().loc[:, list(BENCHMARK_COLUMNS)]


def _leave_one_out(cells: pd.DataFrame) -> pd.DataFrame:
    """Per cell, the lowest and highest average the cell would have without any one of its firms:
    (total_tco2 - t_j) / (total_added_value - a_j). NaN for a one-firm cell (nothing would be left),
    which is why a profile in such a cell is always flagged sensitive (``benchmark_provenance``)."""
    grouped = cells.groupby(_KEY, sort=True)
    totals_t = grouped["net_tco2"].transform("sum")
    totals_a = grouped["added_value_10k_cny"].transform("sum")
    rest_a = totals_a - cells["added_value_10k_cny"]
    loo = ((totals_t - cells["net_tco2"]) / rest_a.where(rest_a > 0)).astype(float)
    frame = cells[_KEY].assign(loo=loo)
    return frame.groupby(_KEY, sort=True)["loo"].agg(loo_min_intensity="min", loo_max_intensity="max")


def _dtype(column: str) -> str:
    if column in ("industry_code", "region_code", "region_level"):
        return "object"
    return "int64" if column in ("industry_depth", "year", "enterprise_count") else "float64"


def benchmark_members(profiles: pd.DataFrame) -> list[str]:
    """The enterprises whose profiles ``compute_benchmarks`` counts (finite net_tco2, added value > 0):
    the membership list published with a benchmark version; sorted, distinct."""
    if len(profiles) == 0:
        return []
    net = pd.to_numeric(profiles["net_tco2"], errors="coerce").astype(float)
    added = pd.to_numeric(profiles["added_value_10k_cny"], errors="coerce").astype(float)
    keep = np.isfinite(net) & np.isfinite(added) & (added > 0)
    return sorted({str(u) for u in profiles.loc[keep, "uscc"]})


def _valid(profiles: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in PROFILE_COLUMNS if c not in profiles.columns]
    if missing:
        raise ValueError(f"profiles lack columns {missing}")
    net = pd.to_numeric(profiles["net_tco2"], errors="coerce").astype(float)
    added = pd.to_numeric(profiles["added_value_10k_cny"], errors="coerce").astype(float)
    keep = np.isfinite(net) & np.isfinite(added) & (added > 0)
    frame = profiles.loc[keep, ["year", "industry_code", "region_code"]].assign(
        net_tco2=net[keep], added_value_10k_cny=added[keep], intensity=(net / added)[keep]
    )
    return frame.astype({"year": "int64"})


def _cell_rows(valid: pd.DataFrame, depth: int, level: RegionLevel) -> pd.DataFrame:
    """The profiles keyed by their cell at (depth, level); those without such a cell are dropped."""
    frame = valid.assign(
        industry_code=industry_key(valid["industry_code"], depth),
        industry_depth=depth,
        region_code=region_key(valid["region_code"], level),
        region_level=str(level),
    )
    return frame.dropna(subset=["industry_code", "region_code"])


def fallback_order(industry_depth: int, region_level: RegionLevel) -> list[tuple[int, RegionLevel]]:
    """Candidates, preferred first: coarser depths at each level, levels from the configured one up."""
    depths = [d for d in DEPTH_ORDER if d <= industry_depth]
    levels = LEVEL_ORDER[LEVEL_ORDER.index(RegionLevel(region_level)) :]
    return [(d, lv) for lv in levels for d in depths]


def assign_benchmarks(
    profiles: pd.DataFrame,
    benchmarks: pd.DataFrame,
    *,
    industry_depth: int,
    region_level: RegionLevel,
    min_enterprises: int,
) -> pd.DataFrame:
    """``profiles`` (with year, industry_code, region_code) plus ASSIGNED_COLUMNS: the benchmark each
    enterprise is compared with (module docstring for the order). ``benchmark_fallback`` is True when it
    is not the configured (depth, level); no benchmark at all leaves the intensity NaN and count 0."""
    if industry_depth not in DEPTH_ORDER:
        raise ValueError(f"industry_depth {industry_depth!r} must be one of {DEPTH_ORDER}")
    candidates = fallback_order(industry_depth, RegionLevel(region_level))
    found = _found(profiles, benchmarks, candidates, min_enterprises)
    unmatched = found["benchmark_intensity"].isna()
    if unmatched.any():  # nothing qualifies: the coarsest candidate that exists
        fallback = _found(profiles, benchmarks, candidates[::-1], 1)
        found[unmatched] = fallback[unmatched]
    first_depth, first_level = candidates[0]
    found["benchmark_fallback"] = ~(
        (found["benchmark_industry_depth"] == first_depth) & (found["benchmark_region_level"] == first_level)
    )
    found["benchmark_qualified"] = found["benchmark_count"] >= min_enterprises
    return pd.concat([profiles.reset_index(drop=True), found], axis=1).set_axis(profiles.index)


def _found(
    profiles: pd.DataFrame,
    benchmarks: pd.DataFrame,
    candidates: list[tuple[int, RegionLevel]],
    min_enterprises: int,
) -> pd.DataFrame:
    """For each profile (by position) the first candidate benchmark with >= min_enterprises."""
    n = len(profiles)
    found = pd.DataFrame(
        {
            "benchmark_industry_code": pd.Series([None] * n, dtype=object),
            "benchmark_industry_depth": np.zeros(n, dtype=np.int64),
            "benchmark_region_code": pd.Series([None] * n, dtype=object),
            "benchmark_region_level": pd.Series([None] * n, dtype=object),
            "benchmark_intensity": np.full(n, np.nan),
            "benchmark_count": np.zeros(n, dtype=np.int64),
        }
    )
    years = profiles["year"].astype("int64").to_numpy()
    eligible = benchmarks[benchmarks["enterprise_count"] >= min_enterprises]
    # Each depth and level is cut once, on the distinct codes (a recompute has 100,000s of profiles
    # of a few hundred codes), not once per candidate.
    codes = profiles["industry_code"]
    industries = {d: _per_code(codes, partial(industry_key, depth=d)) for d in {d for d, _ in candidates}}
    levels = {lv for _, lv in candidates}
    regions = {lv: _per_code(profiles["region_code"], partial(region_key, level=lv)) for lv in levels}
    for depth, level in candidates:
        todo = found["benchmark_intensity"].isna().to_numpy()
        if not todo.any():
            break
        keys = pd.DataFrame(
            {"industry_code": industries[depth], "region_code": regions[level], "year": years}
        )
        _fill(found, todo, _lookup(keys, eligible, depth, level), depth, level)
    return found


def _per_code(codes: pd.Series, cut: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``cut(codes)`` as an array, computed on the distinct codes."""
    index, distinct = pd.factorize(codes, use_na_sentinel=False)
    return np.asarray(cut(pd.Series(distinct, dtype=object)).to_numpy(dtype=object)[index])


def _lookup(keys: pd.DataFrame, eligible: pd.DataFrame, depth: int, level: RegionLevel) -> pd.DataFrame:
    """The profiles' keys at (depth, level) merged with the eligible benchmarks of that cut."""
    table = eligible[(eligible["industry_depth"] == depth) & (eligible["region_level"] == str(level))]
    columns = ["industry_code", "region_code", "year", "average_intensity", "enterprise_count"]
    table = table[columns].astype({"year": "int64"}).drop_duplicates(columns[:3])  # one row per profile
    return keys.merge(table, how="left", on=columns[:3])


def _fill(found: pd.DataFrame, todo: np.ndarray, match: pd.DataFrame, depth: int, level: RegionLevel) -> None:
    hit = todo & match["average_intensity"].notna().to_numpy()
    if not hit.any():  # nothing to set (e.g. no benchmarks at all): empty typed assignments would fail
        return
    found.loc[hit, "benchmark_industry_code"] = match.loc[hit, "industry_code"]
    found.loc[hit, "benchmark_industry_depth"] = depth
    found.loc[hit, "benchmark_region_code"] = match.loc[hit, "region_code"]
    found.loc[hit, "benchmark_region_level"] = str(level)
    found.loc[hit, "benchmark_intensity"] = match.loc[hit, "average_intensity"]
    found.loc[hit, "benchmark_count"] = match.loc[hit, "enterprise_count"].astype("int64")


# --- published versions -----------------------------------------------------------------------------

PROVENANCE_COLUMNS = (
    "benchmark_version",
    "benchmark_computed_at",
    "benchmark_includes_self",
    "benchmark_excludes_self",
    "benchmark_sensitive",
)


def benchmark_provenance(
    profiles: pd.DataFrame,
    benchmarks: pd.DataFrame,
    members: pd.DataFrame,
    grades_of: Callable[[npt.ArrayLike], npt.NDArray[np.int64]],
) -> pd.DataFrame:
    """PROVENANCE_COLUMNS for graded profiles: which published version of the benchmark (``benchmarks``
    with year, industry_code, region_code, version, compute_time, totals and leave-one-out bounds) each
    profile was compared with, and whether the firm is in it (``members``: year, version, uscc).

    * ``benchmark_excludes_self``: graded against a version the firm is not in (a firm new since the
      last recompute; its grade rests on its peers only).
    * ``benchmark_sensitive``: one firm could move the cell's average past a grade boundary of this
      profile: the grade differs at the lowest or highest leave-one-out average of the cell, or (firm
      not in it) at the average with the firm added, (T + t) / (A + a); a one-firm cell always is.
    Grade is monotone in the benchmark, so checking the two leave-one-out extremes covers every firm."""
    keys = profiles[["uscc", "benchmark_industry_code", "benchmark_region_code", "benchmark_year"]]
    table = benchmarks.rename(
        columns={"industry_code": "benchmark_industry_code", "region_code": "benchmark_region_code",
                 "year": "benchmark_year"}
    )  # fmt: skip
    cell = keys.assign(benchmark_year=pd.to_numeric(keys["benchmark_year"]).astype("Int64")).merge(
        table.astype({"benchmark_year": "Int64"}), how="left",
        on=["benchmark_industry_code", "benchmark_region_code", "benchmark_year"],
    )  # fmt: skip
    version = pd.to_numeric(cell["version"], errors="coerce").fillna(0).astype("int64").to_numpy()
    includes = (version > 0) & _is_member(cell["benchmark_year"].fillna(0), version, cell["uscc"], members)
    graded = (pd.to_numeric(profiles["grade"]).to_numpy() > 0) & (version > 0)
    sensitive = graded & _sensitive(profiles, cell, includes, grades_of)
    computed = cell["compute_time"].where(version > 0, None) if "compute_time" in cell else None
    return pd.DataFrame(
        {
            "benchmark_version": version,
            "benchmark_computed_at": computed.to_numpy() if computed is not None else None,
            "benchmark_includes_self": includes,
            "benchmark_excludes_self": graded & ~includes,
            "benchmark_sensitive": sensitive,
        },
        index=profiles.index,
    )


def _is_member(years: pd.Series, versions: np.ndarray, usccs: pd.Series, members: pd.DataFrame) -> np.ndarray:
    """Whether each (year, version, uscc) is a row of ``members`` (one hashed lookup of all keys: a
    recompute asks for 100,000s)."""
    if members.empty or not len(usccs):
        return np.zeros(len(usccs), dtype=bool)
    have = pd.MultiIndex.from_arrays(
        [
            members["year"].astype(int).to_numpy(dtype=np.int64),
            members["version"].astype(int).to_numpy(dtype=np.int64),
            members["uscc"].astype(str).to_numpy(dtype=object),
        ]
    )
    wanted = pd.MultiIndex.from_arrays(
        [
            years.astype("int64").to_numpy(dtype=np.int64),
            np.asarray(versions, dtype=np.int64),
            usccs.astype(str).to_numpy(dtype=object),
        ]
    )
    return np.asarray(wanted.isin(have), dtype=bool)


def _sensitive(
    profiles: pd.DataFrame,
    cell: pd.DataFrame,
    includes: np.ndarray,
    grades_of: Callable[[npt.ArrayLike], npt.NDArray[np.int64]],
) -> np.ndarray:
    intensity = pd.to_numeric(profiles["carbon_intensity"], errors="coerce").astype(float).to_numpy()
    grade = pd.to_numeric(profiles["grade"]).to_numpy()

    def moved(alternative: np.ndarray) -> np.ndarray:
        k = intensity / np.where(alternative > 0, alternative, np.nan)
        return np.asarray((grades_of(k) != grade) & ~np.isnan(alternative), dtype=bool)

    low = cell["loo_min_intensity"].astype(float).to_numpy()
    high = cell["loo_max_intensity"].astype(float).to_numpy()
    alone = includes & (cell["enterprise_count"].fillna(0).astype(int).to_numpy() <= 1)
    net = pd.to_numeric(profiles["net_tco2"], errors="coerce").astype(float).to_numpy()
    added = pd.to_numeric(profiles["added_value_10k_cny"], errors="coerce").astype(float).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        total_a = cell["total_added_value"].astype(float).to_numpy() + added
        with_self = (cell["total_tco2"].astype(float).to_numpy() + net) / np.where(
            total_a > 0, total_a, np.nan
        )
        with_self = np.where(includes, np.nan, with_self)
        return np.asarray(alone | moved(low) | moved(high) | moved(with_self), dtype=bool)
