"""The scoring service's tables (SQLAlchemy Core). Alembic revision 0003 creates exactly this schema.

Decisions are append-only and hash-chained (see scoring_service.storage.decisions and
scoring_service.audit). Same portability rules and naming convention as the registry's tables: timestamps
are timezone-aware (UTC), the sequence number is BIGINT on PostgreSQL and INTEGER (the rowid alias) on
SQLite.
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
