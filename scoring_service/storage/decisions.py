"""Loan decisions, stored append-only in a hash chain, and the loan policies they were made under.

Each decision is one row whose ``content`` is the canonical JSON of the whole decision and whose
``chain_hash`` is ``sha256(prev_hash + "\\n" + content)``, ``prev_hash`` being the previous row's
``chain_hash`` (:data:`GENESIS` for the first). The single ``decision_chain_head`` row names the last
row's seq and hash. An append locks the head (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the
write transaction is already exclusive, ``BEGIN IMMEDIATE``), so appends are serialised and ``seq`` is
gap-free (head.seq + 1).

The store writes into the content, before hashing, the server-assigned ``id`` and ``create_time`` and
the columns that select a decision (``lender``, ``request_id``, ``uscc``, ``product``,
``request_fingerprint``) plus ``policy_hash`` and ``policy_version``, so that no column can be edited
without the audit noticing (scoring_service.audit). A caller's content may carry those keys itself, but
only with the same values.

``(lender, request_id)`` is unique: a retry with the same request fingerprint gets the stored decision
back; the same request id with a different fingerprint is REQUEST_ID_REUSED.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from scoring_service.storage.tables import decision_chain_head, decisions, loan_policies
from tanxiao.errors import FailedPrecondition, NotFound, ValidationError
from tanxiao.platform.db import read_only
from tanxiao.platform.idempotency import run_in_transaction
from tanxiao.platform.metrics import DECISIONS_APPENDED

GENESIS = "0" * 64
HEAD_ID = 1
# Content keys the store sets; the audit checks each against the row's columns.
BOUND_KEYS = (
    "lender",
    "request_id",
    "uscc",
    "product",
    "request_fingerprint",
    "policy_hash",
    "policy_version",
)


@dataclass(frozen=True)
class StoredDecision:
    id: str
    seq: int
    lender: str
    request_id: str
    uscc: str
    product: str
    request_fingerprint: str
    content: dict[str, Any]
    prev_hash: str
    chain_hash: str
    create_time: datetime


def canonical_json(obj: Any) -> str:
    """The one serialization that is hashed: sorted keys, no whitespace, UTF-8 text, no NaN/Infinity."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def chain_hash(prev_hash: str, content_json: str) -> str:
    """sha256 hex of ``prev_hash + "\\n" + content_json`` (UTF-8)."""
    return hashlib.sha256(f"{prev_hash}\n{content_json}".encode()).hexdigest()


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_time(value: datetime) -> str:
    """The text a time has in a decision's content: ISO 8601, UTC, always with microseconds."""
    return utc(value).isoformat(timespec="microseconds")


def new_decision_id() -> str:
    """Server-generated id: 32 lowercase hex characters (uuid4)."""
    return uuid.uuid4().hex


_COLUMNS = (
    decisions.c.seq,
    decisions.c.id,
    decisions.c.lender,
    decisions.c.request_id,
    decisions.c.uscc,
    decisions.c.product,
    decisions.c.request_fingerprint,
    decisions.c.content,
    decisions.c.prev_hash,
    decisions.c.chain_hash,
    decisions.c.create_time,
)


def _stored(row: Any) -> StoredDecision:
    return StoredDecision(
        id=row.id,
        seq=int(row.seq),
        lender=row.lender,
        request_id=row.request_id,
        uscc=row.uscc,
        product=row.product,
        request_fingerprint=row.request_fingerprint,
        content=json.loads(row.content),
        prev_hash=row.prev_hash,
        chain_hash=row.chain_hash,
        create_time=utc(row.create_time),
    )


@dataclass(frozen=True)
class Append:
    """One decision to append (the arguments of DecisionStore.append but the policy)."""

    lender: str
    request_id: str
    uscc: str
    product: str
    request_fingerprint: str
    content: dict[str, Any]

    def bound(self, policy_hash: str, policy_version: str) -> dict[str, str]:
        """The content keys the store sets from the columns (the audit checks them)."""
        return {
            "lender": self.lender,
            "request_id": self.request_id,
            "uscc": self.uscc,
            "product": self.product,
            "request_fingerprint": self.request_fingerprint,
            "policy_hash": policy_hash,
            "policy_version": policy_version,
        }


_ROW_FIELDS = ("seq", "id", "lender", "request_id", "uscc", "product", "request_fingerprint", "prev_hash",
               "chain_hash", "create_time")  # fmt: skip


def _reused() -> ValidationError:
    return ValidationError.for_field(
        "request_id",
        "was used for a different request; use a new request_id for a new request",
        reason="REQUEST_ID_REUSED",
    )


class DecisionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(
        self,
        *,
        lender: str,
        request_id: str,
        uscc: str,
        product: str,
        request_fingerprint: str,
        content: dict[str, Any],
        policy_text: str,
        policy_hash: str,
        policy_version: str,
    ) -> tuple[StoredDecision, bool]:
        """Store a decision at the end of the chain: (the decision, True), or for a retry of a stored
        request (same lender, request id and fingerprint) (the stored decision, False).

        Raises ValidationError (REQUEST_ID_REUSED) when the request id was used for another request,
        FailedPrecondition (DECISION_CHAIN_BROKEN) when decisions exist but the chain head does not, and
        ValueError when the content is not JSON (NaN included) or disagrees with the arguments.
        """
        item = Append(lender, request_id, uscc, product, request_fingerprint, content)
        return self.append_many([item], policy_text=policy_text, policy_hash=policy_hash,
                                policy_version=policy_version)[0]  # fmt: skip

    def append_many(
        self, items: Sequence[Append], *, policy_text: str, policy_hash: str, policy_version: str
    ) -> list[tuple[StoredDecision, bool]]:
        """``append`` for many decisions in one transaction, in order: the head is locked once, the
        rows go in with one executemany and the head moves once (a book re-priced by BatchQuote)."""
        for item in items:
            for key, value in item.bound(policy_hash, policy_version).items():
                if key in item.content and item.content[key] != value:
                    raise ValueError(
                        f"content[{key!r}] = {item.content[key]!r} disagrees with {key}={value!r}"
                    )
            canonical_json(item.content)  # fail before touching the database

        def once(connection: Connection) -> list[tuple[StoredDecision, bool]]:
            head_seq, head_hash = self._lock_head(connection)
            self._store_policy(connection, policy_hash, policy_version, policy_text)
            now = datetime.now(UTC)
            out: list[tuple[StoredDecision, bool]] = []
            fresh: dict[tuple[str, str], StoredDecision] = {}
            rows = []
            for item in items:
                key = (item.lender, item.request_id)
                if key in fresh:  # the same request twice in one batch
                    if fresh[key].request_fingerprint != item.request_fingerprint:
                        raise _reused()
                    out.append((fresh[key], False))
                    continue
                existing = self._existing(connection, item.lender, item.request_id, item.request_fingerprint)
                if existing is not None:
                    out.append((existing, False))
                    continue
                decision_id = new_decision_id()
                full = {**item.content, **item.bound(policy_hash, policy_version), "id": decision_id,
                        "create_time": iso_time(now)}  # fmt: skip
                content_json = canonical_json(full)
                seq, prev_hash = head_seq + 1, head_hash
                head_seq, head_hash = seq, chain_hash(prev_hash, content_json)
                stored = StoredDecision(
                    id=decision_id, seq=seq, lender=item.lender, request_id=item.request_id,
                    uscc=item.uscc, product=item.product, request_fingerprint=item.request_fingerprint,
                    content=json.loads(content_json), prev_hash=prev_hash, chain_hash=head_hash,
                    create_time=now,
                )  # fmt: skip
                rows.append({**{f: getattr(stored, f) for f in _ROW_FIELDS}, "content": content_json})
                fresh[key] = stored
                out.append((stored, True))
            if rows:
                connection.execute(decisions.insert(), rows)
                connection.execute(
                    decision_chain_head.update()
                    .where(decision_chain_head.c.id == HEAD_ID)
                    .values(seq=head_seq, chain_hash=head_hash, update_time=now)
                )
            return out

        appended = run_in_transaction(self.engine, once)
        DECISIONS_APPENDED.inc(sum(1 for _, new in appended if new))
        return appended

    def get(self, decision_id: str) -> StoredDecision:
        with read_only(self.engine) as connection:
            row = connection.execute(sa.select(*_COLUMNS).where(decisions.c.id == decision_id)).first()
        if row is None:
            raise NotFound(f"decision {decision_id!r} not found", reason="DECISION_NOT_FOUND")
        return _stored(row)

    def find(self, lender: str, request_id: str) -> StoredDecision | None:
        """The lender's decision for the request id, if any (the caller compares the fingerprint)."""
        query = sa.select(*_COLUMNS).where(decisions.c.lender == lender, decisions.c.request_id == request_id)
        with read_only(self.engine) as connection:
            row = connection.execute(query).first()
        return None if row is None else _stored(row)

    def for_lender(self, lender: str) -> list[StoredDecision]:
        """Every decision of the lender, in chain (seq) order."""
        query = sa.select(*_COLUMNS).where(decisions.c.lender == lender).order_by(decisions.c.seq)
        with read_only(self.engine) as connection:
            return [_stored(row) for row in connection.execute(query)]

    def policy_text(self, policy_hash: str) -> str:
        query = sa.select(loan_policies.c.text).where(loan_policies.c.policy_hash == policy_hash)
        with read_only(self.engine) as connection:
            text = connection.execute(query).scalar_one_or_none()
        if text is None:
            raise NotFound(f"loan policy {policy_hash!r} not found", reason="POLICY_NOT_FOUND")
        return str(text)

    # ------------------------------------------------------------------------------------ internals

    @staticmethod
    def _existing(
        connection: Connection, lender: str, request_id: str, fingerprint: str
    ) -> StoredDecision | None:
        query = sa.select(*_COLUMNS).where(decisions.c.lender == lender, decisions.c.request_id == request_id)
        row = connection.execute(query).first()
        if row is None:
            return None
        if row.request_fingerprint != fingerprint:
            raise _reused()
        return _stored(row)

    @staticmethod
    def _lock_head(connection: Connection) -> tuple[int, str]:
        """(seq, chain hash) of the head, locked until the transaction ends; created on the first append.

        Two first appends racing to create the head: the loser's insert fails on the primary key and
        run_in_transaction runs it again, when it finds the winner's head.
        """
        query = (
            sa.select(decision_chain_head.c.seq, decision_chain_head.c.chain_hash)
            .where(decision_chain_head.c.id == HEAD_ID)
            .with_for_update()
        )
        row = connection.execute(query).first()
        if row is not None:
            return int(row.seq), str(row.chain_hash)
        if connection.execute(sa.select(decisions.c.seq).limit(1)).first() is not None:
            # A racing first append may have committed its head and decision between our two reads
            # (READ COMMITTED): they commit together, so the head is visible now unless it was deleted.
            row = connection.execute(query).first()
            if row is not None:
                return int(row.seq), str(row.chain_hash)
            raise FailedPrecondition(
                "the decision chain head is missing although decisions exist; run `tanxiao audit verify`",
                reason="DECISION_CHAIN_BROKEN",
            )
        connection.execute(
            decision_chain_head.insert().values(
                id=HEAD_ID, seq=0, chain_hash=GENESIS, update_time=datetime.now(UTC)
            )
        )
        return 0, GENESIS

    @staticmethod
    def _store_policy(connection: Connection, policy_hash: str, version: str, text: str) -> None:
        """Insert the policy text under its hash unless already stored (runs under the head lock).

        The first text stored for a hash is kept: the hash is of the parsed content, so texts differing
        only in comments or formatting share it.
        """
        query = sa.select(loan_policies.c.text).where(loan_policies.c.policy_hash == policy_hash)
        stored = connection.execute(query).scalar_one_or_none()
        if stored is None:
            connection.execute(
                loan_policies.insert().values(
                    policy_hash=policy_hash, version=version, text=text, create_time=datetime.now(UTC)
                )
            )
