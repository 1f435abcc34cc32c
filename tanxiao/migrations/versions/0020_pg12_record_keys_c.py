"""record_keys' key columns compare bytewise (COLLATE "C") on PostgreSQL.

Revision ID: 0020_pg12_record_keys_c
Revises: 0019_batch11_decision_state
Create Date: 2026-12-02

Every ingested key is an entry in record_keys' primary key (source, external_id), and each comparison
of that B-tree's insertions went through the database's collation: in a "C.UTF-8" (or any non-"C")
database that is strcoll, where "C" is memcmp. The key is an identifier, only ever compared for
equality (the ingest's lookup and its UPDATE ... WHERE), never shown in its sort order, so its columns
take the "C" collation: the same rows and the same answers, cheaper index inserts (measured: COPY of 1M
such keys, backend CPU 2.0 s against 1.8 s; docs/benchmarks.md, helper pg12). The ALTER rewrites the
table and rebuilds its primary key under an ACCESS EXCLUSIVE lock (a maintenance window, as 0016).
SQLite has no record_keys (0018_ingest8_sqlite_key): nothing to do there. The downgrade puts the
database's default collation back.
"""

from __future__ import annotations

from alembic import op

revision = "0020_pg12_record_keys_c"
down_revision = "0019_batch11_decision_state"
branch_labels = None
depends_on = None

KEY_COLUMNS = {"source": 32, "external_id": 128}


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    changes = ", ".join(
        f'ALTER COLUMN {name} TYPE VARCHAR({length}) COLLATE "{collation}"'
        for name, length in KEY_COLUMNS.items()
    )
    op.execute(f"ALTER TABLE record_keys {changes}")  # one rewrite, one primary key rebuild


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")
