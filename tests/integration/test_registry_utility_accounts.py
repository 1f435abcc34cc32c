"""Utility accounts over gRPC on SQLite and PostgreSQL: registering, transferring, ingest by account,
the reconciliation report, and data-provider scoping of account-keyed rows."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
import sqlalchemy as sa
from helpers import DEVELOPMENT, Registry, make_uscc

from registry_service.app import create_registry_binding
from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.tables import records
from tanxiao.common.v1 import common_pb2
from tanxiao.platform.auth import TokenStore, create_token
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine
from tanxiao.platform.interceptors import ServerCallInterceptor
from tanxiao.platform.server import start_server
from tanxiao.registry.v1 import registry_pb2 as pb
from tanxiao.registry.v1 import registry_pb2_grpc

A, B, C = make_uscc(41), make_uscc(42), make_uscc(43)
NUMBER = "3300123456"
ACCOUNT = f"utilityAccounts/electricity/{NUMBER}"


@pytest.fixture
def firms(registry: Registry) -> Registry:
    EnterpriseRepository(registry.engine).create_many(
        [Enterprise(u, f"企业{u[-3:]}", "2825", "330502") for u in (A, B, C)]
    )
    return registry


def _create(
    stub: object, number: str, *holdings: tuple[str, str, str], request_id: str = ""
) -> pb.UtilityAccount:
    account = pb.UtilityAccount(
        kind=pb.ELECTRICITY,
        number=number,
        holdings=[
            pb.UtilityAccountHolding(enterprise=f"enterprises/{u}", valid_from=f, valid_to=t)
            for u, f, t in holdings
        ],
    )
    request = pb.CreateUtilityAccountRequest(utility_account=account, request_id=request_id)
    return stub.CreateUtilityAccount(request, timeout=30)  # type: ignore[attr-defined, no-any-return]


def _row(
    month: int, account: str = ACCOUNT, uscc: str = "", quantity: float | None = None
) -> pb.EnergyRecord:
    return pb.EnergyRecord(
        utility_account=account,
        uscc=uscc,
        period=f"2025-{month:02d}",
        category="ELECTRICITY",
        quantity=quantity if quantity is not None else month * 1000.0,  # month m: m x 1,000 kWh
        unit="kWh",
        source=common_pb2.GRID_UTILITY,
        external_id=f"{account}-{month}-{uscc}",
    )


def _stored(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(records.c.uscc, records.c.period).order_by(records.c.period))
        return [(r.uscc, r.period) for r in rows]


def test_an_account_moved_mid_year_splits_the_year_between_its_holders(firms: Registry) -> None:
    """The issue's case: the electricity account moved from A to B on 2025-07-01."""
    stub = firms.stub
    created = _create(stub, NUMBER, (A, "2024-01-01", ""), request_id="create-1")
    assert created.name == ACCOUNT
    again = _create(stub, NUMBER, (A, "2024-01-01", ""), request_id="create-1")  # a retry: same answer
    assert again == created
    moved = stub.TransferUtilityAccount(
        pb.TransferUtilityAccountRequest(
            name=ACCOUNT, to_enterprise=f"enterprises/{B}", effective_date="2025-07-01", request_id="move-1"
        ),
        timeout=30,
    )
    assert [(h.enterprise, h.valid_from, h.valid_to) for h in moved.holdings] == [
        (f"enterprises/{A}", "2024-01-01", "2025-07-01"),
        (f"enterprises/{B}", "2025-07-01", ""),
    ]
    response = stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=[_row(m) for m in range(1, 13)]))
    assert (response.accepted, response.rejected) == (12, 0)
    stored = dict((period, uscc) for uscc, period in _stored(firms.engine))
    assert stored["2025-03"] == A and stored["2025-09"] == B
    assert [stored[f"2025-{m:02d}"] for m in range(1, 13)] == [A] * 6 + [B] * 6

    # A: 1+2+3+4+5+6 = 21 thousand kWh = 21 MWh; B: 7+8+9+10+11+12 = 57 MWh. Scope 2 = MWh x grid factor.
    for uscc, mwh in ((A, 21.0), (B, 57.0)):
        profile = stub.GetCarbonProfile(pb.GetCarbonProfileRequest(name=f"enterprises/{uscc}/profiles/2025"))
        assert profile.record_count == 6
        assert profile.grid_factor > 0
        assert profile.scope2_gross_tco2 == pytest.approx(mwh * profile.grid_factor)

    listed = stub.ListUtilityAccounts(pb.ListUtilityAccountsRequest(enterprise=f"enterprises/{A}"))
    assert [a.name for a in listed.utility_accounts] == [ACCOUNT]  # A held it once: still listed
    assert not stub.ListUtilityAccounts(
        pb.ListUtilityAccountsRequest(enterprise=f"enterprises/{C}")
    ).utility_accounts


def test_an_unknown_account_is_rejected_per_row_and_reported_unmatched(firms: Registry) -> None:
    _create(firms.stub, NUMBER, (A, "2024-01-01", ""))
    unknown = "utilityAccounts/electricity/9999"
    rows = [_row(3), _row(4, account=unknown), _row(5, account=unknown), _row(6, uscc=B, account="")]
    response = firms.stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=rows))
    assert (response.accepted, response.rejected) == (2, 2)
    bad = [(r.index, r.field, r.reason_code) for r in response.results if r.status == pb.REJECTED]
    assert bad == [
        (1, "records[1].utility_account", "UNKNOWN_UTILITY_ACCOUNT"),
        (2, "records[2].utility_account", "UNKNOWN_UTILITY_ACCOUNT"),
    ]
    assert _stored(firms.engine) == [(A, "2025-03"), (B, "2025-06")]
    report = firms.stub.GetUtilityAccountReconciliation(pb.GetUtilityAccountReconciliationRequest())
    assert [(s.utility_account, s.first_period, s.last_period, s.row_count) for s in report.unmatched] == [
        (unknown, "2025-04", "2025-05", 2)
    ]
    assert not report.ambiguous and not report.conflicting


def test_overlapping_validity_is_ambiguous_and_a_disagreeing_uscc_conflicts(firms: Registry) -> None:
    # Verification said A until 2025-10-01 and B from 2025-07-01: July-September are claimed twice.
    _create(firms.stub, NUMBER, (A, "2025-01-01", "2025-10-01"), (B, "2025-07-01", ""))
    rows = [_row(5), _row(8), _row(11), _row(5, uscc=C)]
    response = firms.stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=rows))
    bad = [(r.index, r.field, r.reason_code) for r in response.results if r.status == pb.REJECTED]
    assert bad == [
        (1, "records[1].utility_account", "AMBIGUOUS_UTILITY_ACCOUNT"),
        (3, "records[3].utility_account", "UTILITY_ACCOUNT_CONFLICT"),
    ]
    assert _stored(firms.engine) == [(A, "2025-05"), (B, "2025-11")]
    report = firms.stub.GetUtilityAccountReconciliation(pb.GetUtilityAccountReconciliationRequest())
    assert [(a.utility_account.name, a.overlap_from, a.overlap_to) for a in report.ambiguous] == [
        (ACCOUNT, "2025-07-01", "2025-10-01")
    ]
    assert [(s.utility_account, s.first_period, s.row_count) for s in report.ambiguous_sightings] == [
        (ACCOUNT, "2025-08", 1)
    ]
    assert [(s.claimed_enterprise, s.holder_enterprise) for s in report.conflicting] == [
        (f"enterprises/{C}", f"enterprises/{A}")
    ]


def test_bad_account_requests_name_the_field(firms: Registry) -> None:
    stub = firms.stub
    cases = [
        (lambda: _create(stub, "33 00", (A, "2024-01-01", "")), "utility_account.number"),
        (lambda: _create(stub, NUMBER), "utility_account.holdings"),
        (lambda: _create(stub, NUMBER, (A, "2024-13-01", "")), "utility_account.holdings[0].valid_from"),
        (
            lambda: _create(stub, NUMBER, (A, "2024-07-01", "2024-07-01")),
            "utility_account.holdings[0].valid_to",
        ),
        (
            lambda: _create(stub, NUMBER, (make_uscc(99), "2024-07-01", "")),
            "utility_account.holdings[0].enterprise",
        ),
    ]
    for call, field in cases:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in (caught.value.details() or ""), field
    _create(stub, NUMBER, (A, "2024-01-01", ""))
    with pytest.raises(grpc.RpcError) as exists:
        _create(stub, NUMBER, (B, "2024-01-01", ""))
    assert exists.value.code() == grpc.StatusCode.ALREADY_EXISTS
    transfer = pb.TransferUtilityAccountRequest(
        name=ACCOUNT, to_enterprise=f"enterprises/{A}", effective_date="2025-07-01"
    )
    with pytest.raises(grpc.RpcError) as refused:
        stub.TransferUtilityAccount(transfer)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as missing:
        stub.TransferUtilityAccount(
            pb.TransferUtilityAccountRequest(
                name="utilityAccounts/gas/1", to_enterprise=f"enterprises/{B}", effective_date="2025-07-01"
            )
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert _stored(firms.engine) == []


@pytest.fixture
def authenticated(db_url: str) -> Iterator[Registry]:
    """The registry with token authentication (as tests/integration/test_registry_provider_scope.py)."""
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
            [Enterprise(u, f"企业{u[-3:]}", "2825", "330502") for u in (A, B)]
        )
        yield Registry(
            registry_pb2_grpc.CarbonRegistryStub(channel), channel, engine, db_url, running, settings
        )
    finally:
        channel.close()
        running.stop(None)
        engine.dispose()


def _bearer(
    engine: sa.Engine, role: str, tenant: str, grants: tuple[str, ...] = ()
) -> tuple[tuple[str, str]]:
    secret, _ = create_token(engine, role, tenant, grants, description="utility account test")
    return (("authorization", f"Bearer {secret}"),)


def test_an_account_keyed_row_is_scoped_to_the_resolved_enterprise(authenticated: Registry) -> None:
    """A SELF_REPORTED provider granted only A may not write through an account that B holds in September."""
    stub, engine = authenticated.stub, authenticated.engine
    account = pb.UtilityAccount(
        kind=pb.ELECTRICITY,
        number=NUMBER,
        holdings=[
            pb.UtilityAccountHolding(
                enterprise=f"enterprises/{A}", valid_from="2024-01-01", valid_to="2025-07-01"
            ),
            pb.UtilityAccountHolding(enterprise=f"enterprises/{B}", valid_from="2025-07-01"),
        ],
    )
    create = pb.CreateUtilityAccountRequest(utility_account=account)
    with pytest.raises(grpc.RpcError) as denied:  # a data provider may not register accounts
        stub.CreateUtilityAccount(
            create, metadata=_bearer(engine, "data_provider", "GRID_UTILITY"), timeout=30
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    stub.CreateUtilityAccount(create, metadata=_bearer(engine, "admin", ""), timeout=30)
    rows = [_row(3), _row(9)]
    for row in rows:
        row.source = common_pb2.SELF_REPORTED
    token = _bearer(engine, "data_provider", "SELF_REPORTED", (f"enterprise:{A}",))
    response = stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=rows), metadata=token, timeout=30)
    bad = [(r.index, r.reason_code) for r in response.results if r.status == pb.REJECTED]
    assert bad == [(1, "OUT_OF_SCOPE_ENTERPRISE")]
    assert _stored(engine) == [(A, "2025-03")]


def test_accounts_page_in_name_order_and_filter_by_kind(firms: Registry) -> None:
    stub = firms.stub
    for number in ("1003", "1001", "1002"):
        _create(stub, number, (A, "2024-01-01", ""))
    gas = pb.UtilityAccount(kind=pb.GAS, number="G1", holdings=[pb.UtilityAccountHolding(
        enterprise=f"enterprises/{B}", valid_from="2024-01-01")])  # fmt: skip
    stub.CreateUtilityAccount(pb.CreateUtilityAccountRequest(utility_account=gas))
    first = stub.ListUtilityAccounts(pb.ListUtilityAccountsRequest(page_size=2, kind=pb.ELECTRICITY))
    assert [a.number for a in first.utility_accounts] == ["1001", "1002"] and first.next_page_token
    rest = stub.ListUtilityAccounts(
        pb.ListUtilityAccountsRequest(page_size=2, kind=pb.ELECTRICITY, page_token=first.next_page_token)
    )
    assert [a.number for a in rest.utility_accounts] == ["1003"] and not rest.next_page_token
    of_b = stub.ListUtilityAccounts(pb.ListUtilityAccountsRequest(enterprise=f"enterprises/{B}"))
    assert [(a.name, a.kind) for a in of_b.utility_accounts] == [("utilityAccounts/gas/G1", pb.GAS)]


def test_a_late_transfer_moves_resent_months_and_both_profiles_follow(firms: Registry) -> None:
    """The utility reports the 2025-07-01 move late: September was first attributed to A. Re-sent after
    the transfer (same source and external_id), it is a correction that moves to B, and A's profile
    loses it (the enterprise a corrected record left is re-profiled too)."""
    stub = firms.stub
    _create(stub, NUMBER, (A, "2024-01-01", ""))
    stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=[_row(3), _row(9)]))
    name_a = f"enterprises/{A}/profiles/2025"
    before = stub.GetCarbonProfile(pb.GetCarbonProfileRequest(name=name_a))
    # 3,000 + 9,000 kWh = 12 MWh at A.
    assert before.scope2_gross_tco2 == pytest.approx(12.0 * before.grid_factor)
    stub.TransferUtilityAccount(
        pb.TransferUtilityAccountRequest(
            name=ACCOUNT, to_enterprise=f"enterprises/{B}", effective_date="2025-07-01"
        )
    )
    again = stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=[_row(3), _row(9)]))
    assert (again.duplicates, again.revised) == (1, 1)
    after_a = stub.GetCarbonProfile(pb.GetCarbonProfileRequest(name=name_a))
    after_b = stub.GetCarbonProfile(pb.GetCarbonProfileRequest(name=f"enterprises/{B}/profiles/2025"))
    assert after_a.scope2_gross_tco2 == pytest.approx(3.0 * after_a.grid_factor)  # March only: 3 MWh
    assert after_b.scope2_gross_tco2 == pytest.approx(9.0 * after_b.grid_factor)  # September: 9 MWh
