"""The sequencer: numbers pending log entries, extends the Merkle tree and signs a tree head.

One batch, top to bottom (as Trillian's IntegrateBatch), in one transaction:

1. take the single-writer lock: a PostgreSQL transaction-level advisory lock (try, never wait: another
   replica holding it is sequencing right now), on SQLite the write lock BEGIN IMMEDIATE already holds;
2. read the tree size and the perfect subtrees on its right edge (the compact range): kept in memory from
   this process's last batch when the stored size and the signed head of that size still match it
   (``_tree``), else read from the leaves and ``log_nodes``;
3. read up to ``batch_size`` pending entries (``log_pending``), oldest first;
4. give them the next leaf indexes, appending each leaf hash to the compact range (on SQLite steps 2-4
   run first on a read snapshot, outside the write lock, and are kept when the size read in step 2 under
   the lock is still theirs);
5. write their ``log_leaves`` rows (the entry rows are never rewritten), take them off ``log_pending``,
   write the new interior nodes and the head signed over the new root; commit.

Every scoring replica runs one in a thread (``SequencerThread``) every quarter of the merge delay; with
the lock only one integrates at a time, so any number of replicas share one log. A crash between steps
rolls the whole batch back: entries stay pending and are integrated by the next run.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy import Connection, Engine

from scoring_service.storage.log import BulkInsert, fetch_nodes, head_row, integrated_size
from scoring_service.storage.tables import log_heads, log_keys, log_leaves, log_nodes
from tanxiao.platform.db import is_sqlite, read_only, transaction
from tanxiao.platform.metrics import SEQUENCER_LAG
from tanxiao.platform.schema import UtcTime
from tanxiao.translog import CompactRange, SigningKey, TreeHead

log = structlog.get_logger("tanxiao.sequencer")

# The PostgreSQL advisory lock key of the sequencer (any fixed int64; no other lock in tanxiao uses it).
ADVISORY_KEY = 0x5A2C_1E0B_7D44_3F19

_NODE_INSERT = BulkInsert(log_nodes, ("level", "idx", "hash"))


@dataclass(frozen=True)
class _Plan:
    size: int  # the stored tree's size it starts from
    tree: CompactRange  # extended by the entries
    numbered: list[tuple[str, int]]  # (entry id, leaf index)
    nodes: list[tuple[int, int, bytes]]  # interior nodes completed: (level, index, hash)


@dataclass(frozen=True)
class BatchResult:
    integrated: int
    tree_size: int
    signed: bool  # a new head was stored


class Sequencer:
    def __init__(self, engine: Engine, key: SigningKey, *, batch_size: int = 10_000) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.engine = engine
        self.key = key
        self.batch_size = batch_size
        self._local = threading.Lock()  # one batch at a time in this process (SQLite: also the lock)
        # The compact range as this process's last committed batch left it: reading it back from the
        # nodes every run was ~45 % of a batch. Trusted only under the lock, when the stored tree size
        # and the root of its signed head still match it (another replica's batch changes the size).
        self._tree: CompactRange | None = None

    def integrate(self) -> int:
        """Integrate every entry pending now, batch by batch; the number integrated by this call."""
        total = 0
        while True:
            result = self.integrate_batch()
            total += result.integrated
            if result.integrated < self.batch_size:
                SEQUENCER_LAG.set(total)  # what this run found waiting (0 where another replica sequences)
                return total

    def integrate_batch(self) -> BatchResult:
        with self._local:
            try:
                return self._integrate_batch()
            except BaseException:
                self._tree = None  # rolled back: the next batch reads the stored tree again
                raise

    def _integrate_batch(self) -> BatchResult:
        # SQLite: the reads and the hashing are done on a read snapshot before the write lock, which every
        # quote group waits for while a batch holds it; the write transaction keeps that plan when the
        # stored size is still the plan's (only a batch removes pending entries, and it grows the size).
        planned = self._plan_outside() if is_sqlite(self.engine) else None
        with transaction(self.engine) as connection:
            if not self._lock(connection):
                return BatchResult(0, -1, False)
            size = integrated_size(connection)
            if planned is None or planned.size != size:
                planned = self._plan(connection, size)
            tree, numbered, nodes = planned.tree, planned.numbered, planned.nodes
            now = datetime.now(UTC)
            if numbered:
                self._number(connection, numbered, now)
            if nodes:
                self._store_nodes(connection, [(level, index, h.hex()) for level, index, h in nodes])
            signed = self._sign(connection, tree, now)
        self._tree = tree  # committed
        if numbered:
            log.debug("sequencer.batch", integrated=len(numbered), tree_size=tree.size)
        return BatchResult(len(numbered), tree.size, signed)

    def _plan_outside(self) -> _Plan:
        """``_plan`` on a read transaction of its own (SQLite: no write lock taken)."""
        with read_only(self.engine) as connection:
            return self._plan(connection, integrated_size(connection))

    def _plan(self, connection: Connection, size: int) -> _Plan:
        """The batch on the stored tree of ``size`` leaves: the pending entries numbered from ``size``
        and the compact range extended by them, with the interior nodes that completes."""
        tree = self._compact_range(connection, size)
        pending = self._pending(connection)
        numbered = [(entry_id, size + i) for i, (entry_id, _) in enumerate(pending)]
        nodes = tree.extend([bytes.fromhex(leaf) for _, leaf in pending])
        return _Plan(size, tree, numbered, nodes)

    def _compact_range(self, connection: Connection, size: int) -> CompactRange:
        """The compact range of the stored tree of ``size`` leaves, as a copy the batch may extend: the
        one kept from the last batch when its size and its root match the stored tree (the signed head
        of that size), else read from the stored nodes."""
        kept = self._tree
        if kept is not None and kept.size == size and size > 0:
            stored_root = connection.execute(
                sa.select(log_heads.c.root_hash).where(log_heads.c.tree_size == size)
            ).scalar_one_or_none()
            if stored_root is not None and stored_root == kept.root().hex():
                return CompactRange(kept.size, list(kept.nodes))
        return CompactRange.load(size, lambda ids: fetch_nodes(connection, ids))

    def _pending(self, connection: Connection) -> list[tuple[str, str]]:
        """(entry id, leaf hash) of up to ``batch_size`` pending entries, oldest first, from the narrow
        queue table (no entry row is read): read through the driver's cursor as plain tuples
        (SQLAlchemy's rows were a seventh of a PostgreSQL batch)."""
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(
                "SELECT entry_id, leaf_hash FROM log_pending"
                f" ORDER BY create_time, entry_id LIMIT {int(self.batch_size)}"
            )
            return [(str(entry_id), str(leaf)) for entry_id, leaf in cursor.fetchall()]
        finally:
            cursor.close()

    def _number(self, connection: Connection, numbered: list[tuple[str, int]], now: datetime) -> None:
        """Write the batch's leaves and take its entries off the queue (a narrow row each way, where an
        UPDATE of the entry rows rewrote every page the appends had written): on SQLite the driver's
        executemany of one prepared statement each (a loop in C), on PostgreSQL one statement each over
        arrays."""
        if is_sqlite(self.engine):
            process = log_leaves.c.integrate_time.type._cached_bind_processor(connection.dialect)
            when = now if process is None else process(now)
            connection.exec_driver_sql(
                "INSERT INTO log_leaves (idx, entry_id, integrate_time) VALUES (?, ?, ?)",
                [(index, entry_id, when) for entry_id, index in numbered],
            )
            removed = connection.exec_driver_sql(
                "DELETE FROM log_pending WHERE entry_id = ?", [(entry_id,) for entry_id, _ in numbered]
            ).rowcount
        else:
            ids = _array([e for e, _ in numbered])
            connection.execute(
                sa.text(
                    "INSERT INTO log_leaves (idx, entry_id, integrate_time) SELECT v.idx, v.entry_id, :now"
                    " FROM unnest(CAST(:idxs AS bigint[]), CAST(:ids AS varchar[])) AS v(idx, entry_id)"
                ).bindparams(sa.bindparam("now", type_=UtcTime)),
                {"ids": ids, "idxs": _array([str(i) for _, i in numbered]), "now": now},
            )
            removed = connection.execute(
                sa.text("DELETE FROM log_pending WHERE entry_id = ANY(CAST(:ids AS varchar[]))"), {"ids": ids}
            ).rowcount
        if removed != len(numbered):  # never expected: roll the batch back rather than leave a gap
            raise RuntimeError(f"dequeued {removed} of {len(numbered)} log entries")

    def _store_nodes(self, connection: Connection, nodes: list[tuple[int, int, str]]) -> None:
        """Insert the batch's interior nodes: the driver's executemany on SQLite, one statement over
        three arrays on PostgreSQL."""
        if is_sqlite(self.engine):
            _NODE_INSERT.run(connection, nodes)
            return
        connection.execute(
            sa.text(
                "INSERT INTO log_nodes (level, idx, hash) SELECT * FROM unnest(CAST(:levels AS smallint[]),"
                " CAST(:idxs AS bigint[]), CAST(:hashes AS varchar[]))"
            ),
            {
                "levels": _array([str(n[0]) for n in nodes]),
                "idxs": _array([str(n[1]) for n in nodes]),
                "hashes": _array([n[2] for n in nodes]),
            },
        )

    def _lock(self, connection: Connection) -> bool:
        if is_sqlite(self.engine):
            return True  # BEGIN IMMEDIATE: this transaction is the only writer
        return bool(connection.execute(sa.select(sa.func.pg_try_advisory_xact_lock(ADVISORY_KEY))).scalar())

    def _sign(self, connection: Connection, tree: CompactRange, now: datetime) -> bool:
        """Store a head for the tree's size unless one exists (after a migration, the first run signs
        the migrated tree; with nothing new, no new head)."""
        exists = connection.execute(
            sa.select(log_heads.c.tree_size).where(log_heads.c.tree_size == tree.size)
        ).first()
        if exists is not None:
            return False
        self._register_key(connection, now)
        sth = self.key.sign(TreeHead(tree.size, tree.root(), int(now.timestamp() * 1000)))
        connection.execute(log_heads.insert().values(**head_row(sth)))
        return True

    def _register_key(self, connection: Connection, now: datetime) -> None:
        known = connection.execute(
            sa.select(log_keys.c.key_id).where(log_keys.c.key_id == self.key.key_id)
        ).first()
        if known is None:
            raw = base64.b64encode(self.key.verifying.raw).decode("ascii")
            connection.execute(
                log_keys.insert().values(key_id=self.key.key_id, public_key=raw, create_time=now)
            )


def _array(items: list[str]) -> str:
    """A PostgreSQL array literal of items that need no quoting (hex ids and hashes, integers): one
    join, where psycopg's list dumper works element by element in Python (most of a batch's CPU)."""
    return "{" + ",".join(items) + "}"


class SequencerThread:
    """Runs ``Sequencer.integrate`` every ``interval`` seconds until stopped (daemon thread)."""

    def __init__(self, sequencer: Sequencer, interval: float) -> None:
        self.sequencer = sequencer
        self.interval = max(interval, 0.01)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-sequencer", daemon=True)

    def start(self) -> SequencerThread:
        self._thread.start()
        return self

    def stop(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.sequencer.integrate()
            except Exception:  # a DB hiccup: log it and try again next round, entries stay pending
                log.exception("sequencer.failed")
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
