"""Column types and constraint naming shared by every service's tables (written once).

Portable across SQLite and PostgreSQL: quantities are double precision, timestamps timezone-aware
(UTC), surrogate ids BIGINT on PostgreSQL and INTEGER (the rowid alias, which SQLite only
auto-increments) on SQLite. Constraint names follow one convention, so migrations can name them.
"""

from __future__ import annotations

import sqlalchemy as sa

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcTime = sa.DateTime(timezone=True)
Quantity = sa.Float(precision=53)


def new_metadata() -> sa.MetaData:
    return sa.MetaData(naming_convention=NAMING_CONVENTION)
