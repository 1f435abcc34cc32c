"""The loan book: loans and their balance history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

Hand-written to match scoring_service/storage/tables.py (tests/integration/test_migrations.py diffs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)
MONEY = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "loans",
        sa.Column("lender", sa.String(64), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("decision_id", sa.String(32), nullable=True),
        sa.Column("commitment", sa.String(128), nullable=False),
        sa.Column("committed_amount_cny", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("maturity_date", sa.Date, nullable=False),
        sa.Column("rate_bp", MONEY, nullable=False),
        sa.Column("close_date", sa.Date, nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("lender", "loan_id", name="pk_loans"),
    )
    op.create_index("ix_loans_uscc", "loans", ["uscc"])
    op.create_table(
        "loan_balance_events",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("lender", sa.String(64), nullable=False),
        sa.Column("loan_id", sa.String(64), nullable=False),
        sa.Column("as_of_date", sa.Date, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount_cny", MONEY, nullable=False),
        sa.Column("outstanding_cny", MONEY, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("record_time", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["lender", "loan_id"],
            ["loans.lender", "loans.loan_id"],
            name="fk_loan_balance_events_lender_loans",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_loan_balance_events"),
        sa.UniqueConstraint("lender", "request_id", name="uq_loan_balance_events_lender_request_id"),
    )
    op.create_index(
        "ix_loan_balance_events_lender_loan_id_as_of_date",
        "loan_balance_events",
        ["lender", "loan_id", "as_of_date"],
    )


def downgrade() -> None:
    op.drop_table("loan_balance_events")
    op.drop_index("ix_loans_uscc", table_name="loans")
    op.drop_table("loans")
