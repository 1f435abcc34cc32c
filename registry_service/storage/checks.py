"""`tanxiao db check`: stored values that today's ingest would reject (non-finite after conversion, above
the plausible maximum), found before the range checks existed. Reports; never changes a row (a
correction is a new revision from the provider)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from registry_service.domain.records import plausible_maxima
from registry_service.storage.tables import carbon_profiles, records
from tanxiao.platform.db import read_only

# Anything beyond the largest double: +inf (and NaN on PostgreSQL, which sorts NaN above every number).
_LARGEST = sys.float_info.max
_PROFILE_COLUMNS = ("energy_tce", "scope1_tco2", "scope2_gross_tco2", "gross_tco2", "net_tco2")


@dataclass(frozen=True)
class BadRow:
    table: str
    key: str  # records: "id <id> <source>/<external_id>"; profiles: "<uscc>/<period>"
    column: str
    value: str
    problem: str  # NON_FINITE | IMPLAUSIBLE


def _non_finite(column: sa.ColumnElement[float]) -> sa.ColumnElement[bool]:
    return sa.or_(column > _LARGEST, column < -_LARGEST)


def check_stored_values(engine: Engine, *, max_scale: float = 1.0, limit: int = 1000) -> list[BadRow]:
    """Current and past record revisions and stored profiles with non-finite or implausible values."""
    limits = plausible_maxima()
    found: list[BadRow] = []
    with read_only(engine) as conn:
        query = sa.select(
            records.c.id, records.c.source, records.c.external_id, records.c.category,
            records.c.quantity, records.c.canonical_quantity,
        ).where(_non_finite(records.c.quantity) | _non_finite(records.c.canonical_quantity))  # fmt: skip
        for row in conn.execute(query.order_by(records.c.id).limit(limit)):
            found.append(_record_row(row, "NON_FINITE"))
        categories = conn.execute(sa.select(records.c.category).distinct()).scalars().all()
        above = [
            (records.c.category == c) & (records.c.canonical_quantity > limits.of(c) * max_scale)
            for c in categories
        ]
        if above:
            query = sa.select(
                records.c.id, records.c.source, records.c.external_id, records.c.canonical_quantity
            )
            query = query.where(sa.or_(*above) & ~_non_finite(records.c.canonical_quantity))
            for row in conn.execute(query.order_by(records.c.id).limit(limit)):
                found.append(_record_row(row, "IMPLAUSIBLE"))
        for name in _PROFILE_COLUMNS:
            column = carbon_profiles.c[name]
            query = sa.select(carbon_profiles.c.uscc, carbon_profiles.c.period, column).where(
                _non_finite(column)
            )
            for row in conn.execute(query.limit(limit)):
                found.append(
                    BadRow("carbon_profiles", f"{row.uscc}/{row.period}", name, repr(row[2]), "NON_FINITE")
                )
    return found


def _record_row(row: sa.Row[tuple[object, ...]], problem: str) -> BadRow:
    key = f"id {row.id} {row.source}/{row.external_id}"
    return BadRow("records", key, "canonical_quantity", repr(row.canonical_quantity), problem)
