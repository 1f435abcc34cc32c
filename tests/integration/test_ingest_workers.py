"""IngestRecords checked in worker processes (registry_service.ingest_workers), real processes: the same
answers and stored rows as in the server process, errors naming the same fields, a worker killed
mid-stream failing the call cleanly (nothing stored, the next stream served)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from helpers import (
    DEVELOPMENT,
    Registry,
    current_keys,
    energy_record,
    error_details,
    make_uscc,
    serving_registry,
)

from registry_service import ingest_workers
from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.tables import records
from tanxiao.common.v1 import common_pb2
from tanxiao.platform.config import Settings
from tanxiao.registry.v1 import registry_pb2

pb = registry_pb2
GRID = common_pb2.GRID_UTILITY
E1, E2, UNREGISTERED = make_uscc(1), make_uscc(2), make_uscc(99)
MAX_STREAM_RECORDS = 2_000
CHUNK = 40  # records a message; with the small blocks below a stream spans several blocks


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # A few messages per worker block, so that row numbers cross block boundaries.
    monkeypatch.setattr(ingest_workers, "BLOCK_BYTES", 6_000)


def _settings(url: str, workers: int) -> Settings:
    return Settings.from_env(
        {
            "TANXIAO_DATABASE_URL": url,
            "TANXIAO_MAX_STREAM_RECORDS": str(MAX_STREAM_RECORDS),
            "TANXIAO_MAX_WORKERS": "4",
            "TANXIAO_INGEST_WORKERS": str(workers),
            **DEVELOPMENT,
        }
    )


@contextmanager
def _serve(url: str, workers: int) -> Iterator[Registry]:
    """The registry on ``url`` with ``workers`` ingest worker processes (0: none), E1 and E2 registered."""
    with serving_registry(_settings(url, workers), url) as registry:
        EnterpriseRepository(registry.engine).create_many(
            [Enterprise(E1, "甲化纤", "2825", "330502"), Enterprise(E2, "乙纺织", "1710", "330503")]
        )
        yield registry


@pytest.fixture(params=[1, 0], ids=["workers", "in-process"])
def served(request: pytest.FixtureRequest, db_url: str) -> Iterator[Registry]:
    """The test database (SQLite and PostgreSQL) served with one worker process, or none."""
    with _serve(db_url, request.param) as registry:
        yield registry


def _stream(
    rows: list[registry_pb2.EnergyRecord], include_accepted: bool = False
) -> Iterator[pb.IngestRecordsRequest]:
    for start in range(0, len(rows), CHUNK):
        yield pb.IngestRecordsRequest(
            records=rows[start : start + CHUNK], include_accepted_results=include_accepted and start == 0
        )


def _mixed(n: int, tag: str) -> list[registry_pb2.EnergyRecord]:
    """Good rows with a bad one every 37 rows (a different problem each time), two revisions of one key
    (in different blocks) and a replay of a third."""
    rows = []
    for i in range(n):
        month = f"2023-{i % 12 + 1:02d}"
        if i % 37 == 5:
            bad = [
                {"quantity": -1.0},
                {"uscc": UNREGISTERED},
                {"unit": "furlongs"},
                {"period": "2023-13"},
                {"category": "NOPE"},
            ][(i // 37) % 5]
            rows.append(energy_record(f"{tag}-{i}", **{"period": month, **bad}))  # type: ignore[arg-type]
        else:
            rows.append(energy_record(f"{tag}-{i}", 10.0 + i, period=month, uscc=E1 if i % 2 else E2))
    rows.append(energy_record(f"{tag}-3", 999.0, period="2023-04", uscc=E1))  # a correction of row 3
    rows.append(energy_record(f"{tag}-8", 18.0, period="2023-09", uscc=E2))  # a replay of row 8
    return rows


def _results(response: pb.IngestRecordsResponse) -> list[tuple[int, int, str, str, int]]:
    return [(r.index, r.status, r.field, r.reason_code, r.revision) for r in response.results]


def _stored(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                records.c.source, records.c.external_id, records.c.revision, records.c.is_current,
                records.c.uscc, records.c.period, records.c.quantity, records.c.content_hash,
            ).order_by(records.c.external_id, records.c.revision)
        ).all()  # fmt: skip
    return [tuple(row) for row in rows]


def test_a_stream_across_blocks_is_answered_and_stored_alike(served: Registry) -> None:
    rows = _mixed(400, "m")
    response = served.stub.IngestRecords(_stream(rows, include_accepted=True), timeout=60)
    assert (response.received, response.rejected) == (402, 11)
    assert (response.accepted, response.revised, response.duplicates) == (389, 1, 1)
    results = _results(response)
    assert len(results) == 402  # include_accepted_results, read from the first message
    rejected = {i: (field, code) for i, _, field, code, _ in results if code}
    assert rejected[5] == ("records[5].quantity", "NEGATIVE_QUANTITY")
    assert rejected[42] == ("records[42].uscc", "UNKNOWN_ENTERPRISE")
    assert rejected[79] == ("records[79].unit", "UNIT_MISMATCH")
    assert rejected[116] == ("records[116].period", "BAD_PERIOD")
    assert rejected[153] == ("records[153].category", "UNKNOWN_CATEGORY")
    assert rejected[375] == ("records[375].quantity", "NEGATIVE_QUANTITY")
    assert results[400][1:] == (pb.REVISED, "", "", 2)
    assert results[401][1:] == (pb.DUPLICATE, "", "", 1)  # the revision it repeats
    stored = _stored(served.engine)
    assert len(stored) == 390
    assert [r[2:4] for r in stored if r[1] == "m-3"] == [(1, False), (2, True)]


def test_worker_and_in_process_paths_store_the_same_rows(sqlite_template: Path, tmp_path: Path) -> None:
    """Both paths on copies of one migrated SQLite database: the same answers, the same rows."""
    outcomes = []
    for workers in (1, 0):
        path = tmp_path / f"paths-{workers}.db"
        shutil.copyfile(sqlite_template, path)
        with _serve(f"sqlite:///{path}", workers) as server:
            response = server.stub.IngestRecords(_stream(_mixed(300, "s")), timeout=60)
            outcomes.append((_results(response), _stored(server.engine)))
    assert outcomes[0] == outcomes[1]


def test_the_stream_limit_is_the_same_error(served: Registry) -> None:
    limit = MAX_STREAM_RECORDS
    rows = [energy_record(f"l-{i}") for i in range(limit + 1)]
    with pytest.raises(grpc.RpcError) as caught:
        served.stub.IngestRecords(_stream(rows), timeout=60)
    details = error_details(caught.value)
    assert details.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert details.violations == [("records", f"at most {limit} records per call")]
    assert _stored(served.engine) == []


def test_a_message_that_does_not_parse_is_invalid_argument(served: Registry) -> None:
    ingest = served.channel.stream_unary(
        "/tanxiao.registry.v1.CarbonRegistry/IngestRecords",
        request_serializer=lambda data: data,
        response_deserializer=pb.IngestRecordsResponse.FromString,
    )
    good = pb.IngestRecordsRequest(records=[energy_record("p-1")]).SerializeToString()
    with pytest.raises(grpc.RpcError) as caught:
        ingest(iter([good, b"\xff\xff\xff"]), timeout=60)
    details = error_details(caught.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.violations == [("records", "stream message 1 is not a serialized IngestRecordsRequest")]
    assert _stored(served.engine) == []


def _worker_pids() -> list[int]:
    pool = ingest_workers._POOLS._pools[1]
    return list(pool._processes)  # type: ignore[attr-defined]


def test_a_worker_killed_mid_stream_fails_the_call_and_the_next_stream_is_served(db_url: str) -> None:
    with _serve(db_url, 1) as server:
        killed: list[int] = []
        rows = [energy_record(f"k-{i}") for i in range(600)]
        # A worker up and serving (one killed while it still starts up is replaced quietly by the pool).
        warm = server.stub.IngestRecords(_stream([energy_record("warm", period="2023-01")]), timeout=60)
        assert warm.accepted == 1

        def requests() -> Iterator[pb.IngestRecordsRequest]:
            for number, message in enumerate(_stream(rows)):
                if number == 4:  # a few blocks in: the worker dies
                    pool = ingest_workers._POOLS._pools[1]
                    for pid in list(pool._processes):  # type: ignore[attr-defined]
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                    deadline = time.monotonic() + 10
                    while not pool._broken and time.monotonic() < deadline:  # type: ignore[attr-defined]
                        time.sleep(0.01)
                yield message

        with pytest.raises(grpc.RpcError) as caught:
            server.stub.IngestRecords(requests(), timeout=60)
        assert killed
        details = error_details(caught.value)
        assert details.code == grpc.StatusCode.UNAVAILABLE
        assert "ingest worker" in details.message
        with server.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(records)).scalar_one() == 1
            keyed = current_keys(server.engine.dialect.name).subquery()
            assert conn.execute(sa.select(sa.func.count()).select_from(keyed)).scalar_one() == 1
        # The pool is started again: the same stream goes through.
        response = server.stub.IngestRecords(_stream(rows), timeout=60)
        assert (response.accepted, response.rejected) == (600, 0)
        assert not set(killed) & set(_worker_pids())


def test_workers_end_when_the_server_process_is_killed(tmp_path: Path) -> None:
    """A server killed with SIGKILL tells its workers nothing: they notice their parent is gone."""
    script = (
        "import time\n"
        "from registry_service import ingest_workers as w\n"
        "from registry_service.domain.catalog import load_catalog\n"
        "workers = w.IngestWorkers(1, load_catalog(), 1.0)\n"
        "pool = w._POOLS.get(1)\n"
        "print(pool.submit(w._ready).result(timeout=60), flush=True)\n"
        "time.sleep(600)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        worker = int(server.stdout.readline())
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker)
    finally:
        server.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
