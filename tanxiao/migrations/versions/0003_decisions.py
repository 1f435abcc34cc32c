"""Loan decisions (append-only, hash-chained), the loan policies they were made under, the chain head.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Hand-written to match scoring_service/storage/tables.py (tests/integration/test_migrations.py diffs).
The chain head row is created by the first append, not here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("seq", BIG_ID, nullable=False, autoincrement=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("lender", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_decisions"),
        sa.UniqueConstraint("id", name="uq_decisions_id"),
        sa.UniqueConstraint("lender", "request_id", name="uq_decisions_lender_request_id"),
    )
    op.create_index("ix_decisions_lender_seq", "decisions", ["lender", "seq"])
    op.create_table(
        "loan_policies",
        sa.Column("policy_hash", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("policy_hash", name="pk_loan_policies"),
    )
    op.create_table(
        "decision_chain_head",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("update_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decision_chain_head"),
    )


def downgrade() -> None:
    op.drop_table("decision_chain_head")
    op.drop_table("loan_policies")
    op.drop_index("ix_decisions_lender_seq", table_name="decisions")
    op.drop_table("decisions")
