"""The scoring service's tables (SQLAlchemy Core). Alembic revisions 0003, 0004 and 0009 (and
the later ones they name) create exactly this schema.

Since revision 0009 decisions are entries of the decision log (``log_*`` tables, see
scoring_service.storage.log and scoring_service.audit); ``decisions`` and ``decision_chain_head`` hold
the hash chain of the decisions made before, kept read-only so its hashes can still be checked.
Same portability rules and naming convention as the registry's tables: timestamps are timezone-aware
(UTC), the sequence number is BIGINT on PostgreSQL and INTEGER (the rowid alias) on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa

from tanxiao.platform.schema import BigId, UtcTime, new_metadata

metadata = new_metadata()


# One row per decision, never updated or deleted. ``seq`` is assigned by the store as head.seq + 1 while
# it holds the chain head, so it is gap-free (no database sequence: a rolled-back insert would leave a
# gap that looks like a deleted row). ``content`` is the canonical JSON of the whole decision, and
# ``chain_hash`` = sha256(prev_hash + "\n" + content).
decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=False),
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("lender", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(128), nullable=False),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("request_fingerprint", sa.String(64), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("chain_hash", sa.String(64), nullable=False),
    sa.Column("create_time", UtcTime, nullable=False),
    sa.UniqueConstraint("id"),
    sa.UniqueConstraint("lender", "request_id"),
    sa.Index(None, "lender", "seq"),
)

# Every loan policy a decision was made under, by its content hash (loan_rules.policy.content_hash of
# the parsed document), with the text exactly as it was given.
loan_policies = sa.Table(
    "loan_policies",
    metadata,
    sa.Column("policy_hash", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("create_time", UtcTime, nullable=False),
)

# The chain head: one row (id = 1) naming the last decision's seq and chain hash. Appends lock it, which
# serialises them; the audit checks the last row against it, so deleting the last row is detectable.
decision_chain_head = sa.Table(
    "decision_chain_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("chain_hash", sa.String(64), nullable=False),
    sa.Column("update_time", UtcTime, nullable=False),
)

# --- revision 0004: the loan book -------------------------------------------------------------------

# Money is an integer number of fen (revision 0010 converted the float yuan columns of 0004): sums are
# exact, and an amount that is not a finite number cannot be stored.
Fen = sa.BigInteger()
Rate = sa.Float(precision=53)  # basis points a year (a rate, not money)

# One row per loan; its balance is the history in loan_balance_events, never a column that is overwritten.
loans = sa.Table(
    "loans",
    metadata,
    sa.Column("lender", sa.String(64), primary_key=True),  # "lenders/{id}"
    sa.Column("loan_id", sa.String(64), primary_key=True),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("decision_id", sa.String(32), nullable=True),
    sa.Column("commitment", sa.String(128), nullable=False),
    sa.Column("committed_amount_fen", Fen, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("maturity_date", sa.Date, nullable=False),
    sa.Column("rate_bp", Rate, nullable=False),
    sa.Column("close_date", sa.Date, nullable=True),
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("create_time", UtcTime, nullable=False),
    # revision 0010: use of proceeds (green catalogue code, "" = unclassified) and benefits a year as
    # assessed at origination on the named factor set
    sa.Column("green_category", sa.String(16), nullable=False, server_default=""),
    sa.Column("co2_reduced_tco2_per_year", Rate, nullable=False, server_default="0"),
    sa.Column("energy_saved_tce_per_year", Rate, nullable=False, server_default="0"),
    sa.Column("benefit_factors", sa.String(64), nullable=False, server_default=""),
    sa.Index(None, "uscc"),
)

# Balance history: the outstanding from as_of_date on (until the next event); kind says what happened.
loan_balance_events = sa.Table(
    "loan_balance_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("lender", sa.String(64), nullable=False),
    sa.Column("loan_id", sa.String(64), nullable=False),
    sa.Column("as_of_date", sa.Date, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # START / DRAWDOWN / REPAYMENT / BALANCE / CLOSE
    sa.Column("amount_fen", Fen, nullable=False),  # the drawdown/repayment, or the balance given
    sa.Column("outstanding_fen", Fen, nullable=False),  # after the event
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("record_time", UtcTime, nullable=False),
    sa.ForeignKeyConstraint(
        ["lender", "loan_id"], ["loans.lender", "loans.loan_id"], name="fk_loan_balance_events_lender_loans"
    ),
    sa.Index(None, "lender", "loan_id", "as_of_date"),
    sa.UniqueConstraint("lender", "request_id"),
)


# --- revision 0009: the decision log (RFC 9162 Merkle tree, scoring_service.storage.log) ----------------

# Every entry of the log, appended by its own transaction (no shared row) and never rewritten.
# ``content`` is the canonical JSON; the leaf is kind + "\n" + content and ``leaf_hash`` its RFC 9162
# leaf hash (hex). Its leaf index, once the sequencer gives it one, is in ``log_leaves`` (revision 0017:
# a narrow row there instead of an UPDATE that rewrote the wide entry row, i.e. every page twice).
log_entries = sa.Table(
    "log_entries",
    metadata,
    sa.Column("entry_id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("leaf_hash", sa.String(64), nullable=False),
    sa.Column("create_time", UtcTime, nullable=False),
)

# The leaves of the tree: leaf ``idx`` is entry ``entry_id``, integrated at ``integrate_time``. Written
# by the sequencer only; the leaf hash is the entry's (joined, not copied: the audit recomputes it).
log_leaves = sa.Table(
    "log_leaves",
    metadata,
    sa.Column("idx", BigId, primary_key=True, autoincrement=False),
    sa.Column("entry_id", sa.String(32), nullable=False),
    sa.Column("integrate_time", UtcTime, nullable=False),
    sa.UniqueConstraint("entry_id"),
)

# Entries not yet integrated (the sequencer's queue, as Trillian's Unsequenced table): inserted with the
# entry in its transaction, deleted by the sequencer in the transaction that writes their leaves. Stays
# small (a merge delay's worth of entries), so neither side touches more than a few narrow pages.
log_pending = sa.Table(
    "log_pending",
    metadata,
    sa.Column("entry_id", sa.String(32), primary_key=True),
    sa.Column("leaf_hash", sa.String(64), nullable=False),
    sa.Column("create_time", UtcTime, nullable=False),
    sqlite_with_rowid=False,
)

# Interior nodes (level >= 1) of the tree: the hash of the perfect subtree of 2**level leaves starting at
# leaf idx * 2**level (level 0: log_leaves joined to log_entries.leaf_hash). Written by the sequencer,
# read for proofs.
log_nodes = sa.Table(
    "log_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# Signed tree heads, one per tree size the sequencer reached (tanxiao.translog.heads).
log_heads = sa.Table(
    "log_heads",
    metadata,
    sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root_hash", sa.String(64), nullable=False),
    sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("signature", sa.String(88), nullable=False),  # base64 of 64 bytes
)

# Public keys that signed heads, by key id (a convenience for `audit verify`: an outside verifier pins
# the keys it trusts itself).
log_keys = sa.Table(
    "log_keys",
    metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("public_key", sa.String(44), nullable=False),  # base64 of the raw 32 bytes
    sa.Column("create_time", UtcTime, nullable=False),
)

# The decisions of the log, by id: the columns that select one (their values are also in the hashed
# content, and the audit compares them). One row per (lender, request_id): the idempotency key.
# Revision 0019: the decision's review state is on its row too (``state``, ``review_needed`` and
# ``version`` for optimistic concurrency: two officers acting at once, one wins, the other is ABORTED
# and retries), written by the decision's own insert, so a quote writes one index row, not two (the
# separate ``decision_states`` table repeated lender, uscc and create_time and cost 4 more B-trees).
# NULL state: not indexed yet (a decision stored without review terms); listings index it first.
log_decisions = sa.Table(
    "log_decisions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("lender", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(128), nullable=False),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("request_fingerprint", sa.String(64), nullable=False),
    sa.Column("profile_snapshot", sa.String(64), nullable=True),  # profile_snapshots.snapshot_hash
    sa.Column("create_time", UtcTime, nullable=False),
    sa.Column("state", sa.String(16), nullable=True),  # scoring_service.review.State
    sa.Column("review_needed", sa.Boolean, nullable=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.UniqueConstraint("lender", "request_id"),
    sa.Index(None, "lender", "create_time"),
    sa.Index(None, "lender", "state", "create_time"),
)

# Registry profiles as decisions used them, stored once by the sha256 of their canonical JSON; a
# decision's content names its snapshot by that hash (so the hash is in the log).
profile_snapshots = sa.Table(
    "profile_snapshots",
    metadata,
    sa.Column("snapshot_hash", sa.String(64), primary_key=True),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("create_time", UtcTime, nullable=False),
)


# Review of decisions (issue 12). The decision log holds every review action as an entry of kind
# review_action (the truth); ``review_actions`` indexes them: one row per action, its log entry id,
# idempotent by (lender, request_id). The current state of each decision, which lists filter on, is on
# its ``log_decisions`` row (revision 0019; before it, in ``decision_states``).
review_actions = sa.Table(
    "review_actions",
    metadata,
    sa.Column("entry_id", sa.String(32), primary_key=True),
    sa.Column("decision_id", sa.String(32), nullable=False),
    sa.Column("lender", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(128), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("create_time", UtcTime, nullable=False),
    sa.UniqueConstraint("lender", "request_id"),
    sa.Index(None, "decision_id", "create_time"),
)
