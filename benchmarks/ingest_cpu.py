"""CPU per record of one IngestRecords stream on PostgreSQL, per process and per step of the writer.

The bench's records/s on a shared two-core machine swings with the load; the CPU each process spends
per record does much less, and says which process bounds the rate. Each measurement runs in a process
of its own with its working directory on a tree (this one, or ``--tree DIR``: e.g. a ``git archive`` of
the base commit, so that old and new code are compared in the same minutes; kinds alternate within
each round). It does what the ``ingest_postgres`` case does (a fresh migrated database with the
enterprises, a CHECKPOINT, ``start_registry`` in the measuring process, the client stream of
5,000-record messages from a spawned process), after a 5,000-record warm-up stream into another
database that starts the ingest worker pool (one per process: its spawn and imports are not counted).
Reported per record: the registry process's CPU (``os.times``: every thread), the client's (the
spawned process, reaped: ``os.times``' children; this includes building the requests, which the
bench does before its timed window), the worker processes' (its children, /proc), the
PostgreSQL backends' of the database (``pg_stat_activity`` pids, /proc), and for each step of the
writer (record_merge's functions, BatchWriter's, the commit) its wall time, the writer thread's CPU
and its connection's backend CPU (/proc of ``backend_pid``), summed over the blocks (a step nested in
another, e.g. ``_insert_keys`` in ``_all_new``, is counted in both). Also the stream's fixed costs, in
seconds: ``first_write_s`` from the first message received to the writer's first block (the pipeline's
fill: one process busy), ``after_stream_s`` from the last message received to the commit's end.

    .venv/bin/python -m benchmarks.ingest_cpu --size 1000000 --rounds 3 --tree /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

# Run in the measuring process, cwd = the tree measured: prints one JSON line.
_RUN = r"""
import contextlib, functools, json, os, sys, threading, time, uuid
sys.path.insert(0, os.getcwd())
import sqlalchemy as sa
from sqlalchemy.engine import make_url

size, workers, server_url = int(sys.argv[1]), int(sys.argv[2]), make_url(sys.argv[3])
TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def children():
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == os.getpid():
                        found.append(int(entry))
            except OSError:
                pass
    return found


steps, lock = {}, threading.Lock()


def backend(conn):
    try:
        return conn.connection.driver_connection.info.backend_pid
    except AttributeError:
        return None


@contextlib.contextmanager
def step(name, conn):
    pid = backend(conn) if conn is not None else None
    b0, t0, c0 = cpu(pid), time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        spent = (time.perf_counter() - t0, time.thread_time() - c0, cpu(pid) - b0 if pid else 0.0)
        with lock:
            total = steps.setdefault(name, [0.0, 0.0, 0.0])
            for i, value in enumerate(spent):
                total[i] += value


def timed(owner, name, conn_of):
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        with step(name, conn_of(args)):
            return original(*args, **kwargs)

    setattr(owner, name, wrapper)


from benchmarks import data
from benchmarks.cases import base_settings, create_enterprises
from benchmarks.load import run_ingest_stream
from registry_service import ingest_writer
from registry_service.app import start_registry
from registry_service.storage import record_merge
from tanxiao.platform.db import upgrade

for name in ("_merge", "lock_enterprises", "current_revisions", "_new_ids", "_all_new", "_point_keys",
             "_insert_keys", "_moved_on", "_retire", "ensure_years", "_insert"):
    if hasattr(record_merge, name):
        timed(record_merge, name, lambda args: args[0])
for name in ("classify", "key_codes"):
    timed(record_merge, name, lambda args: None)
timed(ingest_writer, "claim_instruments", lambda args: args[0])
timed(ingest_writer.BatchWriter, "write", lambda args: args[0].conn)
marks = {}  # first_message, last_message, first_write, committed: perf_counter
wrapped_write = ingest_writer.BatchWriter.write


def marked_write(self, block):
    marks.setdefault("first_write", time.perf_counter())
    return wrapped_write(self, block)


ingest_writer.BatchWriter.write = marked_write
from registry_service import ingest_workers
fed = ingest_workers.IngestWorkers.feed


def marked_feed(self, stream, requests):
    def marked():
        for request in requests:
            marks.setdefault("first_message", time.perf_counter())
            yield request
        marks["last_message"] = time.perf_counter()

    return fed(self, stream, marked())


ingest_workers.IngestWorkers.feed = marked_feed
timed(ingest_writer.BatchWriter, "close", lambda args: args[0].conn)
opened = ingest_writer.transaction


@contextlib.contextmanager
def transaction(engine, **kwargs):
    manager = opened(engine, **kwargs)
    conn = manager.__enter__()
    try:
        yield conn
    except BaseException:
        if not manager.__exit__(*sys.exc_info()):
            raise
        return
    with step("commit", conn):
        manager.__exit__(None, None, None)
    marks["committed"] = time.perf_counter()


ingest_writer.transaction = transaction
admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")


@contextlib.contextmanager
def database(records):
    name = f"tanxiao_ingest_cpu_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = server_url.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        create_enterprises(url, data.enterprises(data.ingest_enterprise_count(records), financial_year=None))
        with admin.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
        yield name, url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stream(url, records):
    settings = base_settings(database_url=url, max_stream_records=records + 1, ingest_workers=workers)
    return start_registry(settings, "127.0.0.1:0")


with database(5_000) as (_, url):  # warm-up: the worker pool started
    running = stream(url, 5_000)
    try:
        run_ingest_stream(running.address, {"size": 5_000, "chunk": 5_000}, timeout=300)
    finally:
        running.stop(None)
steps.clear()
marks.clear()
with database(size) as (name, url):
    running = stream(url, size)

    def backends():
        with admin.connect() as conn:
            query = "SELECT pid FROM pg_stat_activity WHERE datname = %s"
            return {pid: cpu(pid) for (pid,) in conn.exec_driver_sql(query, (name,))}

    try:
        pg0, kids0, me0, load0 = backends(), {p: cpu(p) for p in children()}, os.times(), os.getloadavg()[0]
        out = run_ingest_stream(running.address, {"size": size, "chunk": 5_000}, timeout=1800)
        pg1, kids1, me1 = backends(), {p: cpu(p) for p in children()}, os.times()
    finally:
        running.stop(None)
us = lambda seconds: round(seconds / size * 1e6, 2)
print(json.dumps({
    "records_per_s": round(size / out["seconds"]), "accepted": out["accepted"],
    "load": [round(load0, 1), round(os.getloadavg()[0], 1)],
    "registry_us": us(me1.user + me1.system - me0.user - me0.system),
    "client_us": us(me1.children_user + me1.children_system - me0.children_user - me0.children_system),
    "workers_us": us(sum(v - kids0.get(p, 0.0) for p, v in kids1.items())),
    "postgres_us": us(sum(v - pg0.get(p, 0.0) for p, v in pg1.items())),
    "first_write_s": round(marks["first_write"] - marks["first_message"], 3),
    "after_stream_s": round(marks["committed"] - marks["last_message"], 3),
    "steps_us": {k: [us(v) for v in values] for k, values in sorted(steps.items())},
}))
"""


def measure(tree: str, size: int, workers: int, url: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(size), str(workers), url],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"measurement in {tree} failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(lines[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=-1, help="TANXIAO_INGEST_WORKERS (-1: one per core but one)"
    )
    parser.add_argument("--tree", action="append", default=[], help="another checkout to measure alternately")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("TANXIAO_BENCH_POSTGRES_URL")
        or os.environ.get("TANXIAO_TEST_POSTGRES_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a database of the server to create the measured databases from",
    )
    args = parser.parse_args()
    trees = [os.getcwd(), *args.tree]
    for round_ in range(1, args.rounds + 1):
        for tree in trees:
            result = measure(tree, args.size, args.workers, args.pg_url)
            print(json.dumps({"round": round_, "tree": tree, **result}), flush=True)


if __name__ == "__main__":
    main()
