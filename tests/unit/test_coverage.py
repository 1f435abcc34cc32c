"""Coverage before a grade: hand-worked vectors (no-energy firm, half-year firm, a fuel dropped since last
year, unmetered electricity, an industry's required fuel) and the property that benchmarks never include
an ungraded profile, over random registries."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry_service.domain.catalog import load_catalog
from registry_service.domain.coverage import CoverageRule
from registry_service.domain.grading import GradingMethodError, load_grading_method
from registry_service.domain.precedence import load_precedence
from registry_service.domain.profiles import ProfileInputs, ProfileSet, build_profiles

FACTOR = 0.5153  # Zhejiang 2022, tCO2/MWh
PEER_MWH = 1_000.0  # per month: 12,000 MWh x 0.5153 = 6,183.6 tCO2 on 3,000 万元 -> L = 2.0612
_ids = itertools.count(1)


def rows(uscc: str, category: str, months: range | list[int], quantity: float, source: str, year: int = 2022):
    return [
        {"id": next(_ids), "uscc": uscc, "period": f"{year}-{m:02d}", "category": category, "source": source,
         "external_id": f"{uscc}-{category}-{year}-{m}-{next(_ids)}", "revision": 1, "is_current": True,
         "quantity": quantity, "canonical_quantity": quantity}
        for m in months
    ]  # fmt: skip


def peers(n: int = 5) -> list[dict[str, object]]:
    out = []
    for i in range(n):
        out += rows(f"P{i}", "ELECTRICITY", range(1, 13), PEER_MWH * 1000, "GRID_UTILITY")
        out += rows(f"P{i}", "INDUSTRIAL_ADDED_VALUE", range(1, 13), 250.0, "STATISTICS")
    return out


def build(records: list[dict[str, object]], industries: dict[str, str] | None = None, **kwargs) -> ProfileSet:
    frame = pd.DataFrame(records)
    usccs = sorted(set(frame["uscc"]))
    enterprises = pd.DataFrame(
        {"uscc": usccs, "industry_code": [(industries or {}).get(u, "2822") for u in usccs],
         "region_code": "330502"}
    )  # fmt: skip
    annual = pd.DataFrame({"uscc": pd.Series(dtype=str), "year": pd.Series(dtype="int64"),
                           "industrial_added_value_10k_cny": pd.Series(dtype=float)})  # fmt: skip
    inputs = ProfileInputs(
        frame, enterprises, annual, load_catalog(), load_grading_method(), load_precedence()
    )
    return build_profiles(inputs, years=kwargs.pop("years", [2022]), **kwargs)


def profile(result: ProfileSet, uscc: str, period: str = "2022") -> dict[str, object]:
    frame = result.profiles
    return frame[(frame["uscc"] == uscc) & (frame["period"] == period)].iloc[0].to_dict()


def test_a_firm_with_only_added_value_is_ungraded_no_energy_data() -> None:
    result = build(peers() + rows("AV", "INDUSTRIAL_ADDED_VALUE", range(1, 13), 250.0, "STATISTICS"))
    av = profile(result, "AV")
    # No energy at all: net 0 tCO2 / 3,000 万元 = L 0 -- which the old code graded 低碳1级 (K = 0).
    assert av["net_tco2"] == 0.0 and av["carbon_intensity"] == 0.0
    assert (av["grade"], av["level"], av["label_zh"], av["ungraded_reason"]) == (0, "", "", "NO_ENERGY_DATA")
    assert av["months_complete"] == 0 and av["coverage_gaps"].startswith("ELECTRICITY:2022-01|2022-02|")
    # The benchmark is the five peers alone: 5 x 6,183.6 / 15,000 = 2.0612
    # (with AV it would be 30,918 / 18,000 = 1.7177).
    city = result.benchmarks[(result.benchmarks["industry_code"] == "2822")
                             & (result.benchmarks["region_code"] == "330500")].iloc[0]  # fmt: skip
    assert city["enterprise_count"] == 5 and city["average_intensity"] == pytest.approx(6_183.6 / 3_000)
    assert profile(result, "P0")["grade"] == 3  # K = 2.0612 / 2.0612 = 1.0


def test_a_half_year_firm_is_ungraded_incomplete_and_out_of_the_benchmark() -> None:
    half = rows("HALF", "ELECTRICITY", range(1, 7), PEER_MWH * 1000, "GRID_UTILITY")
    half += rows("HALF", "INDUSTRIAL_ADDED_VALUE", range(1, 13), 250.0, "STATISTICS")
    result = build(peers() + half)
    h = profile(result, "HALF")
    # 6 x 1,000 MWh x 0.5153 = 3,091.8 tCO2 on a full year's 3,000 万元: L = 1.0306, K would be
    # 1.0306 / 2.0612 = 0.5 -> grade 1 with a discount. Half the year is missing, so no grade.
    assert h["net_tco2"] == pytest.approx(6 * 1_000 * FACTOR)
    assert h["carbon_intensity"] == pytest.approx(3_091.8 / 3_000)
    assert (h["grade"], h["ungraded_reason"], h["months_covered"], h["months_complete"]) == (
        0, "INCOMPLETE_ENERGY_DATA", 6, 6,
    )  # fmt: skip
    assert h["coverage_gaps"] == "ELECTRICITY:" + "|".join(f"2022-{m:02d}" for m in range(7, 13))
    assert result.benchmarks["enterprise_count"].max() == 5


def test_a_fuel_reported_last_year_is_expected_this_year() -> None:
    coal = rows("C", "ELECTRICITY", range(1, 13), 1e6, "GRID_UTILITY", 2021)
    coal += rows("C", "RAW_COAL", range(1, 13), 100_000.0, "STATISTICS", 2021)
    coal += rows("C", "ELECTRICITY", range(1, 13), 1e6, "GRID_UTILITY")  # 2022: the coal has "stopped"
    coal += rows("C", "RAW_COAL", range(1, 4), 100_000.0, "STATISTICS")
    coal += rows("C", "INDUSTRIAL_ADDED_VALUE", range(1, 13), 250.0, "STATISTICS")
    c = profile(build(peers() + coal), "C")
    assert (c["ungraded_reason"], c["months_complete"]) == ("INCOMPLETE_ENERGY_DATA", 3)
    assert c["required_categories"] == "ELECTRICITY,RAW_COAL"
    assert c["coverage_gaps"] == "RAW_COAL:" + "|".join(f"2022-{m:02d}" for m in range(4, 13))


def test_self_reported_electricity_does_not_cover_a_month() -> None:
    own = rows("S", "ELECTRICITY", range(1, 13), 1e6, "SELF_REPORTED")
    own += rows("S", "INDUSTRIAL_ADDED_VALUE", range(1, 13), 250.0, "STATISTICS")
    s = profile(build(peers() + own), "S")
    assert (s["grade"], s["ungraded_reason"], s["months_covered"], s["months_complete"]) == (
        0, "INCOMPLETE_ENERGY_DATA", 12, 0,
    )  # fmt: skip


def test_a_cement_firm_must_report_coal_every_month() -> None:
    cement = rows("K", "ELECTRICITY", range(1, 13), 1e6, "GRID_UTILITY")
    cement += rows("K", "INDUSTRIAL_ADDED_VALUE", range(1, 13), 250.0, "STATISTICS")
    k = profile(build(peers() + cement, industries={"K": "3011"}), "K")
    assert (k["ungraded_reason"], k["required_categories"]) == (
        "INCOMPLETE_ENERGY_DATA",
        "ELECTRICITY,RAW_COAL",
    )


def test_no_added_value_and_no_benchmark_are_told_apart() -> None:
    no_value = rows("N", "ELECTRICITY", range(1, 13), 1e6, "GRID_UTILITY")
    assert profile(build(peers() + no_value), "N")["ungraded_reason"] == "NO_ADDED_VALUE"
    alone = build(peers(1), benchmarks=build(peers(1)).benchmarks.iloc[0:0])
    assert (profile(alone, "P0")["grade"], profile(alone, "P0")["ungraded_reason"]) == (0, "NO_BENCHMARK")


def test_months_and_quarters_say_they_are_not_graded() -> None:
    result = build(peers(), extra_periods=["2022-Q1", "2022-03"])
    assert profile(result, "P0", "2022-Q1")["ungraded_reason"] == "PERIOD_NOT_GRADED"
    assert (
        profile(result, "P0", "2022-03")["level"] == "HIGH_CARBON"
    )  # complete: L = 2.0612 still has a level


def test_the_rolling_window_needs_its_twelve_months_too() -> None:
    late = rows("R", "ELECTRICITY", range(4, 13), 1e6, "GRID_UTILITY")
    late += rows("R", "INDUSTRIAL_ADDED_VALUE", range(1, 13), 250.0, "STATISTICS")
    result = build(peers() + late, latest_rolling=True)
    rolling = profile(result, "R", "R12-2022-12")
    assert (rolling["ungraded_reason"], rolling["months_complete"]) == ("INCOMPLETE_ENERGY_DATA", 9)


def test_the_coverage_section_is_validated() -> None:
    method = load_grading_method()
    assert method.coverage.required == ("ELECTRICITY",)
    assert method.coverage.admissible("ELECTRICITY", "GRID_UTILITY")
    assert not method.coverage.admissible("ELECTRICITY", "SELF_REPORTED")
    assert method.coverage.admissible("RAW_COAL", "SELF_REPORTED")
    assert CoverageRule(industry_required={"30": ("RAW_COAL",)}).industry_categories("3011") == ("RAW_COAL",)
    text = _method_text().replace("previous_year_energy: true", "previous_year_energy: maybe")
    with pytest.raises(GradingMethodError, match=r"coverage\.previous_year_energy"):
        load_grading_method(text=text)


def _method_text() -> str:
    from importlib import resources

    return resources.files("tanxiao.standards.data").joinpath("grading-huzhou-2023.yaml").read_text("utf-8")


# --- property: benchmarks never include an ungraded profile -------------------------------------

firm = st.fixed_dictionaries(
    {
        "months": st.sets(st.integers(1, 12), min_size=0, max_size=12),
        "source": st.sampled_from(["GRID_UTILITY", "GRID_UTILITY", "SELF_REPORTED"]),
        "mwh": st.sampled_from([0.0, 10.0, 500.0, 2_000.0]),
        "added_value": st.sampled_from([0.0, 100.0, 250.0]),
        "industry": st.sampled_from(["2822", "2821", "3011"]),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(firms=st.lists(firm, min_size=1, max_size=8))
def test_benchmarks_never_include_an_ungraded_profile(firms: list[dict[str, object]]) -> None:
    records, industries = [], {}
    for i, f in enumerate(firms):
        uscc = f"F{i:02d}"
        industries[uscc] = str(f["industry"])
        records += rows(uscc, "ELECTRICITY", sorted(f["months"]), float(f["mwh"]) * 1000, str(f["source"]))
        records += rows(uscc, "INDUSTRIAL_ADDED_VALUE", range(1, 13), float(f["added_value"]), "STATISTICS")
    result = build(records, industries)
    yearly = result.profiles[result.profiles["period"] == "2022"]
    ungraded = set(yearly.loc[yearly["grade"] == 0, "uscc"])
    assert set(yearly.loc[yearly["ungraded_reason"] != "", "uscc"]) == ungraded
    # Every cell counts exactly the complete profiles in it ...
    complete = yearly[yearly["ungraded_reason"].isin(["", "NO_BENCHMARK"])]
    assert result.benchmarks["enterprise_count"].sum() <= 9 * len(complete)
    # ... and removing the ungraded firms altogether changes no benchmark.
    kept = [r for r in records if r["uscc"] not in ungraded]
    if kept:
        again = build(kept, industries).benchmarks.reset_index(drop=True)
        pd.testing.assert_frame_equal(result.benchmarks.reset_index(drop=True), again)
    else:
        assert result.benchmarks.empty


def test_a_rolling_window_in_a_year_without_complete_profiles_uses_last_years_benchmark() -> None:
    """The current year (Jan-Mar 2023 reported) has no complete year profile, hence no 2023 benchmark:
    the window R12-2023-03 is graded against the stored 2022 benchmark (2.0612) instead of NO_BENCHMARK."""
    stored = build(peers()).benchmarks  # the 2022 benchmarks, as RecomputeBenchmarks(2022) stored them
    recent = peers() + [
        r for i in range(5) for r in rows(f"P{i}", "ELECTRICITY", range(1, 4), 1e6, "GRID_UTILITY", 2023)
    ]
    recent += [
        r
        for i in range(5)
        for r in rows(f"P{i}", "INDUSTRIAL_ADDED_VALUE", range(1, 4), 250.0, "STATISTICS", 2023)
    ]
    result = build(recent, years=[2023], latest_rolling=True, earlier_benchmarks=stored)
    assert profile(result, "P0", "2023")["ungraded_reason"] == "INCOMPLETE_ENERGY_DATA"
    rolling = profile(result, "P0", "R12-2023-03")
    assert (rolling["ungraded_reason"], rolling["benchmark_year"], rolling["grade"]) == ("", 2022, 3)
    assert rolling["benchmark_intensity"] == pytest.approx(6_183.6 / 3_000)


def test_electricity_by_tariff_bucket_is_not_energy_coverage_nor_emissions() -> None:
    # TOU and voltage-level rows are a breakdown of ELECTRICITY (informational, catalog 2026.2): a firm
    # with 12 months of them but no ELECTRICITY has no energy data, and they add no tCO2 to anyone.
    tou = rows("TOU", "ELECTRICITY_PEAK", range(1, 13), 400_000.0, "GRID_UTILITY")
    tou += rows("TOU", "ELECTRICITY_VALLEY", range(1, 13), 600_000.0, "GRID_UTILITY")
    tou += rows("TOU", "INDUSTRIAL_ADDED_VALUE", range(1, 13), 250.0, "STATISTICS")
    extra = rows("P0", "ELECTRICITY_1_10KV", range(1, 13), PEER_MWH * 1000, "GRID_UTILITY")
    extra += rows("P0", "LAND_AREA", range(1, 13), 50.0, "SELF_REPORTED")
    result = build(peers() + tou + extra)
    t = profile(result, "TOU")
    assert (t["grade"], t["ungraded_reason"], t["net_tco2"]) == (0, "NO_ENERGY_DATA", 0.0)
    p0 = profile(result, "P0")
    # P0 as without the extra rows: 12 x 1,000 MWh x 0.5153 = 6,183.6 t, K = 1.0, grade 3.
    assert p0["net_tco2"] == pytest.approx(12 * 1_000 * FACTOR) and p0["grade"] == 3


def test_twelve_months_metered_at_zero_is_no_energy_data_and_no_benchmark_member() -> None:
    """A firm whose every electricity reading is 0 has complete months but no energy use: it is not
    graded (it would be K = 0/0 against its own zero benchmark) and makes no benchmark."""
    records = rows("F00", "ELECTRICITY", range(1, 13), 0.0, "GRID_UTILITY")
    records += rows("F00", "INDUSTRIAL_ADDED_VALUE", range(1, 13), 100.0, "STATISTICS")
    result = build(records, {"F00": "2822"})
    year = result.profiles[result.profiles["period"] == "2022"].iloc[0]
    assert (year["grade"], year["ungraded_reason"]) == (0, "NO_ENERGY_DATA")
    assert result.members == () and result.benchmarks.empty


def test_quality_reasons_name_the_category_not_its_code() -> None:
    """A profile's flag texts say 电力（电网购入） / Grid electricity where the template has {category};
    the flag's `category` field keeps the code for machines (issue 16: no untranslated codes)."""
    records = rows("F00", "ELECTRICITY", range(1, 13), 500_000.0, "SELF_REPORTED")
    records += rows("F00", "INDUSTRIAL_ADDED_VALUE", range(1, 13), 100.0, "STATISTICS")
    result = build(records, {"F00": "2822"})
    flags = result.flags[("F00", "2022")]
    (flag,) = [f for f in flags if f["code"] == "SELF_REPORTED_ONLY"]
    assert flag["category"] == "ELECTRICITY"
    assert flag["reason_zh"].startswith("电力（电网购入）") and "ELECTRICITY" not in flag["reason_zh"]
    assert flag["reason_en"].startswith("Grid electricity") and "ELECTRICITY" not in flag["reason_en"]
