"""The records table's write path made cheap: its foreign keys and two indexes the ingest paid for go.

Revision ID: 0014_i17
Revises: 0013_i12
Create Date: 2026-11-30

Measured on PostgreSQL 15 (COPY of 300k rows, backend CPU): the table as migrated cost 4.2 s, of which
the two foreign keys' per-row referential-integrity triggers were 2.3 s, ix_records_batch_id (which
no query reads) 0.3 s and the unique (source, external_id, revision) index 0.35 s; without them 1.5 s.
What they guarded is now guaranteed otherwise:
- records.uscc -> enterprises: the ingest rejects rows of unregistered enterprises (UNKNOWN_ENTERPRISE)
  and, in its write transaction, locks the enterprises it writes for (FOR KEY SHARE on PostgreSQL,
  the single writer lock on SQLite) before inserting; nothing in the code deletes an enterprise.
- records.batch_id -> ingest_batches: the batch row is inserted by the same transaction, just before.
- unique (source, external_id, revision): every ingest that writes a key writes exactly one current
  row for it, so two ingests racing on a key always collide on the partial unique current-key index
  (which stays) and the loser re-runs on the winner's revisions: numbers cannot fork. Nothing reads
  records by revision number.

SQLite cannot drop a constraint in place: the table is rebuilt (batch mode) and its indexes recreated.
The downgrade puts the constraints and the index back (it fails if orphans were written meanwhile).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_i17"
down_revision = "0014_i14c"
branch_labels = None
depends_on = None

FOREIGN_KEYS = (
    ("fk_records_uscc_enterprises", ["uscc"], "enterprises", ["uscc"]),
    ("fk_records_batch_id_ingest_batches", ["batch_id"], "ingest_batches", ["id"]),
)


REVISION_KEY = ("uq_records_source_external_id_revision", ["source", "external_id", "revision"])


def upgrade() -> None:
    op.drop_index("ix_records_batch_id", table_name="records")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(add=False)
        return
    for name, _columns, _table, _remote in FOREIGN_KEYS:
        op.drop_constraint(name, "records", type_="foreignkey")
    op.drop_constraint(REVISION_KEY[0], "records", type_="unique")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(add=True)
    else:
        for name, columns, table, remote in FOREIGN_KEYS:
            op.create_foreign_key(name, "records", table, columns, remote)
        op.create_unique_constraint(REVISION_KEY[0], "records", REVISION_KEY[1])
    op.create_index("ix_records_batch_id", "records", ["batch_id"])


def _rebuild_sqlite(*, add: bool) -> None:
    # The partial index is dropped and recreated by hand: batch mode's copy of it would lose its WHERE.
    op.drop_index("uq_records_current_key", table_name="records")
    op.drop_index("ix_records_uscc_period_category", table_name="records")
    with op.batch_alter_table("records", recreate="always") as batch:
        for name, columns, table, remote in FOREIGN_KEYS:
            if add:
                batch.create_foreign_key(name, table, columns, remote)
            else:
                batch.drop_constraint(name, type_="foreignkey")
        if add:
            batch.create_unique_constraint(REVISION_KEY[0], REVISION_KEY[1])
        else:
            batch.drop_constraint(REVISION_KEY[0], type_="unique")
    op.create_index(
        "uq_records_current_key",
        "records",
        ["source", "external_id"],
        unique=True,
        sqlite_where=sa.text("is_current = 1"),
    )
    op.create_index("ix_records_uscc_period_category", "records", ["uscc", "period", "category"])
