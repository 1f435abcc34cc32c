"""Price deflators for added value at constant prices (pure). The packaged table
(``registry_service/data/deflators.yaml``) chains yearly changes of an index into levels; a value
in year Y is expressed in the prices of year B as value x index(B) / index(Y).
Used by retrofit progress (registry_service.domain.commitments): savings are measured against the
baseline year with added value at the baseline year's prices, so inflation is not a saving."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

PACKAGE = "registry_service.data"
FILE = "deflators.yaml"


class DeflatorError(ValueError):
    """The deflator file is malformed (the message names the key)."""


@dataclass(frozen=True)
class Deflator:
    deflator_id: str
    base_year: int
    index: dict[int, float]  # year -> index level, base_year = 100
    sources: dict[int, str]
    unconfirmed: frozenset[int]

    def to_prices_of(self, value: float, year: int, base: int) -> float | None:
        """``value`` of ``year`` in the prices of ``base``; None when either year is not in the table."""
        if year not in self.index or base not in self.index:
            return None
        return value * self.index[base] / self.index[year]

    def source_of(self, *years: int) -> str:
        """The sources of the years' index levels (and which are unconfirmed), for a report."""
        parts = [f"{y}: {self.sources[y]}" + (" (unconfirmed)" if y in self.unconfirmed else "")
                 for y in sorted(set(years)) if y in self.sources]  # fmt: skip
        return f"{self.deflator_id}; " + "; ".join(parts)


def load_deflator(text: str | None = None) -> Deflator:
    """The packaged table, or one parsed from ``text`` (YAML, same format)."""
    raw = yaml.safe_load(
        text if text is not None else resources.files(PACKAGE).joinpath(FILE).read_text("utf-8")
    )
    if not isinstance(raw, dict):
        raise DeflatorError("deflators: must be a mapping")
    base = _int(raw.get("base_year"), "base_year")
    years = raw.get("years")
    if not isinstance(years, dict) or not years:
        raise DeflatorError("years: must be a non-empty mapping of year -> {change_pct, source}")
    changes = {_int(y, f"years.{y}"): _entry(entry, y) for y, entry in years.items()}
    if base not in changes:
        raise DeflatorError(f"base_year: {base} must be one of the years")
    index = _chain(base, {y: c for y, (c, _, _) in changes.items()})
    return Deflator(
        deflator_id=str(raw.get("deflator_id") or ""),
        base_year=base,
        index=index,
        sources={y: s for y, (_, s, _) in changes.items()},
        unconfirmed=frozenset(y for y, (_, _, u) in changes.items() if u),
    )


def _chain(base: int, change_pct: dict[int, float]) -> dict[int, float]:
    """Index levels from yearly changes: level(y) = level(y-1) x (1 + change(y)/100); contiguous years
    only (a gap would make later levels meaningless)."""
    years = sorted(change_pct)
    if years != list(range(years[0], years[-1] + 1)):
        raise DeflatorError(f"years: must be contiguous, have {years}")
    index = {base: 100.0}
    for y in range(base + 1, years[-1] + 1):
        index[y] = index[y - 1] * (1 + change_pct[y] / 100)
    for y in range(base - 1, years[0] - 1, -1):
        index[y] = index[y + 1] / (1 + change_pct[y + 1] / 100)
    return index


def _entry(entry: Any, year: Any) -> tuple[float, str, bool]:
    if not isinstance(entry, dict):
        raise DeflatorError(f"years.{year}: must be a mapping with change_pct and source")
    change = entry.get("change_pct")
    if (
        isinstance(change, bool)
        or not isinstance(change, int | float)
        or not math.isfinite(change)
        or change <= -100
    ):
        raise DeflatorError(f"years.{year}.change_pct: must be a finite number above -100")
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise DeflatorError(f"years.{year}.source: every value needs its source")
    return float(change), source.strip(), bool(entry.get("unconfirmed", False))


def _int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DeflatorError(f"{key}: must be an integer year")
    return value


@functools.cache
def packaged_deflator() -> Deflator:
    """The packaged table, read once per process."""
    return load_deflator()
