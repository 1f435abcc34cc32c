"""Health that means something, on real servers: readiness follows the database (PostgreSQL made
unreachable and back) and, for scoring, the registry (stopped and restarted); liveness stays apart;
Health/List answers; health checks are logged at debug; reflection is served as v1 and v1alpha."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from helpers import DEVELOPMENT, captured_rpc_logs
from sqlalchemy.engine import make_url

from registry_service.app import start_registry
from scoring_service.app import start_scoring
from tanxiao.platform import db
from tanxiao.platform.config import Settings
from tanxiao.platform.server import RunningServer

REGISTRY = "tanxiao.registry.v1.CarbonRegistry"
CONSENTS = "tanxiao.registry.v1.Consents"
DASHBOARD = "tanxiao.registry.v1.RegistryDashboard"
SCORING = "tanxiao.scoring.v1.LoanScoring"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def fast_settings(url: str) -> Settings:
    """Probes every 0.2 s so that a test sees a change within a second or two."""
    return Settings.from_env(
        {
            "TANXIAO_DATABASE_URL": url,
            "TANXIAO_MAX_WORKERS": "4",
            "TANXIAO_HEALTH_CHECK_INTERVAL_SECONDS": "0.2",
            "TANXIAO_HEALTH_PROBE_TIMEOUT_SECONDS": "2",
            **DEVELOPMENT,
        }
    )


@contextmanager
def health_of(server: RunningServer | str) -> Iterator[health_pb2_grpc.HealthStub]:
    address = server if isinstance(server, str) else server.address
    with grpc.insecure_channel(address) as channel:
        yield health_pb2_grpc.HealthStub(channel)


def status(stub: health_pb2_grpc.HealthStub, service: str = "") -> int:
    return int(stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status)


def wait_for(stub: health_pb2_grpc.HealthStub, wanted: int, service: str = "", seconds: float = 20) -> float:
    """Seconds until ``service`` reports ``wanted``; fails after ``seconds``."""
    start = time.monotonic()
    while status(stub, service) != wanted:
        if time.monotonic() - start > seconds:
            name = health_pb2.HealthCheckResponse.ServingStatus.Name(wanted)
            pytest.fail(f"{service or 'overall'} not {name} after {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - start


def test_health_list_answers_readiness_and_liveness(sqlite_url: str) -> None:
    registry = start_registry(fast_settings(sqlite_url), "127.0.0.1:0")
    try:
        with health_of(registry) as stub:
            wait_for(stub, SERVING)
            listed = stub.List(health_pb2.HealthListRequest(), timeout=5)
        statuses = {name: s.status for name, s in listed.statuses.items()}
        assert statuses == {
            "": SERVING,
            REGISTRY: SERVING,
            CONSENTS: SERVING,
            DASHBOARD: SERVING,
            "liveness": SERVING,
        }
    finally:
        registry.stop(None)


def test_scoring_is_not_ready_while_the_registry_is_down_and_ready_again_after(sqlite_url: str) -> None:
    settings = fast_settings(sqlite_url)
    registry = start_registry(settings, "127.0.0.1:0")
    address = registry.address
    scoring = start_scoring(settings, "127.0.0.1:0", registry_addr=address)
    try:
        with health_of(scoring) as stub:
            wait_for(stub, SERVING)
            registry.stop(None)
            wait_for(stub, NOT_SERVING)
            assert status(stub, SCORING) == NOT_SERVING
            assert status(stub, "liveness") == SERVING  # alive: restarting it would not bring the registry
            assert scoring.observability is not None and scoring.observability.readiness is not None
            assert "registry" in scoring.observability.readiness.failures
            registry = start_registry(settings, address)  # back on the same address
            wait_for(stub, SERVING)
            assert status(stub, SCORING) == SERVING
    finally:
        scoring.stop(None)
        registry.stop(None)


@pytest.mark.postgres
def test_the_registry_is_not_ready_while_its_database_is_unreachable(postgres_database: str) -> None:
    server = make_url(postgres_database)
    name = f"tanxiao_health_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    db.upgrade(url)
    registry = start_registry(fast_settings(url), "127.0.0.1:0")
    try:
        with health_of(registry) as stub:
            wait_for(stub, SERVING)
            _rename(admin, name, f"{name}_away")  # its connections cut, the name it dials gone
            wait_for(stub, NOT_SERVING)
            assert status(stub, REGISTRY) == NOT_SERVING and status(stub, "liveness") == SERVING
            _rename(admin, f"{name}_away", name)
            wait_for(stub, SERVING)
            assert status(stub, REGISTRY) == SERVING
    finally:
        registry.stop(None)
        with admin.connect() as connection:
            for database in (name, f"{name}_away"):
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()


def _rename(admin: sa.Engine, old: str, new: str) -> None:
    """Rename a database, cutting its sessions first (the pool may reconnect in between: retry)."""
    for _ in range(50):
        with admin.connect() as connection:
            connection.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                {"d": old},
            )
            try:
                connection.exec_driver_sql(f'ALTER DATABASE "{old}" RENAME TO "{new}"')
                return
            except sa.exc.OperationalError:
                time.sleep(0.05)
    pytest.fail(f"could not rename {old}")


@pytest.mark.parametrize("access_log", [False, True])
def test_health_checks_are_logged_at_debug_and_calls_at_info_without_an_access_log(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, access_log: bool
) -> None:
    settings = dataclasses.replace(
        fast_settings(sqlite_url), access_log_dir=str(tmp_path) if access_log else ""
    )
    registry = start_registry(settings, "127.0.0.1:0")
    try:
        with captured_rpc_logs(monkeypatch) as entries:
            with health_of(registry) as stub:
                status(stub)
                with pytest.raises(grpc.RpcError):
                    status(stub, "no.such.Service")  # NOT_FOUND: still a health check
            with grpc.insecure_channel(registry.address) as channel:
                list_categories = channel.unary_unary(
                    "/tanxiao.registry.v1.CarbonRegistry/ListDataCategories"
                )
                list_categories(b"", timeout=10)
    finally:
        registry.stop(None)
    levels = {(e.get("method"), e["log_level"]) for e in entries if e["event"].startswith("rpc.")}
    health = {level for method, level in levels if str(method).startswith("/grpc.health.v1.Health/")}
    assert health <= {"debug"}  # none at info
    listed = {
        level
        for method, level in levels
        if method == "/tanxiao.registry.v1.CarbonRegistry/ListDataCategories"
    }
    if not access_log:
        assert listed == {"info"}  # the call's only record
    else:  # its record is the access log's entry; its line at debug
        assert listed == {"debug"}
        (day,) = tmp_path.glob("access-*.jsonl")
        events = [json.loads(line) for line in day.read_text().splitlines()]
        assert [(e["method"], e["event"]) for e in events] == [
            ("/tanxiao.registry.v1.CarbonRegistry/ListDataCategories", "rpc.ok")
        ]


@pytest.mark.parametrize("package", ["grpc.reflection.v1", "grpc.reflection.v1alpha"])
def test_reflection_is_served_as_v1_and_v1alpha(sqlite_url: str, package: str) -> None:
    registry = start_registry(fast_settings(sqlite_url), "127.0.0.1:0")
    try:
        with grpc.insecure_channel(registry.address) as channel:
            info = channel.stream_stream(
                f"/{package}.ServerReflection/ServerReflectionInfo",
                request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
            )
            requests = [
                reflection_pb2.ServerReflectionRequest(list_services=""),
                reflection_pb2.ServerReflectionRequest(
                    file_containing_symbol="grpc.reflection.v1.ServerReflection"
                ),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol=REGISTRY),
            ]
            listed, v1_file, registry_file = list(info(iter(requests), timeout=10))
    finally:
        registry.stop(None)
    services = {s.name for s in listed.list_services_response.service}
    assert {REGISTRY, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"} <= services  # fmt: skip
    assert v1_file.file_descriptor_response.file_descriptor_proto  # the v1 service describes itself
    assert registry_file.file_descriptor_response.file_descriptor_proto
