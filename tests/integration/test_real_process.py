"""The suite as a user runs it: the `tanxiao` command in real processes, a generic client through
server reflection, graceful shutdown on SIGTERM. On SQLite and on PostgreSQL, from an empty database."""

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
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from helpers import DEVELOPMENT

pytestmark = pytest.mark.slow
TANXIAO = str(Path(sys.executable).with_name("tanxiao"))
REGISTRY = "tanxiao.registry.v1.CarbonRegistry"
SCORING = "tanxiao.scoring.v1.LoanScoring"


def _env(url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "TANXIAO_DATABASE_URL": url, "TANXIAO_LOG_FORMAT": "json", **DEVELOPMENT, **extra}


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([TANXIAO, *args], env=_env(url), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


@dataclass
class Served:
    process: subprocess.Popen[str]
    address: str
    scoring_address: str
    lines: queue.Queue[dict[str, object]]
    logs: list[dict[str, object]]


@pytest.fixture
def served_registry(empty_db_url: str) -> Iterator[Served]:
    _run(empty_db_url, "db", "upgrade")
    report = json.loads(_run(empty_db_url, "demo-data", "--enterprises", "12").stdout)
    assert report["enterprises_created"] == 12 and report["rejected"] > 0  # the demo has bad rows
    env = _env(empty_db_url, TANXIAO_REGISTRY_LISTEN="127.0.0.1:0", TANXIAO_SCORING_LISTEN="127.0.0.1:0")
    process = subprocess.Popen(
        [TANXIAO, "serve", "all", "--no-console"], env=env, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[dict[str, object]] = queue.Queue()
    threading.Thread(target=_drain, args=(process, lines), daemon=True).start()
    logs: list[dict[str, object]] = []
    try:
        ready = _wait_for(lines, logs, "tanxiao.ready")
        addresses = ready["services"]
        assert isinstance(addresses, dict)
        yield Served(process, addresses["registry"], addresses["scoring"], lines, logs)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _drain(process: subprocess.Popen[str], lines: queue.Queue[dict[str, object]]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        try:
            lines.put(json.loads(line))
        except json.JSONDecodeError:
            lines.put({"event": "text", "line": line})


def _wait_for(
    lines: queue.Queue[dict[str, object]], logs: list[dict[str, object]], event: str, timeout: float = 60
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            entry = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        logs.append(entry)
        if entry.get("event") == event:
            return entry
    raise AssertionError(f"no {event!r} log within {timeout}s; saw {logs}")


class GenericClient:
    """What grpcurl does: learn the schema through reflection, build messages from JSON."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        self.pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))

    def call(self, service: str, method: str, request: dict[str, object]) -> dict[str, object]:
        descriptor = self.pool.FindServiceByName(service).FindMethodByName(method)
        request_type = message_factory.GetMessageClass(descriptor.input_type)
        response_type = message_factory.GetMessageClass(descriptor.output_type)
        call = self.channel.unary_unary(
            f"/{service}/{method}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_type.FromString,
        )
        response = call(json_format.ParseDict(request, request_type()), timeout=10)
        return json_format.MessageToDict(response)


def test_a_newcomer_lists_the_demo_enterprises_through_reflection(served_registry: Served) -> None:
    with grpc.insecure_channel(served_registry.address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=REGISTRY))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        client = GenericClient(channel)
        services = {
            s.full_name for s in client.pool.FindFileContainingSymbol(REGISTRY).services_by_name.values()
        }
        assert REGISTRY in services
        listed = client.call(REGISTRY, "ListEnterprises", {"pageSize": 5})
        assert len(listed["enterprises"]) == 5 and listed["nextPageToken"]
        first = listed["enterprises"][0]
        got = client.call(REGISTRY, "GetEnterprise", {"name": first["name"]})
        assert got["uscc"] == first["uscc"] and got["displayName"].startswith("湖州")
        records = client.call(REGISTRY, "ListRecords", {"parent": first["name"], "pageSize": 10})
        assert records["records"]
        profile = client.call(REGISTRY, "GetCarbonProfile", {"name": f"{first['name']}/profiles/2025"})
        assert profile["grade"]["labelZh"].endswith("级")


def test_a_loan_system_gets_a_quote_and_an_officer_its_explanation(served_registry: Served) -> None:
    with grpc.insecure_channel(served_registry.address) as channel:
        uscc = GenericClient(channel).call(REGISTRY, "ListEnterprises", {"pageSize": 1})["enterprises"][0][
            "uscc"
        ]
    with grpc.insecure_channel(served_registry.scoring_address) as channel:
        client = GenericClient(channel)
        quote = {
            "requestId": "first-quote", "lender": "lenders/demo-bank", "enterprise": f"enterprises/{uscc}",
            "product": "GENERAL", "requestedAmountFen": 500_000_000, "tenorMonths": 36, "baseRateBp": 310,
        }  # fmt: skip
        decision = client.call(SCORING, "QuoteLoanTerms", quote)
        assert decision["name"].startswith("decisions/") and decision["finalRateBp"] > 0
    explained = subprocess.run(
        [TANXIAO, "explain", decision["name"], "--lang", "en", "--addr", served_registry.scoring_address],
        env=_env("sqlite://"), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    assert "Final rate" in explained.stdout


def test_sigterm_stops_the_server_gracefully(served_registry: Served) -> None:
    process = served_registry.process
    process.send_signal(signal.SIGTERM)
    stopping = _wait_for(served_registry.lines, served_registry.logs, "server.stopping")
    assert stopping["signal"] == "SIGTERM"
    _wait_for(served_registry.lines, served_registry.logs, "server.stopped")
    assert process.wait(30) == 0


def test_a_bad_database_url_fails_clearly(tmp_path: Path) -> None:
    done = subprocess.run(
        [TANXIAO, "db", "upgrade"],
        env=_env("postgresql+psycopg://nobody@127.0.0.1:1/none"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "connection" in done.stderr.lower()
