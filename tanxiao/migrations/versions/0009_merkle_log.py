"""The decision log: RFC 9162 Merkle tree entries, nodes, signed heads, keys; decisions and profile
snapshots of the log. Existing chained decisions become its first leaves, in chain order.

Revision ID: 0009
Revises: 0005
Create Date: 2026-11-30

Hand-written to match scoring_service/storage/tables.py (tests/integration/test_migrations.py diffs).
The chained ``decisions`` and ``decision_chain_head`` stay as they are (read-only from now on) so the
audit can still check their hashes and that leaf i holds exactly the content of chain row i. No head is
signed here (the migration has no key): the sequencer's first run signs the migrated tree.
Downgrading drops the log, and with it every decision made after this revision.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from tanxiao.translog import CompactRange, entry_leaf, leaf_hash

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)
BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "log_entries",
        sa.Column("entry_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=True),
        sa.Column("integrate_time", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("entry_id", name="pk_log_entries"),
        sa.UniqueConstraint("idx", name="uq_log_entries_idx"),
    )
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.SmallInteger, nullable=False, autoincrement=False),
        sa.Column("idx", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name="pk_log_nodes"),
    )
    op.create_table(
        "log_heads",
        sa.Column("tree_size", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature", sa.String(88), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name="pk_log_heads"),
    )
    op.create_table(
        "log_keys",
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("public_key", sa.String(44), nullable=False),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_log_keys"),
    )
    op.create_table(
        "log_decisions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("lender", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("profile_snapshot", sa.String(64), nullable=True),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_log_decisions"),
        sa.UniqueConstraint("lender", "request_id", name="uq_log_decisions_lender_request_id"),
    )
    op.create_index("ix_log_decisions_lender_create_time", "log_decisions", ["lender", "create_time"])
    op.create_table(
        "profile_snapshots",
        sa.Column("snapshot_hash", sa.String(64), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("snapshot_hash", name="pk_profile_snapshots"),
    )
    _migrate_chain()


def _migrate_chain() -> None:
    """Chain rows in seq order -> leaves 0, 1, 2, ... with the same id and content, plus their nodes."""
    bind = op.get_bind()
    meta = sa.MetaData()
    decisions = sa.Table("decisions", meta, autoload_with=bind)
    entries = sa.Table("log_entries", meta, autoload_with=bind)
    index = sa.Table("log_decisions", meta, autoload_with=bind)
    nodes = sa.Table("log_nodes", meta, autoload_with=bind)
    tree = CompactRange()
    now = datetime.now(UTC)
    after = None
    while True:
        query = sa.select(decisions).order_by(decisions.c.seq).limit(BATCH)
        if after is not None:
            query = query.where(decisions.c.seq > after)
        rows = bind.execute(query).all()
        if not rows:
            return
        entry_rows, index_rows, node_rows = [], [], []
        for row in rows:
            leaf = leaf_hash(entry_leaf("decision", row.content))
            entry_rows.append(
                {"entry_id": row.id, "kind": "decision", "content": row.content, "leaf_hash": leaf.hex(),
                 "create_time": row.create_time, "idx": tree.size, "integrate_time": now}
            )  # fmt: skip
            index_rows.append(
                {"id": row.id, "lender": row.lender, "request_id": row.request_id, "uscc": row.uscc,
                 "product": row.product, "request_fingerprint": row.request_fingerprint,
                 "profile_snapshot": None, "create_time": row.create_time}
            )  # fmt: skip
            node_rows += [{"level": n.level, "idx": n.index, "hash": h.hex()} for n, h in tree.append(leaf)]
        bind.execute(entries.insert(), entry_rows)
        bind.execute(index.insert(), index_rows)
        if node_rows:
            bind.execute(nodes.insert(), node_rows)
        after = rows[-1].seq


def downgrade() -> None:
    op.drop_table("profile_snapshots")
    op.drop_index("ix_log_decisions_lender_create_time", table_name="log_decisions")
    op.drop_table("log_decisions")
    op.drop_table("log_keys")
    op.drop_table("log_heads")
    op.drop_table("log_nodes")
    op.drop_table("log_entries")
