"""Grading: boundaries from both sides, the reference case, validation of method files, monotonicity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from registry_service.domain.grading import (
    GRADE_COLUMNS,
    GradingMethod,
    GradingMethodError,
    available_methods,
    grade_frame,
    load_grading_method,
)
from registry_service.domain.region import RegionLevel

NAN = math.nan
ABOVE = 1 + 1e-6  # clearly beyond the 1e-9 tolerance


@pytest.fixture(scope="module")
def method() -> GradingMethod:
    return load_grading_method("huzhou-2023")


def packaged_text() -> str:
    from importlib import resources

    return resources.files("tanxiao.standards.data").joinpath("grading-huzhou-2023.yaml").read_text("utf-8")


def edited(change: dict[str, object]) -> str:
    raw = yaml.safe_load(packaged_text())
    raw.update(change)
    return yaml.safe_dump(raw, allow_unicode=True)


def test_packaged_method(method: GradingMethod) -> None:
    assert "huzhou-2023" in available_methods()
    assert (method.method_id, method.version) == ("huzhou-2023", "2023.2")
    assert [g.upper for g in method.grades] == [0.6, 0.8, 1.2, 2.0, None]
    assert [g.colour for g in method.grades] == ["green", "light green", "yellow", "orange", "red"]
    assert [lv.upper for lv in method.levels] == [0.6, 2.0, None]
    assert method.benchmark.industry_depth == 4
    assert method.benchmark.region_level is RegionLevel.CITY
    assert method.benchmark.min_enterprises == 5
    assert load_grading_method() == method  # the latest packaged method by default
    assert len(method.content_hash) == 64


@pytest.mark.parametrize(("bound", "grade"), [(0.6, 1), (0.8, 2), (1.2, 3), (2.0, 4)])
def test_grade_boundaries_are_inclusive_upper_bounds(method: GradingMethod, bound: float, grade: int) -> None:
    assert method.grade(bound / ABOVE) == grade
    assert method.grade(bound) == grade
    assert method.grade(bound * ABOVE) == grade + 1


@pytest.mark.parametrize(
    ("bound", "level", "above"), [(0.6, "LOW_CARBON", "MEDIUM_CARBON"), (2.0, "MEDIUM_CARBON", "HIGH_CARBON")]
)
def test_level_boundaries_are_inclusive_upper_bounds(
    method: GradingMethod, bound: float, level: str, above: str
) -> None:
    assert method.level(bound / ABOVE) == level
    assert method.level(bound) == level
    assert method.level(bound * ABOVE) == above


def test_computed_boundary_values_count_as_on_the_boundary(method: GradingMethod) -> None:
    assert 2.7 / 4.5 > 0.6  # 0.6000000000000001: would be grade 2 without the tolerance
    assert method.grade(2.7 / 4.5) == 1
    assert 0.1 * 3 * 4 > 1.2  # 1.2000000000000002
    assert method.grade(0.1 * 3 * 4) == 3
    assert method.level(0.2 * 3) == "LOW_CARBON"  # 0.6000000000000001


def test_extremes_and_nan(method: GradingMethod) -> None:
    assert method.grade(0.0) == 1
    assert method.grade(math.inf) == 5
    assert method.grade(NAN) == 0
    assert method.level(0.0) == "LOW_CARBON"
    assert method.level(NAN) == ""
    assert method.label(NAN, 1.0) == ""
    assert method.label(1.0, NAN) == ""


def test_reference_case_label(method: GradingMethod) -> None:
    intensity, average = 2.078, 2.9
    k = intensity / average
    assert k == pytest.approx(0.7166, abs=5e-5)
    assert method.grade(k) == 2
    assert method.level(intensity) == "HIGH_CARBON"
    assert method.label(intensity, k) == "高碳2级"
    assert method.label(intensity, k, lang="en") == "High carbon, grade 2"
    assert method.label(0.5, 0.5) == "低碳1级"
    assert method.label(1.0, 1.5, lang="en") == "Medium carbon, grade 4"
    with pytest.raises(ValueError, match="lang"):
        method.label(1.0, 1.0, lang="fr")


def test_grade_frame(method: GradingMethod) -> None:
    frame = pd.DataFrame(
        {
            "uscc": ["A", "B", "C", "D", "E"],
            "carbon_intensity": [2.078, 1.8, NAN, 1.0, 7.01],
            "benchmark_intensity": [2.9, 3.0, 1.0, NAN, 6.0],
        }
    )
    out = method.grade_frame(frame)
    assert list(out.columns) == [*frame.columns, *GRADE_COLUMNS]
    np.testing.assert_allclose(out["carbon_efficiency"], [2.078 / 2.9, 0.6, NAN, NAN, 7.01 / 6.0])
    assert list(out["grade"]) == [2, 1, 0, 0, 3]
    assert list(out["level"]) == ["HIGH_CARBON", "MEDIUM_CARBON", "", "MEDIUM_CARBON", "HIGH_CARBON"]
    assert list(out["label_zh"]) == ["高碳2级", "中碳1级", "", "", "高碳3级"]  # E: the 中跃化纤 case
    assert list(out["colour"]) == ["light green", "green", "", "", "yellow"]
    assert out["grade"].dtype == np.int64
    zero_benchmark = pd.DataFrame({"carbon_intensity": [1.0], "benchmark_intensity": [0.0]})
    assert grade_frame(zero_benchmark)["grade"].iloc[0] == 0
    with pytest.raises(ValueError, match="benchmark_intensity"):
        method.grade_frame(frame.drop(columns="benchmark_intensity"))


@given(
    intensities=st.lists(st.floats(0.0, 50.0), min_size=2, max_size=30),
    benchmark=st.floats(0.01, 20.0),
)
def test_lower_intensity_never_gets_a_worse_grade(intensities: list[float], benchmark: float) -> None:
    method = load_grading_method("huzhou-2023")
    frame = pd.DataFrame({"carbon_intensity": sorted(intensities), "benchmark_intensity": benchmark})
    out = method.grade_frame(frame)
    assert out["grade"].is_monotonic_increasing
    level_rank = out["level"].map({"LOW_CARBON": 0, "MEDIUM_CARBON": 1, "HIGH_CARBON": 2})
    assert level_rank.is_monotonic_increasing


# --- validation -----------------------------------------------------------------------------------


def test_parses_text_and_defaults_benchmark_settings() -> None:
    method = load_grading_method(text=edited({"method_id": "test-1", "benchmark": None}))
    assert method.method_id == "test-1"
    assert method.benchmark.industry_depth == 4
    assert method.benchmark.region_level is RegionLevel.CITY
    assert method.benchmark.min_enterprises == 5


def grades_with(index: int, **change: object) -> list[dict[str, object]]:
    grades: list[dict[str, object]] = yaml.safe_load(packaged_text())["grades"]
    grades[index] = {**grades[index], **change}
    return grades


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grades": grades_with(2, upper=0.7)}, r"grades\[2\]\.upper: 0\.7 must be above 0\.8"),
        ({"grades": grades_with(1, upper=0.6)}, r"grades\[1\]\.upper.*ascending"),
        ({"grades": grades_with(0, upper=None)}, r"grades\[0\]\.upper: required"),
        ({"grades": grades_with(4, upper=3.0)}, r"grades\[4\]\.upper: the last entry"),
        ({"grades": grades_with(0, upper="low")}, r"grades\[0\]\.upper"),
        ({"grades": grades_with(3, grade=7)}, r"grades\[3\]\.grade: must be 4"),
        ({"grades": grades_with(1, colour="")}, r"grades\[1\]\.colour: required"),
        ({"grades": yaml.safe_load(packaged_text())["grades"][:4]}, r"grades: need exactly 5 grades"),
        (
            {"levels": [{"code": "X", "name_zh": "x", "name_en": "x", "upper": None}]},
            r"levels: need at least two",
        ),
        ({"levels": None}, r"levels: must be a non-empty list"),
        ({"method_id": ""}, r"method_id: required"),
        ({"benchmark": {"industry_depth": 5}}, r"benchmark\.industry_depth"),
        ({"benchmark": {"region_level": "TOWN"}}, r"benchmark\.region_level"),
        ({"benchmark": {"min_enterprises": 0}}, r"benchmark\.min_enterprises"),
    ],
)
def test_invalid_method_files_name_the_key(change: dict[str, object], message: str) -> None:
    with pytest.raises(GradingMethodError, match=message):
        load_grading_method(text=edited(change))


def test_unknown_packaged_method() -> None:
    with pytest.raises(ValueError, match="no packaged grading method 'nowhere-1999'"):
        load_grading_method("nowhere-1999")
    with pytest.raises(ValueError, match="must be a mapping"):
        load_grading_method(text="- 1\n- 2\n")
