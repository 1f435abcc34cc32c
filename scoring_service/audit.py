"""Verification of the decision hash chain (``tanxiao audit verify``).

What is checked, streaming the ``decisions`` rows in seq order in one consistent snapshot:

- each row's ``chain_hash`` is ``sha256(prev_hash + "\\n" + content)`` recomputed from the stored
  ``content`` text exactly as stored (never from a re-serialised dict, so key order or float formatting
  cannot hide or fake a change), and that text is canonical JSON (parsing and re-serialising it gives
  the same text);
- each row's ``prev_hash`` is the previous row's ``chain_hash`` (GENESIS for the first) and seq runs
  1, 2, 3... without gaps: a deleted, inserted or reordered row breaks the link;
- the columns (id, create_time, lender, request_id, uscc, product, request_fingerprint) equal the values
  the store wrote into the hashed content, so an edited column is caught too;
- the chain head (one row) names the last row's seq and hash: deleting the last row, or appending a
  row without moving the head, is caught;
- each policy a decision names is stored, and each stored policy text still hashes to its key
  (loan_rules.policy.content_hash of the parsed document).

Threat model. This detects edits, deletions, insertions and reorderings by anyone who cannot rewrite
the whole chain and its head consistently: a single edited row with a naively recomputed chain_hash
still breaks the next row's prev_hash (or, for the last row, the head). Someone with write access to
the whole database CAN rewrite every hash from the tampered row onwards plus the head; nothing inside
the database can detect that. The defence is external anchoring: the summary prints the head seq and
hash, and an auditor who records them (in a ticket, a signed report, another system) can later check
that the chain still contains that head at that seq (a chain rewritten below it no longer does).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy import Connection, Engine

from loan_rules.policy import content_hash as policy_content_hash
from scoring_service.storage.decisions import GENESIS, HEAD_ID, canonical_json, chain_hash, utc
from scoring_service.storage.tables import decision_chain_head, decisions, loan_policies
from tanxiao.platform.db import is_sqlite, make_engine

DEFAULT_MAX_PROBLEMS = 1000
_COLUMN_KEYS = ("lender", "request_id", "uscc", "product", "request_fingerprint")


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    checked: int  # decision rows read
    head_seq: int | None  # None when there is no head row
    problems: list[str]  # each names the row (seq and id) or the policy, and what is wrong
    head_hash: str | None = None  # record it to detect a later rewrite of the whole chain

    def summary(self) -> str:
        head = "no head" if self.head_seq is None else f"head seq {self.head_seq} hash {self.head_hash}"
        if self.ok:
            return f"audit verify: OK, {self.checked} decisions checked, {head}"
        return f"audit verify: FAILED, {len(self.problems)} problem(s) in {self.checked} decisions, {head}"


@dataclass
class _Problems:
    limit: int
    items: list[str] = field(default_factory=list)
    dropped: int = 0

    def add(self, message: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(message)
        else:
            self.dropped += 1

    def listed(self) -> list[str]:
        if self.dropped:
            return [*self.items, f"... and {self.dropped} more problem(s) not listed"]
        return list(self.items)


def verify_chain(
    engine: Engine, *, batch: int = 5000, max_problems: int = DEFAULT_MAX_PROBLEMS
) -> AuditReport:
    """Verify the whole decision chain, the head and the stored policies (see the module docstring)."""
    if batch < 1:
        raise ValueError("batch must be >= 1")
    problems = _Problems(max_problems)
    with _snapshot(engine) as connection:
        checked, last, policy_hashes = _verify_rows(connection, batch, problems)
        head_seq, head_hash = _verify_head(connection, last, problems)
        _verify_policies(connection, policy_hashes, problems)
    listed = problems.listed()
    return AuditReport(
        ok=not listed, checked=checked, head_seq=head_seq, problems=listed, head_hash=head_hash
    )


def audit_main(database_url: str) -> int:
    """`tanxiao audit verify`: print a one-line summary (with the head hash) and the problems; 0 when ok."""
    engine = make_engine(database_url)
    try:
        report = verify_chain(engine)
    except sa.exc.SQLAlchemyError as exc:
        print(f"audit verify: FAILED, cannot read the decision store: {str(exc).splitlines()[0]}")
        return 1
    finally:
        engine.dispose()
    print(report.summary())
    for problem in report.problems:
        print(f"  {problem}")
    return 0 if report.ok else 1


# ------------------------------------------------------------------------------------------ internals


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees one snapshot for all its statements.

    PostgreSQL: REPEATABLE READ, READ ONLY (READ COMMITTED would let an append land between two batches).
    SQLite (WAL): a read transaction keeps the snapshot of its first read.
    """
    options: dict[str, Any] = {"tanxiao_write": False}
    if not is_sqlite(engine):
        options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    with engine.connect().execution_options(**options) as connection, connection.begin() as transaction:
        yield connection
        transaction.rollback()  # read only: nothing to commit


@dataclass(frozen=True)
class _Link:
    seq: int
    id: str
    chain_hash: str


def _label(row: Any) -> str:
    return f"seq {row.seq} (id {row.id})"


def _verify_rows(
    connection: Connection, batch: int, problems: _Problems
) -> tuple[int, _Link | None, set[str]]:
    """Stream the rows in seq order: (rows checked, the last row, the policy hashes they name)."""
    checked = 0
    last: _Link | None = None
    policy_hashes: set[str] = set()
    after: int | None = None
    while True:
        query = sa.select(decisions).order_by(decisions.c.seq).limit(batch)
        if after is not None:
            query = query.where(decisions.c.seq > after)
        rows = connection.execute(query).all()
        for row in rows:
            checked += 1
            _verify_link(row, last, problems)
            policy_hash = _verify_content(row, problems)
            if policy_hash is not None:
                policy_hashes.add(policy_hash)
            last = _Link(int(row.seq), str(row.id), str(row.chain_hash))
        if len(rows) < batch:
            return checked, last, policy_hashes
        after = int(rows[-1].seq)


def _verify_link(row: Any, previous: _Link | None, problems: _Problems) -> None:
    expected_seq = 1 if previous is None else previous.seq + 1
    if row.seq != expected_seq:
        where = (
            "at the start of the chain"
            if previous is None
            else f"after seq {previous.seq} (id {previous.id})"
        )
        problems.add(f"{_label(row)}: seq gap, expected seq {expected_seq} {where}: rows missing")
    expected_prev = GENESIS if previous is None else previous.chain_hash
    if row.prev_hash != expected_prev:
        before = "genesis" if previous is None else f"seq {previous.seq} (id {previous.id})"
        problems.add(
            f"{_label(row)}: prev_hash does not match the chain_hash of {before}:"
            " a row was deleted, inserted, reordered or rehashed here"
        )
    if chain_hash(row.prev_hash, row.content) != row.chain_hash:
        problems.add(f"{_label(row)}: chain_hash does not match its content: content or hash was edited")


def _verify_content(row: Any, problems: _Problems) -> str | None:
    """Check the content text is canonical and agrees with the columns; the policy hash it names."""
    try:
        content = json.loads(row.content)
    except ValueError:
        problems.add(f"{_label(row)}: content is not valid JSON")
        return None
    if not isinstance(content, dict):
        problems.add(f"{_label(row)}: content is not a JSON object")
        return None
    try:
        canonical = canonical_json(content)
    except ValueError:
        canonical = None
    if canonical != row.content:
        problems.add(f"{_label(row)}: content is not in canonical JSON form")
    for key in ("id", *_COLUMN_KEYS):
        if content.get(key) != getattr(row, key):
            problems.add(f"{_label(row)}: column {key} differs from the hashed content")
    if not _same_time(content.get("create_time"), row.create_time):
        problems.add(f"{_label(row)}: column create_time differs from the hashed content")
    policy_hash = content.get("policy_hash")
    if not isinstance(policy_hash, str):
        problems.add(f"{_label(row)}: content names no policy_hash")
        return None
    return policy_hash


def _same_time(text: object, column: datetime) -> bool:
    if not isinstance(text, str):
        return False
    try:
        return utc(datetime.fromisoformat(text)) == utc(column)
    except ValueError:
        return False


def _verify_head(
    connection: Connection, last: _Link | None, problems: _Problems
) -> tuple[int | None, str | None]:
    rows = connection.execute(
        sa.select(decision_chain_head.c.id, decision_chain_head.c.seq, decision_chain_head.c.chain_hash)
    ).all()
    head = next((r for r in rows if r.id == HEAD_ID), None)
    for other in rows:
        if other.id != HEAD_ID:
            problems.add(f"chain head: unexpected extra head row id {other.id}")
    if head is None:
        if last is not None:
            problems.add(f"chain head: missing although decisions exist (last row {_link_label(last)})")
        return None, None
    head_seq, head_hash = int(head.seq), str(head.chain_hash)
    expected_seq, expected_hash = (0, GENESIS) if last is None else (last.seq, last.chain_hash)
    last_text = "no rows" if last is None else f"the last row is {_link_label(last)}"
    if head_seq != expected_seq:
        what = "rows after it were deleted" if head_seq > expected_seq else "rows were appended past it"
        problems.add(f"chain head: at seq {head_seq} but {last_text}: {what}")
    elif head_hash != expected_hash:
        problems.add(f"chain head: hash differs from the chain_hash of {_link_label(last)}")
    return head_seq, head_hash


def _link_label(link: _Link | None) -> str:
    return "genesis" if link is None else f"seq {link.seq} (id {link.id})"


def _verify_policies(connection: Connection, referenced: set[str], problems: _Problems) -> None:
    stored = connection.execute(sa.select(loan_policies.c.policy_hash, loan_policies.c.text)).all()
    known = set()
    for row in stored:
        known.add(row.policy_hash)
        try:
            recomputed = policy_content_hash(yaml.safe_load(row.text))
        except (yaml.YAMLError, ValueError, TypeError):
            recomputed = None
        if recomputed != row.policy_hash:
            problems.add(f"policy {row.policy_hash}: stored text does not hash to its key: text was edited")
    for missing in sorted(referenced - known):
        problems.add(f"policy {missing}: named by decisions but not stored")
