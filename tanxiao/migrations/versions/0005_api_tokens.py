"""API tokens: hashed bearer tokens with a role, a tenant and grants.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Hand-written to match tanxiao/platform/auth.py (tests/integration/test_migrations.py diffs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("grants", sa.JSON, nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.Column("revoke_time", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("token_id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
