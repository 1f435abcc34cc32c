"""The profile change log that WatchProfileChanges streams (the scoring service's profile cache).

Revision ID: 0014_i14c
Revises: 0013_i12
Create Date: 2026-11-30

One row per write that can change how profiles read (an ingest, a recompute, an enterprise update),
numbered in insertion order; ``usccs`` lists the enterprises (space-separated), NULL = every one.
SQLite: AUTOINCREMENT, so a number is never reused (subscribers resume after one).
Hand-written to match registry_service/storage/tables.py (tests/integration/test_migrations.py diffs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_i14c"
down_revision = "0013_i12"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "profile_changes",
        sa.Column("seq", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("usccs", sa.Text, nullable=True),
        sa.Column("recomputed_year", sa.Integer, nullable=True),
        sa.Column("change_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_profile_changes"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("profile_changes")
