"""Trend of monthly carbon intensity: a seasonally adjusted robust slope (pure: numpy/pandas).

Method (docs/data-quality.md, "Trend"):

* Window: the last ``max_months`` calendar months ending at ``end_period`` (default: the last month
  with a value). Non-finite and negative values are missing. Fewer than ``min_months`` values ->
  INSUFFICIENT_DATA with a reason.
* Slope: Theil-Sen, the median of the pairwise slopes (y_j - y_i) / (t_j - t_i) over observed
  months; gaps are handled by the real month distance. Closed form in numpy, all enterprises at once,
  because scikit-learn's TheilSenRegressor costs milliseconds per series (minutes for 50,000). Its
  1-D estimate differs slightly (it takes the spatial median of (intercept, slope) pairs); the tests
  check both agree within noise and that ours equals the textbook estimator exactly.
* Seasonality: with >= ``seasonal_min_months`` values (two full cycles) the month-of-year effect is
  the median residual of each calendar month around a first robust fit (months seen at least twice;
  effects centred to sum to zero), subtracted before refitting; two rounds of this backfitting (as in
  STL's inner loop). Detrending first keeps the trend out of the seasonal effects; medians keep one
  odd month out of them. With fewer values season and
  trend cannot be told apart and the raw series is used (``seasonally_adjusted`` False).
* Direction: relative change per year = slope per year / mean level of the window; beyond
  +/- ``stable_band`` it is WORSENING / IMPROVING (intensity falling = improving), else STABLE.
* Confidence: from Sen's rank confidence interval for the slope. S(c) = #(pairwise slopes > c) -
  #(< c) with var(S) = n(n-1)(2n+5)/18 gives P(slope < c) ~ Phi(-S(c)/sd); confidence is the mass of
  that distribution in the called class: above +band, below -band, or between them. Serial correlation
  is ignored, so it is optimistic for strongly autocorrelated series; it is a ranking, not a p-value.
* Projection: the fitted (deseasonalised) level 12 months after the last observed month, floored at 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
import pandas as pd

_CHUNK_CELLS = 4_000_000  # pairwise-slope cells per chunk (32 MB of float64)
_BACKFIT_ROUNDS = 2  # season <-> trend refits; a third changes the slope by < 1 % in simulations
TREND_COLUMNS = (
    "direction",
    "slope_per_year",
    "relative_change_per_year",
    "confidence",
    "n_months",
    "projected_value_next_year",
    "mean_level",
    "seasonally_adjusted",
    "first_period",
    "last_period",
    "reason",
)


class TrendDirection(StrEnum):
    IMPROVING = "IMPROVING"
    STABLE = "STABLE"
    WORSENING = "WORSENING"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class Trend:
    """Numbers are None when the direction is INSUFFICIENT_DATA."""

    direction: TrendDirection
    slope_per_year: float | None  # units of the series per year (tCO2/万元 per year for L)
    relative_change_per_year: float | None  # slope per year / mean level; -0.05 = falling 5 %/yr
    confidence: float | None  # 0..1, see the module docstring
    n_months: int  # months with a value in the window
    projected_value_next_year: float | None  # fitted level 12 months after the last month
    mean_level: float | None
    seasonally_adjusted: bool
    first_period: str  # first and last month with a value in the window, "" if none
    last_period: str
    reason: str = ""  # why INSUFFICIENT_DATA


@dataclass(frozen=True)
class _Params:
    min_months: int
    max_months: int
    stable_band: float
    seasonal_min_months: int

    def check(self) -> None:
        if not 3 <= self.min_months <= self.max_months:
            raise ValueError("need 3 <= min_months <= max_months")
        if not (self.stable_band >= 0 and math.isfinite(self.stable_band)):
            raise ValueError("stable_band must be a finite number >= 0")
        if self.seasonal_min_months < 24:
            raise ValueError("seasonal_min_months must be >= 24 (two cycles)")


def compute_trend(
    series: pd.Series,
    *,
    min_months: int = 12,
    max_months: int = 36,
    stable_band: float = 0.03,
    seasonal_min_months: int = 24,
    end_period: str | None = None,
) -> Trend:
    """Trend of one monthly series indexed by "YYYY-MM" periods (see the module docstring)."""
    frame = pd.DataFrame({"key": "_", "period": series.index.astype(str), "value": series.to_numpy()})
    row = trend_frame(
        frame,
        key="key",
        value="value",
        min_months=min_months,
        max_months=max_months,
        stable_band=stable_band,
        seasonal_min_months=seasonal_min_months,
        end_period=end_period,
    )
    if row.empty:
        return _insufficient(0, "no months with a value")
    return _trend_of(row.iloc[0])


def trend_frame(
    df: pd.DataFrame,
    *,
    key: str = "uscc",
    period: str = "period",
    value: str = "carbon_intensity",
    min_months: int = 12,
    max_months: int = 36,
    stable_band: float = 0.03,
    seasonal_min_months: int = 24,
    end_period: str | None = None,
) -> pd.DataFrame:
    """Trends of many series at once: ``df`` has one row per (key, period) with a value.

    Returns one row per key (index named ``key``, sorted) with TREND_COLUMNS; numbers are NaN and
    ``reason`` says why when the direction is INSUFFICIENT_DATA. A repeated (key, period) raises
    ValueError. ``end_period`` ("YYYY-MM") ends every window there (data after it is ignored).
    """
    params = _Params(min_months, max_months, stable_band, seasonal_min_months)
    params.check()
    data = _prepared(df, key, period, value)
    if data.duplicated(["key", "ordinal"]).any():
        raise ValueError(f"repeated ({key}, {period}) rows")
    keys = pd.Index(sorted(data["key"].unique()), name=key)
    end = _end_ordinals(data, keys, end_period).to_numpy()
    code = keys.get_indexer(data["key"])
    ordinal = data["ordinal"].to_numpy()
    keep = data["value"].notna().to_numpy() & (ordinal > end[code] - max_months) & (ordinal <= end[code])
    data = data[keep].assign(code=code[keep]).sort_values("code", kind="stable")
    size = _chunk_size(max_months)
    bounds = np.searchsorted(data["code"].to_numpy(), np.arange(0, len(keys) + size, size))
    parts = [
        _fit_chunk(data.iloc[bounds[i] : bounds[i + 1]], keys[lo : lo + size], end[lo : lo + size], params)
        for i, lo in enumerate(range(0, len(keys), size))
    ]
    out = pd.concat(parts) if parts else pd.DataFrame(columns=list(TREND_COLUMNS))
    out.index.name = key
    return out


def period_ordinal(period: str) -> int:
    """Months since year 0 of a "YYYY-MM" period (ValueError when malformed)."""
    if (
        len(period) != 7
        or period[4] != "-"
        or not (period.isascii() and period[:4].isdigit() and period[5:].isdigit())
    ):
        raise ValueError(f"period {period!r} must be YYYY-MM")
    month = int(period[5:])
    if not 1 <= month <= 12:
        raise ValueError(f"period {period!r}: month must be 01 to 12")
    return int(period[:4]) * 12 + month - 1


def ordinal_period(ordinal: int) -> str:
    return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}"


def _prepared(df: pd.DataFrame, key: str, period: str, value: str) -> pd.DataFrame:
    missing = [c for c in (key, period, value) if c not in df.columns]
    if missing:
        raise ValueError(f"trend frame lacks columns {missing}")
    periods = df[period].astype(str)
    distinct = pd.unique(periods)
    lookup = pd.Series([period_ordinal(p) for p in distinct], index=distinct, dtype=np.int64)
    values = pd.to_numeric(df[value], errors="coerce").to_numpy(dtype=np.float64)
    values = np.where(np.isfinite(values) & (values >= 0), values, np.nan)
    return pd.DataFrame(
        {
            "key": df[key].to_numpy(),
            "ordinal": lookup.reindex(periods).to_numpy(dtype=np.int64),
            "value": values,
        }
    )


def _end_ordinals(data: pd.DataFrame, keys: pd.Index, end_period: str | None) -> pd.Series:
    if end_period is not None:
        return pd.Series(period_ordinal(end_period), index=keys, dtype=np.int64)
    observed = data[data["value"].notna()].groupby("key")["ordinal"].max()
    fallback = data.groupby("key")["ordinal"].max()  # keys without any value: their last row
    return observed.reindex(keys).fillna(fallback.reindex(keys)).astype(np.int64)


def _chunk_size(max_months: int) -> int:
    """Keys per chunk, so the pairwise-slope matrix stays around _CHUNK_CELLS cells."""
    return max(_CHUNK_CELLS // max(max_months * (max_months - 1) // 2, 1), 1)


def _fit_chunk(data: pd.DataFrame, keys: pd.Index, end: np.ndarray, p: _Params) -> pd.DataFrame:
    """Fit every key of the chunk at once on a dense (keys x months) matrix, NaN = no value."""
    row = keys.get_indexer(data["key"])
    back = end[row] - data["ordinal"].to_numpy()  # months before the window's end, 0..max_months-1
    width = int(back.max()) + 1 if len(back) else 1  # columns no key of the chunk uses are dropped
    col = width - 1 - back
    y = np.full((len(keys), width), np.nan)
    y[row, col] = data["value"].to_numpy()
    n = np.sum(~np.isnan(y), axis=1)
    fit = n >= p.min_months
    result = _empty_result(keys, n, y, end, p)
    if fit.any():
        _fill_fits(result, y[fit], end[fit], fit, p)
    return result


def _empty_result(keys: pd.Index, n: np.ndarray, y: np.ndarray, end: np.ndarray, p: _Params) -> pd.DataFrame:
    observed = ~np.isnan(y)
    first = np.where(n > 0, np.argmax(observed, axis=1), -1)
    width = y.shape[1]
    last = np.where(n > 0, width - 1 - np.argmax(observed[:, ::-1], axis=1), -1)
    base = end - width + 1
    out = pd.DataFrame(index=keys)
    out["direction"] = TrendDirection.INSUFFICIENT_DATA.value
    for column in ("slope_per_year", "relative_change_per_year", "confidence", "projected_value_next_year"):
        out[column] = np.nan
    out["mean_level"] = np.nan
    out["n_months"] = n.astype(np.int64)
    out["seasonally_adjusted"] = False
    out["first_period"] = _periods(base + first, first >= 0)
    out["last_period"] = _periods(base + last, last >= 0)
    out["reason"] = [
        _insufficient_reason(int(k), p, ordinal_period(int(e))) if k < p.min_months else ""
        for k, e in zip(n, end, strict=True)
    ]
    return out[list(TREND_COLUMNS)]


def _periods(ordinals: np.ndarray, present: np.ndarray) -> list[str]:
    return [ordinal_period(int(o)) if ok else "" for o, ok in zip(ordinals, present, strict=True)]


def _insufficient_reason(n: int, p: _Params, end: str) -> str:
    return (
        f"{n} month(s) with a value in the {p.max_months} months to {end}; at least {p.min_months} are needed"
    )


def _fill_fits(out: pd.DataFrame, y: np.ndarray, end: np.ndarray, rows: np.ndarray, p: _Params) -> None:
    width = y.shape[1]
    t = np.arange(width, dtype=np.float64)
    n = np.sum(~np.isnan(y), axis=1)
    slope, intercept = _theil_sen(y, t)
    seasonal = n >= p.seasonal_min_months
    adjusted = y.copy()
    for _ in range(_BACKFIT_ROUNDS if seasonal.any() else 0):
        adjusted[seasonal] = _deseasonalised(y[seasonal], slope[seasonal], intercept[seasonal], end[seasonal])
        slope[seasonal], intercept[seasonal] = _theil_sen(adjusted[seasonal], t)
    mean = np.nanmean(y, axis=1)
    per_year = slope * 12
    relative = np.divide(per_year, mean, out=np.zeros_like(mean), where=mean > 0)
    direction = np.where(
        relative < -p.stable_band,
        TrendDirection.IMPROVING.value,
        np.where(relative > p.stable_band, TrendDirection.WORSENING.value, TrendDirection.STABLE.value),
    )
    last = width - 1 - np.argmax(~np.isnan(y[:, ::-1]), axis=1)
    projected = np.maximum(intercept + slope * (last + 12), 0.0)
    confidence = _confidence(adjusted, t, p.stable_band * mean / 12, direction)
    idx = out.index[rows]
    out.loc[idx, "direction"] = direction
    out.loc[idx, "slope_per_year"] = per_year
    out.loc[idx, "relative_change_per_year"] = relative
    out.loc[idx, "confidence"] = confidence
    out.loc[idx, "projected_value_next_year"] = projected
    out.loc[idx, "mean_level"] = mean
    out.loc[idx, "seasonally_adjusted"] = seasonal


def _pairwise_slopes(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(y.shape[1], k=1)
    slopes: np.ndarray = (y[:, j] - y[:, i]) / (t[j] - t[i])
    return slopes


def _theil_sen(y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: median pairwise slope, and the median of y - slope * t as intercept (Sen 1968)."""
    slope = _nanmedian(_pairwise_slopes(y, t))
    intercept = _nanmedian(y - slope[:, None] * t)
    return slope, intercept


def _deseasonalised(y: np.ndarray, slope: np.ndarray, intercept: np.ndarray, end: np.ndarray) -> np.ndarray:
    """y minus the month-of-year effect: median residual per calendar month seen twice or more,
    centred over the months estimated."""
    width = y.shape[1]
    t = np.arange(width)
    residual = y - (intercept[:, None] + slope[:, None] * t)
    month = (end[:, None] - (width - 1) + t) % 12
    effect = np.zeros((len(y), 12))
    estimated = np.zeros((len(y), 12), dtype=bool)
    for m in range(12):
        cells = (month == m) & ~np.isnan(y)
        enough = cells.sum(axis=1) >= 2
        effect[enough, m] = _nanmedian(np.where(cells, residual, np.nan)[enough])
        estimated[:, m] = enough
    centre = np.divide(
        np.where(estimated, effect, 0.0).sum(axis=1),
        estimated.sum(axis=1),
        out=np.zeros(len(y)),
        where=estimated.any(axis=1),
    )
    effect = np.where(estimated, effect - centre[:, None], 0.0)
    adjusted: np.ndarray = y - np.take_along_axis(effect, month, axis=1)
    return adjusted


def _confidence(y: np.ndarray, t: np.ndarray, band: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Mass of Sen's slope confidence distribution in the called class (module docstring)."""
    slopes = _pairwise_slopes(y, t)
    n = np.sum(~np.isnan(y), axis=1).astype(np.float64)
    sd = np.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    band = np.maximum(band, 1e-12)  # a zero level: any non-zero slope is a change

    def below(c: np.ndarray) -> np.ndarray:
        s = np.nansum(np.sign(slopes - c[:, None]), axis=1)
        return _normal_cdf(-s / sd)

    low, high = below(-band), below(band)
    confidence = np.where(
        direction == TrendDirection.IMPROVING.value,
        low,
        np.where(direction == TrendDirection.WORSENING.value, 1 - high, high - low),
    )
    return np.clip(confidence, 0.0, 1.0)


_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return np.asarray(_ERFC(-x / math.sqrt(2)), dtype=np.float64) / 2


def _nanmedian(a: np.ndarray) -> np.ndarray:
    """Row medians ignoring NaN (NaN for empty rows). np.nanmedian loops over rows in Python when
    rows contain NaN; a row sort (NaN last) and two gathers do it in one pass."""
    ordered = np.sort(a, axis=1)
    k = np.sum(~np.isnan(a), axis=1)
    lo = np.take_along_axis(ordered, np.maximum((k - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(ordered, np.maximum(k // 2, 0)[:, None], axis=1)[:, 0]
    median: np.ndarray = np.where(k > 0, (lo + hi) / 2, np.nan)
    return median


def _insufficient(n: int, reason: str) -> Trend:
    return Trend(TrendDirection.INSUFFICIENT_DATA, None, None, None, n, None, None, False, "", "", reason)


def _trend_of(row: pd.Series) -> Trend:
    def number(name: str) -> float | None:
        value = float(row[name])
        return value if math.isfinite(value) else None

    direction = TrendDirection(str(row["direction"]))
    if direction is TrendDirection.INSUFFICIENT_DATA:
        return replace(
            _insufficient(int(row["n_months"]), str(row["reason"])),
            first_period=str(row["first_period"]),
            last_period=str(row["last_period"]),
        )
    return Trend(
        direction=direction,
        slope_per_year=number("slope_per_year"),
        relative_change_per_year=number("relative_change_per_year"),
        confidence=number("confidence"),
        n_months=int(row["n_months"]),
        projected_value_next_year=number("projected_value_next_year"),
        mean_level=number("mean_level"),
        seasonally_adjusted=bool(row["seasonally_adjusted"]),
        first_period=str(row["first_period"]),
        last_period=str(row["last_period"]),
    )
