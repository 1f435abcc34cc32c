"""The data-category catalog in the database: each packaged catalog version, loaded once.

The catalog file shipped in the package is the source; ``ensure_catalog`` copies a version into
catalog_versions / data_categories / grid_emission_factors at service start (idempotent, safe when
replicas start together). A version's content never changes once loaded: a different hash under a
known version is refused, so old records can always be explained with the catalog they were
converted with (records.catalog_version).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from registry_service.domain.catalog import Catalog
from registry_service.storage.tables import catalog_versions, data_categories, grid_emission_factors
from tanxiao.errors import FailedPrecondition, NotFound
from tanxiao.platform.db import read_only
from tanxiao.platform.idempotency import run_in_transaction


@dataclass(frozen=True)
class CatalogSnapshot:
    version: str
    content_hash: str
    categories: list[dict[str, Any]]  # data_categories rows in catalog order
    grid_factors: list[dict[str, Any]]


def ensure_catalog(engine: Engine, catalog: Catalog) -> bool:
    """Load ``catalog`` into the database unless its version is there; True if it was loaded now."""
    version, content_hash = str(catalog.version), str(catalog.content_hash)

    def work(conn: Connection) -> bool:
        query = sa.select(catalog_versions.c.content_hash).where(catalog_versions.c.version == version)
        stored = conn.execute(query).scalar_one_or_none()
        if stored is not None:
            if stored != content_hash:
                raise FailedPrecondition(
                    f"catalog version {version} is already loaded with other content; "
                    "a changed catalog needs a new version",
                    reason="CATALOG_VERSION_CHANGED",
                )
            return False
        conn.execute(
            catalog_versions.insert().values(
                version=version, content_hash=content_hash, loaded_at=datetime.now(UTC)
            )
        )
        conn.execute(data_categories.insert(), category_rows(catalog))
        factors = grid_factor_rows(catalog)
        if factors:
            conn.execute(grid_emission_factors.insert(), factors)
        return True

    return run_in_transaction(engine, work)


def category_rows(catalog: Catalog) -> list[dict[str, Any]]:
    version = str(catalog.version)
    return [
        {
            "catalog_version": version,
            "code": c.code,
            "position": position,
            "name_zh": c.name_zh,
            "name_en": c.name_en,
            "kind": _name(c.kind),
            "unit": c.unit,
            "accepted_units": _accepted_units(c),
            "kgce_per_unit": c.kgce_per_unit,
            "kgco2_per_unit": c.kgco2_per_unit,
            "uses_grid_factor": bool(c.uses_grid_factor),
            "scope": _name(c.scope),
            "source": c.source or "",
            "notes": c.notes or "",
        }
        for position, c in enumerate(catalog.categories)
    ]


def grid_factor_rows(catalog: Catalog) -> list[dict[str, Any]]:
    return [
        {
            "catalog_version": str(catalog.version),
            "region": f.region,
            "year": f.year,
            "tco2_per_mwh": f.tco2_per_mwh,
            "source": f.source or "",
        }
        for f in catalog.grid_factors
    ]


class CatalogRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, version: str) -> CatalogSnapshot:
        """One loaded catalog version; NOT_FOUND if it was never loaded."""
        with read_only(self.engine) as conn:
            query = sa.select(catalog_versions.c.content_hash).where(catalog_versions.c.version == version)
            content_hash = conn.execute(query).scalar_one_or_none()
            if content_hash is None:
                raise NotFound(
                    f"catalog version {version!r} is not loaded",
                    reason="CATALOG_VERSION_NOT_FOUND",
                    metadata={"catalog_version": version},
                )
            categories = conn.execute(
                sa.select(data_categories)
                .where(data_categories.c.catalog_version == version)
                .order_by(data_categories.c.position)
            )
            factors = conn.execute(
                sa.select(grid_emission_factors)
                .where(grid_emission_factors.c.catalog_version == version)
                .order_by(grid_emission_factors.c.region, grid_emission_factors.c.year)
            )
            return CatalogSnapshot(
                version,
                content_hash,
                [dict(row) for row in categories.mappings()],
                [dict(row) for row in factors.mappings()],
            )


def _name(value: object) -> str:
    """Enum members by name, strings as they are."""
    return str(getattr(value, "name", value))


def _accepted_units(category: Any) -> list[dict[str, Any]]:
    """The canonical unit first (multiplier 1), then the other accepted units."""
    others = [
        {"unit": unit, "multiplier": float(multiplier)}
        for unit, multiplier in category.accepted_units.items()
        if unit != category.unit
    ]
    return [{"unit": category.unit, "multiplier": 1.0}, *others]
