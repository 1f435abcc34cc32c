"""Utility accounts (电力户号 and the like), who held them when, and unattributable sightings.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

Hand-written to match registry_service/storage/tables.py (tests/integration/test_migrations.py diffs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "utility_accounts",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_utility_accounts"),
    )
    op.create_index("ix_utility_accounts_kind", "utility_accounts", ["kind"])
    op.create_table(
        "utility_account_holdings",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_utility_account_holdings"),
        sa.ForeignKeyConstraint(
            ["account"],
            ["utility_accounts.name"],
            name="fk_utility_account_holdings_account_utility_accounts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uscc"],
            ["enterprises.uscc"],
            name="fk_utility_account_holdings_uscc_enterprises",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_utility_account_holdings_account", "utility_account_holdings", ["account"])
    op.create_index("ix_utility_account_holdings_uscc", "utility_account_holdings", ["uscc"])
    op.create_table(
        "utility_account_sightings",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=False),
        sa.Column("claimed_uscc", sa.String(18), nullable=False),
        sa.Column("holder_uscc", sa.String(18), nullable=False),
        sa.Column("first_period", sa.String(7), nullable=False),
        sa.Column("last_period", sa.String(7), nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("seen_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_utility_account_sightings"),
    )
    op.create_index(
        "ix_utility_account_sightings_reason_code_account",
        "utility_account_sightings",
        ["reason_code", "account"],
    )


def downgrade() -> None:
    op.drop_table("utility_account_sightings")
    op.drop_table("utility_account_holdings")
    op.drop_table("utility_accounts")
