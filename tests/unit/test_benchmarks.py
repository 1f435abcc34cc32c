"""Benchmarks: hand-computed averages and quartiles, the fallback order, which benchmark was used."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from registry_service.domain.benchmarks import (
    ASSIGNED_COLUMNS,
    BENCHMARK_COLUMNS,
    assign_benchmarks,
    compute_benchmarks,
    fallback_order,
)
from registry_service.domain.region import RegionLevel

COUNTY, CITY, PROVINCE = RegionLevel.COUNTY, RegionLevel.CITY, RegionLevel.PROVINCE
WUXING, NANXUN, HANGZHOU = "330502", "330503", "330106"  # two Huzhou counties, one Hangzhou county

# uscc, industry, region, net tCO2, added value 万元 -> L
ROWS = [
    ("A", "2825", WUXING, 100.0, 100.0),  # 1.0
    ("B", "2825", WUXING, 300.0, 100.0),  # 3.0
    ("C", "2825", NANXUN, 200.0, 200.0),  # 1.0
    ("D", "2825", NANXUN, 600.0, 300.0),  # 2.0
    ("F", "2822", WUXING, 50.0, 100.0),  # 0.5
    ("G", "2825", NANXUN, 999.0, 0.0),  # no added value: excluded from every benchmark
    ("H", "2825", HANGZHOU, 80.0, 100.0),  # 0.8, another city of the same province
]


def profiles(rows: list[tuple[str, str, str, float, float]] = ROWS, year: int = 2023) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["uscc", "industry_code", "region_code", "net_tco2", "added_value_10k_cny"]
    )
    return frame.assign(year=year)


def cell(benchmarks: pd.DataFrame, industry: str, region: str, year: int = 2023) -> pd.Series:
    found = benchmarks[
        (benchmarks["industry_code"] == industry)
        & (benchmarks["region_code"] == region)
        & (benchmarks["year"] == year)
    ]
    assert len(found) == 1, f"expected one benchmark for {industry} {region} {year}"
    return found.iloc[0]


@pytest.fixture(scope="module")
def benchmarks() -> pd.DataFrame:
    return compute_benchmarks(profiles())


def test_city_class_benchmark(benchmarks: pd.DataFrame) -> None:
    row = cell(benchmarks, "2825", "330500")  # A, B, C, D: L 1, 3, 1, 2
    assert list(benchmarks.columns) == list(BENCHMARK_COLUMNS)
    assert (row["industry_depth"], row["region_level"], row["enterprise_count"]) == (4, "CITY", 4)
    assert row["total_tco2"] == 1_200.0
    assert row["total_added_value"] == 700.0
    assert row["average_intensity"] == pytest.approx(1_200 / 700)  # ratio of totals, not mean of L
    assert row["median_intensity"] == 1.5  # sorted L: 1, 1, 2, 3
    assert row["q1_intensity"] == 1.0  # position 0.75: 1 + 0.75 x (1 - 1)
    assert row["q3_intensity"] == 2.25  # position 2.25: 2 + 0.25 x (3 - 2)


def test_county_group_and_province_benchmarks(benchmarks: pd.DataFrame) -> None:
    wuxing = cell(benchmarks, "2825", WUXING)  # A, B
    assert (wuxing["region_level"], wuxing["enterprise_count"]) == ("COUNTY", 2)
    assert wuxing["average_intensity"] == 2.0
    assert (wuxing["q1_intensity"], wuxing["median_intensity"], wuxing["q3_intensity"]) == (1.5, 2.0, 2.5)
    group = cell(benchmarks, "282", "330500")  # A, B, C, D, F
    assert (group["industry_depth"], group["enterprise_count"]) == (3, 5)
    assert group["average_intensity"] == pytest.approx(1_250 / 800)
    assert group["median_intensity"] == 1.0  # sorted L: 0.5, 1, 1, 2, 3
    province = cell(benchmarks, "28", "330000")  # everyone but G
    assert (province["industry_depth"], province["region_level"], province["enterprise_count"]) == (
        2,
        "PROVINCE",
        6,
    )
    assert province["average_intensity"] == pytest.approx(1_330 / 900)


def test_codes_are_only_cut_to_levels_they_have() -> None:
    rows = [("X", "28", "330500", 10.0, 10.0)]  # a division code registered at city level
    out = compute_benchmarks(profiles(rows))
    assert sorted(zip(out["industry_depth"], out["region_level"], strict=True)) == [
        (2, "CITY"),
        (2, "PROVINCE"),
    ]


def test_years_are_separate_and_empty_input() -> None:
    both = pd.concat([profiles(), profiles(year=2024).assign(net_tco2=lambda f: f["net_tco2"] * 2)])
    out = compute_benchmarks(both)
    assert cell(out, "2825", "330500", 2024)["average_intensity"] == pytest.approx(2_400 / 700)
    assert cell(out, "2825", "330500", 2023)["average_intensity"] == pytest.approx(1_200 / 700)
    empty = compute_benchmarks(profiles()[profiles()["uscc"] == "G"])
    assert empty.empty and list(empty.columns) == list(BENCHMARK_COLUMNS)


def test_fallback_order() -> None:
    assert fallback_order(4, COUNTY) == [
        (4, COUNTY),
        (3, COUNTY),
        (2, COUNTY),
        (4, CITY),
        (3, CITY),
        (2, CITY),
        (4, PROVINCE),
        (3, PROVINCE),
        (2, PROVINCE),
    ]
    assert fallback_order(3, CITY) == [(3, CITY), (2, CITY), (3, PROVINCE), (2, PROVINCE)]


def assigned(benchmarks: pd.DataFrame, depth: int, level: RegionLevel, minimum: int) -> pd.DataFrame:
    out = assign_benchmarks(
        profiles(), benchmarks, industry_depth=depth, region_level=level, min_enterprises=minimum
    )
    assert list(out.columns) == [*profiles().columns, *ASSIGNED_COLUMNS]
    return out.set_index("uscc")


def test_configured_benchmark_when_it_has_enough_enterprises(benchmarks: pd.DataFrame) -> None:
    a = assigned(benchmarks, 4, CITY, 4).loc["A"]
    assert (a["benchmark_industry_code"], a["benchmark_industry_depth"]) == ("2825", 4)
    assert (a["benchmark_region_code"], a["benchmark_region_level"]) == ("330500", "CITY")
    assert a["benchmark_intensity"] == pytest.approx(1_200 / 700)
    assert a["benchmark_count"] == 4
    assert not a["benchmark_fallback"] and a["benchmark_qualified"]


def test_falls_back_to_the_next_coarser_industry(benchmarks: pd.DataFrame) -> None:
    out = assigned(benchmarks, 4, CITY, 5)  # 2825 in Huzhou has 4: the group 282 has 5
    a = out.loc["A"]
    assert (a["benchmark_industry_code"], a["benchmark_industry_depth"]) == ("282", 3)
    assert a["benchmark_region_code"] == "330500"
    assert a["benchmark_intensity"] == pytest.approx(1_250 / 800)
    assert (a["benchmark_count"], a["benchmark_fallback"], a["benchmark_qualified"]) == (5, True, True)
    assert out.loc["G", "benchmark_industry_code"] == "282"  # excluded from benchmarks, still compared


def test_industry_fallback_comes_before_region_fallback(benchmarks: pd.DataFrame) -> None:
    out = assigned(benchmarks, 4, COUNTY, 3)
    wuxing = out.loc["A"]  # 2825 in Wuxing has 2 (A, B); 282 in Wuxing has 3 (A, B, F)
    assert (wuxing["benchmark_industry_code"], wuxing["benchmark_region_code"]) == ("282", WUXING)
    assert wuxing["benchmark_region_level"] == "COUNTY"
    assert wuxing["benchmark_intensity"] == pytest.approx(450 / 300)
    nanxun = out.loc["C"]  # 2825 / 282 / 28 in Nanxun all have 2: next region level, from depth 4 again
    assert (nanxun["benchmark_industry_code"], nanxun["benchmark_industry_depth"]) == ("2825", 4)
    assert (nanxun["benchmark_region_code"], nanxun["benchmark_region_level"]) == ("330500", "CITY")
    assert nanxun["benchmark_intensity"] == pytest.approx(1_200 / 700)
    assert nanxun["benchmark_fallback"] and nanxun["benchmark_qualified"]
    hangzhou = out.loc["H"]  # alone in Hangzhou: the province's 2825 (A, B, C, D, H)
    assert (hangzhou["benchmark_industry_code"], hangzhou["benchmark_region_code"]) == ("2825", "330000")
    assert hangzhou["benchmark_intensity"] == pytest.approx(1_280 / 800)


def test_coarsest_available_when_none_qualifies(benchmarks: pd.DataFrame) -> None:
    a = assigned(benchmarks, 4, CITY, 100).loc["A"]
    assert (a["benchmark_industry_code"], a["benchmark_region_code"]) == ("28", "330000")
    assert a["benchmark_intensity"] == pytest.approx(1_330 / 900)
    assert a["benchmark_count"] == 6
    assert a["benchmark_fallback"] and not a["benchmark_qualified"]


def test_no_benchmark_at_all() -> None:
    lonely = profiles([("Z", "1311", "110105", 10.0, 0.0)])  # no valid profile anywhere in its industry
    out = assign_benchmarks(
        lonely, compute_benchmarks(profiles()), industry_depth=4, region_level=CITY, min_enterprises=5
    )
    row = out.iloc[0]
    assert math.isnan(row["benchmark_intensity"])
    assert row["benchmark_count"] == 0
    assert row["benchmark_industry_code"] is None
    assert row["benchmark_fallback"] and not row["benchmark_qualified"]


def test_keeps_the_profiles_index_and_order(benchmarks: pd.DataFrame) -> None:
    shuffled = profiles().iloc[::-1].set_index(pd.Index(np.arange(70, 0, -10)))
    out = assign_benchmarks(shuffled, benchmarks, industry_depth=4, region_level=CITY, min_enterprises=4)
    assert list(out.index) == list(shuffled.index)
    assert list(out["uscc"]) == list(shuffled["uscc"])
    assert out.set_index("uscc").loc["A", "benchmark_intensity"] == pytest.approx(1_200 / 700)


def test_missing_codes_make_no_benchmark() -> None:
    rows = [("U", None, WUXING, 10.0, 10.0), ("V", "2825", None, 10.0, 10.0), *ROWS]
    out = compute_benchmarks(profiles(rows))  # type: ignore[arg-type]
    assert not out["industry_code"].isin(["na", "nan", "None"]).any()
    assert cell(out, "2825", "330500")["enterprise_count"] == 4  # V has no region: in no regional cell
    assigned = assign_benchmarks(
        profiles(rows),  # type: ignore[arg-type]
        out,
        industry_depth=4,
        region_level=CITY,
        min_enterprises=4,
    ).set_index("uscc")
    assert math.isnan(assigned.loc["U", "benchmark_intensity"])
    assert assigned.loc["A", "benchmark_intensity"] == pytest.approx(1_200 / 700)
