"""Carbon-efficiency grading ("碳效码"): intensity level on L and grade 1-5 on K = L / benchmark L
(pure: numpy/pandas + packaged YAML). Method files: tanxiao/standards/data/grading-<method_id>.yaml,
format in docs/accounting.md.

Thresholds are inclusive upper bounds compared with a relative tolerance of 1e-9: K is a quotient of
sums, so a value that is exactly on a boundary on paper (2.7 / 4.5 = 0.6) comes out a rounding error
above it (0.6000000000000001) and would otherwise land in the worse class. 1e-9 is far above double
rounding error (~1e-16) and far below any meaningful difference in intensity.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import yaml

from registry_service.domain.accounting import HUZHOU_BASIS, SCOPE2_METHODS, EmissionsBasis
from registry_service.domain.coverage import ANY_SOURCE, CoverageRule
from registry_service.domain.region import RegionLevel

PACKAGE = "tanxiao.standards.data"  # published methods are shared standards: scoring reads their levels
PREFIX = "grading-"
RELATIVE_TOLERANCE = 1e-9
GRADE_COUNT = 5
UNGRADED = 0
GRADE_COLUMNS = ("carbon_efficiency", "grade", "level", "label_zh", "label_en", "colour")


class GradingMethodError(ValueError):
    """A grading-method file that does not validate; the message names the key."""


@dataclass(frozen=True)
class Level:
    code: str  # LOW_CARBON / MEDIUM_CARBON / HIGH_CARBON
    name_zh: str  # 低碳
    name_en: str  # Low carbon
    upper: float | None  # inclusive upper bound on L; None for the last level


@dataclass(frozen=True)
class Grade:
    grade: int  # 1 (best) .. 5
    upper: float | None  # inclusive upper bound on K; None for the last grade
    colour: str
    colour_zh: str
    hex: str


@dataclass(frozen=True)
class BenchmarkSettings:
    industry_depth: int = 4
    region_level: RegionLevel = RegionLevel.CITY
    min_enterprises: int = 5


@dataclass(frozen=True)
class GradingMethod:
    method_id: str
    version: str
    name: str
    name_en: str
    source: str
    levels: tuple[Level, ...]
    grades: tuple[Grade, ...]
    benchmark: BenchmarkSettings = field(default_factory=BenchmarkSettings)
    coverage: CoverageRule = field(default_factory=CoverageRule)
    content_hash: str = ""
    emissions: EmissionsBasis = HUZHOU_BASIS  # what L counts: scope 2 method, process CO2 or not

    def grade(self, k: float) -> int:
        """Grade 1-5 of a carbon-efficiency value K; 0 (ungraded) when K is NaN."""
        return int(self.grades_of(np.array([k], dtype=float))[0])

    def level(self, intensity: float) -> str:
        """LOW_CARBON / MEDIUM_CARBON / HIGH_CARBON for an intensity L; "" when L is NaN."""
        return str(self.levels_of(np.array([intensity], dtype=float))[0])

    def label(self, intensity: float, k: float, *, lang: str = "zh") -> str:
        """Label of L and K: "高碳2级" (lang "zh"), "High carbon, grade 2" ("en"); "" if either is NaN."""
        frame = pd.DataFrame({"carbon_intensity": [intensity], "carbon_efficiency": [k]})
        labels = self._labels(frame["carbon_intensity"], frame["carbon_efficiency"])
        if lang not in labels:
            raise ValueError(f"lang {lang!r} must be 'zh' or 'en'")
        return str(labels[lang].iloc[0])

    def grades_of(self, k: npt.ArrayLike) -> npt.NDArray[np.int64]:
        values = np.asarray(k, dtype=float)
        index = _bin(values, [g.upper for g in self.grades[:-1]])
        return np.where(np.isnan(values), UNGRADED, index + 1).astype(np.int64)

    def levels_of(self, intensity: npt.ArrayLike) -> npt.NDArray[np.object_]:
        values = np.asarray(intensity, dtype=float)
        codes = np.array([lv.code for lv in self.levels], dtype=object)
        index = _bin(values, [lv.upper for lv in self.levels[:-1]])
        return np.where(np.isnan(values), "", codes[index]).astype(object)

    def grade_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (carbon_intensity, benchmark_intensity) plus GRADE_COLUMNS. K is NaN when L or the
        benchmark is NaN or the benchmark <= 0; then grade is 0 and the labels "" (ungraded). The level
        needs only L, so it is set whenever L is known."""
        missing = [c for c in ("carbon_intensity", "benchmark_intensity") if c not in frame.columns]
        if missing:
            raise ValueError(f"grade_frame needs columns {missing}")
        intensity = pd.to_numeric(frame["carbon_intensity"], errors="coerce").astype(float)
        benchmark = pd.to_numeric(frame["benchmark_intensity"], errors="coerce").astype(float)
        k = intensity / benchmark.where(benchmark > 0)
        grades = self.grades_of(k.to_numpy())
        labels = self._labels(intensity, k)
        colours = np.array(["", *(g.colour for g in self.grades)], dtype=object)
        return frame.assign(
            carbon_efficiency=k.to_numpy(),
            grade=grades,
            level=self.levels_of(intensity.to_numpy()),
            label_zh=labels["zh"].to_numpy(),
            label_en=labels["en"].to_numpy(),
            colour=colours[grades],
        )

    def _labels(self, intensity: pd.Series, k: pd.Series) -> dict[str, pd.Series]:
        grades = pd.Series(self.grades_of(k.to_numpy()), index=intensity.index)
        codes = pd.Series(self.levels_of(intensity.to_numpy()), index=intensity.index)
        names_zh = codes.map({lv.code: lv.name_zh for lv in self.levels})
        names_en = codes.map({lv.code: lv.name_en for lv in self.levels})
        graded = (grades > 0) & (codes != "")
        text = grades.astype(str)
        return {
            "zh": (names_zh + text + "级").where(graded, ""),
            "en": (names_en + ", grade " + text).where(graded, ""),
        }


def _bin(values: npt.NDArray[np.float64], uppers: list[float | None]) -> npt.NDArray[np.int64]:
    """How many inclusive upper bounds each value exceeds (beyond the relative tolerance)."""
    bounds = np.array([u for u in uppers if u is not None], dtype=float)
    bounds = bounds + RELATIVE_TOLERANCE * np.abs(bounds)
    filled = np.nan_to_num(values, nan=-np.inf)
    return np.searchsorted(bounds, filled, side="left").astype(np.int64)


# --- loading and validation ----------------------------------------------------------------------


def available_methods() -> list[str]:
    names = (p.name for p in resources.files(PACKAGE).iterdir())
    return sorted(
        n[len(PREFIX) : -len(".yaml")] for n in names if n.startswith(PREFIX) and n.endswith(".yaml")
    )


def load_grading_method(method_id: str | None = None, *, text: str | None = None) -> GradingMethod:
    """A packaged method (the latest id by default), or one parsed from YAML ``text``."""
    if text is not None:
        return parse_grading_method(text)
    return _packaged(method_id or available_methods()[-1])


def grade_frame(frame: pd.DataFrame, method: GradingMethod | None = None) -> pd.DataFrame:
    """``GradingMethod.grade_frame`` with the default packaged method."""
    return (method or load_grading_method()).grade_frame(frame)


@functools.cache
def _packaged(method_id: str) -> GradingMethod:
    path = resources.files(PACKAGE).joinpath(f"{PREFIX}{method_id}.yaml")
    if not path.is_file():
        raise GradingMethodError(f"no packaged grading method {method_id!r}; have {available_methods()}")
    method = parse_grading_method(path.read_text("utf-8"))
    if method.method_id != method_id:
        raise GradingMethodError(
            f"method_id: {method.method_id!r} does not match the file name {method_id!r}"
        )
    return method


def parse_grading_method(text: str) -> GradingMethod:
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise GradingMethodError("grading method: must be a mapping")
    levels = tuple(_level(item, i) for i, item in enumerate(_list(raw, "levels")))
    grades = tuple(_grade(item, i) for i, item in enumerate(_list(raw, "grades")))
    _check_levels(levels)
    _check_grades(grades)
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str)
    return GradingMethod(
        method_id=_text(raw, "method_id", ""),
        version=_text(raw, "version", ""),
        name=_text(raw, "name", ""),
        name_en=str(raw.get("name_en", "")),
        source=_text(raw, "source", ""),
        levels=levels,
        grades=grades,
        benchmark=_benchmark(raw.get("benchmark") or {}),
        coverage=_coverage(raw.get("coverage") or {}),
        content_hash=hashlib.sha256(canonical.encode()).hexdigest(),
        emissions=_emissions(raw.get("emissions") or {}),
    )


def _emissions(raw: Any) -> EmissionsBasis:
    """The ``emissions`` section: scope2_method (location | market) and include_process (bool)."""
    if not isinstance(raw, dict):
        raise GradingMethodError("emissions: must be a mapping")
    method = raw.get("scope2_method", HUZHOU_BASIS.scope2_method)
    if method not in SCOPE2_METHODS:
        raise GradingMethodError(f"emissions.scope2_method: {method!r} is not one of {list(SCOPE2_METHODS)}")
    include = raw.get("include_process", HUZHOU_BASIS.include_process)
    if not isinstance(include, bool):
        raise GradingMethodError("emissions.include_process: must be true or false")
    return EmissionsBasis(scope2_method=str(method), include_process=include)


def _level(raw: Any, index: int) -> Level:
    where = f"levels[{index}]"
    if not isinstance(raw, dict):
        raise GradingMethodError(f"{where}: must be a mapping")
    return Level(
        code=_text(raw, "code", where),
        name_zh=_text(raw, "name_zh", where),
        name_en=_text(raw, "name_en", where),
        upper=_bound(raw, where),
    )


def _grade(raw: Any, index: int) -> Grade:
    where = f"grades[{index}]"
    if not isinstance(raw, dict):
        raise GradingMethodError(f"{where}: must be a mapping")
    number = raw.get("grade")
    if number != index + 1 or isinstance(number, bool):
        raise GradingMethodError(f"{where}.grade: must be {index + 1} (grades are listed 1 to {GRADE_COUNT})")
    return Grade(
        grade=index + 1,
        upper=_bound(raw, where),
        colour=_text(raw, "colour", where),
        colour_zh=str(raw.get("colour_zh", "")),
        hex=str(raw.get("hex", "")),
    )


def _check_levels(levels: tuple[Level, ...]) -> None:
    if len(levels) < 2:
        raise GradingMethodError("levels: need at least two levels")
    codes = [lv.code for lv in levels]
    if len(set(codes)) != len(codes):
        raise GradingMethodError(f"levels: duplicate codes in {codes}")
    _check_bounds("levels", [lv.upper for lv in levels])


def _check_grades(grades: tuple[Grade, ...]) -> None:
    if len(grades) != GRADE_COUNT:
        raise GradingMethodError(f"grades: need exactly {GRADE_COUNT} grades, got {len(grades)}")
    _check_bounds("grades", [g.upper for g in grades])


def _check_bounds(key: str, uppers: list[float | None]) -> None:
    """All but the last bound set and strictly ascending; the last open (null)."""
    if uppers[-1] is not None:
        raise GradingMethodError(f"{key}[{len(uppers) - 1}].upper: the last entry must have upper: null")
    for i, upper in enumerate(uppers[:-1]):
        if upper is None:
            raise GradingMethodError(f"{key}[{i}].upper: required (only the last entry is open)")
        if i and upper <= (uppers[i - 1] or 0.0):
            raise GradingMethodError(f"{key}[{i}].upper: {upper} must be above {uppers[i - 1]} (ascending)")


def _benchmark(raw: Any) -> BenchmarkSettings:
    if not isinstance(raw, dict):
        raise GradingMethodError("benchmark: must be a mapping")
    defaults = BenchmarkSettings()
    depth = raw.get("industry_depth", defaults.industry_depth)
    if depth not in (2, 3, 4) or isinstance(depth, bool):
        raise GradingMethodError(f"benchmark.industry_depth: {depth!r} must be 2, 3 or 4")
    level = str(raw.get("region_level", defaults.region_level))
    if level not in RegionLevel.__members__:
        raise GradingMethodError(f"benchmark.region_level: {level!r} is not one of {list(RegionLevel)}")
    minimum = raw.get("min_enterprises", defaults.min_enterprises)
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
        raise GradingMethodError(f"benchmark.min_enterprises: {minimum!r} must be an integer >= 1")
    return BenchmarkSettings(industry_depth=depth, region_level=RegionLevel(level), min_enterprises=minimum)


def _coverage(raw: Any) -> CoverageRule:
    """The ``coverage`` section; absent keys take CoverageRule's defaults."""
    if not isinstance(raw, dict):
        raise GradingMethodError("coverage: must be a mapping")
    defaults = CoverageRule()
    required = _codes(raw.get("required", list(defaults.required)), "coverage.required")
    sources = raw.get("admissible_sources", dict(defaults.admissible_sources))
    if not isinstance(sources, dict):
        raise GradingMethodError("coverage.admissible_sources: must be a mapping of category to sources")
    admissible = {str(k): _codes(v or [], f"coverage.admissible_sources.{k}") for k, v in sources.items()}
    admissible.setdefault(ANY_SOURCE, ())
    industries = raw.get("industry_required") or {}
    if not isinstance(industries, dict) or not all(str(k).isdigit() for k in industries):
        raise GradingMethodError("coverage.industry_required: must map GB/T 4754 code prefixes to categories")
    previous = raw.get("previous_year_energy", defaults.previous_year_energy)
    if not isinstance(previous, bool):
        raise GradingMethodError("coverage.previous_year_energy: must be true or false")
    return CoverageRule(
        required=required,
        admissible_sources=admissible,
        industry_required={
            str(k): _codes(v, f"coverage.industry_required.{k}") for k, v in industries.items()
        },
        previous_year_energy=previous,
    )


def _codes(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise GradingMethodError(f"{where}: must be a list of codes")
    return tuple(value)


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if not isinstance(value, list) or not value:
        raise GradingMethodError(f"{key}: must be a non-empty list")
    return value


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    name = f"{where}.{key}" if where else key
    if value in (None, ""):
        raise GradingMethodError(f"{name}: required")
    return str(value)


def _bound(raw: Mapping[str, Any], where: str) -> float | None:
    if "upper" not in raw:
        raise GradingMethodError(f"{where}.upper: required (null for the last entry)")
    value = raw["upper"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise GradingMethodError(f"{where}.upper: {value!r} must be a finite number >= 0")
    return float(value)
