"""Record ingest over gRPC: idempotency, corrections, mixed batches, units, streams, limits, races."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import grpc
import pandas as pd
import pytest
import sqlalchemy as sa
from helpers import Registry, energy_record, error_details, make_uscc

from registry_service.domain.catalog import load_catalog
from registry_service.domain.enterprise import Enterprise
from registry_service.ingest import Ingestor
from registry_service.storage.catalog import ensure_catalog
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.records import RecordRepository
from registry_service.storage.tables import data_categories, ingest_batches, records
from tanxiao.common.v1 import common_pb2
from tanxiao.errors import FailedPrecondition
from tanxiao.platform.db import make_engine
from tanxiao.registry.v1 import registry_pb2

pb = registry_pb2
GRID, SELF, GAS = common_pb2.GRID_UTILITY, common_pb2.SELF_REPORTED, common_pb2.GAS_UTILITY
E1, E2, UNREGISTERED = make_uscc(1), make_uscc(2), make_uscc(99)


@pytest.fixture
def enterprises(registry: Registry) -> Registry:
    EnterpriseRepository(registry.engine).create_many(
        [Enterprise(E1, "甲化纤", "2825", "330502"), Enterprise(E2, "乙纺织", "1710", "330503")]
    )
    return registry


def _batch(
    registry: Registry, rows: list[registry_pb2.EnergyRecord], request_id: str = ""
) -> pb.IngestRecordsResponse:
    request = pb.BatchIngestRecordsRequest(records=rows, request_id=request_id)
    return registry.stub.BatchIngestRecords(request, timeout=30)


def _statuses(response: pb.IngestRecordsResponse) -> list[tuple[int, str, int]]:
    return [(r.index, pb.RecordStatus.Name(r.status), r.revision) for r in response.results]


def _count(engine: sa.Engine, table: sa.Table = records) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _list(registry: Registry, uscc: str = E1, **filters: object) -> list[registry_pb2.StoredRecord]:
    request = pb.ListRecordsRequest(parent=f"enterprises/{uscc}", page_size=1000, **filters)
    return list(registry.stub.ListRecords(request, timeout=10).records)


def test_units_are_converted_with_the_catalog(enterprises: Registry) -> None:
    rows = [
        energy_record("e-mwh", 1.5, unit="MWh"),
        energy_record("e-kwh", 250.0),
        energy_record("gas", 2.0, category="NATURAL_GAS", unit="万m3", source=GAS),
        energy_record("coal", 3.0, category="RAW_COAL", unit="t", source=SELF),
    ]
    response = _batch(enterprises, rows)
    assert response.accepted == 4 and _statuses(response) == [(i, "ACCEPTED", 1) for i in range(4)]
    stored = {r.record.external_id: r for r in _list(enterprises)}
    assert (stored["e-mwh"].canonical_quantity, stored["e-mwh"].canonical_unit) == (1500.0, "kWh")
    assert (stored["e-mwh"].record.quantity, stored["e-mwh"].record.unit) == (1.5, "MWh")  # as sent
    assert (stored["e-kwh"].canonical_quantity, stored["e-kwh"].canonical_unit) == (250.0, "kWh")
    assert (stored["gas"].canonical_quantity, stored["gas"].canonical_unit) == (20000.0, "m3")
    assert (stored["coal"].canonical_quantity, stored["coal"].canonical_unit) == (3000.0, "kg")
    assert all(r.current and r.revision == 1 for r in stored.values())
    assert stored["e-mwh"].name.startswith(f"enterprises/{E1}/records/")


def test_replaying_a_batch_stores_nothing_new(enterprises: Registry) -> None:
    rows = [energy_record(f"m-{i}", 10.0 + i, period=f"2024-{i + 1:02d}") for i in range(6)]
    first = _batch(enterprises, rows)
    again = _batch(enterprises, rows)
    assert first.accepted == 6 and again.accepted == 0 and again.duplicates == 6
    assert _statuses(again) == [(i, "DUPLICATE", 1) for i in range(6)]
    assert _count(enterprises.engine) == 6


def test_mixed_batch_stores_good_rows_and_explains_bad_ones(enterprises: Registry) -> None:
    rows = [
        energy_record("ok-0"),
        energy_record("bad-1", uscc=UNREGISTERED),
        energy_record("bad-2", -5.0),
        energy_record("bad-3", category="UNOBTAINIUM"),
        energy_record("bad-4", period="2999-01"),
        energy_record("bad-5", unit="m3"),
        energy_record("ok-6", uscc=E2.lower(), period="2024-04"),
        energy_record("bad-7", period="2024-13"),
        energy_record("bad-8", float("nan")),
        energy_record("bad-9", uscc="91110000600037341N"),
        energy_record(""),
        energy_record("bad-11", source=common_pb2.DATA_SOURCE_UNSPECIFIED),
        energy_record("x" * 129),
        energy_record("bad-13", float("inf")),
    ]
    response = _batch(enterprises, rows)
    assert (response.received, response.accepted, response.rejected) == (14, 2, 12)
    rejected = {r.index: (r.field, r.reason_code) for r in response.results if r.status == pb.REJECTED}
    assert rejected == {
        1: ("records[1].uscc", "UNKNOWN_ENTERPRISE"),
        2: ("records[2].quantity", "NEGATIVE_QUANTITY"),
        3: ("records[3].category", "UNKNOWN_CATEGORY"),
        4: ("records[4].period", "FUTURE_PERIOD"),
        5: ("records[5].unit", "UNIT_MISMATCH"),
        7: ("records[7].period", "BAD_PERIOD"),
        8: ("records[8].quantity", "NON_FINITE_QUANTITY"),
        9: ("records[9].uscc", "INVALID_USCC"),
        10: ("records[10].external_id", "MISSING_EXTERNAL_ID"),
        11: ("records[11].source", "UNKNOWN_SOURCE"),
        12: ("records[12].external_id", "EXTERNAL_ID_TOO_LONG"),
        13: ("records[13].quantity", "NON_FINITE_QUANTITY"),
    }
    assert all(r.reason for r in response.results if r.status == pb.REJECTED)
    accepted = [r.index for r in response.results if r.status == pb.ACCEPTED]
    assert accepted == [0, 6]
    assert _count(enterprises.engine) == 2
    assert [r.record.external_id for r in _list(enterprises, E2)] == ["ok-6"]


def test_a_correction_is_a_new_revision_and_history_is_kept(enterprises: Registry) -> None:
    _batch(enterprises, [energy_record("meter-1", 100.0)])
    corrected = _batch(enterprises, [energy_record("meter-1", 120.0)])
    assert _statuses(corrected) == [(0, "REVISED", 2)]
    current = _list(enterprises)
    assert [(r.revision, r.record.quantity, r.current) for r in current] == [(2, 120.0, True)]
    history = _list(enterprises, include_history=True)
    assert sorted((r.revision, r.record.quantity, r.current) for r in history) == [
        (1, 100.0, False),
        (2, 120.0, True),
    ]
    assert _statuses(_batch(enterprises, [energy_record("meter-1", 120.0)])) == [(0, "DUPLICATE", 2)]


def test_one_key_twice_in_a_batch_is_applied_in_order(enterprises: Registry) -> None:
    rows = [
        energy_record("k", 1.0),
        energy_record("k", 1.0),
        energy_record("k", 2.0),
        energy_record("k", 1.0),
    ]
    response = _batch(enterprises, rows)
    assert _statuses(response) == [
        (0, "ACCEPTED", 1),
        (1, "DUPLICATE", 1),
        (2, "REVISED", 2),
        (3, "REVISED", 3),
    ]
    history = _list(enterprises, include_history=True)
    assert sorted((r.revision, r.record.quantity, r.current) for r in history) == [
        (1, 1.0, False),
        (2, 2.0, False),
        (3, 1.0, True),
    ]


def test_source_precedence_marks_the_effective_record(enterprises: Registry) -> None:
    _batch(
        enterprises, [energy_record("self-1", 90.0, source=SELF), energy_record("grid-1", 100.0, source=GRID)]
    )
    _batch(enterprises, [energy_record("self-2", 5.0, source=SELF, period="2024-04")])
    listed = {r.record.external_id: r for r in _list(enterprises)}
    assert listed["grid-1"].effective and not listed["self-1"].effective  # both kept, one used
    assert listed["self-2"].effective  # the only source for its month
    frame = RecordRepository(enterprises.engine).records_for(E1, "2024-03", "2024-03")
    assert sorted(frame.loc[frame["effective"], "external_id"]) == ["grid-1"]
    assert set(frame["source"]) == {"GRID_UTILITY", "SELF_REPORTED"}


def test_list_records_filters_and_pages(enterprises: Registry) -> None:
    rows = [energy_record(f"r{i}", float(i), period=f"2024-{1 + i % 3:02d}") for i in range(7)]
    rows.append(energy_record("gas", 1.0, category="NATURAL_GAS", source=GAS))
    _batch(enterprises, rows)
    assert {r.record.period for r in _list(enterprises, period="2024-02")} == {"2024-02"}
    assert [r.record.external_id for r in _list(enterprises, category="NATURAL_GAS")] == ["gas"]
    seen, token = [], ""
    while True:
        request = pb.ListRecordsRequest(parent=f"enterprises/{E1}", page_size=3, page_token=token)
        page = enterprises.stub.ListRecords(request, timeout=10)
        seen += [r.record.external_id for r in page.records]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(r.external_id for r in rows) and len(seen) == len(set(seen)) == 8


def test_list_records_arguments(enterprises: Registry) -> None:
    with pytest.raises(grpc.RpcError) as excinfo:
        _list(enterprises, UNREGISTERED)
    assert excinfo.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as excinfo:
        _list(enterprises, period="2024-3")
    assert error_details(excinfo.value).fields == ["period"]
    with pytest.raises(grpc.RpcError) as excinfo:
        enterprises.stub.ListRecords(pb.ListRecordsRequest(parent="enterprise/x"), timeout=10)
    assert error_details(excinfo.value).fields == ["parent"]


def _chunks(count: int, size: int, bad_at: int = -1) -> Iterator[pb.IngestRecordsRequest]:
    for start in range(0, count, size):
        rows = [
            energy_record(
                f"s-{i}", -1.0 if i == bad_at else float(i), period=f"{2001 + i // 12}-{1 + i % 12:02d}"
            )
            for i in range(start, min(start + size, count))
        ]
        yield pb.IngestRecordsRequest(records=rows, include_accepted_results=start == 0)


def test_stream_commits_every_chunk_with_indexes_across_the_stream(enterprises: Registry) -> None:
    response = enterprises.stub.IngestRecords(_chunks(250, 100, bad_at=137), timeout=30)
    assert (response.received, response.accepted, response.rejected) == (250, 249, 1)
    rejected = [(r.index, r.field) for r in response.results if r.status == pb.REJECTED]
    assert rejected == [(137, "records[137].quantity")]
    assert len(response.results) == 250  # include_accepted_results from the first message
    assert _count(enterprises.engine) == 249 and _count(enterprises.engine, ingest_batches) == 1


def test_a_cancelled_stream_stores_nothing(enterprises: Registry) -> None:
    def broken_client() -> Iterator[pb.IngestRecordsRequest]:
        chunks = _chunks(300, 100)
        yield next(chunks)
        yield next(chunks)
        raise ConnectionError("client crashed mid-stream")

    with pytest.raises(grpc.RpcError) as excinfo:
        enterprises.stub.IngestRecords(broken_client(), timeout=30)
    # grpc reports a failing request iterator as UNKNOWN on the client and cancels the call on the server
    assert excinfo.value.code() in {grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN}
    time.sleep(0.3)  # let the server finish with the cancelled call before looking
    assert _count(enterprises.engine) == 0 and _count(enterprises.engine, ingest_batches) == 0


def test_an_exception_inside_a_stream_block_stores_nothing(enterprises: Registry) -> None:
    ingestor = Ingestor(enterprises.engine)
    frame = pd.DataFrame(
        [
            {
                "uscc": E1,
                "period": "2024-01",
                "category": "ELECTRICITY",
                "quantity": 1.0,
                "unit": "",
                "source": "GRID_UTILITY",
                "external_id": "x",
            }
        ]
    )
    with pytest.raises(RuntimeError), ingestor.stream() as stream:
        stream.add(frame)
        raise RuntimeError("crash before the end of the stream")
    assert _count(enterprises.engine) == 0


def test_limits_are_resource_exhausted(enterprises: Registry) -> None:
    too_many = [energy_record(f"b-{i}") for i in range(enterprises.settings.max_batch_records + 1)]
    with pytest.raises(grpc.RpcError) as excinfo:
        _batch(enterprises, too_many)
    details = error_details(excinfo.value)
    assert details.code == grpc.StatusCode.RESOURCE_EXHAUSTED and details.fields == ["records"]
    stream = _chunks(enterprises.settings.max_stream_records + 1, 500)
    with pytest.raises(grpc.RpcError) as excinfo:
        enterprises.stub.IngestRecords(stream, timeout=30)
    details = error_details(excinfo.value)
    assert details.code == grpc.StatusCode.RESOURCE_EXHAUSTED and details.fields == ["records"]
    assert _count(enterprises.engine) == 0


def test_batch_request_id_replays_the_first_response(enterprises: Registry) -> None:
    rows = [energy_record("a"), energy_record("b", uscc=UNREGISTERED)]
    first = _batch(enterprises, rows, request_id="batch-1")
    assert _batch(enterprises, rows, request_id="batch-1") == first  # not "DUPLICATE": the same answer
    assert _statuses(first) == [(0, "ACCEPTED", 1), (1, "REJECTED", 0)]
    assert _count(enterprises.engine, ingest_batches) == 1


def test_concurrent_ingests_of_the_same_keys_lose_nothing(enterprises: Registry) -> None:
    """Two writers, same 200 keys, different content: every key ends with revisions 1 and 2, one current."""
    keys = [f"race-{i}" for i in range(200)]

    def frame(quantity: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "uscc": E1,
                "period": "2024-05",
                "category": "ELECTRICITY",
                "quantity": quantity,
                "unit": "",
                "source": "GRID_UTILITY",
                "external_id": keys,
            }
        )

    engines = [make_engine(enterprises.url) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def ingest(engine: sa.Engine, quantity: float) -> None:
        ingestor = Ingestor(engine)
        staged = frame(quantity)
        barrier.wait()
        try:
            ingestor.ingest_frame(staged)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(e, q)) for e, q in zip(engines, (1.0, 2.0), strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    assert errors == []
    with enterprises.engine.connect() as connection:
        per_key = connection.execute(
            sa.select(
                records.c.external_id,
                sa.func.count(),
                sa.func.sum(sa.case((records.c.is_current, 1), else_=0)),
                sa.func.max(records.c.revision),
            ).group_by(records.c.external_id)
        ).all()
    assert len(per_key) == 200
    assert {(count, current, top) for _, count, current, top in per_key} == {(2, 1, 2)}


def test_the_catalog_is_served_from_the_database(registry: Registry) -> None:
    catalog = load_catalog()
    response = registry.stub.ListDataCategories(pb.ListDataCategoriesRequest(), timeout=10)
    assert (response.catalog_version, response.catalog_hash) == (str(catalog.version), catalog.content_hash)
    by_code = {c.code: c for c in response.categories}
    assert [c.code for c in response.categories] == [c.code for c in catalog.categories]
    electricity = by_code["ELECTRICITY"]
    assert electricity.unit == "kWh" and electricity.uses_grid_factor
    assert {u.unit: u.multiplier for u in electricity.accepted_units}["MWh"] == 1000.0
    assert response.grid_factors and all(f.tco2_per_mwh > 0 for f in response.grid_factors)
    same = registry.stub.ListDataCategories(
        pb.ListDataCategoriesRequest(catalog_version=str(catalog.version)), timeout=10
    )
    assert same == response
    with pytest.raises(grpc.RpcError) as excinfo:
        registry.stub.ListDataCategories(pb.ListDataCategoriesRequest(catalog_version="1900.1"), timeout=10)
    assert excinfo.value.code() == grpc.StatusCode.NOT_FOUND


def test_loading_the_catalog_is_idempotent_and_a_version_is_immutable(registry: Registry) -> None:
    catalog = load_catalog()
    assert ensure_catalog(registry.engine, catalog) is False  # loaded at start-up already
    altered = replace(catalog, content_hash="0" * 64)
    with pytest.raises(FailedPrecondition):
        ensure_catalog(registry.engine, altered)
    assert _count(registry.engine, data_categories) == len(catalog.categories)


def test_a_1e308_row_is_rejected_the_rest_kept_and_db_check_finds_old_ones(enterprises: Registry) -> None:
    """1e308 MWh is finite but 1e311 kWh is not: it used to be stored as Infinity (zero emissions in the
    profile, grade 5). Now it is rejected on records[1].quantity and the other rows are stored."""
    rows = [
        energy_record("ok-1", 1_000.0),
        energy_record("huge", 1e308, unit="MWh"),
        energy_record("ok-2", 2_000.0, period="2024-04"),
    ]
    response = _batch(enterprises, rows)
    assert _statuses(response) == [(0, "ACCEPTED", 1), (1, "REJECTED", 0), (2, "ACCEPTED", 1)]
    bad = response.results[1]
    assert (bad.field, bad.reason_code) == ("records[1].quantity", "OVERFLOW_AFTER_CONVERSION")
    assert _count(enterprises.engine) == 2
    from registry_service.storage.checks import check_stored_values

    assert check_stored_values(enterprises.engine) == []
    with enterprises.engine.begin() as conn:  # a row stored before the check existed
        conn.execute(
            records.update().where(records.c.external_id == "ok-2").values(canonical_quantity=float("inf"))
        )
    found = check_stored_values(enterprises.engine)
    assert [(b.table, b.problem, b.column) for b in found] == [
        ("records", "NON_FINITE", "canonical_quantity")
    ]
    assert "GRID_UTILITY/ok-2" in found[0].key
