"""Carbon accounting of enterprise-periods: energy (tce), scope 1/2 CO2, renewable netting and
intensities per 万元 of industrial added value (pure: numpy/pandas). Formulas: docs/accounting.md.

Input is the *effective* monthly records (source precedence already applied) in canonical units.
Everything is computed for all enterprises at once: records -> per-record contributions -> one row per
(enterprise, month) -> one row per (enterprise, output period). Caps and ratios are applied per output
period, after summing, because netting is capped against the period's scope 2, not month by month.

Periods: "2024-03" (month), "2024-Q1" (quarter), "2024" (year), "R12-2024-03" (rolling 12 months
ending March 2024, emitted only where the enterprise has a record in that end month).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from registry_service.domain.catalog import Catalog, CategoryKind, GridFactor, Scope
from registry_service.domain.trend import ordinal_period, period_ordinal

GRANULARITIES = ("month", "quarter", "year", "rolling12")
MONTHS_EXPECTED = {"month": 1, "quarter": 3, "year": 12, "rolling12": 12}
ADDED_VALUE = "INDUSTRIAL_ADDED_VALUE"
REVENUE = "REVENUE"
GREEN_POWER = "GREEN_POWER_PURCHASE"
GRID_ELECTRICITY = "ELECTRICITY"
PV_SELF_CONSUMED = "PV_SELF_GENERATION"
PV_EXPORT = "PV_EXPORT"
LOCATION_BASED = "location"
MARKET_BASED = "market"
SCOPE2_METHODS = (LOCATION_BASED, MARKET_BASED)


@dataclass(frozen=True)
class EmissionsBasis:
    """What ``net_tco2`` (the numerator of L, and so of grades and benchmarks) counts: the grading
    file's choice. Default = the Huzhou method: location-based scope 2 net of green power, energy only."""

    scope2_method: str = LOCATION_BASED
    include_process: bool = False

    def __post_init__(self) -> None:
        if self.scope2_method not in SCOPE2_METHODS:
            raise ValueError(f"scope2_method {self.scope2_method!r} is not one of {list(SCOPE2_METHODS)}")


HUZHOU_BASIS = EmissionsBasis()
RECORD_COLUMNS = ("uscc", "period", "category", "canonical_quantity")
ACCOUNT_COLUMNS = (
    "uscc",
    "period",
    "industry_code",
    "region_code",
    "energy_tce",
    "scope1_tco2",
    "scope2_gross_tco2",
    "pv_netting_tco2",
    "green_power_netting_tco2",
    "netting_tco2",
    "gross_tco2",
    "net_tco2",
    "added_value_10k_cny",
    "revenue_10k_cny",
    "energy_intensity",
    "carbon_intensity",
    "neutrality_rate",
    "grid_factor",
    "grid_factor_source",
    "grid_factor_year",  # the year of the factor used for the period's last month
    "grid_factor_fallback",  # True when that factor is from an earlier year than the month's
    "months_covered",
    "months_expected",
    # The electricity boundary (docs/accounting.md): consumption = grid purchases + own PV consumed.
    "grid_electricity_kwh",
    "pv_self_consumed_kwh",
    "pv_export_kwh",
    "pv_generation_kwh",
    "electricity_consumption_kwh",
    # Both scope 2 methods and process emissions (docs/accounting.md "Scope 2 methods", "Process emissions").
    "process_tco2",  # carbonate process CO2, part of scope1_tco2
    "scope2_location_tco2",  # = scope2_gross_tco2: grid purchases x grid factor + steam/heat
    "scope2_market_tco2",  # uncovered grid purchases x residual mix + steam/heat
    "instrument_kwh",  # green power + certificates claimed in the period
    "instrument_covered_kwh",  # min(instrument_kwh, grid purchases)
    "residual_mix_factor",
    "residual_mix_source",
)
# Additive quantities, summed from records into months and from months into periods.
_ADDITIVE = [
    "energy_tce",
    "scope1_tco2",
    "scope2_gross_tco2",
    "pv_netting_tco2",
    "green_power_netting_tco2",
    "grid_kwh",
    "grid_kwh_factor",
    "grid_electricity_kwh",
    "pv_self_consumed_kwh",
    "pv_export_kwh",
    "process_tco2",
    "instrument_kwh",
    "grid_kwh_residual",  # grid purchases x residual mix (tCO2 x 1000), for the kWh-weighted factor
    "scope2_other_tco2",  # scope 2 not from the grid (steam, heat)
]
# Summed from months into periods: months with energy data, factors (for a plain mean).
_SUMS = [*_ADDITIVE, "has_energy", "factor"]
_LEAD = 11  # months before the end month in a rolling window
_MIN_COUNT_SUMS = ["added_value_10k_cny", "revenue_10k_cny"]  # NaN when no record, 0 when reported 0
_PERIOD_PATTERNS = {
    "month": re.compile(r"(\d{4})-(\d{2})", re.ASCII),
    "quarter": re.compile(r"(\d{4})-Q(\d)", re.ASCII),
    "year": re.compile(r"(\d{4})", re.ASCII),
    "rolling12": re.compile(r"R12-(\d{4})-(\d{2})", re.ASCII),
}


# --- periods -------------------------------------------------------------------------------------


def parse_period(text: str) -> tuple[str, str, str]:
    """(granularity, first month, last month) of a period, months as "YYYY-MM"; ValueError if malformed."""
    for granularity, pattern in _PERIOD_PATTERNS.items():
        match = pattern.fullmatch(text)
        if match is None:
            continue
        year = int(match.group(1))
        if granularity == "year":
            return granularity, f"{year:04d}-01", f"{year:04d}-12"
        number = int(match.group(2))
        if granularity == "quarter":
            if not 1 <= number <= 4:
                raise ValueError(f"period {text!r}: quarter must be Q1 to Q4")
            return granularity, f"{year:04d}-{3 * number - 2:02d}", f"{year:04d}-{3 * number:02d}"
        if not 1 <= number <= 12:
            raise ValueError(f"period {text!r}: month must be 01 to 12")
        last = year * 12 + number - 1
        first = last - 11 if granularity == "rolling12" else last
        return granularity, ordinal_period(first), ordinal_period(last)
    expected = "YYYY-MM (month), YYYY-Qn (quarter), YYYY (year) or R12-YYYY-MM (rolling 12 months)"
    raise ValueError(f"period {text!r} is not {expected}")


def period_of(month: pd.Series, granularity: str) -> pd.Series:
    """The output period each "YYYY-MM" month falls in. For "rolling12" it is the window *ending* at
    that month (a month belongs to 12 rolling windows; ``account`` expands them)."""
    _check_granularity(granularity)
    text = month.astype(str)
    year = text.str[:4]
    if granularity == "month":
        return text
    if granularity == "year":
        return year
    if granularity == "rolling12":
        return "R12-" + text
    quarter = (text.str[5:7].astype(int) - 1) // 3 + 1
    return year + "-Q" + quarter.astype(str)


def _check_granularity(granularity: str) -> None:
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity {granularity!r} is not one of {list(GRANULARITIES)}")


def _month_ordinals(periods: pd.Series) -> npt.NDArray[np.int64]:
    """Ordinals of "YYYY-MM" periods, parsing each distinct value once (ValueError when malformed)."""
    codes, distinct = pd.factorize(periods)
    lookup = np.array([period_ordinal(str(p)) for p in distinct], dtype=np.int64)
    return np.asarray(lookup[codes], dtype=np.int64)


# --- accounting ----------------------------------------------------------------------------------


def account(
    records: pd.DataFrame,
    enterprises: pd.DataFrame,
    catalog: Catalog,
    *,
    granularity: str,
    annual_added_value: pd.DataFrame | None = None,
    basis: EmissionsBasis = HUZHOU_BASIS,
) -> pd.DataFrame:
    """One row per (uscc, period) with ACCOUNT_COLUMNS (see the module docstring and docs/accounting.md).

    ``records``: effective monthly records (uscc, period "YYYY-MM", category, canonical_quantity).
    ``enterprises``: uscc, industry_code, region_code; an enterprise missing here gets the national
    grid factor. ``annual_added_value`` (uscc, year, industry_added_value_10k_cny) fills the added value
    of a year without INDUSTRIAL_ADDED_VALUE records (granularity "year" only). ``basis`` (the grading
    file's) says what ``net_tco2`` and so ``carbon_intensity`` count.
    """
    accounts = account_many(
        records, enterprises, catalog, granularities=[granularity], annual_added_value=annual_added_value,
        basis=basis,
    )  # fmt: skip
    return accounts[granularity]


def account_many(
    records: pd.DataFrame,
    enterprises: pd.DataFrame,
    catalog: Catalog,
    *,
    granularities: Sequence[str],
    annual_added_value: pd.DataFrame | None = None,
    basis: EmissionsBasis = HUZHOU_BASIS,
) -> dict[str, pd.DataFrame]:
    """``account`` at several granularities from one pass over the records: the per-record
    contributions and monthly sums (most of the cost) are shared, each granularity only aggregates."""
    for granularity in granularities:
        _check_granularity(granularity)
    missing = [c for c in RECORD_COLUMNS if c not in records.columns]
    if missing:
        raise ValueError(f"records lack columns {missing}")
    if records.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in ACCOUNT_COLUMNS})
        return {granularity: empty.copy() for granularity in granularities}
    context = _Context.of(records, enterprises, catalog)
    monthly = _monthly(_contributions(context, records, catalog))
    out = {}
    for granularity in granularities:
        if granularity == "rolling12":
            periods = _rolling(monthly)
        else:
            periods = _aggregate(monthly.assign(pid=_period_ids(monthly["month"], granularity)))
        if granularity == "year" and annual_added_value is not None:
            periods = _fill_annual_added_value(periods, annual_added_value, context.usccs)
        out[granularity] = _finish(periods, context, granularity, catalog, basis)
    return out


def _dtype(column: str) -> str:
    text = {"uscc", "period", "industry_code", "region_code", "grid_factor_source", "residual_mix_source"}
    if column == "grid_factor_fallback":
        return "bool"
    if column.startswith("months_") or column == "grid_factor_year":
        return "int64"
    return "object" if column in text else "float64"


@dataclass(frozen=True)
class _Context:
    """Records as integer codes in a canonical order (so float sums never depend on input order):
    ``u`` indexes the sorted ``usccs``; ``order`` sorts the records; ``factor``/``source`` are the
    grid factor of each (sorted) record's region and year, ``sources`` the source texts."""

    usccs: pd.Index
    regions: pd.Series  # per uscc (index usccs), "" when the enterprise is unknown
    industries: pd.Series
    order: npt.NDArray[np.intp]
    u: npt.NDArray[np.int64]
    month: npt.NDArray[np.int64]
    factor: npt.NDArray[np.float64]
    source: npt.NDArray[np.int64]
    sources: tuple[str, ...]
    residual: npt.NDArray[np.float64]  # residual-mix factor of each record's region and year

    @staticmethod
    def of(records: pd.DataFrame, enterprises: pd.DataFrame, catalog: Catalog) -> _Context:
        u, usccs = pd.factorize(records["uscc"].astype(str), sort=True)
        category, _ = pd.factorize(records["category"].astype(str), sort=True)
        month = _month_ordinals(records["period"].astype(str))
        quantity = pd.to_numeric(records["canonical_quantity"], errors="raise").to_numpy(dtype=float)
        order = _canonical_order(u, month, category, quantity)
        known = enterprises.drop_duplicates("uscc").astype({"uscc": str}).set_index("uscc")
        regions = known["region_code"].astype(str).reindex(usccs).fillna("")
        industries = known["industry_code"].reindex(usccs)
        u, month = u[order].astype(np.int64), month[order]
        factor, source, sources = _grid_factors(regions, u, month // 12, catalog.grid_factor)
        residual, _, _ = _grid_factors(regions, u, month // 12, catalog.residual_mix_factor)
        return _Context(usccs, regions, industries, order, u, month, factor, source, sources, residual)


def _canonical_order(
    u: npt.NDArray[np.int64],
    month: npt.NDArray[np.int64],
    category: npt.NDArray[np.int64],
    quantity: npt.NDArray[np.float64],
) -> npt.NDArray[np.intp]:
    """Records sorted by (enterprise, month, category) as one integer key; by quantity too only when
    that key repeats (effective records should not), because a float tie-break costs ~100x more."""
    span = int(month.max() - month.min()) + 1
    key = (u * span + (month - month.min())) * (int(category.max()) + 1) + category
    order = np.argsort(key, kind="stable")
    if np.any(np.diff(key[order]) == 0):
        order = np.lexsort((quantity, key))
    return order


def _grid_factors(
    regions: pd.Series,
    u: npt.NDArray[np.int64],
    years: npt.NDArray[np.int64],
    lookup: Callable[[str, int], GridFactor],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], tuple[str, ...]]:
    """A catalog factor (``lookup``: grid or residual mix) of each record's (region, year): few
    distinct pairs, looked up once."""
    region_id, distinct_regions = pd.factorize(regions.to_numpy())
    pair = region_id[u].astype(np.int64) * 100_000 + years
    pair_id, distinct = pd.factorize(pair)
    found = [lookup(str(distinct_regions[p // 100_000]), int(p % 100_000)) for p in distinct]
    source_id, sources = pd.factorize(pd.Series([f.source or f"{f.region} {f.year}" for f in found]))
    factors = np.array([f.tco2_per_mwh for f in found], dtype=float)
    return factors[pair_id], source_id.astype(np.int64)[pair_id], tuple(str(s) for s in sources)


def _category_table(catalog: Catalog) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": [str(c.kind) for c in catalog.categories],
            "scope": [str(c.scope) for c in catalog.categories],
            "kgce": [c.kgce_per_unit or 0.0 for c in catalog.categories],
            "kgco2": [c.kgco2_per_unit or 0.0 for c in catalog.categories],
            "uses_grid": [c.uses_grid_factor for c in catalog.categories],
            "instrument": [c.instrument for c in catalog.categories],
        },
        index=pd.Index([c.code for c in catalog.categories], name="category"),
    )


def _contributions(context: _Context, records: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Per record (canonical order): its tce, tCO2 by scope, netting, grid kWh and economic values."""
    # factorized as stored (arrow-backed text codes itself), then put in the canonical order
    codes, distinct = pd.factorize(records["category"].astype(str))
    codes = codes[context.order]
    table = _category_table(catalog)
    unknown = sorted(set(distinct) - set(table.index))
    if unknown:
        raise ValueError(f"categories {unknown} are not in catalog {catalog.version}")
    cats = table.reindex(distinct)
    kind, scope = cats["kind"].to_numpy(), cats["scope"].to_numpy()  # per category, then per record
    kgce, kgco2 = cats["kgce"].to_numpy()[codes], cats["kgco2"].to_numpy()[codes]
    grid = cats["uses_grid"].to_numpy(dtype=bool)[codes]
    instrument = cats["instrument"].to_numpy(dtype=bool)[codes]
    names = (GREEN_POWER, ADDED_VALUE, REVENUE, GRID_ELECTRICITY, PV_SELF_CONSUMED, PV_EXPORT)
    is_code = {name: (np.asarray(distinct) == name)[codes] for name in names}
    q = pd.to_numeric(records["canonical_quantity"]).to_numpy(dtype=float)[context.order]
    energy = (kind == CategoryKind.ENERGY)[codes]
    # tCO2 of one record: kWh/1000 x tCO2/MWh for grid-factor categories, else kg x kgCO2/kg / 1000.
    tco2 = np.where(grid, q / 1000 * context.factor, q * kgco2 / 1000)
    netting = (scope == Scope.NETTING)[codes]
    green = netting & is_code[GREEN_POWER]
    scope2 = (scope == Scope.SCOPE_2)[codes]
    return pd.DataFrame(
        {
            "u": context.u,
            "month": context.month,
            "energy_tce": np.where(energy, q * kgce / 1000, 0.0),
            "scope1_tco2": np.where((scope == Scope.SCOPE_1)[codes], tco2, 0.0),
            "scope2_gross_tco2": np.where(scope2, tco2, 0.0),
            "pv_netting_tco2": np.where(netting & ~green, tco2, 0.0),
            "green_power_netting_tco2": np.where(green, tco2, 0.0),
            "grid_kwh": np.where(grid, q, 0.0),
            "grid_kwh_factor": np.where(grid, q * context.factor, 0.0),
            "grid_electricity_kwh": np.where(is_code[GRID_ELECTRICITY], q, 0.0),
            "pv_self_consumed_kwh": np.where(is_code[PV_SELF_CONSUMED], q, 0.0),
            "pv_export_kwh": np.where(is_code[PV_EXPORT], q, 0.0),
            "process_tco2": np.where((kind == CategoryKind.PROCESS)[codes], q * kgco2 / 1000, 0.0),
            "instrument_kwh": np.where(instrument, q, 0.0),
            "grid_kwh_residual": np.where(is_code[GRID_ELECTRICITY], q * context.residual, 0.0),
            "scope2_other_tco2": np.where(scope2 & ~grid, tco2, 0.0),
            "has_energy": energy.astype(np.int64),
            "factor": context.factor,
            "source": context.source,
            "added_value_10k_cny": np.where(is_code[ADDED_VALUE], q, np.nan),
            "revenue_10k_cny": np.where(is_code[REVENUE], q, np.nan),
        }
    )


def _monthly(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (enterprise, month); the factor and its source are constant within it."""
    grouped = frame.groupby(["u", "month"], sort=True)
    sums = grouped[_ADDITIVE].sum()
    sums["has_energy"] = grouped["has_energy"].max()  # a month counts once however many carriers
    sums["factor"] = grouped["factor"].first()
    sums["source"] = grouped["source"].first()
    sums[_MIN_COUNT_SUMS] = grouped[_MIN_COUNT_SUMS].sum(min_count=1)
    sums["factor_count"] = 1
    return sums.reset_index()


def _period_ids(month: pd.Series, granularity: str) -> pd.Series:
    """Integer id of each month's period: the month, quarter or year ordinal (rolling: the end month)."""
    divisor = {"month": 1, "quarter": 3, "year": 12, "rolling12": 1}[granularity]
    return month // divisor


def _period_text(pid: pd.Series, granularity: str) -> pd.Series:
    codes, distinct = pd.factorize(pid)
    months = pd.Series([ordinal_period(int(d) * (3 if granularity == "quarter" else 1)) for d in distinct])
    if granularity == "year":
        months = pd.Series([f"{int(d):04d}-01" for d in distinct])
    return pd.Series(period_of(months, granularity).to_numpy()[codes], index=pid.index)


def _aggregate(monthly: pd.DataFrame) -> pd.DataFrame:
    """Sum months into their period ``pid``: the factor is summed for a plain mean later, the first and
    last month's factor source are kept (a period spans at most two calendar years)."""
    grouped = monthly.groupby(["u", "pid"], sort=True)  # monthly is sorted by (u, month)
    out = grouped[[*_SUMS, "factor_count"]].sum()
    out[_MIN_COUNT_SUMS] = grouped[_MIN_COUNT_SUMS].sum(min_count=1)
    out["source_first"] = grouped["source"].first()
    out["source_last"] = grouped["source"].last()
    return out.reset_index()


def _rolling(monthly: pd.DataFrame) -> pd.DataFrame:
    """12-month windows ending at each month with a record. Months are laid on a dense calendar per
    enterprise, led by 11 empty months, and each window is the sum of its 12 months' rows gathered
    (12 array passes over the months with data, in the same order of additions as a window sum over
    the calendar, instead of a 12-fold expansion of the rows). Output: the columns of ``_aggregate``."""
    u, month = monthly["u"].to_numpy(), monthly["month"].to_numpy()
    by_u = monthly.groupby("u")["month"]
    first, length = by_u.min().to_numpy(), (by_u.max() - by_u.min()).to_numpy() + 1 + _LEAD
    start = np.concatenate([[0], np.cumsum(length)])
    at = start[u] + _LEAD + month - first[u]  # u codes are 0..n-1: every enterprise has months
    sums = [*_SUMS, "factor_count"]
    values = monthly[_MIN_COUNT_SUMS].to_numpy(dtype=float)
    # one row of figures per month with data, then a row of zeros for every empty calendar month
    figures = np.vstack(
        [
            np.hstack([monthly[sums].to_numpy(dtype=float), np.nan_to_num(values), ~np.isnan(values)]),
            np.zeros((1, len(sums) + 2 * len(_MIN_COUNT_SUMS))),
        ]
    )
    row_of = np.full(int(start[-1]), len(at), dtype=np.int64)  # calendar position -> figures' row
    row_of[at] = np.arange(len(at))
    sources = np.append(monthly["source"].to_numpy().astype(np.int64), -1)
    end = np.zeros((len(at), figures.shape[1]))
    source_first = sources[:-1].copy()
    for lag in range(_LEAD + 1):  # ascending lag: the earliest month with data ends up in source_first
        rows = row_of[at - lag]
        end += figures[rows]
        earlier = sources[rows]
        source_first = np.where(earlier >= 0, earlier, source_first)
    out = pd.DataFrame(end[:, : len(sums)], columns=sums).assign(u=u, pid=month)
    n = len(_MIN_COUNT_SUMS)
    economic, seen = end[:, len(sums) : len(sums) + n], end[:, len(sums) + n :]
    out[_MIN_COUNT_SUMS] = np.where(seen > 0, economic, np.nan)
    out["source_first"], out["source_last"] = source_first, sources[:-1]
    return out


def _fill_annual_added_value(periods: pd.DataFrame, annual: pd.DataFrame, usccs: pd.Index) -> pd.DataFrame:
    """Year periods without added-value records take the annual figure (statistics returns)."""
    table = pd.DataFrame(
        {
            "u": usccs.get_indexer(annual["uscc"].astype(str)),
            "pid": annual["year"].astype("int64").to_numpy(),
            "value": annual["industrial_added_value_10k_cny"].astype(float).to_numpy(),
        }
    )
    table = table[table["u"] >= 0].drop_duplicates(["u", "pid"], keep="last").set_index(["u", "pid"])
    fallback = table["value"].reindex(pd.MultiIndex.from_frame(periods[["u", "pid"]])).to_numpy()
    periods["added_value_10k_cny"] = periods["added_value_10k_cny"].fillna(pd.Series(fallback))
    return periods


def _last_years(out: pd.DataFrame, granularity: str) -> npt.NDArray[np.int64]:
    pid = out["pid"].to_numpy(dtype=np.int64)
    last_month = {"month": pid, "rolling12": pid, "quarter": pid * 3 + 2, "year": pid * 12 + 11}[granularity]
    return np.asarray(last_month // 12, dtype=np.int64)


def _last_month_factors(
    out: pd.DataFrame, context: _Context, granularity: str, lookup: Callable[[str, int], GridFactor]
) -> tuple[npt.NDArray[np.intp], list[GridFactor]]:
    """The factor (``lookup``) of each period's last month, looked up once per (region, year): the
    distinct factors and each period's position among them (callers read a field per distinct
    factor and spread it, rather than a Python object per period)."""
    regions_of = context.regions.to_numpy()[out["u"].to_numpy()]
    region_codes, regions = pd.factorize(regions_of, use_na_sentinel=False)
    years = _last_years(out, granularity)
    low = int(years.min()) if len(years) else 0
    span = int(years.max()) - low + 1 if len(years) else 1
    codes, distinct = pd.factorize(region_codes.astype(np.int64) * span + (years - low))
    found = [lookup(str(regions[k // span]), int(k % span + low)) for k in distinct]
    return codes, found


def _factor_years(
    out: pd.DataFrame, context: _Context, granularity: str, catalog: Catalog
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Year of the grid factor used for each period's last month and whether it fell back to an
    earlier year (e.g. 2024 accounted with Zhejiang's 2022 factor)."""
    codes, found = _last_month_factors(out, context, granularity, catalog.grid_factor)
    factor_year = np.asarray([f.year for f in found], dtype=np.int64)[codes]
    return factor_year, factor_year < _last_years(out, granularity)


def _market_based(out: pd.DataFrame, context: _Context, granularity: str, catalog: Catalog) -> None:
    """Market-based scope 2: grid purchases covered by instruments (green power, GEC) carry zero, the
    rest the residual mix (kWh-weighted over the period's months), steam and heat as location-based.
    Instruments are capped at the period's grid purchases: surplus certificates never go negative."""
    grid = out["grid_electricity_kwh"]
    out["instrument_covered_kwh"] = np.minimum(out["instrument_kwh"], grid)
    uncovered_share = ((grid - out["instrument_covered_kwh"]) / grid.where(grid > 0)).fillna(0.0)
    out["scope2_market_tco2"] = out["grid_kwh_residual"] / 1000 * uncovered_share + out["scope2_other_tco2"]
    codes, factors = _last_month_factors(out, context, granularity, catalog.residual_mix_factor)
    weighted = out["grid_kwh_residual"] / grid.where(grid > 0)
    rates = np.asarray([f.tco2_per_mwh for f in factors], dtype=np.float64)[codes]
    out["residual_mix_factor"] = weighted.fillna(pd.Series(rates, index=out.index))
    sources = pd.array([f.source or f"{f.region} {f.year}" for f in factors] + [""], dtype="str")
    out["residual_mix_source"] = sources.take(np.asarray(codes))  # -1 (no factor): the last, ""


def _net(out: pd.DataFrame, basis: EmissionsBasis) -> pd.Series:
    """The emissions L divides: the grading file's scope 2 method, with or without process CO2."""
    scope1 = out["scope1_tco2"] if basis.include_process else out["scope1_tco2"] - out["process_tco2"]
    if basis.scope2_method == MARKET_BASED:  # instruments are already zero-rated: nothing to net
        return scope1 + out["scope2_market_tco2"]
    return scope1 + out["scope2_gross_tco2"] - out["netting_tco2"]


def _finish(
    periods: pd.DataFrame, context: _Context, granularity: str, catalog: Catalog, basis: EmissionsBasis
) -> pd.DataFrame:
    out = periods
    gross_netting = out["pv_netting_tco2"] + out["green_power_netting_tco2"]
    out["netting_tco2"] = np.minimum(gross_netting, out["scope2_gross_tco2"])  # scope 2 never < 0
    out["gross_tco2"] = out["scope1_tco2"] + out["scope2_gross_tco2"]
    out["scope2_location_tco2"] = out["scope2_gross_tco2"]
    _market_based(out, context, granularity, catalog)
    out["net_tco2"] = _net(out, basis)
    added_value = out["added_value_10k_cny"].where(out["added_value_10k_cny"] > 0)
    out["energy_intensity"] = out["energy_tce"] / added_value
    out["carbon_intensity"] = out["net_tco2"] / added_value
    out["neutrality_rate"] = out["netting_tco2"] / out["gross_tco2"].where(out["gross_tco2"] > 0)
    # kWh-weighted factor over the grid-factor categories; the plain mean of the months without any.
    weighted = out["grid_kwh_factor"] / out["grid_kwh"].where(out["grid_kwh"] > 0)
    out["grid_factor"] = weighted.fillna(out["factor"] / out["factor_count"])
    sources = np.array(context.sources, dtype=object)
    first, last = sources[out["source_first"].to_numpy()], sources[out["source_last"].to_numpy()]
    out["grid_factor_source"] = np.where(first == last, first, first + "; " + last)
    out["grid_factor_year"], out["grid_factor_fallback"] = _factor_years(out, context, granularity, catalog)
    out["months_covered"] = out["has_energy"].astype("int64")
    out["months_expected"] = MONTHS_EXPECTED[granularity]
    out["pv_generation_kwh"] = out["pv_self_consumed_kwh"] + out["pv_export_kwh"]
    out["electricity_consumption_kwh"] = out["grid_electricity_kwh"] + out["pv_self_consumed_kwh"]
    u = out["u"].to_numpy()
    out["uscc"] = context.usccs.to_numpy()[u]
    out["period"] = _period_text(out["pid"], granularity)
    out["industry_code"] = context.industries.to_numpy()[u]
    out["region_code"] = context.regions.replace("", None).to_numpy()[u]
    return out.loc[:, list(ACCOUNT_COLUMNS)].reset_index(drop=True)
