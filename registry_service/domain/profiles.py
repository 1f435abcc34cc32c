"""Carbon profiles: accounting + benchmark + grade + trend + data quality for enterprise-periods.

Pure (pandas/numpy), composed from the domain modules; the storage layer feeds it frames and writes
what it returns. Which periods are built:

* ``years``: the calendar years asked for (the graded 碳效码 periods), each enterprise that has data;
* the latest rolling 12 months of each enterprise (``R12-YYYY-MM``, graded too) when ``latest_rolling``;
* ``extra_periods``: any other period on demand (a month, a quarter, a past rolling window).

Benchmarks are either given (stored, incremental refresh) or computed from the yearly profiles built
here (batch recompute over all enterprises). A rolling window is compared with the benchmark of its
end month's year, or the year before when that year has none yet. Trend and data quality are
assessed for yearly and rolling periods; month and quarter profiles carry accounting and coverage only.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from registry_service.domain.accounting import EmissionsBasis, account_many, parse_period
from registry_service.domain.benchmarks import (
    assign_benchmarks,
    benchmark_members,
    benchmark_provenance,
    compute_benchmarks,
)
from registry_service.domain.catalog import Catalog, CategoryKind
from registry_service.domain.coverage import INCOMPLETE_REASONS, NO_BENCHMARK, assess_coverage
from registry_service.domain.frames import isin
from registry_service.domain.grading import GradingMethod
from registry_service.domain.precedence import Precedence, Resolution, current_records, resolve
from registry_service.domain.quality import (
    QualityBatch,
    QualityConfig,
    ResolvedRecords,
    assess_quality_resolved,
    load_quality_config,
)
from registry_service.domain.trend import ordinal_period, period_ordinal, trend_frame

TREND_WINDOW_MONTHS = 36
# Both scope 2 methods (docs/accounting.md "Scope 2 methods"), stored in details.
SCOPE2_FIGURES = (
    "scope2_location_tco2",
    "scope2_market_tco2",
    "instrument_kwh",
    "instrument_covered_kwh",
    "residual_mix_factor",
)
ELECTRICITY_FIGURES = (
    "grid_electricity_kwh",
    "pv_self_consumed_kwh",
    "pv_export_kwh",
    "pv_generation_kwh",
    "electricity_consumption_kwh",
)


@dataclass(frozen=True)
class ProfileInputs:
    # Every revision: id, uscc, period, category, source, external_id, revision, is_current, quantity.
    records: pd.DataFrame
    enterprises: pd.DataFrame  # uscc, industry_code, region_code
    annual: pd.DataFrame  # uscc, year, industrial_added_value_10k_cny
    catalog: Catalog
    method: GradingMethod
    precedence: Precedence
    quality: QualityConfig | None = None
    peers: pd.DataFrame | None = (
        None  # stored profiles of other enterprises: uscc, period, carbon_intensity, industry_code
    )


@dataclass(frozen=True)
class ProfileSet:
    profiles: pd.DataFrame  # one row per (uscc, period), see _finish
    benchmarks: pd.DataFrame  # BENCHMARK_COLUMNS: the ones used (computed here or given)
    flags: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    members: tuple[str, ...] = ()  # the firms the benchmarks computed here count (benchmark_members)


def build_profiles(
    inputs: ProfileInputs,
    *,
    years: Sequence[int] = (),
    latest_rolling: bool = False,
    extra_periods: Sequence[str] = (),
    benchmarks: pd.DataFrame | None = None,
    as_of: date | None = None,
    earlier_benchmarks: pd.DataFrame | None = None,
) -> ProfileSet:
    resolved = _resolved(inputs.records, inputs.precedence)
    effective = _effective(resolved)
    accounts = _accounts(effective, inputs, _granularities(years, latest_rolling, extra_periods))
    rows = _accounted(effective, accounts, inputs.method.emissions, years, latest_rolling, extra_periods)
    if rows.empty:
        return ProfileSet(rows, benchmarks if benchmarks is not None else compute_benchmarks(rows))
    rows = _with_inputs_fingerprint(rows, effective)
    rows = _with_coverage(rows, effective, inputs)
    members: tuple[str, ...] = ()
    if benchmarks is None:  # only complete periods make an industry average (docs/accounting.md)
        yearly = rows[(rows["granularity"] == "year") & (rows["ungraded_reason"] == "")]
        benchmarks = compute_benchmarks(yearly.assign(year=yearly["year"]))
        members = tuple(benchmark_members(yearly))
        if earlier_benchmarks is not None and len(earlier_benchmarks):
            # A rolling window ending in a year that has no complete profiles yet (the current year)
            # is graded against the stored benchmark of the year before.
            computed = set(benchmarks["year"].astype(int))
            earlier = earlier_benchmarks[~earlier_benchmarks["year"].astype(int).isin(computed)]
            benchmarks = pd.concat([benchmarks, earlier[list(benchmarks.columns)]], ignore_index=True)
    rows = _graded(rows, benchmarks, inputs.method)
    rows = _with_trends(rows, accounts["month"], inputs)
    rows, flags = _with_quality(rows, inputs, resolved, as_of)
    return ProfileSet(rows.reset_index(drop=True), benchmarks, flags, members)


def with_provenance(
    result: ProfileSet, published: pd.DataFrame, members: pd.DataFrame, method: GradingMethod
) -> ProfileSet:
    """``result`` with PROVENANCE_COLUMNS: the published benchmark version each graded profile used
    (``published``: stored benchmark rows with version and compute_time; ``members``: year, version,
    uscc), whether the firm is in it, and whether one firm could move it past a grade boundary."""
    if result.profiles.empty:
        return result
    rows = result.profiles
    needed = ["benchmark_industry_code", "benchmark_region_code", "benchmark_year"]
    rows = rows.assign(**{c: rows.get(c) for c in needed})
    if "grade" not in rows:
        rows = rows.assign(grade=0)
    provenance = benchmark_provenance(rows, published, members, method.grades_of)
    return replace(result, profiles=result.profiles.join(provenance))


# --- inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Current:
    """The current revisions of the inputs' records and their one resolution under the precedence
    (the profiles use its rows, data quality its per-key view)."""

    records: pd.DataFrame
    resolution: Resolution | None  # None when there are no records


def _resolved(records: pd.DataFrame, precedence: Precedence) -> _Current:
    if records.empty:
        return _Current(records, None)
    current = current_records(records)
    return _Current(current, resolve(current, precedence))


def _effective(current: _Current) -> pd.DataFrame:
    """The records a profile uses: current revisions, the winning source per (uscc, month, category)."""
    if current.resolution is None:
        return current.records.assign(month_ordinal=pd.Series(dtype=np.int64))
    used = current.records[current.resolution.used]
    codes, periods = pd.factorize(used["period"])  # a few distinct months: each converted once
    ordinals = np.array([period_ordinal(p) for p in periods], dtype=np.int64)
    return used.assign(month_ordinal=ordinals[codes])


def _granularities(years: Sequence[int], latest_rolling: bool, extra_periods: Sequence[str]) -> set[str]:
    granularities = {parse_period(p)[0] for p in extra_periods} | ({"year"} if years else set())
    if latest_rolling:
        granularities.add("rolling12")
    return granularities


def _accounts(
    effective: pd.DataFrame, inputs: ProfileInputs, granularities: set[str]
) -> dict[str, pd.DataFrame]:
    """Accounting at the granularities asked for and by month (the trends' series), in one pass."""
    columns = ["uscc", "period", "category", "canonical_quantity"]
    return account_many(
        effective[columns],
        inputs.enterprises,
        inputs.catalog,
        granularities=sorted(granularities | {"month"}),
        annual_added_value=inputs.annual,
        basis=inputs.method.emissions,
    )


def _accounted(
    effective: pd.DataFrame,
    accounts: dict[str, pd.DataFrame],
    basis: EmissionsBasis,
    years: Sequence[int],
    latest_rolling: bool,
    extra_periods: Sequence[str],
) -> pd.DataFrame:
    wanted = {str(y) for y in years} | set(extra_periods)
    parts = []
    for granularity in sorted(_granularities(years, latest_rolling, extra_periods)):
        # stated on the profile: which scope 2 and process CO2 L used
        frame = accounts[granularity].assign(
            granularity=granularity,
            graded_method=basis.scope2_method,
            graded_includes_process=basis.include_process,
        )
        keep = frame["period"].isin(wanted)
        if granularity == "rolling12" and latest_rolling:
            last = effective.groupby("uscc")["month_ordinal"].max().map(lambda o: "R12-" + ordinal_period(o))
            keep |= frame["period"].to_numpy() == last.reindex(frame["uscc"]).to_numpy()
        parts.append(frame[keep])
    if not parts:
        return pd.DataFrame()
    rows = pd.concat(parts, ignore_index=True)
    bounds = pd.DataFrame(
        [(p, *_bounds(p)) for p in pd.unique(rows["period"])], columns=["period", "first", "last"]
    ).set_index("period")
    rows["first_ordinal"] = bounds["first"].reindex(rows["period"]).to_numpy()
    rows["last_ordinal"] = bounds["last"].reindex(rows["period"]).to_numpy()
    rows["year"] = (rows["last_ordinal"] // 12).astype(np.int64)
    return rows


def _bounds(period: str) -> tuple[int, int]:
    _, first, last = parse_period(period)
    return period_ordinal(first), period_ordinal(last)


def _with_inputs_fingerprint(rows: pd.DataFrame, effective: pd.DataFrame) -> pd.DataFrame:
    """record_count and a fingerprint of the (record id, revision) pairs behind each profile: a sum of
    per-record 64-bit hashes (wrapping), so any window is a difference of prefix sums (vectorised)."""
    ids = (
        effective["id"].to_numpy(dtype=np.int64) if "id" in effective else np.zeros(len(effective), np.int64)
    )
    hashed = _mix(_mix(ids.astype(np.uint64)) ^ effective["revision"].to_numpy(dtype=np.uint64))
    monthly = (
        pd.DataFrame({"uscc": effective["uscc"].to_numpy(), "o": effective["month_ordinal"], "h": hashed})
        .groupby(["uscc", "o"], sort=True)
        .agg(n=("h", "size"), h=("h", "sum"))  # uint64 sums wrap: that is the hash
        .reset_index()
    )
    by_uscc = monthly.groupby("uscc", sort=False)
    monthly["n_cum"] = by_uscc["n"].cumsum()
    monthly["h_cum"] = by_uscc["h"].cumsum().astype(np.uint64)
    count_end, digest_end = _prefix_at(monthly, rows["uscc"], rows["last_ordinal"])
    count_start, digest_start = _prefix_at(monthly, rows["uscc"], rows["first_ordinal"] - 1)
    with np.errstate(over="ignore"):
        digests = (digest_end - digest_start).tolist()
    counts = (count_end - count_start).tolist()
    fingerprints = [
        hashlib.sha256(f"{n}:{d}".encode()).hexdigest() for n, d in zip(counts, digests, strict=True)
    ]
    return rows.assign(record_count=np.asarray(counts, dtype=np.int64), inputs_fingerprint=fingerprints)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads ids over 64 bits (uint64 wrap-around is intended)."""
    x = values.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _prefix_at(prefix: pd.DataFrame, usccs: pd.Series, ordinals: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Prefix count and digest of each (uscc, months up to ordinal): the last prefix row at or before
    it, found by one binary search over (enterprise code, month) keys (``prefix`` is sorted so)."""
    n = len(usccs)
    if prefix.empty or n == 0:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.uint64)
    codes, distinct = pd.factorize(prefix["uscc"], sort=True)  # sorted by uscc: codes never decrease
    wanted = pd.Index(distinct).get_indexer(usccs)
    months = prefix["o"].to_numpy(dtype=np.int64)
    asked = ordinals.to_numpy(dtype=np.int64)
    low = min(int(months.min()), int(asked.min()))
    span = max(int(months.max()), int(asked.max())) - low + 1
    keys = codes.astype(np.int64) * span + (months - low)
    at = np.searchsorted(keys, wanted.astype(np.int64) * span + (asked - low), side="right") - 1
    safe = np.clip(at, 0, None)
    found = (wanted >= 0) & (at >= 0) & (codes[safe] == wanted)
    counts = np.where(found, prefix["n_cum"].to_numpy(dtype=np.int64)[safe], 0).astype(np.int64)
    digests = np.where(found, prefix["h_cum"].to_numpy(dtype=np.uint64)[safe], np.uint64(0)).astype(np.uint64)
    return counts, digests


# --- benchmark and grade --------------------------------------------------------------------------


def _with_coverage(rows: pd.DataFrame, effective: pd.DataFrame, inputs: ProfileInputs) -> pd.DataFrame:
    """Coverage figures and the reason a period cannot be graded (registry_service.domain.coverage)."""
    energy = frozenset(c.code for c in inputs.catalog.categories if c.kind is CategoryKind.ENERGY)
    used = effective[["uscc", "category", "source", "month_ordinal"]]
    return rows.join(assess_coverage(rows, used, energy, inputs.method.coverage))


def _graded(rows: pd.DataFrame, benchmarks: pd.DataFrame, method: GradingMethod) -> pd.DataFrame:
    graded = rows[rows["granularity"].isin(["year", "rolling12"])]
    assigned = _assign(graded, benchmarks, method, year_offset=0)
    retry = assigned["benchmark_intensity"].isna() & (graded["granularity"] == "rolling12")
    if retry.any():  # a rolling window in a year without benchmarks yet: the year before
        assigned.loc[retry[retry].index] = _assign(graded[retry], benchmarks, method, year_offset=-1)
    out = method.grade_frame(rows.join(assigned))
    return _ungrade(out)


def _ungrade(rows: pd.DataFrame) -> pd.DataFrame:
    """An incomplete period gets no grade, no K, no level and no label: never "低碳1级" on partial data
    (its L is still reported, for what it is). A complete one without a benchmark says so."""
    out = rows.copy()
    reason = out["ungraded_reason"].astype(object)
    out["ungraded_reason"] = reason.where((reason != "") | (out["grade"] > 0), NO_BENCHMARK)
    off = (out["ungraded_reason"] != "").to_numpy()
    out.loc[off, "grade"] = 0
    out.loc[off, "carbon_efficiency"] = np.nan
    out.loc[off, ["label_zh", "label_en", "colour"]] = ""
    incomplete = out["ungraded_reason"].isin(INCOMPLETE_REASONS).to_numpy()
    out.loc[incomplete, "level"] = ""  # a level on part of the data would read as a finding
    return out


def _assign(
    rows: pd.DataFrame, benchmarks: pd.DataFrame, method: GradingMethod, *, year_offset: int
) -> pd.DataFrame:
    settings = method.benchmark
    probe = rows[["year", "industry_code", "region_code"]].assign(year=rows["year"] + year_offset)
    assigned = assign_benchmarks(
        probe,
        benchmarks,
        industry_depth=settings.industry_depth,
        region_level=settings.region_level,
        min_enterprises=settings.min_enterprises,
    )
    extra = [c for c in assigned.columns if c.startswith("benchmark_")]
    out = assigned[extra].copy()
    out["benchmark_year"] = np.where(out["benchmark_intensity"].notna(), probe["year"], np.nan)
    return out


# --- trend ----------------------------------------------------------------------------------------


def _with_trends(rows: pd.DataFrame, months: pd.DataFrame, inputs: ProfileInputs) -> pd.DataFrame:
    """Trend of each yearly and rolling profile over the monthly intensities (``months``: account at
    month granularity) of up to TREND_WINDOW_MONTHS before its end."""
    monthly = months[["uscc", "period", "carbon_intensity"]]
    results = []
    targets = rows[rows["granularity"].isin(["year", "rolling12"])]
    for last, group in targets.groupby("last_ordinal"):
        series = monthly[isin(monthly["uscc"], group["uscc"])]
        if series.empty:
            continue
        trend = trend_frame(series, end_period=ordinal_period(int(last)), max_months=TREND_WINDOW_MONTHS)
        trend = trend.reset_index().assign(last_ordinal=int(last))
        results.append(trend)
    out = rows.copy()
    if results:
        trends = pd.concat(results, ignore_index=True).add_prefix("trend_")
        trends = trends.rename(columns={"trend_uscc": "uscc", "trend_last_ordinal": "last_ordinal"})
        out = out.merge(trends, on=["uscc", "last_ordinal"], how="left")
    if "trend_direction" not in out:
        out["trend_direction"] = ""
    out["trend_direction"] = out["trend_direction"].astype(object).where(out["trend_direction"].notna(), "")
    projected = pd.to_numeric(out.get("trend_projected_value_next_year"), errors="coerce")
    if projected is None:
        projected = pd.Series(np.nan, index=out.index)
    k = projected / out["benchmark_intensity"].where(out["benchmark_intensity"] > 0)
    out["trend_projected_grade"] = inputs.method.grades_of(k.to_numpy(dtype=float))
    return out


# --- data quality ---------------------------------------------------------------------------------


def _with_quality(
    rows: pd.DataFrame, inputs: ProfileInputs, current: _Current, as_of: date | None
) -> tuple[pd.DataFrame, dict[tuple[str, str], list[dict[str, str]]]]:
    out = rows.assign(quality_score=np.nan, pcaf_score=np.nan, quality_coverage=np.nan)
    flags: dict[tuple[str, str], list[dict[str, str]]] = {}
    targets = out[out["granularity"].isin(["year", "rolling12"])]
    # The latest rolling window is the calendar year once December is in: the same months, firms and
    # intensities give the same assessment, made once (a recompute after year-end halves its cost).
    done: list[tuple[tuple[int, int, tuple[str, ...]], pd.Series, pd.Series, QualityBatch]] = []
    config = (inputs.quality or load_quality_config()).with_category_names(
        {c.code: (c.name_zh, c.name_en) for c in inputs.catalog.categories}
    )
    kinds = {c.code: c.kind.value for c in inputs.catalog.categories}
    for period, group in targets.groupby("period"):
        first, last = int(group["first_ordinal"].iloc[0]), int(group["last_ordinal"].iloc[0])
        months = [ordinal_period(o) for o in range(first, last + 1)]
        usccs = group["uscc"].tolist()
        intensities, groups = _peer_intensities(group, inputs.peers, str(period))
        key = (first, last, tuple(usccs))
        same = [b for k, i, g, b in done if k == key and _same_peers(i, intensities) and g.equals(groups)]
        if same:
            batch = same[0]
        else:  # the window's records as this pipeline resolved them (not resolved again)
            batch = assess_quality_resolved(
                _window_of(current, usccs, months),
                months,
                usccs=usccs,
                intensities=intensities,
                peer_groups=groups,
                as_of=as_of,
                config=config,
                precedence=inputs.precedence,
                category_kinds=kinds,
            )
            done.append((key, intensities, groups, batch))
        scores = batch.scores.reindex(usccs)
        index = group.index
        out.loc[index, "quality_score"] = scores["score"].to_numpy()
        out.loc[index, "pcaf_score"] = scores["pcaf_score"].to_numpy()
        out.loc[index, "quality_coverage"] = scores["coverage"].to_numpy()
        for record in batch.flags.to_dict("records"):
            uscc = str(record.pop("uscc"))
            flags.setdefault((uscc, str(period)), []).append({k: str(v) for k, v in record.items()})
    return out, flags


def _window_of(current: _Current, usccs: Sequence[str], months: Sequence[str]) -> ResolvedRecords:
    """The current records of ``usccs`` in ``months`` and their keys' resolution: a window takes whole
    (uscc, period, category) keys, so it resolves as select_effective over the window alone would."""
    frame = current.records
    if current.resolution is None:
        empty = np.zeros(0, dtype=np.int64)
        return ResolvedRecords(frame, empty, np.zeros(0, dtype=np.float64), empty)
    keep = isin(frame["uscc"], usccs) & isin(frame["period"], months)
    r = current.resolution
    position = np.cumsum(keep) - 1  # a kept row's position among the kept rows
    kept = keep[r.chosen]
    return ResolvedRecords(frame[keep], position[r.chosen[kept]], r.quantity[kept], r.n_records[kept])


def _same_peers(a: pd.Series, b: pd.Series) -> bool:
    """The same firms with the same intensities, up to the last bits of a float sum (a rolling window
    and the calendar year add the same months in another order)."""
    if not a.index.equals(b.index):
        return False
    x, y = a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64)
    return bool(np.allclose(x, y, rtol=1e-12, atol=0.0, equal_nan=True))


def _peer_intensities(
    group: pd.DataFrame, peers: pd.DataFrame | None, period: str
) -> tuple[pd.Series, pd.Series]:
    own = group[["uscc", "carbon_intensity", "industry_code"]]
    if peers is not None and len(peers):
        others = peers[(peers["period"] == period) & ~peers["uscc"].isin(own["uscc"])]
        own = pd.concat([own, others[["uscc", "carbon_intensity", "industry_code"]]], ignore_index=True)
    own = own[np.isfinite(pd.to_numeric(own["carbon_intensity"], errors="coerce"))]
    intensities = pd.Series(own["carbon_intensity"].to_numpy(dtype=float), index=own["uscc"].to_numpy())
    groups = pd.Series(own["industry_code"].to_numpy(), index=own["uscc"].to_numpy())
    return intensities, groups


def details_of(row: dict[str, Any], flags: list[dict[str, str]]) -> dict[str, Any]:
    """The JSON part of a stored profile: benchmark choice, trend, quality flags, labels."""

    def number(name: str) -> float | None:
        value = row.get(name)
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)

    return {
        "benchmark": {
            "industry_depth": number("benchmark_industry_depth"),
            "region_level": str(row.get("benchmark_region_level") or ""),
            "enterprise_count": number("benchmark_count"),
            "fallback": bool(row.get("benchmark_fallback") or False),
            "qualified": bool(row.get("benchmark_qualified") or False),
            "version": int(row.get("benchmark_version") or 0),
            "computed_at": _iso(row.get("benchmark_computed_at")),
            "includes_self": bool(row.get("benchmark_includes_self") or False),
            "excludes_self": bool(row.get("benchmark_excludes_self") or False),
            "sensitive": bool(row.get("benchmark_sensitive") or False),
        },
        "trend": {
            "direction": str(row.get("trend_direction") or ""),
            "slope_per_year": number("trend_slope_per_year"),
            "relative_change_per_year": number("trend_relative_change_per_year"),
            "confidence": number("trend_confidence"),
            "months": number("trend_n_months"),
            "projected_intensity_next_year": number("trend_projected_value_next_year"),
            "projected_grade_next_year": int(row.get("trend_projected_grade") or 0),
            "reason": str(row.get("trend_reason") or ""),
        },
        "quality": {"coverage": number("quality_coverage"), "flags": flags},
        "grid_factor": number("grid_factor"),
        "grid_factor_source": str(row.get("grid_factor_source") or ""),
        "grid_factor_year": int(row.get("grid_factor_year") or 0),
        "grid_factor_fallback": bool(row.get("grid_factor_fallback") or False),
        "label_zh": str(row.get("label_zh") or ""),
        "label_en": str(row.get("label_en") or ""),
        "ungraded_reason": str(row.get("ungraded_reason") or ""),
        "electricity": {key: number(key) for key in ELECTRICITY_FIGURES},
        "scope2": {key: number(key) for key in SCOPE2_FIGURES}
        | {
            "residual_mix_source": str(row.get("residual_mix_source") or ""),
            "graded_method": str(row.get("graded_method") or "location"),
            "graded_includes_process": bool(row.get("graded_includes_process") or False),
        },
        "process_tco2": number("process_tco2"),
        "coverage": {
            "months_complete": int(row.get("months_complete") or 0),
            "required_categories": str(row.get("required_categories") or ""),
            "gaps": str(row.get("coverage_gaps") or ""),
        },
    }


def details_column(frame: pd.DataFrame, flags: Sequence[list[dict[str, str]]]) -> list[dict[str, Any]]:
    """details_of for every row of ``frame`` at once (the same dicts, row for row; a recompute stores
    one per enterprise and period, and a Python call per figure per row was most of its time)."""
    c = _Columns(frame)
    benchmark = [
        {
            "industry_depth": a, "region_level": b, "enterprise_count": n, "fallback": f, "qualified": q,
            "version": v, "computed_at": t, "includes_self": i, "excludes_self": e, "sensitive": x,
        }
        for a, b, n, f, q, v, t, i, e, x in zip(
            c.number("benchmark_industry_depth"), c.text("benchmark_region_level"),
            c.number("benchmark_count"), c.flag("benchmark_fallback"), c.flag("benchmark_qualified"),
            c.integer("benchmark_version"), c.per_distinct("benchmark_computed_at", _iso),
            c.flag("benchmark_includes_self"), c.flag("benchmark_excludes_self"),
            c.flag("benchmark_sensitive"), strict=True,
        )
    ]  # fmt: skip
    trend = [
        {
            "direction": d, "slope_per_year": s, "relative_change_per_year": r, "confidence": k,
            "months": m, "projected_intensity_next_year": p, "projected_grade_next_year": g, "reason": why,
        }
        for d, s, r, k, m, p, g, why in zip(
            c.text("trend_direction"), c.number("trend_slope_per_year"),
            c.number("trend_relative_change_per_year"), c.number("trend_confidence"),
            c.number("trend_n_months"), c.number("trend_projected_value_next_year"),
            c.integer("trend_projected_grade"), c.text("trend_reason"), strict=True,
        )
    ]  # fmt: skip
    electricity = c.records(ELECTRICITY_FIGURES)
    scope2 = [
        figures | {"residual_mix_source": src, "graded_method": method, "graded_includes_process": process}
        for figures, src, method, process in zip(
            c.records(SCOPE2_FIGURES), c.text("residual_mix_source"),
            c.text("graded_method", "location"), c.flag("graded_includes_process"), strict=True,
        )
    ]  # fmt: skip
    coverage = [
        {"months_complete": m, "required_categories": r, "gaps": g}
        for m, r, g in zip(
            c.integer("months_complete"), c.text("required_categories"), c.text("coverage_gaps"), strict=True
        )
    ]
    return [
        {
            "benchmark": b, "trend": t, "quality": {"coverage": q, "flags": fl}, "grid_factor": gf,
            "grid_factor_source": gs, "grid_factor_year": gy, "grid_factor_fallback": gb, "label_zh": zh,
            "label_en": en, "ungraded_reason": why, "electricity": el, "scope2": s2, "process_tco2": pr,
            "coverage": cv,
        }
        for b, t, q, fl, gf, gs, gy, gb, zh, en, why, el, s2, pr, cv in zip(
            benchmark, trend, c.number("quality_coverage"), flags, c.number("grid_factor"),
            c.text("grid_factor_source"), c.integer("grid_factor_year"), c.flag("grid_factor_fallback"),
            c.text("label_zh"), c.text("label_en"), c.text("ungraded_reason"), electricity, scope2,
            c.number("process_tco2"), coverage, strict=True,
        )
    ]  # fmt: skip


def provenance_fields(
    frame: pd.DataFrame,
) -> tuple[list[int], list[str], list[bool], list[bool], list[bool]]:
    """details_column's provenance values of the benchmark object (version, computed_at,
    includes_self, excludes_self, sensitive) for benchmark_provenance's columns in ``frame``."""
    c = _Columns(frame)
    return (
        c.integer("benchmark_version"),
        c.per_distinct("benchmark_computed_at", _iso),
        c.flag("benchmark_includes_self"),
        c.flag("benchmark_excludes_self"),
        c.flag("benchmark_sensitive"),
    )


class _Columns:
    """Columns of a frame as Python lists, converted the way details_of converts one value."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def raw(self, name: str) -> list[Any]:
        return self.frame[name].tolist() if name in self.frame else [None] * len(self.frame)

    def number(self, name: str) -> list[float | None]:
        """float, None for a missing or NaN value (details_of's ``number``)."""
        if name not in self.frame:
            return [None] * len(self.frame)
        column = self.frame[name]
        if column.dtype.kind in "fiub":
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            out = values.astype(object)
            out[np.isnan(values)] = None
            return list(out)
        return [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in column]

    def per_distinct(self, name: str, convert: Callable[[Any], str]) -> list[str]:
        """convert(value) for every row, called once per distinct value (e.g. a version's time)."""
        column = self.frame.get(name)
        if column is not None and column.dtype.kind == "M":  # times: NaT is the only missing value
            codes, distinct = pd.factorize(column)  # NaT: -1, the last text
            texts = np.array([*(convert(v) for v in distinct), convert(pd.NaT)], dtype=object)
            return list(texts[codes].tolist())
        done: dict[Any, str] = {}
        out = []
        for value in self.raw(name):
            key = "" if value is None or value is pd.NaT or value != value else value  # NaN: missing
            if key not in done:
                done[key] = convert(value)
            out.append(done[key])
        return out

    def text(self, name: str, default: str = "") -> list[str]:
        return [str(v or default) for v in self.raw(name)]

    def integer(self, name: str) -> list[int]:
        return [int(v or 0) for v in self.raw(name)]

    def flag(self, name: str) -> list[bool]:
        return [bool(v or False) for v in self.raw(name)]

    def records(self, names: Sequence[str]) -> list[dict[str, float | None]]:
        columns = [self.number(n) for n in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _iso(value: Any) -> str:
    """A compute time as ISO 8601 text for the JSON details ("" when there is none)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    return str(pd.Timestamp(value).isoformat())
