"""The decision log's storage: entries appended without a shared lock, the tree nodes, the signed heads.

Appending (any number of scoring replicas, concurrently): an entry is one ``log_entries`` row inserted in
the caller's own transaction, with its id, canonical content and leaf hash, and one narrow
``log_pending`` row (its id, leaf hash and time). Nothing else is touched, so two appends never wait on
each other's rows. The sequencer (scoring_service.sequencer) later numbers pending entries (a
``log_leaves`` row each; the entry row is never rewritten) and writes the tree nodes and a signed head.

Entry kinds are a closed set (``EntryKind``); every kind's content is canonical JSON of an object that
carries its ``id`` and ``create_time`` (UTC, ISO 8601 with microseconds), set here.

Reading: roots and proofs come from tanxiao.translog over the stored nodes (a few indexed reads each).

Appending another kind (review actions, repricings), either on its own::

    entry = LogStore(engine).append(EntryKind.REVIEW_ACTION, {"decision": "decisions/…", "action": …})
    entry.entry_id, entry.leaf_hash  # at once; entry.index stays None until the sequencer runs

or atomically with the caller's own rows (e.g. a review table), in the caller's transaction::

    entry = LogEntry.build(EntryKind.REVIEW_ACTION, content)
    with transaction(engine) as connection:
        connection.execute(reviews.insert().values(id=entry.entry_id, ...))
        insert_entries(connection, [entry])

The content is any JSON object (no NaN); the log adds ``id`` and ``create_time``. Proofs:
``LogStore.inclusion(entry_id)``.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from scoring_service.storage.tables import (
    log_entries,
    log_heads,
    log_keys,
    log_leaves,
    log_nodes,
    log_pending,
)
from tanxiao.errors import FailedPrecondition, NotFound
from tanxiao.plain_json import writes_alike
from tanxiao.platform.db import read_only, transaction
from tanxiao.translog import (
    NodeId,
    SignedTreeHead,
    TreeHead,
    consistency_proof,
    entry_leaf_hash,
    inclusion_proof,
)


class EntryKind(StrEnum):
    """What a log entry records. The value is hashed into the leaf (never rename one)."""

    DECISION = "decision"  # a quote's decision (scoring_service.storage.decisions)
    REVIEW_ACTION = "review_action"  # approve / decline / override of a decision by a credit officer
    REPRICING = "repricing"  # new terms for an existing decision


def canonical_json(obj: Any) -> str:
    """The one serialization that is hashed: sorted keys, no whitespace, UTF-8 text, no NaN/Infinity.

    Defined as ``json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    allow_nan=False)`` (docs/scoring.md); encoded by orjson (C) when that gives the same text, which it
    does for everything but floats below 1e-4 or in exponent form (orjson writes ``1e-5`` where Python
    writes ``1e-05``) and NaN/Infinity (orjson writes ``null``): those, found by one walk over the
    object's values (tanxiao.plain_json.writes_alike; containers a producer vouched for as
    PlainList/PlainDict are skipped), go through ``json.dumps`` (which rejects NaN with
    ValueError). Pinned byte for byte against ``json.dumps`` by a property test.
    """
    return canonical_json_bytes(obj).decode("utf-8")


def canonical_json_bytes(obj: Any) -> bytes:
    """``canonical_json`` as UTF-8 bytes (what is hashed)."""
    try:
        raw = orjson.dumps(obj, option=_ORJSON_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):  # big ints, non-str keys, unknown types: the reference
        return _reference_json(obj).encode("utf-8")
    return raw if writes_alike(obj) else _reference_json(obj).encode("utf-8")


def _reference_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_time(value: datetime) -> str:
    """The text a time has in an entry's content: ISO 8601, UTC, always with microseconds."""
    return utc(value).isoformat(timespec="microseconds")


def new_entry_id() -> str:
    """Server-generated id: 32 lowercase hex characters (a random uuid4, as ``uuid.uuid4().hex``: 122
    random bits, the version and variant bits set), without building a UUID object (a fifth of the
    cost)."""
    return new_entry_ids(1)[0]


def new_entry_ids(count: int) -> list[str]:
    """``count`` ids as ``new_entry_id`` makes them, from one ``os.urandom`` call (a batch makes one per
    decision: the system call per id was 3.4 us of the 4; 0.6 us an id for 1,000)."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_UUID4_VERSION)
    raw[8::16] = raw[8::16].translate(_UUID4_VARIANT)
    text = raw.hex()
    return [text[start : start + 32] for start in range(0, 32 * count, 32)]


_UUID4_VERSION = bytes((b & 0x0F) | 0x40 for b in range(256))  # byte 6: version 4
_UUID4_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))  # byte 8: variant RFC 4122


@dataclass(frozen=True)
class LogEntry:
    entry_id: str
    kind: EntryKind
    content: str  # canonical JSON, exactly as hashed
    leaf_hash: str  # hex
    create_time: datetime
    index: int | None = None  # the leaf index once the sequencer integrated it

    @classmethod
    def build(
        cls, kind: EntryKind, content: Mapping[str, Any], *, entry_id: str | None = None,
        now: datetime | None = None,
    ) -> LogEntry:  # fmt: skip
        """An entry of ``kind`` whose content is ``content`` plus its ``id`` and ``create_time``.

        Raises ValueError when content is not JSON (NaN included) or already has other id/create_time.
        """
        entry_id = entry_id or new_entry_id()
        now = now or datetime.now(UTC)
        full = {**content, "id": entry_id, "create_time": iso_time(now)}
        check_stamp(content, full)
        return cls.sealed(EntryKind(kind), full, entry_id, now)

    @classmethod
    def sealed(cls, kind: EntryKind, full: Mapping[str, Any], entry_id: str, now: datetime) -> LogEntry:
        """The entry of a content that already carries its ``id`` (``entry_id``) and ``create_time``
        (``iso_time(now)``), as ``build`` makes it (a batch builds many with one time text)."""
        _, _, content, digest, _ = sealed_row(kind, full, entry_id, now, text=True)
        return cls(entry_id, kind, str(content), digest, now)

    def row(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id, "kind": self.kind.value, "content": self.content,
            "leaf_hash": self.leaf_hash, "create_time": self.create_time,
        }  # fmt: skip


def check_stamp(content: Mapping[str, Any], full: Mapping[str, Any]) -> None:
    """ValueError when ``content`` has an ``id`` or ``create_time`` other than the store sets."""
    for key in ("id", "create_time"):
        if key in content and content[key] != full[key]:
            raise ValueError(f"content[{key!r}] = {content[key]!r} but the store sets {full[key]!r}")


class BulkInsert:
    """A multi-row INSERT of fixed columns run as the driver's executemany with the statement's text and
    the columns' bind conversions worked out once per dialect (SQLAlchemy's executemany builds and
    converts every row's parameters through the compiler, most of a bulk insert's Python time).
    ``on_conflict``: the unique columns of an ON CONFLICT ... DO NOTHING (SQLite and PostgreSQL).
    ``counted``: callers read how many rows were inserted, so a folded insert (``FoldedInserts``) that
    skips one fails its whole statement. ``utf8_text``: text columns that on SQLite may be given as UTF-8
    bytes, bound as ``CAST(? AS TEXT)``, which stores the TEXT a str of them would be, byte for byte (a
    caller holding the bytes skips decoding them, and sqlite3 encoding them again; a str is unchanged
    by the cast). PostgreSQL takes str only."""

    def __init__(
        self,
        table: sa.Table,
        columns: Sequence[str],
        on_conflict: Sequence[str] = (),
        *,
        counted: bool = False,
        utf8_text: Sequence[str] = (),
    ) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.on_conflict = tuple(on_conflict)
        self.counted = counted
        self._sqlite_marks = (
            "(" + ", ".join("CAST(? AS TEXT)" if c in utf8_text else "?" for c in columns) + ")"
        )
        self._compiled: dict[str, tuple[str, str, list[Any]]] = {}
        self._types: list[str] | None = None  # PostgreSQL's type names, for a binary COPY

    def _for(self, dialect: sa.Dialect) -> tuple[str, str, list[Any]]:
        """(``INSERT INTO t (columns) VALUES``, the ON CONFLICT tail, the columns' bind conversions)."""
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            quote = dialect.identifier_preparer.quote
            names = ", ".join(quote(c) for c in self.columns)
            head = f"INSERT INTO {quote(self.table.name)} ({names}) VALUES "
            tail = ""
            if self.on_conflict:
                tail = f" ON CONFLICT ({', '.join(quote(c) for c in self.on_conflict)}) DO NOTHING"
            processors = [self.table.c[c].type._cached_bind_processor(dialect) for c in self.columns]
            compiled = self._compiled[dialect.name] = (head, tail, processors)
        return compiled

    def sqlite_statement(self, dialect: sa.Dialect) -> str:
        """SQLite's INSERT of one row (``?`` marks, ``utf8_text`` columns cast), for executemany."""
        head, tail, _ = self._for(dialect)
        return head + self._sqlite_marks + tail

    def run(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Insert ``rows`` (values in ``columns`` order) in the caller's transaction; the number of rows
        inserted as the driver counts it (-1 when it does not know).

        SQLite: the driver's executemany (a loop in C over one prepared statement). PostgreSQL, more
        than ``PG_COPY_FROM_ROWS`` rows: a binary COPY when there is no ON CONFLICT (``_copy``), else
        one INSERT ... SELECT FROM unnest of an array literal per column (``_unnest``); fewer rows (or
        values of types ``pg_array`` does not write): one multi-row INSERT per
        ``PG_ROWS_PER_STATEMENT`` rows with server-side ``$n`` parameters (psycopg's executemany sends
        a statement per row, and its ``%s`` conversion parses a long statement's text in Python on
        every call). On ``FoldedInserts.gathering``'s connection: added to it, all rows counted."""
        if not rows:
            return 0
        head, tail, processors = self._for(connection.dialect)
        converted = [(i, _Converted(p)) for i, p in enumerate(processors) if p is not None]
        if converted:
            out = []
            for row in rows:
                values = list(row)
                for i, converter in converted:
                    values[i] = converter.convert(values[i])
                out.append(tuple(values))
            rows = out
        else:
            rows = [tuple(row) for row in rows]
        folded = connection.info.get(FoldedInserts.KEY)
        if folded is not None:
            folded.parts.append((self, rows))
            return len(rows)
        if connection.dialect.name != "postgresql":
            return _sqlite_executemany(connection, self.sqlite_statement(connection.dialect), rows)
        return self._postgres(connection, head, tail, rows)

    def _postgres(self, connection: Connection, head: str, tail: str, rows: list[tuple[Any, ...]]) -> int:
        from psycopg import RawCursor  # PostgreSQL only

        width = len(self.columns)
        inserted = 0
        driver = connection.connection.driver_connection  # the transaction's own connection
        if not self.on_conflict and len(rows) > PG_COPY_FROM_ROWS:
            target = head.replace("INSERT INTO", "COPY", 1).removesuffix(" VALUES ")
            return self._copy(driver, target, self._pg_types(connection.dialect), rows)
        if self.on_conflict and len(rows) > PG_COPY_FROM_ROWS:
            arrays = [pg_array(column) for column in zip(*rows, strict=True)]
            if all(a is not None for a in arrays):
                return self._unnest(driver, head, tail, self._pg_types(connection.dialect), arrays)
        with RawCursor(driver) as cursor:  # type: ignore[arg-type]
            for start in range(0, len(rows), PG_ROWS_PER_STATEMENT):
                part = rows[start : start + PG_ROWS_PER_STATEMENT]
                cursor.execute(head + _pg_marks(len(part), width) + tail, [v for r in part for v in r])
                count = cursor.rowcount
                inserted = -1 if inserted < 0 or count < 0 else inserted + count
        return inserted

    def _pg_types(self, dialect: sa.Dialect) -> list[str]:
        """The PostgreSQL type names of the columns (``varchar``, ``timestamp with time zone``, ...)."""
        if self._types is None:
            self._types = [
                self.table.c[c].type.compile(dialect=dialect).split("(")[0].lower() for c in self.columns
            ]
        return self._types

    @staticmethod
    def _unnest(driver: Any, head: str, tail: str, types: list[str], arrays: list[str | None]) -> int:
        """``head`` (``INSERT INTO t (columns) VALUES``) as ``INSERT INTO t (columns) SELECT * FROM
        unnest($1::type[], ...)`` with one array literal a column, then ``tail`` (the ON CONFLICT): a
        short statement whatever the rows (a multi-row VALUES of 1,000 rows of 8 columns is 8,000
        parameters for the server to parse: 15 against 10 us of backend CPU a decision-index row, the
        client's CPU about the same); the rows inserted."""
        from psycopg import RawCursor  # PostgreSQL only

        casts = ", ".join(f"${i + 1}::{kind}[]" for i, kind in enumerate(types))
        statement = head.removesuffix(" VALUES ") + f" SELECT * FROM unnest({casts})" + tail
        with RawCursor(driver) as cursor:
            cursor.execute(statement, arrays)
            return int(cursor.rowcount)

    @staticmethod
    def _copy(driver: Any, target: str, types: list[str], rows: list[tuple[Any, ...]]) -> int:
        """``target`` (``COPY t (columns)``) FROM STDIN in the binary format (no text escaping either
        side: measured on 1,000 decision entries, client CPU 2.0 ms against 2.7 ms for the multi-row
        INSERT and 5.2 ms for a text COPY, backend 10 ms against 30 ms); the rows copied."""
        with driver.cursor() as cursor:
            with cursor.copy(f"{target} FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
            return int(cursor.rowcount)


PG_ROWS_PER_STATEMENT = 1000  # x at most 8 columns: well under PostgreSQL's 65,535 parameters
# Fewer rows go as one INSERT: a COPY is two round trips (start, end) where an INSERT is one, which
# for a quote group's few rows cost more client CPU than the COPY saves (benchmarks/group_store_cpu.py).
PG_COPY_FROM_ROWS = 32


def pg_array(values: Sequence[Any]) -> str | None:
    """A PostgreSQL array literal of ``values`` (text in double quotes with ``\\`` and ``"`` escaped, NULL,
    integers, booleans, datetimes in ISO 8601), or None when one is of another type (the caller then
    binds the rows as parameters)."""
    parts = []
    for value in values:
        kind = type(value)
        if kind is str:
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif value is None:
            parts.append("NULL")
        elif kind is bool:
            parts.append("t" if value else "f")
        elif kind is int:
            parts.append(str(value))
        elif kind is datetime:
            parts.append('"' + value.isoformat() + '"')
        else:
            return None
    return "{" + ",".join(parts) + "}"


def _sqlite_executemany(connection: Connection, statement: str, rows: list[tuple[Any, ...]]) -> int:
    """The driver's executemany on the transaction's own sqlite3 connection, without SQLAlchemy's
    execution (context, result and events per statement: most of a small insert's Python time; a
    quote group runs four). Outside a transaction SQLAlchemy runs it, so that its autobegin holds."""
    if not connection.in_transaction():
        return int(connection.exec_driver_sql(statement, rows).rowcount)  # type: ignore[arg-type]
    driver = connection.connection.dbapi_connection
    try:
        return int(driver.executemany(statement, rows).rowcount)  # type: ignore[union-attr]
    except connection.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy raises it (retries read it)
        raise sa.exc.DBAPIError.instance(
            statement, rows, exc, connection.dialect.loaded_dbapi.Error, dialect=connection.dialect
        ) from exc


@functools.lru_cache(maxsize=512)  # folded statements add (rows, width, start) keys
def _pg_marks(rows: int, width: int, start: int = 0) -> str:
    """``($1, $2), ($3, $4)`` for 2 rows of 2 columns (from ``$start+1``)."""
    return ", ".join(
        "(" + ", ".join(f"${start + r * width + c + 1}" for c in range(width)) + ")" for r in range(rows)
    )


class FoldedInserts:
    """The bulk inserts of one PostgreSQL write gathered into ONE statement, each insert a
    data-modifying CTE: one round trip, and in autocommit mode atomic by itself with no BEGIN and
    COMMIT (a quote group's five inserts were seven round trips with those). The write runs against
    ``gathering``'s stand-in connection: ``BulkInsert.run`` adds to it and reports every row
    inserted; the statement checks that of the ``counted`` inserts and otherwise fails as a whole
    (division by zero), so nothing is written and the caller runs its write the usual way. Foreign
    keys are checked at the end of the statement, so the CTEs' order does not matter."""

    KEY = "tanxiao_folded_inserts"

    def __init__(self) -> None:
        self.parts: list[tuple[BulkInsert, list[tuple[Any, ...]]]] = []

    def gathering(self, dialect: sa.Dialect) -> Connection:
        """A stand-in connection for the write being folded: ``BulkInsert.run`` adds its rows here,
        and anything else asked of it (a statement, the driver's connection, a transaction) raises
        ``FoldingViolation``: on the real connection, in autocommit mode, that statement would have
        committed alone, outside the one statement that is the write's atomicity."""
        return cast(Connection, _Gathering(dialect, self))

    def statement(self, dialect: sa.Dialect) -> tuple[str, list[Any]]:
        """The statement's text and its ``$n`` parameters."""
        ctes, checks, params = [], [], []
        for n, (insert, rows) in enumerate(self.parts):
            head, tail, _ = insert._for(dialect)
            marks = _pg_marks(len(rows), len(insert.columns), len(params))
            ctes.append(f"i{n} AS ({head}{marks}{tail}{' RETURNING 1' if insert.counted else ''})")
            if insert.counted:
                checks.append(f"(SELECT count(*) FROM i{n}) = {len(rows)}")
            params.extend(v for row in rows for v in row)
        # not a constant: the planner would fold ``1 / 0`` and fail every time
        check = f"1 / ({' AND '.join(checks)})::int" if checks else "1"
        return f"WITH {', '.join(ctes)} SELECT {check}", params

    def run_sqlite(self, driver: Any, dialect: sa.Dialect) -> bool:
        """SQLite: the gathered inserts as the driver's executemany each (``BulkInsert.run``'s
        statements), in one ``BEGIN IMMEDIATE`` ... ``COMMIT`` issued on ``driver``, the sqlite3
        connection in autocommit mode (``HeldConnection.autocommit``): none of SQLAlchemy's
        transaction, events and execution around them (callgrind, a quote group of one: ~50k of the
        ~395k instructions of its transaction). False, all rolled back, when a ``counted`` insert
        skipped a row; a driver error rolls back and is raised."""
        driver.execute("BEGIN IMMEDIATE")
        try:
            for insert, rows in self.parts:
                inserted = driver.executemany(insert.sqlite_statement(dialect), rows).rowcount
                if insert.counted and inserted != len(rows):
                    driver.execute("ROLLBACK")
                    return False
            driver.execute("COMMIT")
        except BaseException:
            if driver.in_transaction:
                driver.execute("ROLLBACK")
            raise
        return True


class FoldingViolation(RuntimeError):
    """Something other than ``BulkInsert.run`` used a connection gathering ``FoldedInserts``."""


class _Gathering:
    """``FoldedInserts.gathering``'s stand-in: the two attributes ``BulkInsert.run`` reads, and a
    ``FoldingViolation`` for any other (one attribute lookup, nothing per row)."""

    __slots__ = ("dialect", "info")

    def __init__(self, dialect: sa.Dialect, folded: FoldedInserts) -> None:
        self.dialect = dialect
        self.info = {FoldedInserts.KEY: folded}

    def __getattr__(self, name: str) -> Any:
        raise FoldingViolation(
            f"{name!r} asked of a connection gathering folded inserts: only BulkInsert.run may write"
            " while a write is folded into one statement (anything else would commit on its own)"
        )


class _Converted:
    """A column's bind conversion, remembering its last value: the rows of one bulk insert share their
    create_time (one datetime object), converted once instead of per row."""

    __slots__ = ("last", "out", "process")

    def __init__(self, process: Any) -> None:
        self.process = process
        self.last: Any = _Converted
        self.out: Any = None

    def convert(self, value: Any) -> Any:
        if value is None:
            return value
        if value is not self.last:
            self.last, self.out = value, self.process(value)
        return self.out


_ENTRY_INSERT = BulkInsert(
    log_entries, ("entry_id", "kind", "content", "leaf_hash", "create_time"), utf8_text=("content",)
)
_PENDING_INSERT = BulkInsert(log_pending, ("entry_id", "leaf_hash", "create_time"))

# An entry as ``insert_entry_rows`` takes it: (entry_id, kind value, content, leaf hash, create_time).
EntryRow = tuple[str, str, str | bytes, str, datetime]


def insert_entries(connection: Connection, entries: Sequence[LogEntry]) -> None:
    """Append ``entries`` inside the caller's transaction (they commit or roll back with its rows), each
    queued for the sequencer in ``log_pending``."""
    insert_entry_rows(
        connection, [(e.entry_id, e.kind.value, e.content, e.leaf_hash, e.create_time) for e in entries]
    )


def sealed_row(
    kind: EntryKind, full: Mapping[str, Any], entry_id: str, now: datetime, *, text: bool
) -> EntryRow:
    """``LogEntry.sealed``'s entry as the row ``insert_entry_rows`` stores, its content the canonical
    UTF-8 bytes as hashed unless ``text`` (PostgreSQL): on SQLite they go in as they are, the same TEXT
    (``BulkInsert``'s ``utf8_text``): decoding them, and sqlite3 encoding the str again, cost more than
    the insert itself (an executemany of 1,000 captured 3 kB decision entries: 9-14 us an entry as str,
    3.5 as bytes; one Chinese name makes the decoded text two bytes a character throughout)."""
    raw = canonical_json_bytes(full)
    name = kind.value  # once: an enum's value is a Python-level property (0.2 us a read)
    digest = entry_leaf_hash(name, raw).hex()  # the canonical bytes hashed as they are
    return entry_id, name, raw.decode("utf-8") if text else raw, digest, now


def insert_entry_rows(connection: Connection, rows: Sequence[EntryRow]) -> None:
    """``insert_entries`` of rows (``sealed_row``); content as bytes on SQLite only."""
    _ENTRY_INSERT.run(connection, rows)
    _PENDING_INSERT.run(connection, [(r[0], r[3], r[4]) for r in rows])


_ENTRY_COLUMNS = (
    log_entries.c.entry_id, log_entries.c.kind, log_entries.c.content, log_entries.c.leaf_hash,
    log_entries.c.create_time, log_leaves.c.idx,
)  # fmt: skip
# An entry with its leaf index, if it has one yet; a leaf with its entry.
ENTRY_WITH_LEAF = log_entries.outerjoin(log_leaves, log_leaves.c.entry_id == log_entries.c.entry_id)
LEAF_WITH_ENTRY = log_leaves.join(log_entries, log_entries.c.entry_id == log_leaves.c.entry_id)


def _entry_query(entry_id: str) -> sa.Select[Any]:
    return sa.select(*_ENTRY_COLUMNS).select_from(ENTRY_WITH_LEAF).where(log_entries.c.entry_id == entry_id)


def _entry(row: Any) -> LogEntry:
    index = None if row.idx is None else int(row.idx)
    return LogEntry(
        row.entry_id, EntryKind(row.kind), row.content, row.leaf_hash, utc(row.create_time), index
    )


def fetch_nodes(connection: Connection, ids: Iterable[NodeId]) -> dict[NodeId, bytes]:
    """Stored hashes of perfect subtrees: level 0 from the leaves (their entries' hashes), higher
    levels from log_nodes."""
    wanted = list(ids)
    leaves = [n.index for n in wanted if n.level == 0]
    inner = [n for n in wanted if n.level > 0]
    out: dict[NodeId, bytes] = {}
    for start in range(0, len(leaves), 500):
        query = (
            sa.select(log_leaves.c.idx, log_entries.c.leaf_hash)
            .select_from(LEAF_WITH_ENTRY)
            .where(log_leaves.c.idx.in_(leaves[start : start + 500]))
        )
        out.update({NodeId(0, int(r.idx)): bytes.fromhex(r.leaf_hash) for r in connection.execute(query)})
    for start in range(0, len(inner), 200):
        part = inner[start : start + 200]
        query = sa.select(log_nodes.c.level, log_nodes.c.idx, log_nodes.c.hash).where(
            sa.tuple_(log_nodes.c.level, log_nodes.c.idx).in_([(n.level, n.index) for n in part])
        )
        out.update(
            {NodeId(int(r.level), int(r.idx)): bytes.fromhex(r.hash) for r in connection.execute(query)}
        )
    return out


def integrated_size(connection: Connection) -> int:
    """Leaves integrated so far (indexes run 0 .. size-1)."""
    top = connection.execute(sa.select(sa.func.max(log_leaves.c.idx))).scalar_one_or_none()
    return 0 if top is None else int(top) + 1


def _sth(row: Any) -> SignedTreeHead:
    head = TreeHead(int(row.tree_size), bytes.fromhex(row.root_hash), int(row.timestamp_ms))
    return SignedTreeHead(head, row.key_id, base64.b64decode(row.signature))


def head_row(sth: SignedTreeHead) -> dict[str, Any]:
    return {
        "tree_size": sth.tree_size, "root_hash": sth.root_hash.hex(), "timestamp_ms": sth.head.timestamp_ms,
        "key_id": sth.key_id, "signature": base64.b64encode(sth.signature).decode("ascii"),
    }  # fmt: skip


@dataclass(frozen=True)
class Inclusion:
    entry: LogEntry
    head: SignedTreeHead
    proof: list[bytes]


class LogStore:
    """Appends (own transaction) and reads (entries, heads, proofs) of the decision log."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, kind: EntryKind, content: Mapping[str, Any]) -> LogEntry:
        """Store one entry durably in its own transaction and return it (with its id) at once; the
        sequencer gives it a leaf index within the merge delay."""
        entry = LogEntry.build(kind, content)
        with transaction(self.engine) as connection:
            insert_entries(connection, [entry])
        return entry

    def entry(self, entry_id: str) -> LogEntry:
        with read_only(self.engine) as connection:
            row = connection.execute(_entry_query(entry_id)).first()
        if row is None:
            raise NotFound(f"log entry {entry_id!r} not found", reason="LOG_ENTRY_NOT_FOUND")
        return _entry(row)

    def latest_head(self) -> SignedTreeHead:
        with read_only(self.engine) as connection:
            return self._latest(connection)

    def public_keys(self) -> dict[str, bytes]:
        """Key id -> raw public key of every key that signed a head here."""
        with read_only(self.engine) as connection:
            rows = connection.execute(sa.select(log_keys.c.key_id, log_keys.c.public_key)).all()
        return {r.key_id: base64.b64decode(r.public_key) for r in rows}

    def inclusion(self, entry_id: str, tree_size: int = 0) -> Inclusion:
        """The entry, a signed head (the latest, or the one of ``tree_size``) and the audit path.

        FailedPrecondition LOG_ENTRY_PENDING while the entry is not yet in that head's tree.
        """
        with read_only(self.engine) as connection:
            row = connection.execute(_entry_query(entry_id)).first()
            if row is None:
                raise NotFound(f"log entry {entry_id!r} not found", reason="LOG_ENTRY_NOT_FOUND")
            entry = _entry(row)
            head = self._head(connection, tree_size)
            if entry.index is None or entry.index >= head.tree_size:
                raise FailedPrecondition(
                    f"entry {entry_id} is not yet in the signed tree of size {head.tree_size}; the"
                    " sequencer integrates it within the merge delay: retry shortly",
                    reason="LOG_ENTRY_PENDING",
                )
            proof = inclusion_proof(entry.index, head.tree_size, lambda ids: fetch_nodes(connection, ids))
        return Inclusion(entry, head, proof)

    def consistency(self, first: int, second: int = 0) -> tuple[SignedTreeHead, SignedTreeHead, list[bytes]]:
        """Heads of sizes ``first`` and ``second`` (0 = latest) and the proof that the second extends
        the first. NotFound when no signed head has that size."""
        if first < 1:
            raise ValueError("first must be the size of a signed head (>= 1)")
        with read_only(self.engine) as connection:
            new = self._head(connection, second)
            old = self._head(connection, first)
            if old.tree_size > new.tree_size:
                raise FailedPrecondition(
                    f"size {first} is past size {new.tree_size}", reason="LOG_SIZE_ORDER"
                )
            proof = consistency_proof(old.tree_size, new.tree_size, lambda ids: fetch_nodes(connection, ids))
        return old, new, proof

    def heads(self) -> list[SignedTreeHead]:
        with read_only(self.engine) as connection:
            rows = connection.execute(sa.select(log_heads).order_by(log_heads.c.tree_size)).all()
        return [_sth(r) for r in rows]

    # ------------------------------------------------------------------------------------ internals

    @staticmethod
    def _latest(connection: Connection) -> SignedTreeHead:
        row = connection.execute(sa.select(log_heads).order_by(log_heads.c.tree_size.desc()).limit(1)).first()
        if row is None:
            raise FailedPrecondition(
                "the decision log has no signed tree head yet; is the sequencer running?",
                reason="LOG_NO_HEAD",
            )
        return _sth(row)

    @classmethod
    def _head(cls, connection: Connection, tree_size: int) -> SignedTreeHead:
        if tree_size == 0:
            return cls._latest(connection)
        row = connection.execute(sa.select(log_heads).where(log_heads.c.tree_size == tree_size)).first()
        if row is None:
            raise NotFound(f"no signed tree head of size {tree_size}", reason="LOG_HEAD_NOT_FOUND")
        return _sth(row)


def sth_from_row(row: Any) -> SignedTreeHead:
    return _sth(row)
