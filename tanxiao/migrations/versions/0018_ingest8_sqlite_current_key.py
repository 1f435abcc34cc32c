"""SQLite: the idempotency key's uniqueness back in records, as a partial unique index; no record_keys.

Revision ID: 0018_ingest8_sqlite_key
Revises: 0017_store4_leaf_index
Create Date: 2026-12-02

0016_pgpart moved the key's uniqueness into ``record_keys`` on both dialects because PostgreSQL's
partitioned ``records`` cannot hold a unique index without its partition key. SQLite's ``records`` is
one table, so there the partial unique index (source, external_id) WHERE is_current does the same job
with one B-tree entry a current row instead of a second table's row (with its 64-character hash) a key:
on the ingest's writer ~2.4 µs a record for the record_keys copy against ~1 µs of index maintenance
(docs/benchmarks.md, helper ingest8). The index is built from the current rows a populated database
holds; PostgreSQL is unchanged. The downgrade fills ``record_keys`` from the current rows again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_ingest8_sqlite_key"
down_revision = "0017_store4_leaf_index"
branch_labels = None
depends_on = None

CURRENT_KEY = "uq_records_current_key"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    op.create_index(
        CURRENT_KEY, "records", ["source", "external_id"], unique=True, sqlite_where=sa.text("is_current = 1")
    )
    op.drop_table("record_keys")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    op.create_table(
        "record_keys",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("source", "external_id", name="pk_record_keys"),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO record_keys"
        " (source, external_id, record_id, uscc, period, category, revision, content_hash)"
        " SELECT source, external_id, id, uscc, period, category, revision, content_hash"
        " FROM records WHERE is_current = 1"
    )
    op.drop_index(CURRENT_KEY, table_name="records")
