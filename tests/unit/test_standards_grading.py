"""Scoring's level of an intensity (tanxiao.standards.grading, which reads only the levels of the packaged
grading method) is the registry's (registry_service.domain.grading), boundaries and NaN included."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from registry_service.domain.grading import available_methods, load_grading_method
from tanxiao.standards.grading import carbon_level, grading_methods, levels


def test_the_same_methods_and_levels_as_the_registry() -> None:
    assert grading_methods() == available_methods()
    method = load_grading_method()
    assert [(lv.code, lv.name_zh, lv.name_en, lv.upper) for lv in levels()] == [
        (lv.code, lv.name_zh, lv.name_en, lv.upper) for lv in method.levels
    ]


def test_boundaries_are_inclusive_as_in_the_registry() -> None:
    method = load_grading_method()
    for level in method.levels[:-1]:
        assert level.upper is not None
        for value in (level.upper, level.upper * (1 + 1e-12), level.upper * (1 + 1e-6), level.upper * 0.999):
            assert carbon_level(value) == method.level(value), value
    assert carbon_level(math.nan) == method.level(math.nan) == ""


@given(st.floats(min_value=0, max_value=100, allow_nan=False))
def test_any_intensity_gets_the_registrys_level(intensity: float) -> None:
    assert carbon_level(intensity) == load_grading_method().level(intensity)
