"""The carbon-intensity levels of the published grading methods (``data/grading-<method_id>.yaml``).

The registry grades (registry_service.domain.grading parses the whole method file); scoring only needs
the level of an intensity L when a profile arrives without one, and reads it here from the same file,
without importing the registry. Bounds are inclusive with the same relative tolerance (1e-9) as the
registry's grading, so both place a value on a boundary in the same level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

PACKAGE = "tanxiao.standards.data"
PREFIX = "grading-"
RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LevelBound:
    code: str  # LOW_CARBON / MEDIUM_CARBON / HIGH_CARBON
    name_zh: str
    name_en: str
    upper: float | None  # inclusive upper bound on L; None for the last level


def grading_methods() -> list[str]:
    """The packaged grading method ids, oldest first (the registry grades with the last by default)."""
    names = (p.name for p in resources.files(PACKAGE).iterdir())
    return sorted(
        n[len(PREFIX) : -len(".yaml")] for n in names if n.startswith(PREFIX) and n.endswith(".yaml")
    )


@cache
def levels(method_id: str | None = None) -> tuple[LevelBound, ...]:
    """The levels of a packaged method (the latest by default), in ascending order of L."""
    method_id = method_id or grading_methods()[-1]
    raw = yaml.safe_load(resources.files(PACKAGE).joinpath(f"{PREFIX}{method_id}.yaml").read_text("utf-8"))
    return tuple(
        LevelBound(str(lv["code"]), str(lv["name_zh"]), str(lv["name_en"]), lv.get("upper"))
        for lv in raw["levels"]
    )


def carbon_level(intensity: float, method_id: str | None = None) -> str:
    """LOW_CARBON / MEDIUM_CARBON / HIGH_CARBON for an intensity L; "" when L is NaN."""
    if math.isnan(intensity):
        return ""
    for level in levels(method_id):
        if level.upper is None or intensity <= level.upper + RELATIVE_TOLERANCE * abs(level.upper):
            return level.code
    return levels(method_id)[-1].code
