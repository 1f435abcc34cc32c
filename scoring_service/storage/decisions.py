"""Loan decisions, stored as entries of the decision log, and the loan policies they were made under.

A quote stores its decision in one short transaction of its own: a ``log_decisions`` row (the columns
that select a decision, and its initial review state), its profile snapshot (once per distinct profile,
by content hash) and one ``log_entries`` row of kind ``decision``. No row is shared with other quotes,
so quotes never wait on each other; the decision gets its id at once and a leaf index from the
sequencer within the merge delay (``log_merge_delay_seconds``, stated in the decision's content).

The store writes into the content, before hashing, the server-assigned ``id`` and ``create_time``, the
columns that select a decision (``lender``, ``request_id``, ``uscc``, ``product``,
``request_fingerprint``), ``policy_hash``, ``policy_version`` and the merge delay, so that no column can
be edited without the audit noticing (scoring_service.audit). The profile the registry sent is stored
once in ``profile_snapshots``; the content names it by ``profile_snapshot_sha256`` (the sha256 of its
canonical JSON), so the log commits to it, and reads put it back under ``profile``.

``(lender, request_id)`` is unique and the idempotency check is the insert itself (ON CONFLICT DO
NOTHING): a retry with the same request fingerprint gets the stored decision back; the same request id
with a different fingerprint is REQUEST_ID_REUSED.

Decisions made before revision 0009 (the hash chain) were migrated into the log as its first leaves,
their content unchanged; ``decisions`` still holds their chain for the audit.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite

from loan_rules import Policy, parse_policy
from loan_rules.compact import Renderer
from scoring_service.decision_format import expanded, is_compact
from scoring_service.review import initial_state
from scoring_service.storage.log import (
    PG_COPY_FROM_ROWS,
    BulkInsert,
    EntryKind,
    EntryRow,
    FoldedInserts,
    canonical_json,
    check_stamp,
    insert_entry_rows,
    iso_time,
    new_entry_id,
    new_entry_ids,
    sealed_row,
    utc,
)
from scoring_service.storage.tables import (
    loan_policies,
    log_decisions,
    log_entries,
    log_leaves,
    profile_snapshots,
)
from tanxiao.errors import NotFound, ValidationError
from tanxiao.platform.db import held_connection, is_sqlite, read_only
from tanxiao.platform.idempotency import run_in_transaction
from tanxiao.platform.metrics import DECISIONS_APPENDED

__all__ = [
    "BOUND_KEYS",
    "Append",
    "DecisionStore",
    "StoredDecision",
    "canonical_json",
    "iso_time",
    "new_decision_id",
    "utc",
]

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
SNAPSHOT_KEY = "profile_snapshot_sha256"
SNAPSHOT_CACHE_SIZE = 10_000
DEFAULT_MERGE_DELAY_SECONDS = 1.0


@dataclass(frozen=True)
class StoredDecision:
    id: str
    lender: str
    request_id: str
    uscc: str
    product: str
    request_fingerprint: str
    content: dict[str, Any]  # as hashed, with the profile snapshot put back under "profile"
    leaf_hash: str  # hex RFC 9162 leaf hash of the log entry
    create_time: datetime
    log_index: int | None = None  # None until the sequencer integrates it

    @property
    def chain_hash(self) -> str:
        """What Decision.chain_hash carries: the decision's leaf hash in the log."""
        return self.leaf_hash

    @classmethod
    def fresh(
        cls, id: str, lender: str, request_id: str, uscc: str, product: str, request_fingerprint: str,
        content: dict[str, Any], leaf_hash: str, create_time: datetime,
    ) -> StoredDecision:  # fmt: skip
        """The decision just stored (no leaf index yet), equal to what ``StoredDecision(...)`` makes.

        A batch builds one a decision: the frozen dataclass's ``__init__`` sets each of the ten fields
        with ``object.__setattr__`` (1.8 us); filling the instance's ``__dict__`` at once is 0.6 us. The
        class has no ``__post_init__`` or slots for this to skip (pinned by a unit test)."""
        self = object.__new__(cls)
        self.__dict__.update(
            id=id, lender=lender, request_id=request_id, uscc=uscc, product=product,
            request_fingerprint=request_fingerprint, content=content, leaf_hash=leaf_hash,
            create_time=create_time, log_index=None,
        )  # fmt: skip
        return self


def new_decision_id() -> str:
    return new_entry_id()


def snapshot_hash(profile_json: str) -> str:
    return hashlib.sha256(profile_json.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Append:
    """One decision to append (the arguments of DecisionStore.append but the policy)."""

    lender: str
    request_id: str
    uscc: str
    product: str
    request_fingerprint: str
    content: dict[str, Any]
    # A compact decision's full terms (decision_format), as reads render them: what the stored
    # decision returned by the append shows under "terms" (not hashed; None: the content's own).
    shown_terms: dict[str, Any] | None = None
    # (sha256, canonical JSON) of content["profile"] when the caller has them (the pricer keeps them
    # per distinct profile), so a quote does not encode its profile again
    snapshot: tuple[str, str] | None = None

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

    def key(self) -> tuple[str, str]:
        return self.lender, self.request_id


class _Prepared(NamedTuple):  # a tuple: built per decision, a frozen dataclass costs more
    item: Append
    entry: EntryRow  # the log_entries row (log.sealed_row)
    snapshot: tuple[str, str] | None  # (hash, canonical profile JSON)
    decision: StoredDecision


_COLUMNS = (
    log_decisions.c.id, log_decisions.c.lender, log_decisions.c.request_id, log_decisions.c.uscc,
    log_decisions.c.product, log_decisions.c.request_fingerprint, log_decisions.c.create_time,
    log_entries.c.content, log_entries.c.leaf_hash, log_leaves.c.idx,
    profile_snapshots.c.content.label("profile_json"),
)  # fmt: skip
_FROM = (
    log_decisions.join(log_entries, log_entries.c.entry_id == log_decisions.c.id)
    .outerjoin(log_leaves, log_leaves.c.entry_id == log_decisions.c.id)
    .outerjoin(profile_snapshots, profile_snapshots.c.snapshot_hash == log_decisions.c.profile_snapshot)
)


_INDEX_INSERT = BulkInsert(
    log_decisions,
    (
        "id",
        "lender",
        "request_id",
        "uscc",
        "product",
        "request_fingerprint",
        "profile_snapshot",
        "create_time",
        "state",
        "review_needed",
        "version",
    ),
    on_conflict=("lender", "request_id"),
    counted=True,  # the idempotency check: fewer rows inserted means a request already stored
)
_SNAPSHOT_INSERT = BulkInsert(
    profile_snapshots, ("snapshot_hash", "content", "create_time"), on_conflict=("snapshot_hash",)
)


def _select() -> sa.Select[Any]:
    return sa.select(*_COLUMNS).select_from(_FROM)


def _stored(row: Any, expand: Callable[[dict[str, Any]], dict[str, Any]]) -> StoredDecision:
    content = expand(json.loads(row.content))
    if row.profile_json is not None:
        content["profile"] = json.loads(row.profile_json)
    return StoredDecision(
        id=row.id, lender=row.lender, request_id=row.request_id, uscc=row.uscc, product=row.product,
        request_fingerprint=row.request_fingerprint, content=content, leaf_hash=row.leaf_hash,
        create_time=utc(row.create_time), log_index=None if row.idx is None else int(row.idx),
    )  # fmt: skip


def _review_columns(content: dict[str, Any]) -> tuple[str | None, bool | None, int | None]:
    """(state, review_needed, version) of a decision just stored: its initial review state (QUOTED, or
    IN_REVIEW when it needs review) at version 1. A decision without review terms gets NULLs: listings
    index it before they list (ReviewStore.index), as decisions made before review existed."""
    terms = content.get("terms")
    if not isinstance(terms, dict) or "manual_review" not in terms:
        return None, None, None
    needed = bool(terms["manual_review"])
    return initial_state(needed).value, needed, 1


def _reused() -> ValidationError:
    return ValidationError.for_field(
        "request_id",
        "was used for a different request; use a new request_id for a new request",
        reason="REQUEST_ID_REUSED",
    )


class DecisionStore:
    def __init__(self, engine: Engine, *, merge_delay_seconds: float = DEFAULT_MERGE_DELAY_SECONDS) -> None:
        self.engine = engine
        self.merge_delay_seconds = merge_delay_seconds
        self._stored_policies: set[str] = set()  # hashes known to be in loan_policies
        # Profile snapshots this process stored (committed), so a quote on a known profile skips the
        # insert; bounded: forgetting one only costs an ON CONFLICT DO NOTHING.
        self._stored_snapshots: OrderedDict[str, None] = OrderedDict()
        self._insert = sqlite.insert if is_sqlite(engine) else postgresql.insert
        self._policies: dict[str, Policy] = {}  # parsed policies by hash (compact decisions' rendering)
        self._policies_lock = threading.Lock()
        self.renderer = Renderer()
        self._held = held_connection(engine)  # appends' transactions skip the pool (and its pre-ping)
        self._fold = not is_sqlite(engine)  # PostgreSQL: a group's inserts as one statement
        self._text_entries = not is_sqlite(engine)  # entries' content as str (PostgreSQL) or bytes

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
        """Store a decision in the log: (the decision, True), or for a retry of a stored request (same
        lender, request id and fingerprint) (the stored decision, False).

        Raises ValidationError (REQUEST_ID_REUSED) when the request id was used for another request and
        ValueError when the content is not JSON (NaN included) or disagrees with the arguments.
        """
        item = Append(lender, request_id, uscc, product, request_fingerprint, content)
        return self.append_many([item], policy_text=policy_text, policy_hash=policy_hash,
                                policy_version=policy_version)[0]  # fmt: skip

    def append_many(
        self,
        items: Sequence[Append],
        *,
        policy_text: str,
        policy_hash: str,
        policy_version: str,
        also: Callable[[Connection, list[StoredDecision]], None] | None = None,
    ) -> list[tuple[StoredDecision, bool]]:
        """``append`` for many decisions in one transaction, in order: one bulk insert per table (a
        book re-priced by BatchQuote). Requests already stored come back as (stored, False).
        Each new decision's row carries its initial review state (``_review_columns``). ``also``: run
        in the same transaction on the decisions returned."""
        now = datetime.now(UTC)
        stamp = iso_time(now)
        prepared: dict[tuple[str, str], _Prepared] = {}
        # Canonical JSON and hash once per distinct profile object of the call (a chunk shares one
        # dict per profile between its decisions); the dicts stay referenced, so ids are not reused.
        snapshots: dict[int, tuple[str, str]] = {}
        ids = iter(new_entry_ids(len(items)))
        for item in items:  # fail before touching the database
            if item.key() in prepared:
                if prepared[item.key()].item.request_fingerprint != item.request_fingerprint:
                    raise _reused()
                continue
            prepared[item.key()] = self._prepare(
                item, policy_hash, policy_version, now, stamp, snapshots, next(ids)
            )

        def once(connection: Connection) -> list[tuple[StoredDecision, bool]]:
            self._store_policy(connection, policy_hash, policy_version, policy_text, now)
            fresh = self._insert_index(connection, list(prepared.values()))
            kept = [p for p in prepared.values() if p.decision.id in fresh]
            self._store_snapshots(connection, kept, now)
            insert_entry_rows(connection, [p.entry for p in kept])
            existing = self._existing(
                connection, [p for p in prepared.values() if p.decision.id not in fresh]
            )
            out, seen = [], set()
            for item in items:
                p = prepared[item.key()]
                if p.decision.id in fresh:
                    out.append((p.decision, p.decision.id not in seen))  # the same request twice: once new
                    seen.add(p.decision.id)
                else:
                    out.append((existing[item.key()], False))
            if also is not None:
                also(connection, [d for d, _ in out])
            return out

        result = None
        if policy_hash in self._stored_policies:
            if not self._fold:
                result = self._folded(once, self._in_one_sqlite_transaction)
            elif len(prepared) <= PG_COPY_FROM_ROWS:
                result = self._folded(once, self._in_one_statement)
        if result is None:  # on the engine's kept write connection: groups commit many times a second
            result = run_in_transaction(self.engine, once, held=self._held)
        self._stored_policies.add(policy_hash)  # committed: later appends need not insert it again
        for p in prepared.values():
            if p.snapshot is not None:
                self._stored_snapshots[p.snapshot[0]] = None
                self._stored_snapshots.move_to_end(p.snapshot[0])
        while len(self._stored_snapshots) > SNAPSHOT_CACHE_SIZE:
            self._stored_snapshots.popitem(last=False)
        DECISIONS_APPENDED.inc(sum(1 for _, new in result if new))
        return result

    def get(self, decision_id: str) -> StoredDecision:
        with read_only(self.engine) as connection:
            row = connection.execute(_select().where(log_decisions.c.id == decision_id)).first()
            if row is None:
                raise NotFound(f"decision {decision_id!r} not found", reason="DECISION_NOT_FOUND")
            return self._stored(connection, row)

    def find(self, lender: str, request_id: str) -> StoredDecision | None:
        """The lender's decision for the request id, if any (the caller compares the fingerprint)."""
        query = _select().where(log_decisions.c.lender == lender, log_decisions.c.request_id == request_id)
        with read_only(self.engine) as connection:
            row = connection.execute(query).first()
            return None if row is None else self._stored(connection, row)

    def find_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredDecision]:
        """The stored decisions of any of these (lender, request_id) keys, in one read per 500 keys
        (BatchQuote looks a chunk up at once)."""
        out: dict[tuple[str, str], StoredDecision] = {}
        by_lender: dict[str, list[str]] = {}
        for lender, request_id in dict.fromkeys(keys):
            by_lender.setdefault(lender, []).append(request_id)
        # per lender, ``lender = ? AND request_id IN (...)``: the unique index's prefix, which both
        # databases use directly (a row-value IN list was far slower on PostgreSQL for 1,000 keys)
        with read_only(self.engine) as connection:
            for lender, request_ids in by_lender.items():
                for start in range(0, len(request_ids), 500):
                    query = _select().where(
                        log_decisions.c.lender == lender,
                        log_decisions.c.request_id.in_(request_ids[start : start + 500]),
                    )
                    for row in connection.execute(query):
                        out[(row.lender, row.request_id)] = self._stored(connection, row)
        return out

    def for_lender(self, lender: str) -> list[StoredDecision]:
        """Every decision of the lender, oldest first."""
        query = (
            _select()
            .where(log_decisions.c.lender == lender)
            .order_by(log_decisions.c.create_time, log_decisions.c.id)
        )
        with read_only(self.engine) as connection:
            return [self._stored(connection, row) for row in connection.execute(query).all()]

    def policy_text(self, policy_hash: str) -> str:
        query = sa.select(loan_policies.c.text).where(loan_policies.c.policy_hash == policy_hash)
        with read_only(self.engine) as connection:
            text = connection.execute(query).scalar_one_or_none()
        if text is None:
            raise NotFound(f"loan policy {policy_hash!r} not found", reason="POLICY_NOT_FOUND")
        return str(text)

    # ------------------------------------------------------------------------------------ internals

    def _folded(
        self,
        once: Callable[[Connection], list[tuple[StoredDecision, bool]]],
        write: Callable[[Connection, FoldedInserts], bool],
    ) -> list[tuple[StoredDecision, bool]] | None:
        """``once`` run against a gathering stand-in (``FoldedInserts``) believing every decision new
        (the policy is stored already, so it reads nothing), its inserts then written by ``write`` on
        the held connection in autocommit mode (``_in_one_statement``, ``_in_one_sqlite_transaction``).
        None when they were not stored (a request already stored, the held connection busy, any
        database error; nothing written): the caller then runs the transaction, which answers those
        cases as before."""
        with self._held.autocommit() as connection:
            if connection is None:
                return None
            folded = FoldedInserts()
            # ``once`` sees a stand-in: its bulk inserts gather, any other statement raises (it would
            # commit alone on this autocommit connection)
            result = once(folded.gathering(connection.dialect))
            return result if write(connection, folded) else None

    @staticmethod
    def _in_one_statement(connection: Connection, folded: FoldedInserts) -> bool:
        """PostgreSQL: the gathered inserts as ONE autocommit statement, a quote group's inserts in one
        round trip with no BEGIN and COMMIT; it fails, writing nothing, unless every index row went in."""
        from psycopg import Error, RawCursor  # PostgreSQL only

        statement, params = folded.statement(connection.dialect)
        try:
            with RawCursor(connection.connection.driver_connection) as cursor:  # type: ignore[arg-type]
                cursor.execute(statement, params)
        except Error:
            return False
        return True

    @staticmethod
    def _in_one_sqlite_transaction(connection: Connection, folded: FoldedInserts) -> bool:
        """SQLite: the gathered inserts in one transaction issued on the held connection's sqlite3
        connection (``FoldedInserts.run_sqlite``), no SQLAlchemy transaction or execution; rolled back
        when one skipped a row or the database failed."""
        import sqlite3  # SQLite only

        driver = connection.connection.dbapi_connection
        try:
            return folded.run_sqlite(driver, connection.dialect)
        except sqlite3.Error:
            if driver is None or driver.in_transaction:  # the rollback failed too: start afresh
                connection.invalidate()
            return False

    def _stored(self, connection: Connection, row: Any) -> StoredDecision:
        """A stored decision as reads show it: a compact one with its full terms rendered
        (scoring_service.decision_format) under the policy it names."""
        return _stored(row, lambda content: self._expanded(connection, content))

    def _expanded(self, connection: Connection, content: dict[str, Any]) -> dict[str, Any]:
        if not is_compact(content):
            return content
        return expanded(content, self._policy(connection, content["terms"]["policy_hash"]), self.renderer)

    def _policy(self, connection: Connection, policy_hash: str) -> Policy:
        """The parsed policy of a hash, parsed once per process (policies never change under a hash)."""
        policy = self._policies.get(policy_hash)
        if policy is None:
            query = sa.select(loan_policies.c.text).where(loan_policies.c.policy_hash == policy_hash)
            text = connection.execute(query).scalar_one_or_none()
            if text is None:
                raise NotFound(f"loan policy {policy_hash!r} not found", reason="POLICY_NOT_FOUND")
            policy = parse_policy(str(text))
            with self._policies_lock:
                self._policies[policy_hash] = policy
        return policy

    def _prepare(
        self, item: Append, policy_hash: str, policy_version: str, now: datetime, stamp: str,
        snapshots: dict[int, tuple[str, str]], entry_id: str,
    ) -> _Prepared:  # fmt: skip
        """``stamp``: ``iso_time(now)``, worked out once per call; ``entry_id``: the decision's new id."""
        bound = item.bound(policy_hash, policy_version)
        given = item.content
        for key, value in bound.items():
            if key in given and given[key] != value:
                raise ValueError(f"content[{key!r}] = {given[key]!r} disagrees with {key}={value!r}")
        content = {**given, **bound, "log_merge_delay_seconds": self.merge_delay_seconds}
        snapshot = None
        profile = content.pop("profile", None)
        if isinstance(profile, dict):
            snapshot = item.snapshot or snapshots.get(id(profile))
            if snapshot is None:
                text = canonical_json(profile)
                snapshot = snapshots[id(profile)] = (snapshot_hash(text), text)
            content[SNAPSHOT_KEY] = snapshot[0]
        elif profile is not None:
            content["profile"] = profile
        # The content as hashed: ``content`` with the entry's id and time added in place (the same
        # keys in the same order as LogEntry.build's copy; the copy is not needed, so not made).
        stamped = {"id": entry_id, "create_time": stamp}
        check_stamp(content, stamped)
        content.update(stamped)
        entry = sealed_row(EntryKind.DECISION, content, entry_id, now, text=self._text_entries)
        # What reads return: the content as hashed (built, not re-parsed) with the profile put back;
        # ``content`` itself, hashed already and referenced by nothing else.
        shown = content
        if item.shown_terms is not None:
            shown["terms"] = item.shown_terms
        if snapshot is not None:
            shown["profile"] = profile
        decision = StoredDecision.fresh(
            entry_id, item.lender, item.request_id, item.uscc, item.product, item.request_fingerprint,
            shown, entry[3], now,
        )  # fmt: skip
        return _Prepared(item, entry, snapshot, decision)

    def _insert_index(self, connection: Connection, prepared: list[_Prepared]) -> set[str]:
        """Insert the index rows, skipping (lender, request_id) already stored: the ids inserted. The
        driver's row count says whether all were (the usual case); when not, the ids that are ours
        are read back."""
        rows = [
            (
                p.decision.id, p.item.lender, p.item.request_id, p.item.uscc, p.item.product,
                p.item.request_fingerprint, p.snapshot[0] if p.snapshot else None, p.decision.create_time,
                *_review_columns(p.decision.content),
            )
            for p in prepared
        ]  # fmt: skip
        if not rows:
            return set()
        ids = [p.decision.id for p in prepared]
        if _INDEX_INSERT.run(connection, rows) == len(rows):
            return set(ids)
        fresh: set[str] = set()
        for start in range(0, len(ids), 500):
            query = sa.select(log_decisions.c.id).where(log_decisions.c.id.in_(ids[start : start + 500]))
            fresh.update(connection.execute(query).scalars())
        return fresh

    def _store_snapshots(self, connection: Connection, kept: list[_Prepared], now: datetime) -> None:
        """Insert the snapshots not known to be stored (ON CONFLICT DO NOTHING: another replica's)."""
        snapshots = {
            p.snapshot[0]: p.snapshot[1]
            for p in kept
            if p.snapshot is not None and p.snapshot[0] not in self._stored_snapshots
        }
        _SNAPSHOT_INSERT.run(connection, [(h, text, now) for h, text in snapshots.items()])

    def _existing(
        self, connection: Connection, lost: list[_Prepared]
    ) -> dict[tuple[str, str], StoredDecision]:
        """The stored decisions of requests whose insert was skipped; REQUEST_ID_REUSED on another
        fingerprint."""
        out: dict[tuple[str, str], StoredDecision] = {}
        for p in lost:
            row = connection.execute(
                _select().where(
                    log_decisions.c.lender == p.item.lender, log_decisions.c.request_id == p.item.request_id
                )
            ).one()
            if row.request_fingerprint != p.item.request_fingerprint:
                raise _reused()
            out[p.item.key()] = self._stored(connection, row)
        return out

    def _store_policy(
        self, connection: Connection, policy_hash: str, version: str, text: str, now: datetime
    ) -> None:
        """Insert the policy text under its hash unless already stored (once per process and hash).

        The first text stored for a hash is kept: the hash is of the parsed content, so texts differing
        only in comments or formatting share it.
        """
        if policy_hash in self._stored_policies:
            return
        statement = self._insert(loan_policies).on_conflict_do_nothing(index_elements=["policy_hash"])
        connection.execute(
            statement.values(policy_hash=policy_hash, version=version, text=text, create_time=now)
        )
