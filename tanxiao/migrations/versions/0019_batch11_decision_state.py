"""A decision's review state on its log_decisions row; no decision_states.

Revision ID: 0019_batch11_decision_state
Revises: 0018_ingest8_sqlite_key
Create Date: 2026-12-02

Every quote wrote two index rows: its ``log_decisions`` row and a ``decision_states`` row repeating
lender, uscc and create_time next to the state, review_needed and version (4 B-trees on SQLite, a heap
tuple and 3 index entries on PostgreSQL). The state columns move onto ``log_decisions``, written by the
decision's own insert; the listing by (lender, state, create_time) gets its index there, the listing by
(lender, create_time) already had one. Existing state rows are copied over (a decision without one keeps
NULLs: listings index it first, as before). The decision log is not touched, so ``audit verify`` gives
the same answer. The downgrade rebuilds ``decision_states`` from the rows that have a state.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_batch11_decision_state"
down_revision = "0018_ingest8_sqlite_key"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)
STATE_INDEX = "ix_log_decisions_lender_state_create_time"
COLUMNS = ("state", "review_needed", "version")


def upgrade() -> None:
    op.add_column("log_decisions", sa.Column("state", sa.String(16), nullable=True))
    op.add_column("log_decisions", sa.Column("review_needed", sa.Boolean, nullable=True))
    op.add_column("log_decisions", sa.Column("version", sa.Integer, nullable=True))
    # correlated subqueries: the one UPDATE form both SQLite and PostgreSQL run
    sets = ", ".join(
        f"{c} = (SELECT s.{c} FROM decision_states s WHERE s.decision_id = log_decisions.id)" for c in COLUMNS
    )
    op.execute(f"UPDATE log_decisions SET {sets} WHERE id IN (SELECT decision_id FROM decision_states)")
    op.create_index(STATE_INDEX, "log_decisions", ["lender", "state", "create_time"])
    op.drop_index("ix_decision_states_lender_create_time", table_name="decision_states")
    op.drop_index("ix_decision_states_lender_state_create_time", table_name="decision_states")
    op.drop_table("decision_states")


def downgrade() -> None:
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
    op.execute(
        "INSERT INTO decision_states (decision_id, lender, uscc, state, review_needed, create_time, version)"
        " SELECT id, lender, uscc, state, review_needed, create_time, version FROM log_decisions"
        " WHERE state IS NOT NULL"
    )
    op.drop_index(STATE_INDEX, table_name="log_decisions")
    with op.batch_alter_table("log_decisions") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
