"""Reads of a SQLite file as Arrow tables, through ADBC's SQLite driver (adbc-driver-sqlite).

A recompute worker reads a million records; sqlite3 makes a Python object for every cell, about
three quarters of the read's CPU (docs/benchmarks.md, helper recompute9). ADBC's driver fills Arrow
columns in C, and the records' frame is built from them column by column.

ADBC bundles a SQLite library of its own. Two SQLite libraries in one process must never have the
same database open at once: closing a file in one drops the POSIX locks the other holds on it
(sqlite.org, "How To Corrupt An SQLite Database File", 2.2.1). So only a process that opens no other
connection to the file reads through this module, and only reads: a recompute worker process
(recompute_partitions.build_partition), never the server process.
"""

from __future__ import annotations

import importlib.util
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url

_DIALECT = sqlite.dialect()
# Rows per Arrow batch. The driver infers a column's type from its first batch (a later value of
# another type fails the read), so a large batch also lets a column that starts with NULLs be read.
_BATCH_ROWS = 1 << 20
# as make_engine's connections (tanxiao.platform.db): a reader may meet a WAL recovery in progress
_BUSY_TIMEOUT_MS = 30_000


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite ``url`` that ADBC's driver can read (installed), else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if importlib.util.find_spec("adbc_driver_sqlite") is None:
        return None
    return str(parsed.database)


class ArrowReader:
    """One read transaction on a SQLite file: SQLAlchemy selects run by ADBC's driver."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def table(self, query: sa.Select[Any]) -> pa.Table:
        compiled = query.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
        params = [compiled.params[name] for name in compiled.positiontup or ()]
        with _as_sqlalchemy_errors(compiled.string, params), self.connection.cursor() as cursor:
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_BATCH_ROWS)})
            cursor.execute(compiled.string, params or None)
            table: pa.Table = cursor.fetch_arrow_table()
        return table

    def rows(self, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
        """The rows as Python tuples (small results: the driver's values, as sqlite3 gives them)."""
        table = self.table(query)
        return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


@contextmanager
def arrow_reader(path: str) -> Iterator[ArrowReader]:
    """A read transaction (one snapshot for every query in it) on the SQLite file ``path``; closed,
    with its file, on exit. Only in a process with no other connection to ``path`` (module doc)."""
    import adbc_driver_sqlite.dbapi

    with _as_sqlalchemy_errors(f"connect {path}", []):
        connection = adbc_driver_sqlite.dbapi.connect(path)  # autocommit off: one deferred transaction
    try:
        with _as_sqlalchemy_errors("PRAGMA busy_timeout", []), connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        yield ArrowReader(connection)
    finally:
        connection.rollback()
        connection.close()


@contextmanager
def _as_sqlalchemy_errors(statement: str, params: list[Any]) -> Iterator[None]:
    """ADBC's errors as the OperationalError a read through the engine raises (sqlite3's wrapped by
    SQLAlchemy): the same for callers, and picklable, so a worker's failure reaches the server
    process (an ADBC error does not unpickle: a process pool reports a broken pool instead)."""
    import adbc_driver_manager

    try:
        yield
    except adbc_driver_manager.Error as exc:
        raise sa.exc.OperationalError(statement, params, sqlite3.OperationalError(str(exc))) from None
