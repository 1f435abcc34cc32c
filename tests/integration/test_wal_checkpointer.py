"""The scoring and registry engines' WAL checkpoint runs on a thread of its own (``WalCheckpointer``),
never in a commit; the WAL must stay bounded anyway, and the thread must end with the app."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from registry_service.app import start_registry
from scoring_service.app import start_scoring
from tanxiao.platform.db import WalCheckpointer, is_sqlite, make_engine, transaction
from tests.helpers import Registry

PAGE = 4096
FRAME = PAGE + 24  # a WAL frame: a page and its header
BOUND = 100  # pages; small so that a few seconds of appends pass it many times
APPENDS = 6_000
ROW = b"x" * 3_000  # about a page a row


def _append_in_a_loop(engine: sa.Engine, wal: Path) -> int:
    """Append APPENDS rows of about a page, one transaction each (at least a WAL frame each); the WAL
    file's largest size seen, in frames."""
    table = sa.Table(
        "blobs", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("b", sa.LargeBinary)
    )
    with transaction(engine) as connection:
        table.create(connection)
    largest = 0
    for _ in range(APPENDS):
        with transaction(engine) as connection:
            connection.execute(table.insert().values(b=ROW))
        largest = max(largest, wal.stat().st_size // FRAME)
    return largest


def test_the_wal_stays_bounded_under_continuous_appends(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    engine = make_engine(f"sqlite:///{path}", background_checkpoint=True)
    checkpointer = WalCheckpointer(engine, interval=0.02, bound_pages=BOUND).start()
    try:
        largest = _append_in_a_loop(engine, Path(f"{path}-wal"))
    finally:
        checkpointer.stop()
        engine.dispose()
    # Past the bound the thread restarts the WAL within a round, so the WAL holds about the bound plus
    # a round's appends (3-4 frames each, some hundreds a round here; in the server the bound is 4,000
    # pages and the round 0.2 s). The margin covers stalled rounds on a busy machine and stays far
    # below the 20,000-odd frames written, all of which stay in the WAL without the thread (next test).
    assert largest < APPENDS // 2


def test_without_the_checkpointer_the_wal_grows_with_every_append(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    engine = make_engine(f"sqlite:///{path}", background_checkpoint=True)
    try:
        largest = _append_in_a_loop(engine, Path(f"{path}-wal"))
    finally:
        engine.dispose()
    assert largest >= APPENDS  # every commit's pages stay in the WAL: the bound is the thread's doing


def _checkpointers() -> int:
    return sum(thread.name == "wal-checkpointer" and thread.is_alive() for thread in threading.enumerate())


def test_the_scoring_app_runs_one_checkpointer_on_sqlite_and_stops_it(registry: Registry) -> None:
    before = _checkpointers()
    scoring = start_scoring(registry.settings, "127.0.0.1:0", registry_addr=registry.server.address)
    try:
        assert _checkpointers() == before + (1 if is_sqlite(registry.url) else 0)
    finally:
        scoring.stop(None)
    assert _checkpointers() == before


def test_the_registry_app_runs_one_checkpointer_on_sqlite_and_stops_it(registry: Registry) -> None:
    # An ingest's commit (a 1M-record batch: ~95k WAL pages) no longer copies its pages back and
    # fsyncs before the answer: the registry's thread does it after.
    before = _checkpointers()
    second = start_registry(registry.settings, "127.0.0.1:0")
    try:
        assert _checkpointers() == before + (1 if is_sqlite(registry.url) else 0)
    finally:
        second.stop(None)
    assert _checkpointers() == before


def test_no_thread_on_postgresql() -> None:
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/unused", background_checkpoint=True)
    checkpointer = WalCheckpointer(engine).start()
    assert not checkpointer._thread.is_alive()
    checkpointer.stop()
    engine.dispose()
