"""Hardening: bearer tokens expire; enterprise consent grants.

Revision ID: 0008
Revises: 0009
Create Date: 2026-11-30

Tokens created before this revision get an expiry 90 days after this upgrade (not after their creation:
a deployment must not lose every caller at once on upgrade). Hand-written to match
tanxiao/platform/auth.py (tests/integration/test_migrations.py diffs).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)
LEGACY_LIFETIME = timedelta(days=90)


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expire_time", UTC_TIME, nullable=True))
    tokens = sa.table("api_tokens", sa.column("expire_time", UTC_TIME))
    op.execute(tokens.update().values(expire_time=datetime.now(UTC) + LEGACY_LIFETIME))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("expire_time", existing_type=UTC_TIME, nullable=False)
    op.create_table(
        "consents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("lender", sa.String(80), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("granted_by", sa.String(32), nullable=False),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.Column("expire_time", UTC_TIME, nullable=False),
        sa.Column("revoke_time", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
    )
    op.create_index("ix_consents_uscc_lender", "consents", ["uscc", "lender"])


def downgrade() -> None:
    op.drop_index("ix_consents_uscc_lender", table_name="consents")
    op.drop_table("consents")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expire_time")
