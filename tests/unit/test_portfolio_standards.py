"""Code lists with names (tanxiao.standards): GB/T 2260 regions, GB/T 4754-2017 divisions and classes,
lender names, each with its source."""

from __future__ import annotations

import pytest

from tanxiao.standards import (
    CLASSES,
    DIVISIONS,
    LENDERS,
    REGIONS,
    code_list,
    division_name,
    industry_name,
    lender_name,
    region_name,
    sources,
)


def test_huzhou_regions_have_names_in_both_languages() -> None:
    assert region_name("330000") == ("浙江省", "Zhejiang Province")
    assert region_name("330500") == ("湖州市", "Huzhou")
    assert region_name("330502") == ("湖州市吴兴区", "Wuxing District, Huzhou")
    assert region_name("330523") == ("湖州市安吉县", "Anji County, Huzhou")
    counties = [c for c, extra in code_list(REGIONS).extra.items() if extra["level"] == "county"]
    assert sorted(counties) == ["330502", "330503", "330521", "330522", "330523"]
    assert region_name("999999") == ("999999", "999999")  # not covered: the code, never a guess


def test_every_gbt4754_division_is_named() -> None:
    divisions = code_list(DIVISIONS).names
    assert len(divisions) == 97 and sorted(divisions) == [f"{d:02d}" for d in range(1, 98)]
    assert division_name("3484") == ("通用设备制造业", "Manufacture of general-purpose machinery")
    assert industry_name("3011") == ("水泥制造", "Manufacture of cement")  # a listed class
    assert industry_name("3099") == ("非金属矿物制品业", "Manufacture of non-metallic mineral products")
    assert industry_name("xx") == ("xx", "xx")


def test_lender_names() -> None:
    assert lender_name("lenders/anji-rcb") == ("浙江安吉农村商业银行", "Zhejiang Anji Rural Commercial Bank")
    assert lender_name("lenders/unknown") == ("unknown", "unknown")


@pytest.mark.parametrize("name", [REGIONS, DIVISIONS, CLASSES, LENDERS])
def test_every_list_says_its_source_version_and_coverage(name: str) -> None:
    listed = code_list(name)
    assert listed.source and listed.version and listed.coverage
    assert all(zh and en for zh, en in listed.names.values())
    assert {s["list"] for s in sources()} == {REGIONS, DIVISIONS, CLASSES, LENDERS}
