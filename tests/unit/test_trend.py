"""Trend: recovers known slopes through seasonality, calls directions, agrees with reference estimators."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy.stats import theilslopes
from sklearn.linear_model import TheilSenRegressor

from registry_service.domain.trend import (
    TREND_COLUMNS,
    TrendDirection,
    compute_trend,
    ordinal_period,
    period_ordinal,
    trend_frame,
)

START = period_ordinal("2022-01")


def monthly(values: np.ndarray | list[float], start: str = "2022-01") -> pd.Series:
    first = period_ordinal(start)
    return pd.Series(values, index=[ordinal_period(first + i) for i in range(len(values))], dtype=float)


def seasonal_series(
    n: int,
    slope_per_month: float,
    *,
    amplitude: float = 0.3,
    noise: float = 0.03,
    seed: int = 0,
    level: float = 2.0,
) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    season = amplitude * np.sin(2 * np.pi * (t + 2) / 12)  # winter peak, as heating plants show
    return monthly(level + slope_per_month * t + season + rng.normal(0, noise, n))


@pytest.mark.parametrize("seed", range(5))
def test_recovers_a_known_slope_through_seasonality(seed: int) -> None:
    trend = compute_trend(seasonal_series(36, -0.01, seed=seed))  # -0.12 per year on a level of ~1.8
    assert trend.direction is TrendDirection.IMPROVING
    assert trend.seasonally_adjusted and trend.n_months == 36
    assert trend.slope_per_year == pytest.approx(-0.12, abs=0.03)
    assert trend.confidence is not None and trend.confidence > 0.9
    assert trend.relative_change_per_year is not None and trend.relative_change_per_year < -0.03


def test_worsening_over_two_cycles() -> None:
    trend = compute_trend(seasonal_series(24, 0.01, seed=7))
    assert trend.direction is TrendDirection.WORSENING and trend.seasonally_adjusted
    assert trend.slope_per_year == pytest.approx(0.12, abs=0.04)


def test_seasonal_adjustment_matters() -> None:
    """Two years that start in a winter peak look like a decline without the adjustment."""
    series = seasonal_series(24, 0.0, amplitude=0.5, noise=0.01, seed=3)
    assert compute_trend(series).direction is TrendDirection.STABLE
    assert compute_trend(series, seasonal_min_months=25).direction is not TrendDirection.STABLE


@pytest.mark.parametrize("seed", range(5))
def test_flat_noisy_series_is_stable(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    trend = compute_trend(monthly(2.0 + rng.normal(0, 0.1, 30)))
    assert trend.direction is TrendDirection.STABLE
    assert trend.relative_change_per_year is not None and abs(trend.relative_change_per_year) <= 0.03


def test_constant_series_is_stable_with_full_confidence() -> None:
    trend = compute_trend(monthly([1.5] * 12))
    assert (trend.direction, trend.slope_per_year) == (TrendDirection.STABLE, 0.0)
    assert trend.confidence == pytest.approx(1.0, abs=1e-4)
    assert trend.projected_value_next_year == pytest.approx(1.5)


def test_insufficient_data_has_a_reason_and_no_numbers() -> None:
    trend = compute_trend(monthly([1.0] * 11))
    assert trend.direction is TrendDirection.INSUFFICIENT_DATA
    assert trend.slope_per_year is None and trend.confidence is None
    assert "11 month(s)" in trend.reason and "at least 12" in trend.reason
    assert trend.n_months == 11 and (trend.first_period, trend.last_period) == ("2022-01", "2022-11")
    assert compute_trend(pd.Series(dtype=float)).direction is TrendDirection.INSUFFICIENT_DATA


def test_missing_negative_and_non_finite_values_do_not_count() -> None:
    values = [1.0 + 0.01 * i for i in range(14)]
    values[3], values[5], values[8] = np.nan, -1.0, np.inf
    trend = compute_trend(monthly(values))
    assert trend.n_months == 11 and trend.direction is TrendDirection.INSUFFICIENT_DATA


def test_gaps_use_the_real_month_distance() -> None:
    series = monthly([1.0 + 0.02 * i for i in range(20)]).drop(["2022-04", "2022-09", "2023-02"])
    trend = compute_trend(series)
    assert trend.n_months == 17
    assert trend.slope_per_year == pytest.approx(0.24)
    assert trend.projected_value_next_year == pytest.approx(1.0 + 0.02 * 31)


def test_window_is_the_last_max_months() -> None:
    values = [5.0 - 0.1 * i for i in range(24)] + [2.6 + 0.01 * i for i in range(12)]
    trend = compute_trend(monthly(values), max_months=12)
    assert trend.first_period == "2024-01" and trend.n_months == 12
    assert trend.direction is TrendDirection.WORSENING
    early = compute_trend(monthly(values), max_months=12, end_period="2023-12")
    assert early.direction is TrendDirection.IMPROVING and early.last_period == "2023-12"


def test_projection_is_floored_at_zero() -> None:
    trend = compute_trend(monthly([1.2 - 0.1 * i for i in range(12)]))
    assert trend.projected_value_next_year == 0.0


@pytest.mark.parametrize("seed", range(8))
def test_matches_the_textbook_theil_sen_and_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(12, 24))
    t = np.arange(n, dtype=float)
    y = 2.0 + 0.02 * t + rng.normal(0, 0.05, n)
    ours = compute_trend(monthly(y)).slope_per_year
    assert ours is not None
    assert ours / 12 == pytest.approx(theilslopes(y, t).slope, rel=1e-12)  # median of pairwise slopes
    sk = TheilSenRegressor(random_state=0).fit(t.reshape(-1, 1), y).coef_[0]
    assert abs(ours / 12 - sk) < 0.006  # sklearn: spatial median of (intercept, slope); same within noise


def test_frame_matches_the_single_series_function() -> None:
    rng = np.random.default_rng(1)
    frames, expected = [], {}
    for i, n in enumerate([36, 30, 24, 13, 12, 5]):
        series = seasonal_series(n, float(rng.normal(0, 0.01)), seed=i)
        frame = {"uscc": f"E{i}", "period": series.index, "carbon_intensity": series.to_numpy()}
        frames.append(pd.DataFrame(frame))
        expected[f"E{i}"] = compute_trend(series)
    out = trend_frame(pd.concat(frames).sample(frac=1.0, random_state=0))
    assert list(out.columns) == list(TREND_COLUMNS) and list(out.index) == sorted(expected)
    for key, trend in expected.items():
        row = out.loc[key]
        assert row["direction"] == trend.direction.value and row["n_months"] == trend.n_months
        assert row["reason"] == trend.reason
        if trend.slope_per_year is not None:
            assert row["slope_per_year"] == pytest.approx(trend.slope_per_year)
            assert row["confidence"] == pytest.approx(trend.confidence)
        else:
            assert np.isnan(row["slope_per_year"])


def test_frame_rejects_repeated_months_and_bad_periods() -> None:
    df = pd.DataFrame({"uscc": ["A", "A"], "period": ["2024-01", "2024-01"], "carbon_intensity": [1.0, 2.0]})
    with pytest.raises(ValueError, match="repeated"):
        trend_frame(df)
    with pytest.raises(ValueError, match="YYYY-MM"):
        trend_frame(df.assign(period=["2024-1", "2024-02"]))
    with pytest.raises(ValueError, match="min_months"):
        compute_trend(monthly([1.0] * 12), min_months=40)


def test_many_enterprises_take_seconds() -> None:
    n, rng = 5000, np.random.default_rng(0)
    periods = [ordinal_period(START + i) for i in range(12)]
    df = pd.DataFrame(
        {
            "uscc": np.repeat([f"U{i:06d}" for i in range(n)], 12),
            "period": np.tile(periods, n),
            "carbon_intensity": rng.lognormal(0, 0.3, n * 12),
        }
    )
    started = time.perf_counter()
    out = trend_frame(df)
    assert len(out) == n and time.perf_counter() - started < 5
