"""Green-power contracts and green certificates (GEC) are claimed once across the registry.

Revision ID: 0011
Revises: 0006
Create Date: 2026-11-30

Hand-written to match registry_service/storage/tables.py (tests/integration/test_migrations.py diffs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instrument_claims",
        sa.Column("instrument_id", sa.String(128), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("claim_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("instrument_id", name="pk_instrument_claims"),
    )


def downgrade() -> None:
    op.drop_table("instrument_claims")
