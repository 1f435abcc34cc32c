"""The log sequencer in a process of its own (``tanxiao log sequence --follow`` beside scoring replicas run
with ``TANXIAO_LOG_SEQUENCER=false``, as the BatchQuote benchmark runs it) while another process appends
big batches of entries: on SQLite the two meet on the database file's write lock (WAL), not on the
in-process writer lock; on PostgreSQL on the advisory lock. Nothing lost, nothing integrated twice,
every proof verifies. A correctness test, not a timing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from helpers import run_in_threads

from scoring_service.audit import verify_log
from scoring_service.log_keys import load_signing_key
from scoring_service.storage.log import EntryKind, LogEntry, LogStore, insert_entries, integrated_size
from scoring_service.storage.tables import log_leaves, log_pending
from tanxiao.platform.db import make_engine, transaction
from tanxiao.translog import verify_inclusion

TANXIAO = str(Path(sys.executable).with_name("tanxiao"))
WRITERS, BATCHES, PER_BATCH = 3, 6, 150


def test_a_sequencer_process_integrates_what_another_process_appends(db_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "log.pem"
    load_signing_key(str(key_file))  # created here, read by the sequencer process
    env = {
        **os.environ,
        "TANXIAO_DATABASE_URL": db_url,
        "TANXIAO_LOG_SIGNING_KEY_FILE": str(key_file),
        "TANXIAO_LOG_MERGE_DELAY_SECONDS": "0.2",
        "TANXIAO_LOG_BATCH_SIZE": "400",  # several batches per round: the lock is taken and let go often
    }
    sequencer = subprocess.Popen(
        [TANXIAO, "log", "sequence", "--follow"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    engine = make_engine(db_url, busy_timeout_ms=30_000)
    appended: list[str] = []
    lock = threading.Lock()

    def writer(w: int) -> None:
        for b in range(BATCHES):  # a batch of entries in one transaction, as BatchQuote stores a call
            contents = [{"writer": w, "batch": b, "i": i} for i in range(PER_BATCH)]
            entries = [LogEntry.build(EntryKind.REVIEW_ACTION, content) for content in contents]
            with transaction(engine) as connection:
                insert_entries(connection, entries)
            with lock:
                appended.extend(e.entry_id for e in entries)
            time.sleep(0.02)

    try:
        run_in_threads(writer, WRITERS)
        total = WRITERS * BATCHES * PER_BATCH
        assert len(appended) == total
        deadline = time.monotonic() + 60
        while True:  # the sequencer process integrates within its merge delay, batch by batch
            with engine.connect() as connection:
                size = integrated_size(connection)
                pending = connection.execute(sa.select(sa.func.count()).select_from(log_pending)).scalar()
            if size == total and pending == 0:
                break
            assert sequencer.poll() is None, sequencer.communicate()
            assert time.monotonic() < deadline, f"{size} of {total} integrated, {pending} pending"
            time.sleep(0.2)
    finally:
        sequencer.send_signal(signal.SIGINT)  # --follow ends on Ctrl-C
        try:
            sequencer.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sequencer.kill()
            sequencer.wait()

    with engine.connect() as connection:
        leaves = connection.execute(sa.select(log_leaves.c.entry_id)).scalars().all()
    assert sorted(leaves) == sorted(appended)  # each once
    report = verify_log(engine)
    assert report.ok and report.checked == total and report.tree_size == total, report.problems
    store = LogStore(engine)
    head = store.latest_head()
    assert head.tree_size == total
    for entry_id in random.Random(3).sample(appended, 25):
        found = store.inclusion(entry_id, head.tree_size)
        assert found.entry.index is not None
        leaf = bytes.fromhex(found.entry.leaf_hash)
        verify_inclusion(found.entry.index, head.tree_size, leaf, found.proof, head.root_hash)
    engine.dispose()
