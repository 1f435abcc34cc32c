"""Crash recovery: SIGKILL the registry process during a streaming ingest, restart it on the same
database, replay the same stream, and every record is stored exactly once with nothing half-committed.
On SQLite and on PostgreSQL, from an empty database, with the `tanxiao` command in real processes."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from helpers import make_uscc

from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.tables import ingest_batches, records
from tanxiao.common.v1 import common_pb2
from tanxiao.platform.db import make_engine
from tanxiao.registry.v1 import registry_pb2 as pb
from tanxiao.registry.v1 import registry_pb2_grpc

pytestmark = [pytest.mark.slow, pytest.mark.heavy]
TANXIAO = str(Path(sys.executable).with_name("tanxiao"))
FIRMS = [make_uscc(700 + i) for i in range(4)]
CHUNK = 250


def _env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "TANXIAO_DATABASE_URL": url,
        "TANXIAO_LOG_FORMAT": "json",
        "TANXIAO_REGISTRY_LISTEN": "127.0.0.1:0",
        "TANXIAO_ALLOW_PLAINTEXT": "1",
        "TANXIAO_AUTH_REQUIRED": "0",
    }


class RegistryProcess:
    """`tanxiao serve registry` in a child process; its JSON log lines read on a thread."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [TANXIAO, "serve", "registry"], env=_env(url), stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[dict[str, object]] = queue.Queue()
        self.seen: list[dict[str, object]] = []
        threading.Thread(target=self._drain, daemon=True).start()
        ready = self._wait_for("tanxiao.ready")
        services = ready["services"]
        assert isinstance(services, dict)
        self.address = str(services["registry"])
        self.channel = grpc.insecure_channel(self.address)
        grpc.channel_ready_future(self.channel).result(timeout=20)
        self.stub = registry_pb2_grpc.CarbonRegistryStub(self.channel)

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                self.lines.put(json.loads(line))
            except json.JSONDecodeError:
                self.lines.put({"event": "text", "line": line})

    def _wait_for(self, event: str, timeout: float = 60) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None and self.lines.empty():
                break
            try:
                entry = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(entry)
            if entry.get("event") == event:
                return entry
        raise AssertionError(f"no {event!r} log within {timeout}s (exit {self.process.poll()}): {self.seen}")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no rollback by the process, no flushing."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(20) == -signal.SIGKILL

    def close(self) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(20)


@pytest.fixture
def database(empty_db_url: str) -> Iterator[str]:
    """An empty database migrated by `tanxiao db upgrade`, with the enterprises the records name."""
    done = subprocess.run(
        [TANXIAO, "db", "upgrade"], env=_env(empty_db_url), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    engine = make_engine(empty_db_url)
    try:
        EnterpriseRepository(engine).create_many(
            [Enterprise(u, f"湖州织造{i}有限公司", "1710", "330502") for i, u in enumerate(FIRMS)]
        )
    finally:
        engine.dispose()
    yield empty_db_url


@pytest.fixture
def processes() -> Iterator[list[RegistryProcess]]:
    started: list[RegistryProcess] = []
    yield started
    for process in started:
        process.close()


def _rows(count: int) -> list[pb.Record]:
    """``count`` distinct records (distinct (source, external_id) keys) over four firms and 240 months."""
    return [
        pb.Record(
            uscc=FIRMS[i % len(FIRMS)],
            period=f"{2001 + (i // 4) % 240 // 12}-{1 + (i // 4) % 12:02d}",
            category="ELECTRICITY",
            quantity=1_000.0 + i,
            source=common_pb2.GRID_UTILITY,
            external_id=f"crash-{i:06d}",
        )
        for i in range(count)
    ]


def _stream(rows: list[pb.Record]) -> Iterator[pb.IngestRecordsRequest]:
    for start in range(0, len(rows), CHUNK):
        yield pb.IngestRecordsRequest(records=rows[start : start + CHUNK])


def _stored(url: str) -> tuple[int, int, int, int]:
    """(record rows, distinct (source, external_id) keys, current rows, ingest batches)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(sa.func.count()).select_from(records)).scalar_one()
            keys = connection.execute(
                sa.select(sa.func.count()).select_from(
                    sa.select(records.c.source, records.c.external_id).distinct().subquery()
                )
            ).scalar_one()
            current = connection.execute(
                sa.select(sa.func.count()).select_from(records).where(records.c.is_current)
            ).scalar_one()
            batches = connection.execute(sa.select(sa.func.count()).select_from(ingest_batches)).scalar_one()
    finally:
        engine.dispose()
    return int(rows), int(keys), int(current), int(batches)


def _replay_stores_each_record_exactly_once(
    url: str, processes: list[RegistryProcess], rows: list[pb.Record], already: int
) -> None:
    """Restart, replay the whole stream twice: each key stored once, at revision 1, current."""
    registry = RegistryProcess(url)
    processes.append(registry)
    first = registry.stub.IngestRecords(_stream(rows), timeout=120)
    assert (first.received, first.rejected, first.revised) == (len(rows), 0, 0)
    assert (first.accepted, first.duplicates) == (len(rows) - already, already)
    again = registry.stub.IngestRecords(_stream(rows), timeout=120)
    assert (again.accepted, again.duplicates, again.revised) == (0, len(rows), 0)
    stored, keys, current, _ = _stored(url)
    assert stored == keys == current == len(rows)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            per_key = connection.execute(
                sa.select(records.c.external_id, sa.func.count(), sa.func.max(records.c.revision))
                .group_by(records.c.source, records.c.external_id)
                .having(sa.or_(sa.func.count() != 1, sa.func.max(records.c.revision) != 1))
            ).all()
            ids = set(connection.execute(sa.select(records.c.external_id)).scalars())
    finally:
        engine.dispose()
    assert per_key == []  # no key with a second revision or a duplicate row
    assert ids == {r.external_id for r in rows}


def _kill_mid_stream(registry: RegistryProcess, rows: list[pb.Record], killed_after: int) -> None:
    """Send ``killed_after`` chunks, SIGKILL the server, then try to send the rest."""

    def dying_stream() -> Iterator[pb.IngestRecordsRequest]:
        for number, chunk in enumerate(_stream(rows)):
            if number == killed_after:
                time.sleep(0.3)  # let the server read and stage the chunks already sent
                registry.kill()
            yield chunk

    with pytest.raises(grpc.RpcError) as excinfo:
        registry.stub.IngestRecords(dying_stream(), timeout=60)
    assert excinfo.value.code() in {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}


def _kill_while_committing(registry: RegistryProcess, rows: list[pb.Record], delay: float) -> bool:
    """Send the whole stream and SIGKILL the server ``delay`` s after the client half-closed, while it
    validates and writes; True when it answered (committed) before dying."""
    killer: list[threading.Timer] = []

    def stream_then_kill() -> Iterator[pb.IngestRecordsRequest]:
        yield from _stream(rows)
        timer = threading.Timer(delay, registry.kill)  # the last chunk has been handed to gRPC
        killer.append(timer)
        timer.start()

    try:
        response = registry.stub.IngestRecords(stream_then_kill(), timeout=60)
    except grpc.RpcError as error:
        assert error.code() in {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
        answered = False
    else:
        assert response.accepted == len(rows)
        answered = True
    for timer in killer:
        timer.join(30)
    assert killer and registry.process.poll() == -signal.SIGKILL
    return answered


def test_a_killed_registry_keeps_nothing_half_committed_and_a_replay_stores_each_record_once(
    database: str, processes: list[RegistryProcess]
) -> None:
    rows = _rows(2_000)  # 8 chunks
    registry = RegistryProcess(database)
    processes.append(registry)
    _kill_mid_stream(registry, rows, killed_after=4)
    assert _stored(database) == (0, 0, 0, 0)  # the stream commits at its end: nothing of it is visible

    registry = RegistryProcess(database)  # restarted on the same database
    processes.append(registry)
    answered = _kill_while_committing(registry, rows, delay=0.05)
    stored = _stored(database)
    # All or nothing, never a part; and an answer the client got is durable.
    assert stored in {(0, 0, 0, 0), (len(rows), len(rows), len(rows), 1)}
    assert not answered or stored[0] == len(rows)

    _replay_stores_each_record_exactly_once(database, processes, rows, already=stored[0])
