"""The write side of one ingest: its batch row, its validated blocks merged, its bookkeeping, in one
transaction, either all at once when the stream closes or (PostgreSQL) block by block while it runs.

``BatchWriter`` does the writing on a connection in a transaction. ``PipelinedWriter`` drives one on a
thread of its own so that on PostgreSQL the database inserts block k while the servicer validates
block k+1 (two processes, two cores): the transaction opens with the first block and commits when the
stream closes; a cancelled stream rolls it back. Whatever goes wrong on the database side mid-stream
(a concurrent ingest of the same keys, a lost connection) only makes it give up: the caller then
writes the whole batch again from its staged rows in a fresh, retried transaction, as before.
SQLite keeps the write at the end (it has one writer at a time, and a stream must not hold it), unless
the stream's chunks are checked by worker processes (registry_service.ingest_workers): then the server
process has a core of its own for the writes and writes while the stream runs, holding the write lock
while it runs, unless it waits SQLITE_IDLE_WAIT seconds for a block.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
import structlog
from sqlalchemy import Connection, Engine

from registry_service.domain.records import INSTRUMENT_ID
from registry_service.storage.instruments import claim_instruments
from registry_service.storage.profile_changes import record_profile_change
from registry_service.storage.profiles import mark_dirty
from registry_service.storage.record_merge import ACCEPTED, DUPLICATE, REVISED, Merged, combined, merge
from registry_service.storage.tables import ingest_batches
from tanxiao.platform.db import transaction

log = structlog.get_logger("tanxiao.ingest")


@dataclass(frozen=True)
class Rejection:
    index: int
    field: str
    reason: str
    reason_code: str


@dataclass(frozen=True)
class Written:
    merged: Merged
    taken: list[Rejection]  # rows whose instrument another record had claimed


@dataclass(frozen=True)
class Closing:
    received: int
    rejected: int  # rows rejected before the write (validation, scope, unknown enterprise, account)
    record_extra: Callable[[Connection], None]  # e.g. the utility-account sightings
    guard: Callable[[], None] | None  # last word before the commit; raising aborts it


@dataclass
class BatchWriter:
    conn: Connection
    request_id: str | None
    catalog_version: str
    include_accepted: bool
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    batch_id: int = 0
    parts: list[Merged] = field(default_factory=list)
    taken: list[Rejection] = field(default_factory=list)
    all_new: bool = True  # every block so far was new keys only: try the next one as new too

    def __post_init__(self) -> None:
        # The batch row first (records name it); its counts are filled in by close().
        self.batch_id = self.conn.execute(
            ingest_batches.insert()
            .returning(ingest_batches.c.id)
            .values(
                request_id=self.request_id or None,
                received=0,
                accepted=0,
                duplicates=0,
                revised=0,
                rejected=0,
                ingest_time=self.now,
            )
        ).scalar_one()

    def write(self, block: pd.DataFrame) -> None:
        """Claim the block's instruments and merge its rows (the ones whose instrument is free)."""
        claimed = claim_instruments(self.conn, block)
        self.taken.extend(_claimed_elsewhere(block[claimed]))
        constants = {"catalog_version": self.catalog_version, "ingest_time": self.now}
        if (~claimed).any():
            kept = block[~claimed]
            part = merge(
                self.conn,
                kept,
                self.batch_id,
                constants,
                include_accepted=self.include_accepted,
                assume_new=self.all_new,
            )
            # A block with a stored key: the batch is (also) a correction or a replay, look keys up.
            self.all_new = self.all_new and set(part.counts) <= {ACCEPTED}
            self.parts.append(part)

    def close(self, closing: Closing) -> Written:
        merged = combined(self.parts)
        counts: Mapping[str, int] = merged.counts
        self.conn.execute(
            ingest_batches.update()
            .where(ingest_batches.c.id == self.batch_id)
            .values(
                received=closing.received,
                accepted=counts.get(ACCEPTED, 0),
                duplicates=counts.get(DUPLICATE, 0),
                revised=counts.get(REVISED, 0),
                rejected=closing.rejected + len(self.taken),
            )
        )
        # Same transaction: no record without its mark; the enterprise a corrected record left is marked too.
        mark_dirty(self.conn, merged.touched)
        closing.record_extra(self.conn)
        if closing.guard is not None:
            closing.guard()
        # Last statement: subscribers' caches drop these enterprises' profiles once this commits.
        record_profile_change(self.conn, merged.touched)
        return Written(merged, self.taken)


def _claimed_elsewhere(rows: pd.DataFrame) -> list[Rejection]:
    """Rows naming a contract or certificate another record already claimed. The reason never says
    who holds it: which firm bought which green power is that firm's data."""
    return [
        Rejection(
            index=int(i),
            field=f"records[{i}].{INSTRUMENT_ID}",
            reason=f"{INSTRUMENT_ID} {instrument!r} has already been claimed in the registry",
            reason_code="INSTRUMENT_ALREADY_CLAIMED",
        )
        for i, instrument in zip(rows["index"], rows[INSTRUMENT_ID], strict=True)
    ]


# SQLite, blocks written while the stream runs (registry_service.ingest_workers): the longest the
# writer waits for the next block while it holds the database's one write lock; past it (a client that
# stalls), it gives up (rolls back, so other writers go on) and the batch is written when the stream
# closes, as without workers. Per block, not in all: a writer faster than the workers waits often.
SQLITE_IDLE_WAIT = 2.0


class _GaveUp(Exception):
    """The pipelined transaction failed on the database side; the caller re-runs the batch."""


_FINISH, _ABORT = object(), object()


class PipelinedWriter:
    """A BatchWriter on its own thread and transaction, fed blocks while the stream runs."""

    def __init__(
        self,
        engine: Engine,
        request_id: str | None,
        catalog_version: str,
        include_accepted: bool,
        *,
        idle_wait: float | None = None,
    ) -> None:
        self._engine = engine
        self._idle_wait = idle_wait  # longest wait for a block before giving up; None: no end
        self._args = (request_id, catalog_version, include_accepted)
        self._inbox: queue.Queue[Any] = queue.Queue(maxsize=2)  # bounded: the stream waits, memory too
        self._result: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def submit(self, block: pd.DataFrame) -> None:
        self._send(block)

    def _send(self, item: Any) -> None:
        """Queue ``item`` for the writer, unless its thread has ended (it could not even connect)."""
        while self._thread.is_alive():
            try:
                self._inbox.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def finish(self, closing: Closing) -> Written | None:
        """Commit; None when the pipeline gave up (the caller writes the batch again). An exception of
        the guard propagates (nothing is committed then)."""
        self._send((_FINISH, closing))
        self._thread.join()
        outcome = self._result.get()
        if isinstance(outcome, _GaveUp):
            return None
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    def abort(self) -> None:
        """Roll back: the stream failed or was cancelled."""
        self._send(_ABORT)
        self._thread.join()

    def _run(self) -> None:
        outcome: Any = _GaveUp()
        try:
            with transaction(self._engine) as conn:
                writer = BatchWriter(conn, *self._args)
                outcome = self._drain(writer)
        except _Abort:
            outcome = _GaveUp()
        except sa.exc.DBAPIError as exc:  # a lost race, a dropped connection: the batch is re-run
            log.info("ingest.pipeline_gave_up", error=str(exc.orig).splitlines()[0] if exc.orig else str(exc))
            outcome = _GaveUp(str(exc))
        except BaseException as exc:  # the guard's verdict, or a bug: the caller sees it
            outcome = exc
        self._result.put(outcome)

    def _drain(self, writer: BatchWriter) -> Written:
        failed: BaseException | None = None
        while True:
            try:
                item = self._inbox.get(timeout=self._idle_wait)
            except queue.Empty:
                log.info("ingest.pipeline_gave_up", error=f"no block for {self._idle_wait} s")
                raise _Abort from None
            if item is _ABORT:
                raise _Abort
            if isinstance(item, tuple) and item[0] is _FINISH:
                if failed is not None:
                    raise failed
                return writer.close(item[1])
            if failed is None:  # after a failure the blocks are only drained: the stream goes on
                try:
                    writer.write(item)
                except sa.exc.DBAPIError as exc:
                    failed = exc


class _Abort(Exception):
    pass
