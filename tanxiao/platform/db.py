"""Database engine, transactions and migrations, written once for every service.

SQLite (the embedded default, under ./var) gets WAL, foreign keys and a busy timeout; PostgreSQL gets
a pre-pinged pool. SQLite's write transactions of one engine queue on a lock of the process before
taking the database's write lock (``_SqliteWriters``). Schema changes go only through Alembic
(``tanxiao db upgrade``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from importlib import resources
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

log = structlog.get_logger("tanxiao.db")


def safe_url(url: str) -> str:
    """The URL without its password, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def is_sqlite(url_or_engine: str | Engine) -> bool:
    url = url_or_engine.url if isinstance(url_or_engine, Engine) else make_url(url_or_engine)
    return url.get_backend_name() == "sqlite"


def _prepare_sqlite_path(url: str) -> None:
    """Create the database file owner-only (0600) before SQLite does (it would use the umask, commonly
    world-readable); SQLite gives its -wal and -shm files the database file's mode."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def make_engine(
    url: str,
    *,
    busy_timeout_ms: int = 30_000,
    echo: bool = False,
    pool_size: int = 16,
    background_checkpoint: bool = False,
) -> Engine:
    """``pool_size`` should cover the server's worker threads: a smaller pool makes busy threads open and
    close connections (each with its PRAGMAs on SQLite) on every call. ``background_checkpoint`` (SQLite
    only): the engine's commits never run the WAL's automatic checkpoint; ``WalCheckpointer`` must run
    beside it, else the WAL grows without bound."""
    if is_sqlite(url):
        _prepare_sqlite_path(url)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": busy_timeout_ms / 1000},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms, background_checkpoint))
        event.listen(engine, "begin", _sqlite_begin)
        _WRITERS[engine] = _SqliteWriters(busy_timeout_ms / 1000)
        return engine
    # No server-side prepared statements: psycopg prepares a query after 5 runs and PostgreSQL may then
    # keep a generic plan made while a table was empty (a seq scan), which after a bulk ingest turned a
    # 5,000-key lookup from 0.1 s into 25 s. Planning per execution is cheap next to that risk.
    connect_args = {"prepare_threshold": None} if make_url(url).get_driver_name() == "psycopg" else {}
    return create_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=10, connect_args=connect_args
    )


def _sqlite_pragmas(busy_timeout_ms: int, background_checkpoint: bool = False) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" hook issues BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if background_checkpoint:  # WalCheckpointer's thread checkpoints; a commit never does
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.execute(f"PRAGMA journal_size_limit={WAL_BOUND_PAGES * 4096}")
        cursor.close()

    return on_connect


def _sqlite_begin(connection: Connection) -> None:
    # Writers take the write lock up front (BEGIN IMMEDIATE) so that two writers queue on busy_timeout
    # instead of one failing late on a read-to-write lock upgrade; readers stay deferred and concurrent.
    # On the DBAPI connection itself, not through exec_driver_sql: a read is one short statement, and a
    # whole SQLAlchemy execution for its BEGIN was a fifth of a GetEnterprise (profile, docs/benchmarks.md).
    mode = "IMMEDIATE" if connection.get_execution_options().get("tanxiao_write") else "DEFERRED"
    connection.connection.dbapi_connection.execute(f"BEGIN {mode}")  # type: ignore[union-attr]


class _SqliteWriters:
    """The write transactions of one SQLite engine, one at a time in this process.

    A writer finding SQLite's write lock taken is put to sleep by SQLite's busy handler, polling with
    growing sleeps (1, 2, 5, 10, ... up to 100 ms): a quote's group commit arriving while the log
    sequencer integrates slept well past the moment the lock was free, and every quote queued behind
    it (p99 of hundreds of ms). Queued on this lock instead, the next writer starts the moment the
    last one commits. Writers of other processes (or engines) still meet SQLite's busy handler; after
    the busy timeout a writer goes on without this lock, so a stuck one ends in SQLite's own error.
    Re-entrant: a thread's nested write transaction meets SQLite's lock, as before."""

    def __init__(self, timeout_seconds: float) -> None:
        self.lock = threading.RLock()
        self.timeout = timeout_seconds

    @contextmanager
    def held(self) -> Iterator[None]:
        acquired = self.lock.acquire(timeout=self.timeout)
        try:
            yield
        finally:
            if acquired:
                self.lock.release()


_WRITERS: weakref.WeakKeyDictionary[Engine, _SqliteWriters] = weakref.WeakKeyDictionary()


WAL_BOUND_PAGES = 16_000  # ~64 MB at 4 KiB pages; 4,000 made c=8 quotes' p99 worse (docs/benchmarks.md)


class WalCheckpointer:
    """Checkpoints an engine's SQLite WAL from a thread of its own, so that no commit pays for it.

    With SQLite's automatic checkpoint the commit that takes the WAL past 1,000 pages writes them back
    to the database file and fsyncs, with the process's writer lock (``_SqliteWriters``) held and a
    quote group's callers waiting. Here the engine's connections run ``wal_autocheckpoint=0``
    (``make_engine(background_checkpoint=True)``) and this thread runs a PASSIVE checkpoint every
    ``interval`` seconds outside the writer lock (it copies what it can and never waits). A writer
    restarts the WAL from its beginning only when no reader is on it, under steady reads never (a
    probe's WAL reached 196 MB), so past ``bound_pages`` frames the thread takes a RESTART checkpoint
    with the writer lock held (it waits for the readers of the old WAL, not for writers), and
    ``journal_size_limit`` truncates the file when the WAL restarts. A no-op on PostgreSQL and on
    in-memory SQLite."""

    def __init__(self, engine: Engine, *, interval: float = 0.2, bound_pages: int = WAL_BOUND_PAGES) -> None:
        self.engine = engine
        self.interval = interval
        self.bound_pages = bound_pages
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
        self._database = make_url(str(engine.url)).database if is_sqlite(engine) else None

    def start(self) -> WalCheckpointer:
        if self._database and self._database != ":memory:":
            self._thread.start()
        return self

    def stop(self, *_: Any) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        assert self._database is not None
        # A connection of its own, not the pool's: its short busy timeout bounds how long a RESTART
        # holds the writer lock waiting for another process's writer.
        connection = sqlite3.connect(
            self._database,
            uri=self._database.startswith("file:"),
            isolation_level=None,
            check_same_thread=False,
            timeout=1.0,
        )
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.checkpoint(connection)
                except sqlite3.Error:  # a locked or busy database: the next round tries again
                    log.warning("wal_checkpoint.failed", exc_info=True)
        finally:
            connection.close()

    def checkpoint(self, connection: sqlite3.Connection) -> None:
        """One round: PASSIVE, then RESTART under the writer lock if the WAL is past the bound."""
        _busy, frames, _done = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames < self.bound_pages:
            return
        writers = _WRITERS.get(self.engine)
        with writers.held() if writers is not None else nullcontext():
            connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()


@contextmanager
def transaction(engine: Engine, *, write: bool = True) -> Iterator[Connection]:
    """One atomic unit of work: commits on success, rolls back on any exception."""
    writers = _WRITERS.get(engine) if write else None
    if writers is None:
        with engine.connect().execution_options(tanxiao_write=write) as connection, connection.begin():
            yield connection
        return
    with (
        writers.held(),
        engine.connect().execution_options(tanxiao_write=True) as connection,
        connection.begin(),
    ):
        yield connection


class HeldConnection:
    """A write connection kept checked out of the engine's pool for a hot write path (a quote group's
    commit), so that its transactions skip the pool's checkout and return: SQLAlchemy's events and
    reset, and on PostgreSQL the pre-ping round trip, once per transaction. One transaction at a time
    on it; a transaction started while it is in use takes a pooled connection as ``transaction`` does.

    Without the pre-ping a connection that died while held (a database restart) fails its next
    statement: SQLAlchemy invalidates it, this drops it and takes a new one at the next transaction,
    and ``run_in_transaction(held=...)`` retries the transaction once at once. Closed when the engine
    is disposed (``held_connection`` registers that), or by ``close``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()  # held by the transaction running on the connection
        self._connection: Connection | None = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        if not self._lock.acquire(blocking=False):  # in use: a pooled connection, as transaction()
            with transaction(self.engine) as connection:
                yield connection
            return
        try:
            writers = _WRITERS.get(self.engine)
            with writers.held() if writers is not None else nullcontext():
                connection = self._kept()
                with connection.begin():
                    yield connection
        finally:
            self._lock.release()

    @contextmanager
    def autocommit(self) -> Iterator[Connection | None]:
        """The connection outside any transaction with its driver in autocommit mode, where each
        statement commits by itself unless the caller issues BEGIN on the driver; None when it is in
        use. On SQLite the driver is in that mode already (``isolation_level`` None: SQLAlchemy's
        "begin" hook issues BEGIN) and the engine's writer lock is held throughout, as for a write
        transaction. A driver error leaves the connection invalidated if the driver connection broke
        (the next use takes a new one) and is the caller's to handle."""
        if not self._lock.acquire(blocking=False):
            yield None
            return
        try:
            connection = self._kept()
            if self.engine.dialect.name == "sqlite":
                writers = _WRITERS.get(self.engine)
                with writers.held() if writers is not None else nullcontext():
                    yield connection
                return
            driver = connection.connection.driver_connection
            driver.autocommit = True  # type: ignore[union-attr]
            try:
                yield connection
            finally:
                if driver.closed or driver.broken:  # type: ignore[union-attr]
                    connection.invalidate()
                else:
                    driver.autocommit = False  # type: ignore[union-attr]
        finally:
            self._lock.release()

    def _kept(self) -> Connection:
        """The held connection, a new one if it was dropped (its lock held by the caller)."""
        kept = self._connection
        if kept is None or kept.invalidated or kept.closed:
            if kept is not None:
                kept.close()
            kept = self._connection = self.engine.connect().execution_options(tanxiao_write=True)
        return kept

    def close(self) -> None:
        """Return the connection to the pool (the next transaction takes a new one); a transaction
        running on it keeps it until it ends."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
        finally:
            self._lock.release()


_HELD: weakref.WeakKeyDictionary[Engine, HeldConnection] = weakref.WeakKeyDictionary()
_HELD_LOCK = threading.Lock()


def _forget_held_in_child() -> None:
    """A forked child never uses its parent's connection (the socket or file handle is shared): it
    takes its own at its first write."""
    for held in list(_HELD.values()):
        held._lock = threading.Lock()
        held._connection = None


os.register_at_fork(after_in_child=_forget_held_in_child)


def held_connection(engine: Engine) -> HeldConnection:
    """The engine's one ``HeldConnection`` (made at first use; closed when the engine is disposed)."""
    held = _HELD.get(engine)
    if held is None:
        with _HELD_LOCK:
            held = _HELD.get(engine)
            if held is None:
                held = _HELD[engine] = HeldConnection(engine)
                event.listen(engine, "engine_disposed", _closing(weakref.ref(held)))
    return held


def _closing(ref: weakref.ref[HeldConnection]) -> Any:
    def on_disposed(_engine: Engine) -> None:
        held = ref()
        if held is not None:
            held.close()

    return on_disposed


def write_transaction(engine: Engine, held: HeldConnection | None) -> AbstractContextManager[Connection]:
    """A write transaction on ``held`` when given, else on a pooled connection."""
    return held.transaction() if held is not None else transaction(engine)


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    with transaction(engine, write=False) as connection:
        yield connection


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("tanxiao") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    if is_sqlite(url):
        _prepare_sqlite_path(url)
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
