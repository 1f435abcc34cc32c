"""Savings that are real (docs/data-quality.md): a retrofit measured against its baseline year with
the baseline year's grid factor frozen and added value at constant prices. Hand-worked vectors."""

from __future__ import annotations

import datetime as dt

import pytest

from registry_service.domain.commitments import (
    Commitment,
    MeasurementBasis,
    Milestone,
    ProjectType,
    YearlyActual,
    commitment_progress,
)
from registry_service.domain.deflators import DeflatorError, load_deflator, packaged_deflator

# A test table: 2023 prices 5 % above 2022 (index 2022 = 100, 2023 = 105).
PLUS_5 = load_deflator(
    text="""
deflator_id: test
base_year: 2022
years:
  2022: {change_pct: 0.0, source: test}
  2023: {change_pct: 5.0, source: test, unconfirmed: true}
"""
)
COMMITMENT = Commitment(
    id="c1",
    uscc="91330500MA2B3C4D5E",
    project_type=ProjectType.MOTORS,
    title="High-efficiency motors",
    baseline_year=2022,
    target_savings_tce_per_year=800.0,
    target_savings_tco2_per_year=2_000.0,
    capex_fen=1_200_000_000,
    start_date=dt.date(2023, 1, 1),
    milestones=(Milestone("full savings", dt.date(2023, 12, 31), 1.0),),
    verifier="CQC",
)
# Baseline 2022: 10,000 MWh grid at 0.5153 (5,153 t) + 4,847 t fuel = 10,000 t; 4,000 tce; 5,000 万元.
BASE = YearlyActual(10_000.0, 4_000.0, 5_000.0, 12, grid_mwh=10_000.0, grid_factor=0.5153)
# 2023: 9,000 MWh at a grid factor fallen to 0.4800 (4,320 t) + 4,847 t = 9,167 t; 3,800 tce; nominal
# added value 5,250 万元 (5 % of it is prices).
YEAR = YearlyActual(9_167.0, 3_800.0, 5_250.0, 12, grid_mwh=9_000.0, grid_factor=0.4800)
AS_OF = dt.date(2024, 3, 1)


def test_retrofit_with_frozen_factors_and_constant_prices() -> None:
    """Frozen: 9,167 + 9,000 x (0.5153 - 0.4800) = 9,167 + 317.7 = 9,484.7 t at 2022's factor.
    Nominal absolute 10,000 - 9,167 = 833 t, of which 317.7 t is the grid: frozen absolute 515.3 t.
    Constant prices: 5,250 x 100 / 105 = 5,000 万元, so the intensity basis is 10,000 x 5,000 / 5,000 -
    9,484.7 = 515.3 t (the old nominal figure was 10,000 x 5,250 / 5,000 - 9,167 = 1,333 t).
    tce: 4,000 x 1 - 3,800 = 200. Ratio 515.3 / 2,000 = 0.25765. Intensity improvement
    1 - (9,484.7 / 5,000) / (10,000 / 5,000) = 1 - 1.89694 / 2 = 0.05153."""
    p = commitment_progress(COMMITMENT, {2022: BASE, 2023: YEAR}, as_of=AS_OF, deflator=PLUS_5)
    assert p.basis is MeasurementBasis.INTENSITY and p.measured_year == 2023
    assert p.achieved_tco2_per_year == pytest.approx(515.3)
    assert p.intensity_based_tco2_per_year == pytest.approx(515.3)
    assert p.absolute_tco2_per_year == pytest.approx(515.3)
    assert p.achieved_tce_per_year == pytest.approx(200.0)
    assert p.achieved_ratio == pytest.approx(0.25765)
    s = p.savings
    assert s is not None
    assert (s.nominal_absolute_tco2, s.frozen_absolute_tco2, s.grid_factor_effect_tco2) == pytest.approx(
        (833.0, 515.3, 317.7)
    )
    assert (s.added_value_nominal, s.added_value_constant) == pytest.approx((5_250.0, 5_000.0))
    assert s.intensity_improvement == pytest.approx(0.05153)
    assert "2023: test (unconfirmed)" in s.deflator_source


def test_without_a_deflator_year_the_intensity_basis_is_not_used() -> None:
    """2023 has no index in a 2022-only table: nominal added value would credit inflation, so the
    measurement falls back to the frozen absolute figure 515.3 t."""
    only_2022 = load_deflator(
        text="deflator_id: t\nbase_year: 2022\nyears: {2022: {change_pct: 0, source: s}}"
    )
    p = commitment_progress(COMMITMENT, {2022: BASE, 2023: YEAR}, as_of=AS_OF, deflator=only_2022)
    assert p.basis is MeasurementBasis.ABSOLUTE and p.achieved_tco2_per_year == pytest.approx(515.3)
    assert p.savings is not None and p.savings.added_value_constant is None


def test_without_electricity_figures_the_year_is_taken_as_reported() -> None:
    """No grid figures: 9,167 t as reported. Flat nominal added value 5,000 is 5,000 / 1.05 = 4,761.905
    at 2022 prices (real output fell): 10,000 x 4,761.905 / 5,000 - 9,167 = 9,523.81 - 9,167 = 356.81 t."""
    plain = {2022: YearlyActual(10_000.0, 4_000.0, 5_000.0), 2023: YearlyActual(9_167.0, 3_800.0, 5_000.0)}
    p = commitment_progress(COMMITMENT, plain, as_of=AS_OF, deflator=PLUS_5)
    assert p.achieved_tco2_per_year == pytest.approx(10_000 * (5_000 / 1.05) / 5_000 - 9_167)
    assert p.savings is not None and p.savings.grid_factor_effect_tco2 == 0.0


def test_packaged_deflator_chains_yearly_changes() -> None:
    """2020 = 100; 2021 = 100 x 1.081 = 108.1; 2022 = 108.1 x 1.041 = 112.5321; 2023 = 112.5321 x 0.97 =
    109.156137; 2019 = 100 / (1 - 0.018) = 101.8330. 1,000 万元 of 2023 in 2021 prices: 1,000 x 108.1 /
    109.156137 = 990.3245."""
    d = packaged_deflator()
    assert d.base_year == 2020
    assert (d.index[2021], d.index[2022], d.index[2023]) == pytest.approx((108.1, 112.5321, 109.156137))
    assert d.index[2019] == pytest.approx(100 / 0.982)
    assert d.to_prices_of(1_000.0, 2023, 2021) == pytest.approx(1_000 * 108.1 / 109.156137, rel=1e-7)
    assert d.to_prices_of(1_000.0, 2031, 2021) is None
    assert 2021 not in d.unconfirmed and 2022 in d.unconfirmed


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("base_year: 2020\nyears: {2020: {change_pct: 1}}", "years.2020.source"),
        ("base_year: 2020\nyears: {2020: {change_pct: -100, source: s}}", "years.2020.change_pct"),
        ("base_year: 2021\nyears: {2020: {change_pct: 1, source: s}}", "base_year"),
        (
            "base_year: 2020\nyears: {2020: {change_pct: 1, source: s}, 2022: {change_pct: 1, source: s}}",
            "years",
        ),
    ],
)
def test_a_malformed_deflator_names_the_key(text: str, key: str) -> None:
    with pytest.raises(DeflatorError, match=key):
        load_deflator(text=text)
