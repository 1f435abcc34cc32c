"""ADBC reads of a SQLite file (registry_service.storage.arrow_reads): one snapshot per reader, and the
driver's errors raised as the engine's read raises them."""

from __future__ import annotations

import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry_service.storage.arrow_reads import arrow_reader

T = sa.table("t", sa.column("x"))


COUNT = sa.select(sa.func.count()).select_from(T)


def test_a_reader_sees_one_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    conn = sqlite3.connect(path)
    conn.executescript("PRAGMA journal_mode=WAL; CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
    conn.close()  # closed before ADBC opens the file: two SQLite libraries never have it open at once
    write = f"import sqlite3; c = sqlite3.connect({str(path)!r}); c.execute('INSERT INTO t VALUES (2)')"
    write += "; c.commit()"  # in another process, for the same reason
    with arrow_reader(str(path)) as reader:
        assert reader.rows(COUNT) == [(1,)]
        subprocess.run([sys.executable, "-c", write], check=True)
        assert reader.rows(COUNT) == [(1,)]  # the commit after the first read is not seen
    with arrow_reader(str(path)) as reader:
        assert reader.rows(COUNT) == [(2,)]


def test_the_drivers_errors_are_sqlalchemys_operational_error_and_pickle(tmp_path: Path) -> None:
    with arrow_reader(str(tmp_path / "empty.db")) as reader, pytest.raises(sa.exc.OperationalError) as caught:
        reader.table(sa.select(T.c.x))
    assert "no such table" in str(caught.value)
    again = pickle.loads(pickle.dumps(caught.value))  # a worker's error reaches the server process
    assert isinstance(again, sa.exc.OperationalError) and "no such table" in str(again)
