"""BulkInsert on both databases: SQLite runs it on the driver's connection (not through SQLAlchemy's
execution), PostgreSQL sends a few rows as one INSERT and many as a binary COPY; both count the rows
inserted and keep the same stored rows, and SQLite's errors still come as SQLAlchemy's (the
transaction retry reads them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from scoring_service.storage.log import PG_COPY_FROM_ROWS, EntryKind, LogEntry, insert_entries
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
