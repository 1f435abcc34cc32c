"""BulkInsert on both databases: SQLite runs it on the driver's connection (not through SQLAlchemy's
execution), PostgreSQL sends a few rows as one INSERT and many as a binary COPY (or, with an ON
CONFLICT, as one INSERT ... SELECT FROM unnest of array literals); both count the rows
inserted and keep the same stored rows, and SQLite's errors still come as SQLAlchemy's (the
transaction retry reads them)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from scoring_service.storage.log import (
    PG_COPY_FROM_ROWS,
    BulkInsert,
    EntryKind,
    LogEntry,
    insert_entries,
    insert_entry_rows,
    sealed_row,
)
from scoring_service.storage.tables import log_entries, log_pending
from tanxiao.platform.db import make_engine, transaction
from tanxiao.platform.idempotency import is_retryable


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _entries(count: int) -> list[LogEntry]:
    return [LogEntry.build(EntryKind.DECISION, {"n": n, "note": "绿色"}) for n in range(count)]


@pytest.mark.parametrize("count", [1, 3, PG_COPY_FROM_ROWS + 5])
def test_entries_stored_as_built(engine: sa.Engine, count: int) -> None:
    entries = _entries(count)
    with transaction(engine) as connection:
        insert_entries(connection, entries)
    with engine.connect() as connection:
        rows = {r.entry_id: r for r in connection.execute(sa.select(log_entries))}
        pending = connection.execute(sa.select(sa.func.count()).select_from(log_pending)).scalar_one()
    assert pending == count
    for entry in entries:
        row = rows[entry.entry_id]
        assert (row.kind, row.content, row.leaf_hash) == (entry.kind.value, entry.content, entry.leaf_hash)


def test_a_rolled_back_insert_leaves_nothing(engine: sa.Engine) -> None:
    with pytest.raises(RuntimeError), transaction(engine) as connection:
        insert_entries(connection, _entries(2))
        raise RuntimeError("after the inserts")
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(log_entries)).scalar_one() == 0


def test_sqlite_errors_come_as_sqlalchemy_errors(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    entry = _entries(1)[0]
    with pytest.raises(sa.exc.IntegrityError) as raised, transaction(engine) as connection:
        insert_entries(connection, [entry, entry])  # the same entry id twice
    assert is_retryable(raised.value)  # a unique violation: what run_in_transaction retries
    engine.dispose()


@pytest.mark.parametrize("count", [3, PG_COPY_FROM_ROWS + 5])
def test_on_conflict_rows_stored_as_given_and_conflicts_skipped(
    engine: sa.Engine, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many rows with an ON CONFLICT go to PostgreSQL as one INSERT ... SELECT FROM unnest of array
    literals: texts that need quoting in an array literal, NULLs, booleans, integers and times come back
    as given, and the count says how many rows were new."""
    from datetime import UTC, datetime

    from scoring_service.storage.decisions import _INDEX_INSERT
    from scoring_service.storage.tables import log_decisions

    odd = ['a "quoted" id', "back\\slash", "{braces},commas", "NULL", "", " spaced ", "绿色贷款", 'x\\"y']
    now = datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC)

    def row(n: int, request_id: str) -> tuple[object, ...]:
        snapshot = None if n % 2 else f"{n:064x}"
        return (
            f"{n:032x}",
            "lenders/bench",
            request_id,
            "91330523MA2B3C4D5E",
            "GENERAL",
            "f" * 64,
            snapshot,
            now,
            *[(None, None, None), ("QUOTED", False, 1), ("IN_REVIEW", True, 2)][n % 3],  # review state
        )

    unnested = []
    plain = BulkInsert._unnest
    monkeypatch.setattr(BulkInsert, "_unnest", staticmethod(lambda *a: unnested.append(1) or plain(*a)))
    rows = [row(n, f"{odd[n % len(odd)]}-{n}") for n in range(count)]
    with transaction(engine) as connection:
        assert _INDEX_INSERT.run(connection, rows) == count
    assert bool(unnested) == (engine.dialect.name == "postgresql" and count > PG_COPY_FROM_ROWS)
    again = [row(count + n, r[2]) for n, r in enumerate(rows[:2])]  # same (lender, request_id): skipped
    again.append(row(10_000, "new"))
    with transaction(engine) as connection:
        assert _INDEX_INSERT.run(connection, again) == 1
    with engine.connect() as connection:
        stored = {r.id: r for r in connection.execute(sa.select(log_decisions))}
    assert len(stored) == count + 1
    for r in rows:
        got = stored[str(r[0])]
        assert (got.request_id, got.profile_snapshot) == (r[2], r[6])
        assert (got.state, got.review_needed, got.version) == r[8:]
        assert got.create_time.replace(tzinfo=UTC) == now


def test_sqlite_takes_an_entry_as_its_utf8_bytes(sqlite_url: str) -> None:
    """On SQLite a sealed row's content goes in as the canonical bytes (``BulkInsert``'s utf8_text): the
    stored value is the TEXT the decoded str stores, byte for byte, and reads back as that str."""
    engine = make_engine(sqlite_url)
    built = _entries(3)
    as_bytes = [
        sealed_row(e.kind, json.loads(e.content), e.entry_id + "b", e.create_time, text=False) for e in built
    ]
    assert all(isinstance(r[2], bytes) for r in as_bytes)
    with transaction(engine) as connection:
        insert_entries(connection, built)
        insert_entry_rows(connection, as_bytes)
    with engine.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT entry_id, typeof(content), hex(content), content, leaf_hash FROM log_entries"
        ).all()
    by_id = {r[0]: r[1:] for r in stored}
    for entry, row in zip(built, as_bytes, strict=True):
        kind, hexed, text, leaf = by_id[row[0]]
        assert (
            (kind, hexed, text, leaf)
            == by_id[entry.entry_id]
            == ("text", entry.content.encode().hex().upper(), entry.content, entry.leaf_hash)
        )
    engine.dispose()
