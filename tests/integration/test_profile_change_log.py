"""The profile change log's follower never steps over a number whose transaction is still open
(PostgreSQL makes a later number visible first), and skips a rolled-back number once it is settled."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from registry_service.storage.profile_changes import ChangeFollower, record_profile_change
from tanxiao.platform.db import make_engine, read_only


def _poll(engine: sa.Engine, follower: ChangeFollower) -> list[tuple[int, tuple[str, ...] | None]]:
    with read_only(engine) as conn:
        return [(c.seq, c.usccs) for c in follower.poll(conn)]


@pytest.mark.postgres
def test_a_later_number_committed_first_is_held_back_until_the_earlier_one_commits(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    follower = ChangeFollower(0)
    try:
        with engine.connect() as slow, engine.connect() as fast:
            slow_tx = slow.begin()
            record_profile_change(slow, ["A"])  # number 1, not committed yet
            with fast.begin():
                record_profile_change(fast, ["B"])  # number 2, committed
            assert _poll(engine, follower) == []  # 2 is visible, 1 may still come: nothing yet
            assert _poll(engine, follower) == []
            slow_tx.commit()
        assert _poll(engine, follower) == [(1, ("A",)), (2, ("B",))]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_rolled_back_number_is_skipped_once_its_transaction_has_ended(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    follower = ChangeFollower(0)
    try:
        with engine.connect() as doomed, engine.connect() as other:
            doomed_tx = doomed.begin()
            record_profile_change(doomed, ["A"])
            with other.begin():
                record_profile_change(other, None, recomputed_year=2024)
            assert _poll(engine, follower) == []
            doomed_tx.rollback()
        # Stepped over once every transaction running when the gap was seen has ended (on a shared
        # server that includes other databases' transactions: wait for them, boundedly).
        deadline = time.monotonic() + 60
        while not (seen := _poll(engine, follower)):
            assert time.monotonic() < deadline, "the gap never settled"
            time.sleep(0.05)
        assert seen == [(2, None)]
        assert follower.after == 2
    finally:
        engine.dispose()


def test_on_sqlite_changes_come_in_order_and_a_rolled_back_one_never_shows(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    follower = ChangeFollower(0)
    try:
        with engine.connect() as conn:
            with conn.begin():
                record_profile_change(conn, ["A", "B", "A"])
            tx = conn.begin()
            record_profile_change(conn, ["C"])
            tx.rollback()
            with conn.begin():
                record_profile_change(conn, [])  # nothing changed: nothing recorded
                record_profile_change(conn, ["D"])
        # SQLite hands a rolled-back number out again: no number anyone saw is ever reused
        assert _poll(engine, follower) == [(1, ("A", "B")), (2, ("D",))]
        assert _poll(engine, follower) == []
    finally:
        engine.dispose()
