"""AIP-155 request ids: a retry returns the first response; the effect and the key commit together."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
import sqlalchemy as sa
from helpers import Registry, error_details, make_uscc
from sqlalchemy import Connection

from registry_service import convert
from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.tables import enterprises
from tanxiao.errors import ValidationError
from tanxiao.platform.db import make_engine
from tanxiao.platform.idempotency import IdempotencyStore, idempotency_keys, request_fingerprint
from tanxiao.registry.v1 import registry_pb2

METHOD = "/tanxiao.registry.v1.CarbonRegistry/CreateEnterprise"


def _request(
    serial: int, name: str = "湖州某某化纤有限公司", request_id: str = ""
) -> registry_pb2.CreateEnterpriseRequest:
    enterprise = registry_pb2.Enterprise(
        uscc=make_uscc(serial), display_name=name, industry_code="2825", region_code="330502"
    )
    return registry_pb2.CreateEnterpriseRequest(enterprise=enterprise, request_id=request_id)


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_create_enterprise_retry_returns_the_first_response(registry: Registry) -> None:
    request = _request(1, request_id="create-1")
    first = registry.stub.CreateEnterprise(request, timeout=10)
    time.sleep(0.01)  # a second execution would get a later create_time
    second = registry.stub.CreateEnterprise(request, timeout=10)
    assert second == first
    assert _count(registry.engine, enterprises) == 1
    assert _count(registry.engine, idempotency_keys) == 1


def test_request_id_reused_for_another_request_is_rejected(registry: Registry) -> None:
    registry.stub.CreateEnterprise(_request(1, request_id="create-1"), timeout=10)
    with pytest.raises(grpc.RpcError) as excinfo:
        registry.stub.CreateEnterprise(_request(1, name="另一个名字", request_id="create-1"), timeout=10)
    details = error_details(excinfo.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.reason == "REQUEST_ID_REUSED" and details.fields == ["request_id"]
    get = registry_pb2.GetEnterpriseRequest(name=f"enterprises/{make_uscc(1)}")
    stored = registry.stub.GetEnterprise(get, timeout=10)
    assert stored.display_name == "湖州某某化纤有限公司"


def test_without_request_id_a_repeat_is_already_exists(registry: Registry) -> None:
    registry.stub.CreateEnterprise(_request(1), timeout=10)
    with pytest.raises(grpc.RpcError) as excinfo:
        registry.stub.CreateEnterprise(_request(1), timeout=10)
    assert excinfo.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert _count(registry.engine, idempotency_keys) == 0


def test_overlong_request_id_is_invalid(registry: Registry) -> None:
    with pytest.raises(grpc.RpcError) as excinfo:
        registry.stub.CreateEnterprise(_request(1, request_id="x" * 65), timeout=10)
    assert error_details(excinfo.value).fields == ["request_id"]


def test_fingerprint_ignores_only_the_request_id() -> None:
    same = request_fingerprint(_request(1, request_id="a")), request_fingerprint(_request(1, request_id="b"))
    assert same[0] == same[1]
    assert request_fingerprint(_request(1)) != request_fingerprint(_request(2))


def _creator(serial: int, *, fail: bool = False, pause: float = 0.0):  # type: ignore[no-untyped-def]
    def compute(connection: Connection) -> registry_pb2.Enterprise:
        enterprise = Enterprise(make_uscc(serial), "某公司", "2825", "330502")
        created = EnterpriseRepository(connection.engine).create(enterprise, connection=connection)
        time.sleep(pause)  # hold the transaction open so that a concurrent call overlaps it
        if fail:
            raise ValidationError.for_field("enterprise", "simulated failure after the write")
        return convert.enterprise_to_proto(created)

    return compute


def test_a_failed_call_stores_neither_effect_nor_key(db_url: str) -> None:
    engine = make_engine(db_url)
    store = IdempotencyStore(engine)
    request = _request(7, request_id="k")
    with pytest.raises(ValidationError):
        store.run(METHOD, "k", request, _creator(7, fail=True), registry_pb2.Enterprise)
    assert _count(engine, enterprises) == 0 and _count(engine, idempotency_keys) == 0
    created = store.run(METHOD, "k", request, _creator(7), registry_pb2.Enterprise)  # the retry acts
    assert created.uscc == make_uscc(7) and _count(engine, idempotency_keys) == 1
    engine.dispose()


def test_concurrent_calls_with_one_request_id_act_once(db_url: str) -> None:
    engine = make_engine(db_url)
    store = IdempotencyStore(engine)
    request = _request(9, request_id="same")
    barrier = threading.Barrier(2)
    responses: list[registry_pb2.Enterprise] = []

    def call() -> None:
        barrier.wait()
        responses.append(store.run(METHOD, "same", request, _creator(9, pause=0.2), registry_pb2.Enterprise))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(responses) == 2 and responses[0] == responses[1]
    assert _count(engine, enterprises) == 1 and _count(engine, idempotency_keys) == 1
    engine.dispose()
