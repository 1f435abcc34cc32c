"""The profile change log: a numbered row for every write that can change how a profile reads.

Writers call ``record_profile_change`` as the LAST statement of their transaction (an ingest names the
enterprises it marked, a recompute names none: every profile). WatchProfileChanges follows the log
with ``ChangeFollower``, which several registry replicas on one PostgreSQL can do independently: the
log is the only shared state.

Numbers are allocated when a row is inserted but become visible when its transaction commits, so on
PostgreSQL number 11 can be visible while 10 is still in flight. A follower never steps over such a
gap until it knows the gap's transaction has ended: it notes the snapshot's ``xmax`` when it first
sees the gap, and once the oldest running transaction (``xmin``) is at least that, every transaction
that could hold a missing number has committed (its row is now visible) or rolled back (the number
is lost for good). SQLite has one writer at a time, so a visible gap is always a rolled-back number.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from registry_service.storage.tables import profile_changes

KEEP = 10_000  # newest changes kept; a subscriber further behind is told to reset
PRUNE_EVERY = 100
MAX_LISTED = 1_000  # more enterprises than this in one change: recorded as "every enterprise"
READ_LIMIT = 500


@dataclass(frozen=True)
class ProfileChange:
    seq: int
    usccs: tuple[str, ...] | None  # None: every enterprise
    recomputed_year: int | None
    change_time: datetime


def record_profile_change(
    conn: Connection, usccs: Collection[str] | None, *, recomputed_year: int | None = None
) -> None:
    """Log that the profiles of ``usccs`` (None: of every enterprise) may read differently once the
    caller's transaction commits. Call it last in the transaction (see the module docstring)."""
    if usccs is not None and not usccs:
        return
    listed = None if usccs is None or len(usccs) > MAX_LISTED else " ".join(sorted(set(usccs)))
    if conn.dialect.name == "postgresql":
        # Take the transaction id before the number, so a follower's xmax check covers this row.
        conn.execute(sa.text("SELECT pg_current_xact_id()"))
    seq = conn.execute(
        profile_changes.insert()
        .values(usccs=listed, recomputed_year=recomputed_year, change_time=datetime.now(UTC))
        .returning(profile_changes.c.seq)
    ).scalar_one()
    if seq % PRUNE_EVERY == 0:  # rarely, so that concurrent writers seldom touch the same old rows
        conn.execute(profile_changes.delete().where(profile_changes.c.seq <= seq - KEEP))


def latest_seq(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.max(profile_changes.c.seq))).scalar() or 0)


def oldest_seq(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.min(profile_changes.c.seq))).scalar() or 0)


def _xmin(conn: Connection) -> int:
    return int(conn.execute(sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")).scalar_one())


def _xmax(conn: Connection) -> int:
    return int(conn.execute(sa.text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")).scalar_one())


class ChangeFollower:
    """Reads the log after ``after`` in number order, holding back at a gap until it is settled."""

    def __init__(self, after: int) -> None:
        self.after = after
        # (highest number seen when a gap was found, xmax then): gaps up to it settle once xmin >= xmax
        self._pending: tuple[int, int] | None = None

    def poll(self, conn: Connection) -> list[ProfileChange]:
        """The next settled changes (at most READ_LIMIT); ``after`` moves past them."""
        postgres = conn.dialect.name == "postgresql"
        settled_upto = self._settled_upto(conn) if postgres else None
        query = (
            sa.select(profile_changes)
            .where(profile_changes.c.seq > self.after)
            .order_by(profile_changes.c.seq)
            .limit(READ_LIMIT)
        )
        rows = conn.execute(query).all()
        out: list[ProfileChange] = []
        for row in rows:
            gap = row.seq > self.after + 1
            if gap and postgres and (settled_upto is None or row.seq - 1 > settled_upto):
                if self._pending is None:  # a gap already pending keeps its xmax, or it never settles
                    self._pending = (rows[-1].seq, _xmax(conn))
                break
            out.append(_change(row))
            self.after = row.seq
        return out

    def _settled_upto(self, conn: Connection) -> int | None:
        if self._pending is None:
            return None
        upto, xmax = self._pending
        if _xmin(conn) >= xmax:
            self._pending = None
            return upto
        return None


def _change(row: sa.Row[tuple[object, ...]]) -> ProfileChange:
    usccs = tuple(str(row.usccs).split()) if row.usccs is not None else None
    year = int(row.recomputed_year) if row.recomputed_year is not None else None
    return ProfileChange(int(row.seq), usccs, year, row.change_time)
