"""Both scope 2 methods (green power, green certificates, residual mix) and carbonate process
emissions, on the pure accounting, against numbers computed by hand (docs/accounting.md)."""

from __future__ import annotations

from importlib import resources

import pandas as pd
import pytest

from registry_service.domain.accounting import HUZHOU_BASIS, EmissionsBasis, account
from registry_service.domain.catalog import load_catalog
from registry_service.domain.grading import GradingMethodError, load_grading_method, parse_grading_method

HUZHOU_WUXING = "330502"  # Zhejiang: 2023 falls back to the 2022 provincial factor 0.5153
CATALOG = load_catalog("2026.2")


def firm(uscc: str, industry: str = "2825") -> pd.DataFrame:
    return pd.DataFrame({"uscc": [uscc], "industry_code": [industry], "region_code": [HUZHOU_WUXING]})


def records(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["uscc", "period", "category", "canonical_quantity"])


def green_power_year(uscc: str = "G") -> list[tuple[str, str, str, float]]:
    """2023: 12 x 1,000,000 kWh grid, 12 x 250,000 kWh green power (绿电交易, part of the grid
    purchases), one GEC record of 1,000 certificates (June), 3,000 万元 added value."""
    rows = []
    for month in range(1, 13):
        period = f"2023-{month:02d}"
        rows += [(uscc, period, "ELECTRICITY", 1_000_000.0), (uscc, period, "INDUSTRIAL_ADDED_VALUE", 250.0),
                 (uscc, period, "GREEN_POWER_PURCHASE", 250_000.0)]  # fmt: skip
    rows.append(
        (
            uscc,
            "2023-06",
            "GREEN_CERTIFICATE",
            CATALOG.to_canonical("GREEN_CERTIFICATE", 1_000, "certificate"),
        )
    )
    return rows


def test_green_power_and_certificates_on_both_scope2_methods() -> None:
    """Hand-worked, Huzhou 2023 (grid factor Zhejiang 2022 0.5153; residual mix national 2023 0.6096):
    location-based scope 2 = 12,000 MWh x 0.5153 = 6,183.6 t; green power netted (Huzhou method)
    = 3,000 MWh x 0.5153 = 1,545.9 t; net (location) = 6,183.6 - 1,545.9 = 4,637.7 t, L = 4,637.7 /
    3,000 = 1.5459. The unbundled GEC (1,000 certificates = 1,000 MWh) is not netted location-based.
    Market-based: instruments 3,000 + 1,000 = 4,000 MWh <= 12,000 MWh of purchases, uncovered 8,000 MWh
    x 0.6096 = 4,876.8 t (L on the market basis 4,876.8 / 3,000 = 1.6256)."""
    out = account(records(green_power_year()), firm("G"), CATALOG, granularity="year").iloc[0]
    assert CATALOG.to_canonical("GREEN_CERTIFICATE", 1_000, "certificate") == 1_000_000  # 1 GEC = 1 MWh
    assert out["scope2_location_tco2"] == pytest.approx(12_000 * 0.5153) == pytest.approx(6_183.6)
    assert out["green_power_netting_tco2"] == pytest.approx(1_545.9)
    assert out["net_tco2"] == pytest.approx(6_183.6 - 1_545.9)
    assert out["carbon_intensity"] == pytest.approx(4_637.7 / 3_000)
    assert out["instrument_kwh"] == pytest.approx(4_000_000) and out[
        "instrument_covered_kwh"
    ] == pytest.approx(4e6)
    assert out["scope2_market_tco2"] == pytest.approx(8_000 * 0.6096) == pytest.approx(4_876.8)
    assert out["residual_mix_factor"] == pytest.approx(0.6096)
    assert "2023" in out["residual_mix_source"] and "unconfirmed" in out["residual_mix_source"]
    market = account(records(green_power_year()), firm("G"), CATALOG, granularity="year",
                     basis=EmissionsBasis(scope2_method="market")).iloc[0]  # fmt: skip
    assert market["net_tco2"] == pytest.approx(4_876.8)
    assert market["carbon_intensity"] == pytest.approx(4_876.8 / 3_000)
    assert market["scope2_location_tco2"] == pytest.approx(6_183.6)  # both figures whatever the basis


def test_surplus_certificates_never_make_market_scope2_negative() -> None:
    """1,000 MWh bought from the grid, 1,500 certificates (1,500 MWh): covered = min(1,500, 1,000)
    = 1,000 MWh, market grid part = 0; steam 10,000 MJ x 0.11 kg/MJ = 1.1 t stays (both methods)."""
    rows = [("S", "2023-05", "ELECTRICITY", 1_000_000.0), ("S", "2023-05", "GREEN_CERTIFICATE", 1_500_000.0),
            ("S", "2023-05", "STEAM", 10_000.0)]  # fmt: skip
    out = account(records(rows), firm("S"), CATALOG, granularity="month").iloc[0]
    assert out["instrument_covered_kwh"] == pytest.approx(1_000_000)
    assert out["scope2_market_tco2"] == pytest.approx(1.1)
    assert out["scope2_location_tco2"] == pytest.approx(1_000 * 0.5153 + 1.1)


def cement_year(uscc: str = "C") -> list[tuple[str, str, str, float]]:
    """2022: 12 x 1,000,000 kWh grid, 12 x 1,000 t raw coal (1,000,000 kg), 12 x 10,000 t clinker,
    12 x 1,000 万元 added value."""
    rows = []
    for month in range(1, 13):
        period = f"2022-{month:02d}"
        rows += [(uscc, period, "ELECTRICITY", 1_000_000.0), (uscc, period, "RAW_COAL", 1_000_000.0),
                 (uscc, period, "CEMENT_CLINKER", 10_000.0),
                 (uscc, period, "INDUSTRIAL_ADDED_VALUE", 1_000.0)]  # fmt: skip
    return rows


def test_cement_clinker_process_emissions_in_scope1_not_in_the_huzhou_grade() -> None:
    """Hand-worked, Huzhou 2022 (0.5153): scope 2 = 12,000 MWh x 0.5153 = 6,183.6 t; coal 12,000,000 kg
    x 1.9003 / 1000 = 22,803.6 t; clinker process 120,000 t x 0.52 = 62,400 t (IPCC Tier 1).
    scope 1 = 22,803.6 + 62,400 = 85,203.6 t; gross = 85,203.6 + 6,183.6 = 91,387.2 t.
    Huzhou (energy only): net = 22,803.6 + 6,183.6 = 28,987.2 t, L = 28,987.2 / 12,000 = 2.4156.
    With process (grading file include_process: true): net = 91,387.2 t, L = 7.6156.
    Energy = 12,000,000 x 0.1229 / 1000 + 12,000,000 x 0.7143 / 1000 = 1,474.8 + 8,571.6 = 10,046.4 tce
    (calcination is not energy)."""
    out = account(records(cement_year()), firm("C", "3011"), CATALOG, granularity="year").iloc[0]
    assert out["process_tco2"] == pytest.approx(120_000 * 0.52) == pytest.approx(62_400)
    assert out["scope1_tco2"] == pytest.approx(22_803.6 + 62_400)
    assert out["gross_tco2"] == pytest.approx(91_387.2)
    assert out["net_tco2"] == pytest.approx(28_987.2)
    assert out["carbon_intensity"] == pytest.approx(28_987.2 / 12_000)
    assert out["energy_tce"] == pytest.approx(10_046.4)
    assert out["months_covered"] == 12
    full = account(records(cement_year()), firm("C", "3011"), CATALOG, granularity="year",
                   basis=EmissionsBasis(include_process=True)).iloc[0]  # fmt: skip
    assert full["net_tco2"] == pytest.approx(91_387.2)
    assert full["carbon_intensity"] == pytest.approx(91_387.2 / 12_000)


def test_process_categories_cite_their_factors() -> None:
    factors = {c: (CATALOG.category(c).kgco2_per_unit, CATALOG.category(c).source)
               for c in ("CEMENT_CLINKER", "LIME", "GLASS_MELT")}  # fmt: skip
    assert [f for f, _ in factors.values()] == [520, 750, 200]  # kg CO2 per tonne
    assert all("IPCC 2006" in source for _, source in factors.values())
    assert CATALOG.instrument_codes() == {"GREEN_POWER_PURCHASE", "GREEN_CERTIFICATE"}


def test_grading_file_chooses_the_basis_and_defaults_to_huzhou() -> None:
    assert load_grading_method().emissions == HUZHOU_BASIS
    assert EmissionsBasis(scope2_method="location", include_process=False) == HUZHOU_BASIS
    packaged = (
        resources.files("tanxiao.standards.data").joinpath("grading-huzhou-2023.yaml").read_text("utf-8")
    )
    base = packaged[: packaged.index("\nemissions:")] + "\n"
    method = parse_grading_method(base + "emissions: {scope2_method: market, include_process: true}\n")
    assert method.emissions == EmissionsBasis("market", True)
    with pytest.raises(GradingMethodError, match=r"emissions\.scope2_method"):
        parse_grading_method(base + "emissions: {scope2_method: dual}\n")
