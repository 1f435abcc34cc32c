"""The data-category catalog: units, tce coefficients, CO2 factors and grid factors, as versioned data.

The catalog files ship in registry_service/data (``catalog-<version>.yaml``); this module parses and
validates them and answers the questions the ingest and the accounting ask (accepted units, canonical
quantity, which grid factor applies). No database or gRPC here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from typing import Any

import yaml

PACKAGE = "registry_service.data"
NATIONAL = "national"


class CategoryKind(StrEnum):
    ENERGY = "ENERGY"
    RENEWABLE = "RENEWABLE"
    ECONOMIC = "ECONOMIC"
    RESOURCE = "RESOURCE"
    PROCESS = (
        "PROCESS"  # scope-1 process emissions (carbonate calcination): no tce, energy-only L excludes it
    )


# Kinds that never enter energy (tce) or emissions: the accounting counts tce for ENERGY only and CO2
# for scopes 1 and 2 only; the parser keeps these kinds at scope NONE without factors.
INFORMATIONAL_KINDS = frozenset({CategoryKind.ECONOMIC, CategoryKind.RESOURCE})


class Scope(StrEnum):
    SCOPE_1 = "1"
    SCOPE_2 = "2"
    NETTING = "NETTING"
    NONE = "NONE"


@dataclass(frozen=True)
class DataCategory:
    code: str
    name_zh: str
    name_en: str
    kind: CategoryKind
    unit: str
    accepted_units: Mapping[str, float]  # unit -> multiplier to the canonical unit (canonical included)
    scope: Scope
    kgce_per_unit: float | None = None
    kgco2_per_unit: float | None = None
    uses_grid_factor: bool = False
    source: str = ""
    notes: str = ""
    instrument: bool = False  # a contractual instrument (green power, GEC): records carry instrument_id


@dataclass(frozen=True)
class GridFactor:
    region: str  # GB/T 2260 prefix or "national"
    year: int
    tco2_per_mwh: float
    source: str = ""


@dataclass(frozen=True)
class Catalog:
    version: str
    content_hash: str
    categories: tuple[DataCategory, ...]
    grid_factors: tuple[GridFactor, ...] = ()
    effective_from: str = ""
    residual_mix: tuple[GridFactor, ...] = ()  # market-based scope 2: uncovered grid purchases
    _by_code: Mapping[str, DataCategory] = field(default_factory=dict, repr=False, compare=False)

    def category(self, code: str) -> DataCategory:
        found = self._by_code.get(code) or next((c for c in self.categories if c.code == code), None)
        if found is None:
            raise KeyError(f"unknown category {code!r} in catalog {self.version}")
        return found

    def to_canonical(self, code: str, quantity: float, unit: str = "") -> float:
        """``quantity`` in ``unit`` (empty = canonical) as a quantity in the category's canonical unit."""
        category = self.category(code)
        multiplier = category.accepted_units.get(unit or category.unit)
        if multiplier is None:
            raise ValueError(f"unit {unit!r} is not accepted for {code} (canonical {category.unit})")
        return quantity * multiplier

    def grid_factor(self, region_code: str, year: int) -> GridFactor:
        """The factor for a region and year: the longest matching region prefix with a factor for the
        year or the latest earlier one; else the national factor by the same rule; else the earliest
        national one (a year before every published factor)."""
        candidates = sorted(
            (f for f in self.grid_factors if f.region == NATIONAL or region_code.startswith(f.region)),
            key=lambda f: (f.region != NATIONAL, len(f.region) if f.region != NATIONAL else 0, f.year),
            reverse=True,
        )
        for factor in candidates:
            if factor.year <= year:
                return factor
        national = sorted((f for f in self.grid_factors if f.region == NATIONAL), key=lambda f: f.year)
        if not national:
            raise LookupError(f"catalog {self.version} has no national grid factor")
        return national[0]

    def residual_mix_factor(self, region_code: str, year: int) -> GridFactor:
        """The residual-mix factor for the market-based scope 2, by the grid-factor rule; a catalog
        without residual-mix factors (before 2026.2) falls back to the location-based grid factor."""
        if not self.residual_mix:
            return self.grid_factor(region_code, year)
        return Catalog("residual-mix", "", (), self.residual_mix).grid_factor(region_code, year)

    def instrument_codes(self) -> frozenset[str]:
        """Categories whose records are contractual instruments and carry a certificate/contract id."""
        return frozenset(c.code for c in self.categories if c.instrument)


class CatalogError(ValueError):
    """A catalog file that does not validate; the message names the key."""


def available_versions() -> list[str]:
    names = (p.name for p in resources.files(PACKAGE).iterdir())
    versions = [n[len("catalog-") : -len(".yaml")] for n in names if n.startswith("catalog-")]
    return sorted(versions, key=_version_key)


def load_catalog(version: str | None = None, *, text: str | None = None) -> Catalog:
    """A packaged catalog version (the latest by default), or a catalog parsed from YAML ``text``."""
    if text is not None:
        return parse_catalog(text)
    return _packaged(version or available_versions()[-1])


@functools.cache
def _packaged(version: str) -> Catalog:
    path = resources.files(PACKAGE).joinpath(f"catalog-{version}.yaml")
    if not path.is_file():
        raise CatalogError(f"no packaged catalog version {version!r}; have {available_versions()}")
    return parse_catalog(path.read_text("utf-8"))


def parse_catalog(text: str) -> Catalog:
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise CatalogError("catalog: must be a mapping")
    version = _required(raw, "version", "catalog")
    categories = tuple(_category(c, i) for i, c in enumerate(_list(raw, "categories")))
    codes = [c.code for c in categories]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise CatalogError(f"categories: duplicate codes {duplicates}")
    factors = tuple(_grid_factor(f, i) for i, f in enumerate(raw.get("grid_factors") or []))
    residual = tuple(_grid_factor(f, i, "residual_mix") for i, f in enumerate(raw.get("residual_mix") or []))
    if any(c.uses_grid_factor for c in categories) and not any(f.region == NATIONAL for f in factors):
        raise CatalogError("grid_factors: a national factor is required when a category uses the grid factor")
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str)
    return Catalog(
        version=str(version),
        content_hash=hashlib.sha256(canonical.encode()).hexdigest(),
        categories=categories,
        grid_factors=factors,
        effective_from=str(raw.get("effective_from", "")),
        residual_mix=residual,
        _by_code={c.code: c for c in categories},
    )


def _category(raw: Any, index: int) -> DataCategory:
    where = f"categories[{index}]"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be a mapping")
    code = str(_required(raw, "code", where))
    where = f"categories[{index}] ({code})"
    unit = str(_required(raw, "unit", where))
    accepted = {unit: 1.0} | {
        str(u): _positive(m, f"{where}.accepted_units.{u}")
        for u, m in (raw.get("accepted_units") or {}).items()
    }
    if accepted[unit] != 1.0:
        raise CatalogError(f"{where}.accepted_units.{unit}: the canonical unit's multiplier must be 1")
    category = DataCategory(
        code=code,
        name_zh=str(_required(raw, "name_zh", where)),
        name_en=str(_required(raw, "name_en", where)),
        kind=_enum(CategoryKind, raw, "kind", where),
        unit=unit,
        accepted_units=accepted,
        scope=_enum(Scope, raw, "scope", where),
        kgce_per_unit=_optional_positive(raw, "kgce_per_unit", where),
        kgco2_per_unit=_optional_positive(raw, "kgco2_per_unit", where),
        uses_grid_factor=bool(raw.get("uses_grid_factor", False)),
        source=str(raw.get("source", "")),
        notes=str(raw.get("notes", "")),
        instrument=bool(raw.get("instrument", False)),
    )
    if category.scope in (Scope.SCOPE_1, Scope.SCOPE_2) and not (
        category.uses_grid_factor or category.kgco2_per_unit is not None
    ):
        raise CatalogError(f"{where}: scope {category.scope} needs kgco2_per_unit or uses_grid_factor")
    _check_informational(category, where)
    return category


def _check_informational(category: DataCategory, where: str) -> None:
    """RESOURCE and ECONOMIC categories are informational (electricity by tariff bucket, land, headcount
    ...): a factor on one would put a breakdown or a stock into energy or emissions, so refuse it."""
    if category.kind not in INFORMATIONAL_KINDS:
        return
    if (
        category.scope != Scope.NONE
        or category.uses_grid_factor
        or category.kgce_per_unit is not None
        or category.kgco2_per_unit is not None
    ):
        raise CatalogError(
            f"{where}: kind {category.kind} is informational: scope NONE, no kgce_per_unit, kgco2_per_unit "
            "or uses_grid_factor"
        )


def _grid_factor(raw: Any, index: int, key: str = "grid_factors") -> GridFactor:
    where = f"{key}[{index}]"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be a mapping")
    year = _required(raw, "year", where)
    if not isinstance(year, int):
        raise CatalogError(f"{where}.year: must be an integer")
    return GridFactor(
        region=str(_required(raw, "region", where)),
        year=year,
        tco2_per_mwh=_positive(_required(raw, "tco2_per_mwh", where), f"{where}.tco2_per_mwh"),
        source=str(raw.get("source", "")),
    )


def _required(raw: Mapping[str, Any], key: str, where: str) -> Any:
    if raw.get(key) in (None, ""):
        raise CatalogError(f"{where}.{key}: required")
    return raw[key]


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if not isinstance(value, list) or not value:
        raise CatalogError(f"{key}: must be a non-empty list")
    return value


def _enum(kind: Any, raw: Mapping[str, Any], key: str, where: str) -> Any:
    value = str(_required(raw, key, where))
    try:
        return kind(value)
    except ValueError:
        raise CatalogError(f"{where}.{key}: {value!r} is not one of {[m.value for m in kind]}") from None


def _positive(value: Any, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise CatalogError(f"{where}: must be a positive number")
    return float(value)


def _optional_positive(raw: Mapping[str, Any], key: str, where: str) -> float | None:
    return None if raw.get(key) is None else _positive(raw[key], f"{where}.{key}")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))
