"""Review of decisions: the review actions' index and each decision's current review state.

Revision ID: 0007
Revises: 0008
Create Date: 2026-11-30

Hand-written to match scoring_service/storage/tables.py (tests/integration/test_migrations.py diffs).
The review actions themselves are entries of the decision log (kind review_action); these tables only
index them. Decisions made before this revision get their state on first listing (derived from their
content: IN_REVIEW when they needed manual review, else QUOTED).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_actions",
        sa.Column("entry_id", sa.String(32), nullable=False),
        sa.Column("decision_id", sa.String(32), nullable=False),
        sa.Column("lender", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_review_actions"),
        sa.UniqueConstraint("lender", "request_id", name="uq_review_actions_lender_request_id"),
    )
    op.create_index(
        "ix_review_actions_decision_id_create_time", "review_actions", ["decision_id", "create_time"]
    )
    op.create_table(
        "decision_states",
        sa.Column("decision_id", sa.String(32), nullable=False),
        sa.Column("lender", sa.String(64), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("review_needed", sa.Boolean, nullable=False),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name="pk_decision_states"),
    )
    op.create_index(
        "ix_decision_states_lender_state_create_time", "decision_states", ["lender", "state", "create_time"]
    )
    op.create_index("ix_decision_states_lender_create_time", "decision_states", ["lender", "create_time"])


def downgrade() -> None:
    op.drop_table("decision_states")
    op.drop_table("review_actions")
