"""Bearer tokens end to end: the registry served with the authenticating interceptor, on SQLite and
PostgreSQL. Tokens are stored hashed; callers without a valid token are UNAUTHENTICATED; what the rules
deny is PERMISSION_DENIED with the denial's reason; denials are logged with the token id, never the
secret; health checking needs no token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers import DEVELOPMENT, error_details, make_uscc

from registry_service.app import create_registry_binding
from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.tables import records
from tanxiao.common.v1 import common_pb2
from tanxiao.platform import auth, interceptors
from tanxiao.platform.auth import TokenStore, api_tokens, create_token, revoke_token
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine
from tanxiao.platform.interceptors import ServerCallInterceptor
from tanxiao.platform.server import RunningServer, ServiceBinding, start_server
from tanxiao.registry.v1 import registry_pb2, registry_pb2_grpc

pb = registry_pb2
E1 = make_uscc(1)
ENTERPRISE = f"enterprises/{E1}"


@dataclass
class Secured:
    stub: registry_pb2_grpc.CarbonRegistryStub
    channel: grpc.Channel
    engine: sa.Engine
    server: RunningServer

    def token(self, role: str, tenant: str = "", grants: tuple[str, ...] = ()) -> str:
        secret, _principal = create_token(self.engine, role, tenant, grants, description="test")
        return secret


@pytest.fixture
def secured(db_url: str) -> Iterator[Secured]:
    """The registry with authentication on. The authenticating interceptor is passed explicitly (the
    settings keep start_server's own interceptor unauthenticated), so this tests exactly it."""
    settings = Settings.from_env({"TANXIAO_DATABASE_URL": db_url, "TANXIAO_MAX_WORKERS": "4", **DEVELOPMENT})
    engine = make_engine(db_url)
    binding = create_registry_binding(settings, engine)
    store = TokenStore(engine, ttl_seconds=0.0)
    running = start_server(
        "registry", [binding], "127.0.0.1:0", settings, interceptors=[ServerCallInterceptor(store)]
    )
    channel = grpc.insecure_channel(running.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
        EnterpriseRepository(engine).create_many([Enterprise(E1, "甲化纤", "2825", "330502")])
        yield Secured(registry_pb2_grpc.CarbonRegistryStub(channel), channel, engine, running)
    finally:
        channel.close()
        running.stop(None)
        engine.dispose()


def _bearer(secret: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {secret}"), ("x-request-id", "req-auth-1"))


def _fails(call: Any, request: Any, metadata: tuple[tuple[str, str], ...] = ()) -> Any:
    with pytest.raises(grpc.RpcError) as excinfo:
        call(request, metadata=metadata, timeout=10)
    return error_details(excinfo.value)


def _record(external_id: str, source: int = common_pb2.GRID_UTILITY) -> pb.EnergyRecord:
    return pb.EnergyRecord(
        uscc=E1,
        period="2024-03",
        category="ELECTRICITY",
        quantity=1.0,
        source=source,
        external_id=external_id,
    )


def _count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(records)).scalar_one())


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Log entries of the rpc logger (a fresh logger, so one cached by an earlier configure is bypassed)."""
    with structlog.testing.capture_logs() as logs:
        monkeypatch.setattr(interceptors, "log", structlog.get_logger("tanxiao.rpc"))
        yield logs


def test_tokens_are_stored_hashed(secured: Secured) -> None:
    secret, principal = create_token(secured.engine, "lender", "lenders/huzhou-bank", description="ops")
    assert secret.startswith(f"tx_{principal.token_id}_") and len(secret) == 3 + 16 + 1 + 32
    with secured.engine.connect() as connection:
        row = connection.execute(
            sa.select(api_tokens).where(api_tokens.c.token_id == principal.token_id)
        ).one()
    assert row.token_hash == auth.token_hash(secret) and secret not in [str(v) for v in row]
    assert (row.role, row.tenant, row.revoke_time) == ("lender", "lenders/huzhou-bank", None)
    assert TokenStore(secured.engine).principal(secret) == principal
    assert TokenStore(secured.engine).principal(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None


def test_no_token_is_unauthenticated(secured: Secured) -> None:
    error = _fails(secured.stub.ListDataCategories, pb.ListDataCategoriesRequest())
    assert error.code == grpc.StatusCode.UNAUTHENTICATED and error.reason == "TOKEN_MISSING"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer tx_0123456789abcdef_" + "A" * 32,  # well-formed, unknown
        "Bearer not-a-token",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
)
def test_a_wrong_token_is_unauthenticated(secured: Secured, header: str) -> None:
    error = _fails(
        secured.stub.ListDataCategories, pb.ListDataCategoriesRequest(), (("authorization", header),)
    )
    assert error.code == grpc.StatusCode.UNAUTHENTICATED and error.reason == "TOKEN_INVALID"


def test_a_revoked_token_is_unauthenticated(secured: Secured) -> None:
    secret = secured.token("service")
    request = pb.ListDataCategoriesRequest()
    assert secured.stub.ListDataCategories(request, metadata=_bearer(secret), timeout=10).categories
    assert revoke_token(secured.engine, auth.token_id_of(secret) or "")
    assert not revoke_token(secured.engine, auth.token_id_of(secret) or "")
    error = _fails(secured.stub.ListDataCategories, request, _bearer(secret))
    assert error.code == grpc.StatusCode.UNAUTHENTICATED


def test_health_needs_no_token(secured: Secured) -> None:
    health = health_pb2_grpc.HealthStub(secured.channel)
    response = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_a_data_provider_ingests_its_own_source_only(secured: Secured) -> None:
    grid = secured.token("data_provider", "GRID_UTILITY")
    ok = pb.BatchIngestRecordsRequest(records=[_record("g-1")])
    assert secured.stub.BatchIngestRecords(ok, metadata=_bearer(grid), timeout=10).accepted == 1

    mixed = pb.BatchIngestRecordsRequest(records=[_record("g-2"), _record("gas-7", common_pb2.GAS_UTILITY)])
    error = _fails(secured.stub.BatchIngestRecords, mixed, _bearer(grid))
    assert error.code == grpc.StatusCode.PERMISSION_DENIED and error.reason == "OTHER_SOURCE"
    assert "records[1]" in error.message and "gas-7" in error.message and "GAS_UTILITY" in error.message
    assert error.metadata["field"] == "records[1].source"
    assert error.metadata["request_id"] == "req-auth-1"
    assert _count(secured.engine) == 1  # nothing of the denied batch


def test_a_denied_stream_message_stops_the_stream_and_stores_nothing(secured: Secured) -> None:
    grid = secured.token("data_provider", "GRID_UTILITY")

    def stream() -> Iterator[pb.IngestRecordsRequest]:
        yield pb.IngestRecordsRequest(records=[_record("s-1"), _record("s-2")])
        yield pb.IngestRecordsRequest(records=[_record("s-3"), _record("gas-1", common_pb2.GAS_UTILITY)])
        yield pb.IngestRecordsRequest(records=[_record("s-4")])

    error = _fails(secured.stub.IngestRecords, stream(), _bearer(grid))
    assert error.code == grpc.StatusCode.PERMISSION_DENIED and error.reason == "OTHER_SOURCE"
    assert error.message.startswith("stream message 1: records[1]")
    time.sleep(0.2)
    assert _count(secured.engine) == 0  # a stream is all or nothing


def test_a_lender_may_not_touch_the_registry(secured: Secured) -> None:
    lender = secured.token("lender", "lenders/huzhou-bank")
    error = _fails(secured.stub.GetEnterprise, pb.GetEnterpriseRequest(name=ENTERPRISE), _bearer(lender))
    assert error.code == grpc.StatusCode.PERMISSION_DENIED and error.reason == "ROLE_NOT_ALLOWED"
    error = _fails(secured.stub.BatchIngestRecords, pb.BatchIngestRecordsRequest(), _bearer(lender))
    assert error.reason == "ROLE_NOT_ALLOWED"


def test_a_regulator_reads_enterprises_only_with_the_grant(secured: Secured) -> None:
    plain = secured.token("regulator")
    granted = secured.token("regulator", grants=(auth.ENTERPRISE_DATA,))
    request = pb.GetEnterpriseRequest(name=ENTERPRISE)
    error = _fails(secured.stub.GetEnterprise, request, _bearer(plain))
    assert error.code == grpc.StatusCode.PERMISSION_DENIED and error.reason == "GRANT_REQUIRED"
    assert secured.stub.GetEnterprise(request, metadata=_bearer(granted), timeout=10).uscc == E1
    benchmarks = secured.stub.ListBenchmarks(pb.ListBenchmarksRequest(year=2024), metadata=_bearer(plain))
    assert list(benchmarks.benchmarks) == []


def test_the_service_identity_reads_profiles_and_writes_nothing(secured: Secured) -> None:
    service = secured.token("service")
    batch = pb.BatchGetCarbonProfilesRequest(names=[f"{ENTERPRISE}/profiles/2024"], allow_missing=True)
    secured.stub.BatchGetCarbonProfiles(batch, metadata=_bearer(service), timeout=10)
    secured.stub.GetEnterprise(
        pb.GetEnterpriseRequest(name=ENTERPRISE), metadata=_bearer(service), timeout=10
    )
    create = pb.CreateEnterpriseRequest(
        enterprise=pb.Enterprise(
            uscc=make_uscc(2), display_name="乙", industry_code="1710", region_code="330502"
        )
    )
    error = _fails(secured.stub.CreateEnterprise, create, _bearer(service))
    assert error.code == grpc.StatusCode.PERMISSION_DENIED and error.reason == "ROLE_NOT_ALLOWED"
    error = _fails(secured.stub.ListEnterprises, pb.ListEnterprisesRequest(), _bearer(service))
    assert error.reason == "ROLE_NOT_ALLOWED"


def test_admin_may_write(secured: Secured) -> None:
    admin = secured.token("admin")
    create = pb.CreateEnterpriseRequest(
        enterprise=pb.Enterprise(
            uscc=make_uscc(2), display_name="乙", industry_code="1710", region_code="330502"
        )
    )
    assert secured.stub.CreateEnterprise(create, metadata=_bearer(admin), timeout=10).uscc == make_uscc(2)


def test_denials_are_logged_with_the_caller_never_the_secret(
    secured: Secured, captured: list[dict[str, Any]]
) -> None:
    secret, principal = create_token(secured.engine, "regulator", "")
    _fails(secured.stub.GetEnterprise, pb.GetEnterpriseRequest(name=ENTERPRISE), _bearer(secret))
    unknown = f"tx_{'f' * 16}_{'Z' * 32}"
    _fails(secured.stub.GetEnterprise, pb.GetEnterpriseRequest(name=ENTERPRISE), _bearer(unknown))

    rejected = [entry for entry in captured if entry["event"] == "rpc.rejected"]
    denied = [e for e in rejected if e["code"] == "PERMISSION_DENIED"]
    assert denied, captured
    assert denied[0]["token_id"] == principal.token_id and denied[0]["role"] == "regulator"
    assert denied[0]["request_id"] == "req-auth-1" and denied[0]["reason"] == "GRANT_REQUIRED"
    assert denied[0]["method"] == "/tanxiao.registry.v1.CarbonRegistry/GetEnterprise"
    failed = [e for e in rejected if e["code"] == "UNAUTHENTICATED"]
    assert failed and failed[0]["token_id"] == "f" * 16 and failed[0]["request_id"] == "req-auth-1"
    text = repr(captured)
    # tx_{id}_{secret}: the secret part may itself hold "_"
    assert secret not in text and secret.split("_", 2)[2] not in text
    assert unknown not in text and "Z" * 32 not in text


def test_the_principal_is_visible_to_handlers(db_url: str) -> None:
    """``current_principal`` is set for the handler; a method without a rule is admin only."""
    settings = Settings.from_env({"TANXIAO_DATABASE_URL": db_url, "TANXIAO_MAX_WORKERS": "2", **DEVELOPMENT})
    engine = make_engine(db_url)
    seen: list[auth.Principal | None] = []

    class _Probe:
        def add(self, _servicer: object, server: grpc.Server) -> None:
            def whoami(request: bytes, context: grpc.ServicerContext) -> bytes:
                seen.append(auth.current_principal.get())
                return request

            handler = grpc.unary_unary_rpc_method_handler(whoami, lambda b: b, lambda b: b)
            server.add_generic_rpc_handlers(
                [grpc.method_handlers_generic_handler("tanxiao.test.v1.Probe", {"WhoAmI": handler})]
            )

    running = start_server(
        "probe",
        [ServiceBinding("tanxiao.test.v1.Probe", None, _Probe().add)],
        "127.0.0.1:0",
        settings,
        interceptors=[ServerCallInterceptor(TokenStore(engine))],
    )
    try:
        secret, principal = create_token(engine, "admin", "")
        with grpc.insecure_channel(running.address) as channel:
            call = channel.unary_unary("/tanxiao.test.v1.Probe/WhoAmI")
            assert call(b"x", metadata=_bearer(secret), timeout=5) == b"x"
            lender, _ = create_token(engine, "lender", "lenders/huzhou-bank")
            with pytest.raises(grpc.RpcError) as excinfo:
                call(b"x", metadata=_bearer(lender), timeout=5)
            assert excinfo.value.code() == grpc.StatusCode.PERMISSION_DENIED  # no rule: admin only
    finally:
        running.stop(None)
        engine.dispose()
    assert seen == [principal]


def test_tokens_expire(secured: Secured) -> None:
    """Every token carries an expiry (default 90 days); after it the token is UNAUTHENTICATED, even when
    the server still has it cached."""
    default_secret, default = create_token(secured.engine, "admin", "")
    assert default.expire_time is not None
    lifetime = default.expire_time - datetime.now(UTC)
    assert timedelta(days=89, hours=23) < lifetime <= timedelta(days=90)
    secret, principal = create_token(secured.engine, "admin", "", lifetime=timedelta(seconds=1.5))
    cached = TokenStore(secured.engine, ttl_seconds=3600)
    assert cached.principal(secret) == principal
    secured.stub.ListDataCategories(pb.ListDataCategoriesRequest(), metadata=_bearer(secret), timeout=10)
    time.sleep(1.6)
    assert cached.principal(secret) is None  # cached, yet expired
    error = _fails(secured.stub.ListDataCategories, pb.ListDataCategoriesRequest(), _bearer(secret))
    assert error.code == grpc.StatusCode.UNAUTHENTICATED and error.reason == "TOKEN_INVALID"
    with pytest.raises(ValueError, match="lifetime"):
        create_token(secured.engine, "admin", "", lifetime=timedelta(days=400))
    assert cached.principal(default_secret) == default
