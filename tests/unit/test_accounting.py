"""Accounting: tce, scope 1/2, netting, intensities and periods, against numbers computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry_service.domain.accounting import ACCOUNT_COLUMNS, account, parse_period, period_of
from registry_service.domain.catalog import Catalog, load_catalog

HUZHOU_WUXING = "330502"  # Zhejiang: provincial grid factor 0.5422 (2021), 0.5153 (2022)
BEIJING = "110105"  # no provincial factor in the catalog: national 0.5366 (2022)
ZJ_2021 = "Zhejiang provincial 2021 (secondary source)"
ZJ_2022 = "Zhejiang provincial 2022 (secondary source)"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog("2024.1")


def enterprises(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"uscc": [u for u, _ in rows], "industry_code": "2825", "region_code": [r for _, r in rows]}
    )


def records(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["uscc", "period", "category", "canonical_quantity"])


def reference_year(uscc: str = "A", year: int = 2022) -> list[tuple[str, str, str, float]]:
    """10,000 MWh electricity, 500,000 m3 gas and 3,000 万元 added value over the 12 months."""
    rows = []
    for month in range(1, 13):
        period = f"{year}-{month:02d}"
        big = month in (1, 2)  # uneven months: 2 x 1,000,000 + 10 x 800,000 kWh
        rows += [
            (uscc, period, "ELECTRICITY", 1_000_000.0 if big else 800_000.0),
            (uscc, period, "NATURAL_GAS", 50_000.0 if big else 40_000.0),
            (uscc, period, "INDUSTRIAL_ADDED_VALUE", 250.0),
        ]
    return rows


def month_row(rows: list[tuple[str, str, str, float]], period: str, catalog: Catalog) -> pd.Series:
    """The month ``period`` of enterprise A (in Huzhou) accounted from ``rows``."""
    return one(
        account(records(rows), enterprises(("A", HUZHOU_WUXING)), catalog, granularity="month"), period
    )


def one(frame: pd.DataFrame, period: str, uscc: str = "A") -> pd.Series:
    row = frame[(frame["uscc"] == uscc) & (frame["period"] == period)]
    assert len(row) == 1, f"expected one row for {uscc} {period}, got {len(row)}"
    return row.iloc[0]


# --- the reference case -----------------------------------------------------------------------------


def test_reference_case_zhejiang_2022(catalog: Catalog) -> None:
    out = account(records(reference_year()), enterprises(("A", HUZHOU_WUXING)), catalog, granularity="year")
    row = one(out, "2022")
    assert list(out.columns) == list(ACCOUNT_COLUMNS)
    assert row["scope2_gross_tco2"] == pytest.approx(5_153.0)  # 10,000 MWh x 0.5153
    assert row["scope1_tco2"] == pytest.approx(1_081.1)  # 500,000 m3 x 2.1622 kg / 1000
    assert row["gross_tco2"] == pytest.approx(6_234.1)
    assert row["net_tco2"] == pytest.approx(6_234.1)
    assert row["energy_tce"] == pytest.approx(1_229.0 + 665.0)  # kWh x 0.1229 + m3 x 1.33, / 1000
    assert row["added_value_10k_cny"] == pytest.approx(3_000.0)
    assert round(row["carbon_intensity"], 3) == 2.078  # 6,234.1 / 3,000
    assert row["energy_intensity"] == pytest.approx(1_894.0 / 3_000.0)
    assert row["grid_factor"] == pytest.approx(0.5153)
    assert row["grid_factor_source"] == ZJ_2022
    assert row["neutrality_rate"] == 0.0
    assert (row["months_covered"], row["months_expected"]) == (12, 12)
    assert (row["industry_code"], row["region_code"]) == ("2825", HUZHOU_WUXING)


def test_region_without_provincial_factor_uses_national(catalog: Catalog) -> None:
    rows = [("B", "2022-05", "ELECTRICITY", 1_000_000.0)]
    out = account(records(rows), enterprises(("B", BEIJING)), catalog, granularity="month")
    assert one(out, "2022-05", "B")["scope2_gross_tco2"] == pytest.approx(536.6)  # 1,000 MWh x 0.5366


def test_year_after_the_last_factor_uses_the_latest_earlier_one(catalog: Catalog) -> None:
    rows = [("A", "2024-02", "ELECTRICITY", 1_000_000.0)]
    out = account(records(rows), enterprises(("A", HUZHOU_WUXING)), catalog, granularity="month")
    assert one(out, "2024-02")["grid_factor"] == pytest.approx(0.5153)


def test_steam_is_scope_2_at_its_own_factor(catalog: Catalog) -> None:
    rows = [("A", "2022-01", "STEAM", 10_000.0)]  # 10 GJ: 1.1 tCO2, 341.2 kgce
    row = month_row(rows, "2022-01", catalog)
    assert row["scope2_gross_tco2"] == pytest.approx(1.1)
    assert row["energy_tce"] == pytest.approx(0.3412)


# --- netting --------------------------------------------------------------------------------------


def test_own_pv_and_green_power_are_netted_and_reported_separately(catalog: Catalog) -> None:
    rows = [
        ("A", "2022-03", "ELECTRICITY", 1_000_000.0),  # 515.3 t gross scope 2
        ("A", "2022-03", "PV_SELF_GENERATION", 200_000.0),  # 103.06 t
        ("A", "2022-03", "GREEN_POWER_PURCHASE", 100_000.0),  # 51.53 t
        ("A", "2022-03", "INDUSTRIAL_ADDED_VALUE", 100.0),
    ]
    row = month_row(rows, "2022-03", catalog)
    assert row["scope2_gross_tco2"] == pytest.approx(515.3)
    assert row["pv_netting_tco2"] == pytest.approx(103.06)
    assert row["green_power_netting_tco2"] == pytest.approx(51.53)
    assert row["netting_tco2"] == pytest.approx(154.59)
    assert row["net_tco2"] == pytest.approx(360.71)
    assert row["gross_tco2"] == pytest.approx(515.3)
    assert row["neutrality_rate"] == pytest.approx(0.3)  # 154.59 / 515.3
    assert row["energy_tce"] == pytest.approx(122.9)  # renewables are not energy consumption
    assert row["carbon_intensity"] == pytest.approx(3.6071)


def test_netting_never_makes_scope_2_negative(catalog: Catalog) -> None:
    rows = [
        ("A", "2022-03", "ELECTRICITY", 100_000.0),  # 51.53 t
        ("A", "2022-03", "PV_SELF_GENERATION", 300_000.0),  # 154.59 t, more than scope 2
        ("A", "2022-03", "NATURAL_GAS", 1_000.0),  # 2.1622 t scope 1
    ]
    row = month_row(rows, "2022-03", catalog)
    assert row["pv_netting_tco2"] == pytest.approx(154.59)  # reported uncapped
    assert row["netting_tco2"] == pytest.approx(51.53)  # credited only up to scope 2
    assert row["net_tco2"] == pytest.approx(2.1622)
    assert row["neutrality_rate"] == pytest.approx(51.53 / 53.6922)


def test_no_emissions_gives_nan_neutrality_and_intensities(catalog: Catalog) -> None:
    rows = [("A", "2022-03", "WATER", 5.0), ("A", "2022-03", "INDUSTRIAL_ADDED_VALUE", 0.0)]
    row = month_row(rows, "2022-03", catalog)
    assert row["gross_tco2"] == 0.0
    assert np.isnan(row["neutrality_rate"])
    assert np.isnan(row["carbon_intensity"])  # added value 0
    assert row["months_covered"] == 0  # water is not an energy record


# --- coverage and periods -------------------------------------------------------------------------


def test_missing_month_is_counted(catalog: Catalog) -> None:
    july_energy = {("2022-07", "ELECTRICITY"), ("2022-07", "NATURAL_GAS")}
    rows = [r for r in reference_year(year=2022) if (r[1], r[2]) not in july_energy]
    row = one(account(records(rows), enterprises(("A", HUZHOU_WUXING)), catalog, granularity="year"), "2022")
    assert (row["months_covered"], row["months_expected"]) == (11, 12)  # July has added value only
    assert row["scope2_gross_tco2"] == pytest.approx(9_200 * 0.5153)
    assert row["added_value_10k_cny"] == pytest.approx(3_000.0)


def test_quarters(catalog: Catalog) -> None:
    rows = [(r[0], r[1], r[2], r[3]) for r in reference_year(year=2022) if r[1] <= "2022-04"]
    out = account(records(rows), enterprises(("A", HUZHOU_WUXING)), catalog, granularity="quarter")
    assert list(out["period"]) == ["2022-Q1", "2022-Q2"]
    q1, q2 = one(out, "2022-Q1"), one(out, "2022-Q2")
    assert q1["scope2_gross_tco2"] == pytest.approx(2_800 * 0.5153)  # 1,000 + 1,000 + 800 MWh
    assert (q1["months_covered"], q1["months_expected"]) == (3, 3)
    assert (q2["months_covered"], q2["months_expected"]) == (1, 3)
    assert q2["added_value_10k_cny"] == pytest.approx(250.0)


def test_rolling_twelve_months_across_two_factor_years(catalog: Catalog) -> None:
    months = [f"2021-{m:02d}" for m in range(7, 13)] + [f"2022-{m:02d}" for m in range(1, 7)]
    rows = [("A", p, "ELECTRICITY", 1_000_000.0) for p in months]
    out = account(records(rows), enterprises(("A", HUZHOU_WUXING)), catalog, granularity="rolling12")
    assert list(out["period"]) == ["R12-" + p for p in months]  # only windows ending in a month with data
    full = one(out, "R12-2022-06")
    assert full["scope2_gross_tco2"] == pytest.approx(6 * 542.2 + 6 * 515.3)  # 6,345.0
    assert full["grid_factor"] == pytest.approx((0.5422 + 0.5153) / 2)
    assert full["grid_factor_source"] == f"{ZJ_2021}; {ZJ_2022}"
    assert (full["months_covered"], full["months_expected"]) == (12, 12)
    first = one(out, "R12-2021-07")
    assert first["months_covered"] == 1
    assert first["scope2_gross_tco2"] == pytest.approx(542.2)


def test_annual_added_value_fills_years_without_records(catalog: Catalog) -> None:
    rows = [("A", "2022-01", "ELECTRICITY", 1_000_000.0), *reference_year("B", 2022)]
    annual = pd.DataFrame(
        {"uscc": ["A", "B"], "year": [2022, 2022], "industrial_added_value_10k_cny": [400.0, 9_999.0]}
    )
    ents = enterprises(("A", HUZHOU_WUXING), ("B", HUZHOU_WUXING))
    out = account(records(rows), ents, catalog, granularity="year", annual_added_value=annual)
    assert one(out, "2022", "A")["added_value_10k_cny"] == 400.0
    assert one(out, "2022", "A")["carbon_intensity"] == pytest.approx(515.3 / 400.0)
    assert one(out, "2022", "B")["added_value_10k_cny"] == pytest.approx(3_000.0)  # own records win
    without = account(records(rows), ents, catalog, granularity="year")
    assert np.isnan(one(without, "2022", "A")["added_value_10k_cny"])
    assert np.isnan(one(without, "2022", "A")["carbon_intensity"])


def test_revenue_is_summed(catalog: Catalog) -> None:
    rows = [("A", "2022-01", "REVENUE", 120.0), ("A", "2022-02", "REVENUE", 80.0)]
    out = account(records(rows), enterprises(("A", HUZHOU_WUXING)), catalog, granularity="year")
    assert one(out, "2022")["revenue_10k_cny"] == 200.0


def test_unknown_category_and_empty_input(catalog: Catalog) -> None:
    ents = enterprises(("A", HUZHOU_WUXING))
    with pytest.raises(ValueError, match="UNOBTAINIUM"):
        account(records([("A", "2022-01", "UNOBTAINIUM", 1.0)]), ents, catalog, granularity="month")
    with pytest.raises(ValueError, match="granularity"):
        account(records([]), ents, catalog, granularity="week")
    empty = account(records([]), ents, catalog, granularity="month")
    assert empty.empty and list(empty.columns) == list(ACCOUNT_COLUMNS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03", ("month", "2024-03", "2024-03")),
        ("2024-Q1", ("quarter", "2024-01", "2024-03")),
        ("2024-Q4", ("quarter", "2024-10", "2024-12")),
        ("2024", ("year", "2024-01", "2024-12")),
        ("R12-2024-03", ("rolling12", "2023-04", "2024-03")),
        ("R12-2024-12", ("rolling12", "2024-01", "2024-12")),
    ],
)
def test_parse_period(text: str, expected: tuple[str, str, str]) -> None:
    assert parse_period(text) == expected


@pytest.mark.parametrize("text", ["2024-13", "2024-00", "2024-Q5", "2024-Q0", "24", "R12-2024", "2024-3", ""])
def test_parse_period_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="period"):
        parse_period(text)


def test_period_of() -> None:
    months = pd.Series(["2024-01", "2024-03", "2024-04", "2024-12"])
    assert list(period_of(months, "month")) == list(months)
    assert list(period_of(months, "quarter")) == ["2024-Q1", "2024-Q1", "2024-Q2", "2024-Q4"]
    assert list(period_of(months, "year")) == ["2024"] * 4
    assert list(period_of(months, "rolling12")) == [
        "R12-2024-01",
        "R12-2024-03",
        "R12-2024-04",
        "R12-2024-12",
    ]
    with pytest.raises(ValueError, match="granularity"):
        period_of(months, "decade")


# --- properties -------------------------------------------------------------------------------------

CATEGORIES = ["ELECTRICITY", "NATURAL_GAS", "RAW_COAL", "STEAM", "PV_SELF_GENERATION", "GREEN_POWER_PURCHASE"]
PHYSICAL = [*CATEGORIES]  # energy and renewables: the quantities that scale emissions
record_rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from(["2021-11", "2021-12", "2022-01", "2022-06", "2023-02"]),
        st.sampled_from([*CATEGORIES, "INDUSTRIAL_ADDED_VALUE"]),
        st.floats(min_value=0.0, max_value=1e7, allow_nan=False),
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda r: (r[0], r[1], r[2]),  # effective records: one per enterprise, month, category
)
PROPERTY_ENTERPRISES = enterprises(("A", HUZHOU_WUXING), ("B", BEIJING), ("C", "330100"))


@settings(max_examples=60, deadline=None)
@given(rows=record_rows, granularity=st.sampled_from(["month", "quarter", "year", "rolling12"]))
def test_doubling_energy_doubles_net_emissions_and_tce(
    rows: list[tuple[str, str, str, float]], granularity: str
) -> None:
    catalog = load_catalog("2024.1")
    base = records(rows)
    doubled = base.assign(
        canonical_quantity=base["canonical_quantity"].where(
            ~base["category"].isin(PHYSICAL), base["canonical_quantity"] * 2
        )
    )
    one_x = account(base, PROPERTY_ENTERPRISES, catalog, granularity=granularity)
    two_x = account(doubled, PROPERTY_ENTERPRISES, catalog, granularity=granularity)
    for column in ("net_tco2", "energy_tce", "gross_tco2", "netting_tco2"):
        np.testing.assert_allclose(two_x[column], 2 * one_x[column], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(two_x["neutrality_rate"], one_x["neutrality_rate"], rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    rows=record_rows,
    granularity=st.sampled_from(["month", "quarter", "year", "rolling12"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_result_is_invariant_to_record_order(
    rows: list[tuple[str, str, str, float]], granularity: str, seed: int
) -> None:
    catalog = load_catalog("2024.1")
    base = records(rows)
    shuffled = base.sample(frac=1.0, random_state=np.random.default_rng(seed)).reset_index(drop=True)
    expected = account(base, PROPERTY_ENTERPRISES, catalog, granularity=granularity)
    actual = account(shuffled, PROPERTY_ENTERPRISES, catalog, granularity=granularity)
    pd.testing.assert_frame_equal(actual, expected, check_exact=True)


def test_documented_example_with_own_pv(catalog: Catalog) -> None:
    rows = [*reference_year(), ("A", "2022-06", "PV_SELF_GENERATION", 2_000_000.0)]
    row = one(account(records(rows), enterprises(("A", HUZHOU_WUXING)), catalog, granularity="year"), "2022")
    assert row["pv_netting_tco2"] == pytest.approx(1_030.6)  # 2,000 MWh x 0.5153
    assert row["net_tco2"] == pytest.approx(5_203.5)
    assert row["carbon_intensity"] == pytest.approx(1.7345)
    assert row["neutrality_rate"] == pytest.approx(1_030.6 / 6_234.1)
    assert row["grid_factor"] == pytest.approx(0.5153)


# --- the electricity boundary (catalog 2026.1) -----------------------------------------------------


def pv_firm_year(uscc: str = "PV", year: int = 2022) -> list[tuple[str, str, str, float]]:
    """8,000 MWh bought from the grid, 2,500 MWh of own PV (2,000 consumed on site, 500 exported),
    500,000 m3 gas, 3,000 万元 added value; spread evenly over 12 months."""
    rows = []
    for month in range(1, 13):
        period = f"{year}-{month:02d}"
        rows += [
            (uscc, period, "ELECTRICITY", 8_000_000 / 12),
            (uscc, period, "PV_SELF_GENERATION", 2_000_000 / 12),
            (uscc, period, "PV_EXPORT", 500_000 / 12),
            (uscc, period, "NATURAL_GAS", 500_000 / 12),
            (uscc, period, "INDUSTRIAL_ADDED_VALUE", 250.0),
        ]
    return rows


def test_own_pv_with_export_is_counted_once_on_one_boundary() -> None:
    """Hand-worked (Zhejiang 2022, 0.5153 tCO2/MWh):
    scope 2 (location) = grid purchases 8,000 MWh x 0.5153 = 4,122.4 t -- the PV already lowered the
    purchases from 10,000 MWh, i.e. already saved 2,000 x 0.5153 = 1,030.6 t physically;
    scope 1 = 500,000 m3 x 2.1622 / 1000 = 1,081.1 t; net = 4,122.4 + 1,081.1 = 5,203.5 t.
    Catalog 2024.1 also netted the 2,000 MWh again: 5,203.5 - 1,030.6 = 4,172.9 t (2,061.2 t "saved").
    consumption = 8,000 + 2,000 = 10,000 MWh; generation = 2,000 + 500 = 2,500 MWh; the 500 MWh export
    is reported and not subtracted. energy = 8,000,000 x 0.1229 / 1000 + 500,000 x 1.33 / 1000
    = 983.2 + 665 = 1,648.2 tce (renewables are outside the tce total)."""
    out = account(records(pv_firm_year()), enterprises(("PV", HUZHOU_WUXING)), load_catalog("2026.1"),
                  granularity="year").iloc[0]  # fmt: skip
    assert out["scope2_gross_tco2"] == pytest.approx(4_122.4)
    assert out["scope1_tco2"] == pytest.approx(1_081.1)
    assert out["pv_netting_tco2"] == 0.0 and out["netting_tco2"] == 0.0
    assert out["net_tco2"] == pytest.approx(5_203.5)
    assert out["energy_tce"] == pytest.approx(1_648.2)
    assert out["grid_electricity_kwh"] == pytest.approx(8_000_000)
    assert out["pv_self_consumed_kwh"] == pytest.approx(2_000_000)
    assert out["pv_export_kwh"] == pytest.approx(500_000)
    assert out["pv_generation_kwh"] == pytest.approx(2_500_000)
    assert out["electricity_consumption_kwh"] == pytest.approx(10_000_000)
    assert out["carbon_intensity"] == pytest.approx(5_203.5 / 3_000)
    without_export = records([r for r in pv_firm_year() if r[2] != "PV_EXPORT"])
    firm = enterprises(("PV", HUZHOU_WUXING))
    old = account(without_export, firm, load_catalog("2024.1"), granularity="year").iloc[0]
    assert old["net_tco2"] == pytest.approx(4_172.9)  # the double credit the new boundary removes


def test_each_period_states_its_grid_factor_year_and_any_fallback() -> None:
    """Catalog 2026.1: Zhejiang has provincial factors for 2021-2022 only, the nation 2021-2023 (2023:
    0.5306, MEE/NBS). A Huzhou firm's 2024 uses Zhejiang 2022 (0.5153), flagged as a fallback; a Beijing
    firm's 2023 uses the national 2023 factor, no fallback; Huzhou's 2022 is its own year."""
    rows = [("A", "2024-03", "ELECTRICITY", 1e6), ("A", "2022-03", "ELECTRICITY", 1e6),
            ("B", "2023-03", "ELECTRICITY", 1e6)]  # fmt: skip
    firms = enterprises(("A", HUZHOU_WUXING), ("B", BEIJING))
    out = account(records(rows), firms, load_catalog("2026.1"), granularity="year").set_index(
        ["uscc", "period"]
    )
    assert out.loc[("A", "2024"), ["grid_factor", "grid_factor_year", "grid_factor_fallback"]].tolist() == [
        0.5153, 2022, True,
    ]  # fmt: skip
    assert out.loc[("A", "2024"), "scope2_gross_tco2"] == pytest.approx(1_000 * 0.5153)
    assert out.loc[("A", "2022"), ["grid_factor_year", "grid_factor_fallback"]].tolist() == [2022, False]
    assert out.loc[("B", "2023"), ["grid_factor", "grid_factor_year", "grid_factor_fallback"]].tolist() == [
        0.5306, 2023, False,
    ]  # fmt: skip
    assert "2023年电力二氧化碳排放因子" in out.loc[("B", "2023"), "grid_factor_source"]


def test_steam_in_tonnes_converts_at_the_documented_enthalpy() -> None:
    """10 t of steam x 2,777 MJ/t (saturated, 1.0 MPa) = 27,770 MJ; energy 27,770 x 0.03412 / 1000
    = 0.9475 tce; CO2 27,770 x 0.11 / 1000 = 3.0547 t (scope 2)."""
    catalog = load_catalog("2026.1")
    mj = catalog.to_canonical("STEAM", 10, "t")
    assert mj == 27_770
    out = account(records([("S", "2024-01", "STEAM", mj)]), enterprises(("S", HUZHOU_WUXING)), catalog,
                  granularity="month").iloc[0]  # fmt: skip
    assert out["energy_tce"] == pytest.approx(0.9475, abs=1e-4)
    assert out["scope2_gross_tco2"] == pytest.approx(3.0547)


# --- catalogue 2026.2: informational categories and the new fuels --------------------------------------

# Categories added in 2026.2 that are informational: a breakdown of ELECTRICITY, a stock or a headcount.
INFORMATIONAL_2026_2 = {
    "ELECTRICITY_BELOW_1KV": 100_000.0, "ELECTRICITY_1_10KV": 700_000.0, "ELECTRICITY_35KV": 0.0,
    "ELECTRICITY_110KV_AND_ABOVE": 0.0, "ELECTRICITY_SHARP_PEAK": 50_000.0, "ELECTRICITY_PEAK": 250_000.0,
    "ELECTRICITY_FLAT": 200_000.0, "ELECTRICITY_VALLEY": 300_000.0, "PV_INSTALLED_CAPACITY": 500.0,
    "HEAT_SELF_SUPPLIED": 100_000.0, "OUTPUT_PHYSICAL_T": 1_000.0, "OUTPUT_PHYSICAL_PIECES": 20_000.0,
    "EMPLOYEES": 200.0, "LAND_AREA": 50.0,
}  # fmt: skip


def test_informational_rows_add_nothing_and_washed_coal_adds_its_hand_computed_tce_and_co2() -> None:
    """The reference year on catalog 2026.2 (Zhejiang 2022 factor 0.5153): 1,894 tce, scope 1 1,081.1 t,
    scope 2 5,153 t. Every informational row of 2026.2, every month, changes none of it. 100 t of
    washed coal (100,000 kg in March) adds 100,000 x 0.9000 / 1000 = 90 tce and
    100,000 x 2.3072 / 1000 = 230.72 tCO2 of scope 1: 1,984 tce, scope 1 1,311.82 t, gross 6,464.82 t."""
    catalog = load_catalog("2026.2")
    informational = [
        ("A", f"2022-{m:02d}", code, quantity)
        for m in range(1, 13)
        for code, quantity in INFORMATIONAL_2026_2.items()
    ]
    firm = enterprises(("A", HUZHOU_WUXING))
    base = account(records(reference_year()), firm, catalog, granularity="year")
    extra = account(records(reference_year() + informational), firm, catalog, granularity="year")
    pd.testing.assert_frame_equal(base, extra)
    row = one(base, "2022")
    assert row["energy_tce"] == pytest.approx(1_894.0)  # (10,000,000 kWh x 0.1229 + 500,000 m3 x 1.33) / 1000
    assert row["scope1_tco2"] == pytest.approx(1_081.1) and row["scope2_gross_tco2"] == pytest.approx(5_153.0)

    coal = [("A", "2022-03", "WASHED_COAL", catalog.to_canonical("WASHED_COAL", 100, "t"))]
    all_rows = reference_year() + informational + coal
    with_coal = one(account(records(all_rows), firm, catalog, granularity="year"), "2022")
    assert with_coal["energy_tce"] == pytest.approx(1_894.0 + 90.0)
    assert with_coal["scope1_tco2"] == pytest.approx(1_081.1 + 230.72)
    assert with_coal["scope2_gross_tco2"] == pytest.approx(5_153.0)
    assert with_coal["gross_tco2"] == pytest.approx(6_464.82)


def test_every_resource_and_economic_category_is_informational() -> None:
    from registry_service.domain.catalog import INFORMATIONAL_KINDS, Scope

    catalog = load_catalog("2026.2")
    for code in INFORMATIONAL_2026_2:
        category = catalog.category(code)
        assert category.kind in INFORMATIONAL_KINDS and category.scope == Scope.NONE, code
        factors = (category.kgce_per_unit, category.kgco2_per_unit, category.uses_grid_factor)
        assert factors == (None, None, False), code
        assert category.source, code
    # 1 亩 = 10,000 / 15 m2: 6,667 m2 is 10.0005 亩; 2 ha = 30 亩.
    assert catalog.to_canonical("LAND_AREA", 6_667, "m2") == pytest.approx(10.0005)
    assert catalog.to_canonical("LAND_AREA", 2, "ha") == 30


def test_new_fuels_carry_factors_and_a_source() -> None:
    """Each kgCO2 is NCV x carbon content x oxidation x 44/12 as the file's source line writes it out."""
    catalog = load_catalog("2026.2")
    expected = {  # code: (kgce/unit, kgCO2/unit from the arithmetic)
        "WASHED_COAL": (0.9000, 26.344 * 25.41 * 0.94 * 44 / 12 / 1000),
        "BRIQUETTE": (0.6000, 0.6 * 29.307 * 33.56 * 0.90 * 44 / 12 / 1000),
        "OTHER_COKING_PRODUCTS": (1.3000, 1.3 * 29.307 * 22.0 * 0.98 * 44 / 12 / 1000),
        "COKE_OVEN_GAS": (0.6143, 17.981 * 13.58 * 0.99 * 44 / 12 / 1000),
        "BLAST_FURNACE_GAS": (0.1286, 3.763 * 70.8 * 0.99 * 44 / 12 / 1000),
    }
    for code, (kgce, kgco2) in expected.items():
        category = catalog.category(code)
        assert category.kgce_per_unit == kgce, code
        assert category.kgco2_per_unit == pytest.approx(kgco2, abs=5e-5), code
        assert "unconfirmed" in category.source, code


def test_a_factor_on_an_informational_kind_is_refused() -> None:
    from registry_service.domain.catalog import CatalogError, parse_catalog

    text = """
version: "x"
categories:
  - {code: ELECTRICITY_PEAK, name_zh: 峰, name_en: Peak, kind: RESOURCE, unit: kWh, scope: NONE,
     kgce_per_unit: 0.1229}
"""
    with pytest.raises(CatalogError, match=r"ELECTRICITY_PEAK.*informational"):
        parse_catalog(text)
