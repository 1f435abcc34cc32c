"""Who may write what, over gRPC with real tokens: a data provider writes only the categories its source
meters or collects, and SELF_REPORTED / THIRD_PARTY_VERIFIED only for the enterprises granted on the
token. Out-of-scope rows are REJECTED one by one with a PERMISSION_DENIED reason; the rest is kept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
import sqlalchemy as sa
from helpers import DEVELOPMENT, make_uscc

from registry_service.app import create_registry_binding
from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.tables import records
from tanxiao.common.v1 import common_pb2
from tanxiao.platform.auth import TokenStore, create_token
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine
from tanxiao.platform.interceptors import ServerCallInterceptor
from tanxiao.platform.server import RunningServer, start_server
from tanxiao.registry.v1 import registry_pb2 as pb
from tanxiao.registry.v1 import registry_pb2_grpc

OWN, OTHER = make_uscc(31), make_uscc(32)


@dataclass
class Scoped:
    stub: registry_pb2_grpc.CarbonRegistryStub
    engine: sa.Engine
    server: RunningServer

    def token(self, tenant: str, grants: tuple[str, ...] = ()) -> tuple[tuple[str, str], ...]:
        secret, _ = create_token(self.engine, "data_provider", tenant, grants, description="scope test")
        return (("authorization", f"Bearer {secret}"),)


@pytest.fixture
def scoped(db_url: str) -> Iterator[Scoped]:
    settings = Settings.from_env({"TANXIAO_DATABASE_URL": db_url, "TANXIAO_MAX_WORKERS": "4", **DEVELOPMENT})
    engine = make_engine(db_url)
    running = start_server(
        "registry", [create_registry_binding(settings, engine)], "127.0.0.1:0", settings,
        interceptors=[ServerCallInterceptor(TokenStore(engine, ttl_seconds=0.0))],
    )  # fmt: skip
    channel = grpc.insecure_channel(running.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
        EnterpriseRepository(engine).create_many(
            [Enterprise(OWN, "自报企业", "2825", "330502"), Enterprise(OTHER, "他家企业", "2825", "330502")]
        )
        yield Scoped(registry_pb2_grpc.CarbonRegistryStub(channel), engine, running)
    finally:
        channel.close()
        running.stop(None)
        engine.dispose()


def _record(uscc: str, category: str, source: int, month: int, quantity: float = 100.0) -> pb.EnergyRecord:
    period, external_id = f"2024-{month:02d}", f"{uscc}-{category}-{month}"
    return pb.EnergyRecord(
        uscc=uscc, period=period, category=category, quantity=quantity, source=source, external_id=external_id
    )


def _stored(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(records.c.uscc, records.c.category).order_by(records.c.id))
        return [(r.uscc, r.category) for r in rows]


def test_a_grid_utility_may_not_write_coal(scoped: Scoped) -> None:
    """The issue's case: a GRID_UTILITY token wrote 12 months of RAW_COAL = 0 (grade 2 -> 1). Now each
    coal row is rejected naming records[i].category; the electricity rows of the same batch are stored."""
    rows = [_record(OWN, "ELECTRICITY", common_pb2.GRID_UTILITY, m) for m in (1, 2)]
    rows += [_record(OWN, "RAW_COAL", common_pb2.GRID_UTILITY, m, 0.0) for m in (1, 2)]
    response = scoped.stub.BatchIngestRecords(
        pb.BatchIngestRecordsRequest(records=rows), metadata=scoped.token("GRID_UTILITY"), timeout=30
    )
    assert (response.accepted, response.rejected) == (2, 2)
    bad = [r for r in response.results if r.status == pb.REJECTED]
    assert [(r.index, r.field, r.reason_code) for r in bad] == [
        (2, "records[2].category", "OUT_OF_SCOPE_CATEGORY"),
        (3, "records[3].category", "OUT_OF_SCOPE_CATEGORY"),
    ]
    assert bad[0].reason.startswith("PERMISSION_DENIED: a GRID_UTILITY token may not write RAW_COAL")
    assert _stored(scoped.engine) == [(OWN, "ELECTRICITY"), (OWN, "ELECTRICITY")]


def test_a_self_reporting_firm_writes_only_for_itself(scoped: Scoped) -> None:
    """The issue's case: a SELF_REPORTED token added coal to a *different* firm (grade 3 -> 5). With a
    grant for OWN only, the row for OTHER is rejected naming records[1].uscc, without saying more."""
    token = scoped.token("SELF_REPORTED", (f"enterprise:{OWN}",))
    rows = [
        _record(OWN, "RAW_COAL", common_pb2.SELF_REPORTED, 1),
        _record(OTHER, "RAW_COAL", common_pb2.SELF_REPORTED, 1),
    ]
    response = scoped.stub.BatchIngestRecords(
        pb.BatchIngestRecordsRequest(records=rows), metadata=token, timeout=30
    )
    assert (response.accepted, response.rejected) == (1, 1)
    bad = next(r for r in response.results if r.status == pb.REJECTED)
    assert (bad.index, bad.field, bad.reason_code) == (1, "records[1].uscc", "OUT_OF_SCOPE_ENTERPRISE")
    assert _stored(scoped.engine) == [(OWN, "RAW_COAL")]
    ungranted = scoped.token("SELF_REPORTED")
    again = pb.BatchIngestRecordsRequest(records=[_record(OWN, "RAW_COAL", common_pb2.SELF_REPORTED, 2)])
    assert scoped.stub.BatchIngestRecords(again, metadata=ungranted, timeout=30).rejected == 1


def test_the_stream_rejects_out_of_scope_rows_and_keeps_the_rest(scoped: Scoped) -> None:
    def stream() -> Iterator[pb.IngestRecordsRequest]:
        yield pb.IngestRecordsRequest(records=[_record(OWN, "NATURAL_GAS", common_pb2.GAS_UTILITY, 1)])
        yield pb.IngestRecordsRequest(records=[_record(OWN, "ELECTRICITY", common_pb2.GAS_UTILITY, 1)])

    response = scoped.stub.IngestRecords(stream(), metadata=scoped.token("GAS_UTILITY"), timeout=30)
    assert (response.accepted, response.rejected) == (1, 1)
    assert response.results[-1].field == "records[1].category"
    assert _stored(scoped.engine) == [(OWN, "NATURAL_GAS")]
