"""Traces and request ids across client -> scoring -> registry, on real servers in-process.

Spans are collected with the OpenTelemetry SDK's in-memory exporter; the request id is read from the
response metadata and from the log lines both servers write during the call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from helpers import DEVELOPMENT, captured_rpc_logs, graded_year_records, make_uscc
from opentelemetry.instrumentation.grpc import client_interceptor, grpcext
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from registry_service.app import start_registry
from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from scoring_service.app import start_scoring
from tanxiao.platform import tracing
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine
from tanxiao.platform.server import RunningServer
from tanxiao.registry.v1 import registry_pb2 as rpb
from tanxiao.registry.v1 import registry_pb2_grpc
from tanxiao.scoring.v1 import scoring_pb2 as spb
from tanxiao.scoring.v1 import scoring_pb2_grpc

FIRM = make_uscc(701)
QUOTE = "/tanxiao.scoring.v1.LoanScoring/QuoteLoanTerms"
PROFILES = "/tanxiao.registry.v1.CarbonRegistry/BatchGetCarbonProfiles"


@dataclass
class Traced:
    registry: RunningServer
    scoring: RunningServer
    spans: InMemorySpanExporter
    provider: TracerProvider


@pytest.fixture
def traced(sqlite_url: str) -> Iterator[Traced]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.use_provider(provider)
    settings = Settings.from_env(
        {"TANXIAO_DATABASE_URL": sqlite_url, "TANXIAO_MAX_WORKERS": "4", **DEVELOPMENT}
    )
    engine = make_engine(sqlite_url)
    EnterpriseRepository(engine).create_many([Enterprise(FIRM, "湖州追踪化纤有限公司", "2822", "330502")])
    registry = start_registry(settings, "127.0.0.1:0")
    scoring = start_scoring(settings, "127.0.0.1:0", registry_addr=registry.address)
    try:
        with grpc.insecure_channel(registry.address) as channel:
            stub = registry_pb2_grpc.CarbonRegistryStub(channel)
            stub.BatchIngestRecords(rpb.BatchIngestRecordsRequest(records=graded_year_records(FIRM, 1.0)))
            stub.RecomputeBenchmarks(rpb.RecomputeBenchmarksRequest(year=2022), timeout=120)
        spans.clear()
        yield Traced(registry, scoring, spans, provider)
    finally:
        tracing.use_provider(None)
        scoring.stop(None)
        registry.stop(None)
        engine.dispose()
        provider.shutdown()


def _quote(request_id: str) -> spb.QuoteLoanTermsRequest:
    return spb.QuoteLoanTermsRequest(
        request_id=request_id,
        lender="lenders/huzhou-bank",
        enterprise=f"enterprises/{FIRM}",
        product=spb.GENERAL,
        requested_amount_fen=500_000_000,  # 5M yuan in fen
        tenor_months=36,
        profile_period="2022",
    )


def _one(spans: list[ReadableSpan], name: str, kind: SpanKind) -> ReadableSpan:
    found = [s for s in spans if s.name == name and s.kind == kind]
    assert len(found) == 1, [(s.name, s.kind) for s in spans]
    return found[0]


def test_one_trace_runs_from_the_client_through_scoring_to_the_registry(traced: Traced) -> None:
    channel = grpcext.intercept_channel(
        grpc.insecure_channel(traced.scoring.address), client_interceptor(tracer_provider=traced.provider)
    )
    with channel:
        scoring_pb2_grpc.LoanScoringStub(channel).QuoteLoanTerms(_quote("t-1"), timeout=60)
    spans = list(traced.spans.get_finished_spans())
    client = _one(spans, QUOTE, SpanKind.CLIENT)
    scoring = _one(spans, QUOTE, SpanKind.SERVER)
    outgoing = _one(spans, PROFILES, SpanKind.CLIENT)
    registry = _one(spans, PROFILES, SpanKind.SERVER)
    trace_id = client.context.trace_id
    assert {s.context.trace_id for s in (client, scoring, outgoing, registry)} == {trace_id}
    # Parent links: client -> scoring server -> scoring's call -> registry server (W3C traceparent).
    assert scoring.parent is not None and scoring.parent.span_id == client.context.span_id
    assert outgoing.parent is not None and outgoing.parent.span_id == scoring.context.span_id
    assert registry.parent is not None and registry.parent.span_id == outgoing.context.span_id
    assert not [s for s in spans if s.name.startswith("/grpc.health.v1.")]  # probes are not traced


def test_the_request_id_is_echoed_passed_to_the_registry_and_on_every_log_line(
    traced: Traced, monkeypatch: pytest.MonkeyPatch
) -> None:
    with captured_rpc_logs(monkeypatch) as entries, grpc.insecure_channel(traced.scoring.address) as channel:
        stub = scoring_pb2_grpc.LoanScoringStub(channel)
        _, call = stub.QuoteLoanTerms.with_call(
            _quote("t-2"), metadata=[("x-request-id", "bank-req-42")], timeout=60
        )
        echoed = dict(call.initial_metadata())
        _, unnamed = stub.QuoteLoanTerms.with_call(_quote("t-3"), timeout=60)
        generated = dict(unnamed.initial_metadata())["x-request-id"]
    assert echoed["x-request-id"] == "bank-req-42"
    assert len(generated) == 32 and generated != "bank-req-42"  # one is made when the caller sent none
    calls = [e for e in entries if e.get("method") in (QUOTE, PROFILES)]
    ours = [e for e in calls if e.get("request_id") == "bank-req-42"]
    assert {(e["method"], e["event"]) for e in ours} == {(QUOTE, "rpc.ok"), (PROFILES, "rpc.ok")}
    # Every line written while serving the call carries its id: none of its lines has another one.
    assert all(e.get("request_id") in ("bank-req-42", generated) for e in calls)


def test_tracing_is_off_unless_an_exporter_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not tracing.enabled({})
    assert not tracing.enabled({"OTEL_TRACES_EXPORTER": "none"})
    assert tracing.enabled({"OTEL_TRACES_EXPORTER": "otlp"})
    assert not tracing.enabled({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"})
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert tracing.server_interceptors("registry") == []
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "bank-registry")
    try:
        (_interceptor,) = tracing.server_interceptors("registry")
        provider = tracing.provider_for("registry")
        assert provider is not None and provider.resource.attributes["service.name"] == "bank-registry"
    finally:
        tracing.shutdown("registry")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "no-such-exporter")
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        tracing.provider_for("scoring")
