"""Metrics over real calls: a registry and a scoring server in-process, each with its /metrics endpoint
on a free port; the counters are scraped over HTTP before and after the calls and must have moved by
exactly what the calls did. Plus: the Grafana dashboard only charts metrics the servers expose."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from helpers import DEVELOPMENT, Registry, graded_year_records, make_uscc
from prometheus_client.parser import text_string_to_metric_families

from registry_service.app import start_registry
from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from scoring_service.app import start_scoring
from tanxiao.common.v1 import common_pb2
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine
from tanxiao.platform.metrics import ServerMetrics
from tanxiao.platform.server import RunningServer
from tanxiao.registry.v1 import registry_pb2 as rpb
from tanxiao.registry.v1 import registry_pb2_grpc
from tanxiao.scoring.v1 import scoring_pb2 as spb
from tanxiao.scoring.v1 import scoring_pb2_grpc

DASHBOARD = Path(__file__).parents[2] / "ops" / "grafana" / "tanxiao.json"
FIRM = make_uscc(700)
REGISTRY = "tanxiao.registry.v1.CarbonRegistry"
SCORING = "tanxiao.scoring.v1.LoanScoring"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        text = response.read().decode("utf-8")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum over the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


@dataclass
class Observed:
    registry: Registry
    scoring: RunningServer
    stub: scoring_pb2_grpc.LoanScoringStub

    def scrape(self) -> tuple[Samples, Samples]:
        return self._scrape(self.registry.server), self._scrape(self.scoring)

    @staticmethod
    def _scrape(server: RunningServer) -> Samples:
        assert server.observability is not None and server.observability.endpoint is not None
        return scrape(server.observability.endpoint.url)


@pytest.fixture
def observed(sqlite_url: str) -> Iterator[Observed]:
    """Registry and scoring on one SQLite database, each with its metrics endpoint on a free port."""
    settings = Settings.from_env(
        {
            "TANXIAO_DATABASE_URL": sqlite_url,
            "TANXIAO_MAX_BATCH_RECORDS": "200",
            "TANXIAO_MAX_WORKERS": "4",
            "TANXIAO_PROFILE_CACHE_SECONDS": "30",
            "TANXIAO_REGISTRY_METRICS_LISTEN": "127.0.0.1:0",
            "TANXIAO_SCORING_METRICS_LISTEN": "127.0.0.1:0",
            **DEVELOPMENT,
        }
    )
    engine = make_engine(sqlite_url)
    EnterpriseRepository(engine).create_many([Enterprise(FIRM, "湖州观测化纤有限公司", "2822", "330502")])
    running = start_registry(settings, "127.0.0.1:0")
    scoring = start_scoring(settings, "127.0.0.1:0", registry_addr=running.address)
    channels = [grpc.insecure_channel(running.address), grpc.insecure_channel(scoring.address)]
    try:
        registry = Registry(
            registry_pb2_grpc.CarbonRegistryStub(channels[0]),
            channels[0],
            engine,
            sqlite_url,
            running,
            settings,
        )
        yield Observed(registry, scoring, scoring_pb2_grpc.LoanScoringStub(channels[1]))
    finally:
        for channel in channels:
            channel.close()
        scoring.stop(None)
        running.stop(None)
        engine.dispose()


def _quote(request_id: str, amount: int = 5_000_000) -> spb.QuoteLoanTermsRequest:
    return spb.QuoteLoanTermsRequest(
        request_id=request_id,
        lender="lenders/huzhou-bank",
        enterprise=f"enterprises/{FIRM}",
        product=spb.GENERAL,
        requested_amount_fen=amount * 100,  # yuan -> fen
        tenor_months=36,
        profile_period="2022",
    )


def _stream(rows: list[rpb.EnergyRecord], size: int) -> Iterator[rpb.IngestRecordsRequest]:
    for start in range(0, len(rows), size):
        yield rpb.IngestRecordsRequest(records=rows[start : start + size])


def test_counters_move_by_what_the_calls_did(observed: Observed) -> None:
    registry = observed.registry.stub
    reg0, sco0 = observed.scrape()

    # 24 records of a graded year in a 3-message stream: 24 accepted, 3 messages received.
    year = graded_year_records(FIRM, 1.0)
    registry.IngestRecords(_stream(year, 10), timeout=60)
    # The same 24 again plus one bad row (negative quantity) in one batch: 24 duplicates, 1 rejected.
    bad = rpb.EnergyRecord(uscc=FIRM, period="2022-01", category="ELECTRICITY", quantity=-1,
                     source=common_pb2.GRID_UTILITY, external_id="bad-1")  # fmt: skip
    registry.BatchIngestRecords(rpb.BatchIngestRecordsRequest(records=[*year, bad]), timeout=60)
    # Over the batch bound (200 in the test settings): RESOURCE_EXHAUSTED, nothing stored.
    too_many = [
        rpb.EnergyRecord(uscc=FIRM, period="2022-01", category="ELECTRICITY", quantity=1,
                   source=common_pb2.GRID_UTILITY, external_id=f"x-{i}")
        for i in range(201)
    ]  # fmt: skip
    with pytest.raises(grpc.RpcError) as exhausted:
        registry.BatchIngestRecords(rpb.BatchIngestRecordsRequest(records=too_many), timeout=60)
    assert exhausted.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    registry.RecomputeBenchmarks(rpb.RecomputeBenchmarksRequest(year=2022), timeout=120)

    # Two quotes and a retry of the first: 2 decisions appended; the profile is fetched once (miss),
    # then served from the cache twice (hits): the retry prices again and its insert meets the stored
    # decision (idempotency folded into the insert, no lookup first), and the bad quote
    # (INVALID_ARGUMENT) is refused before any profile is looked up.
    observed.stub.QuoteLoanTerms(_quote("m-1"), timeout=60)
    observed.stub.QuoteLoanTerms(_quote("m-2", 4_000_000), timeout=60)
    observed.stub.QuoteLoanTerms(_quote("m-1"), timeout=60)
    with pytest.raises(grpc.RpcError) as invalid:
        observed.stub.QuoteLoanTerms(_quote("m-3", amount=-5), timeout=60)
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    reg1, sco1 = observed.scrape()

    def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ingest = {"grpc_service": REGISTRY, "grpc_method": "IngestRecords", "grpc_type": "client_stream"}
    assert moved(reg0, reg1, "grpc_server_started_total", **ingest) == 1
    assert moved(reg0, reg1, "grpc_server_handled_total", grpc_code="OK", **ingest) == 1
    assert moved(reg0, reg1, "grpc_server_msg_received_total", **ingest) == 3
    assert moved(reg0, reg1, "grpc_server_handling_seconds_count", **ingest) == 1
    batch = {"grpc_service": REGISTRY, "grpc_method": "BatchIngestRecords"}
    assert moved(reg0, reg1, "grpc_server_handled_total", grpc_code="OK", **batch) == 1
    assert moved(reg0, reg1, "grpc_server_handled_total", grpc_code="RESOURCE_EXHAUSTED", **batch) == 1
    assert moved(reg0, reg1, "tanxiao_quota_rejections_total", reason="LIMIT_EXCEEDED", **batch) == 1
    assert moved(reg0, reg1, "tanxiao_ingest_rows_total", outcome="accepted") == 24
    assert moved(reg0, reg1, "tanxiao_ingest_rows_total", outcome="duplicate") == 24
    assert moved(reg0, reg1, "tanxiao_ingest_rows_total", outcome="rejected") == 1
    assert moved(reg0, reg1, "tanxiao_ingest_rows_total", outcome="revised") == 0
    # The scoring service's profile fetch reached the registry as a call of its own.
    profiles = {"grpc_service": REGISTRY, "grpc_method": "BatchGetCarbonProfiles", "grpc_code": "OK"}
    assert moved(reg0, reg1, "grpc_server_handled_total", **profiles) == 1

    quote = {"grpc_service": SCORING, "grpc_method": "QuoteLoanTerms", "grpc_type": "unary"}
    assert moved(sco0, sco1, "grpc_server_started_total", **quote) == 4
    assert moved(sco0, sco1, "grpc_server_handled_total", grpc_code="OK", **quote) == 3
    assert moved(sco0, sco1, "grpc_server_handled_total", grpc_code="INVALID_ARGUMENT", **quote) == 1
    assert value(sco1, "grpc_server_in_flight", **quote) == 0
    assert moved(sco0, sco1, "tanxiao_decisions_appended_total") == 2
    assert moved(sco0, sco1, "tanxiao_profile_cache_requests_total", result="miss") == 1
    assert moved(sco0, sco1, "tanxiao_profile_cache_requests_total", result="hit") == 2

    # Each endpoint shows its own service: no scoring series on the registry's and vice versa.
    assert value(reg1, "grpc_server_started_total", grpc_service=SCORING) == 0
    assert value(sco1, "tanxiao_ingest_rows_total") == 0
    # The pool gauges read the live pools: 4 connections configured (TANXIAO_MAX_WORKERS=4), none held
    # once the calls are done but scoring's one write connection (tanxiao.platform.db.HeldConnection,
    # kept checked out for decision writes once a decision was stored: its floor is 1). The sequencer
    # thread takes a connection for a moment every merge delay, so a scrape can meet one more: scrape
    # again until only the held one is (a leaked connection never returns).
    for samples in (reg1, sco1):
        assert value(samples, "tanxiao_db_pool_size", pool="main") == 4
    floors = ((reg1, 0), (sco1, 1))
    deadline = time.monotonic() + 10
    while any(value(s, "tanxiao_db_pool_checked_out", pool="main") > floor for s, floor in floors):
        assert time.monotonic() < deadline, "a pooled connection is still checked out after 10 s"
        time.sleep(0.05)
        reg1, sco1 = observed.scrape()
        floors = ((reg1, 0), (sco1, 1))


def _exposed_series() -> set[str]:
    """Every series name the two servers can expose (families exist before their first sample)."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}
    names = set()
    for server in ("registry", "scoring"):
        for family in ServerMetrics(server).registry.collect():
            names.add(family.name)
            names.update(family.name + s for s in suffixes.get(family.type, ()))
    return names


# PromQL words that are not metric names.
_PROMQL = {"sum", "rate", "irate", "increase", "histogram_quantile", "max", "min", "avg", "or", "and"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: label selectors, ranges, grouping clauses, numbers
    and functions removed, what is left are names."""
    bare = re.sub(r"\{[^}]*\}|\[[^]]*\]|\b(by|without) \([^)]*\)", " ", expr)
    return {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare) if w not in _PROMQL}


def test_every_dashboard_panel_charts_an_exposed_metric() -> None:
    dashboard = json.loads(DASHBOARD.read_text("utf-8"))
    exposed = _exposed_series()
    panels = [p for p in dashboard["panels"] if p.get("type") != "row"]
    assert len(panels) >= 10
    charted = set()
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, f"{panel['title']}: no metric in {target['expr']!r}"
            assert names <= exposed, f"{panel['title']}: {sorted(names - exposed)} exposed by no server"
            charted |= names
    # The list, each on the dashboard.
    wanted = {
        "grpc_server_started_total", "grpc_server_handled_total", "grpc_server_handling_seconds_bucket",
        "grpc_server_in_flight", "grpc_server_msg_received_total", "tanxiao_db_pool_checked_out",
        "tanxiao_ingest_rows_total", "tanxiao_decisions_appended_total", "tanxiao_sequencer_lag_entries",
        "tanxiao_profile_cache_requests_total", "tanxiao_quota_rejections_total",
    }  # fmt: skip
    assert wanted <= charted, sorted(wanted - charted)


def test_the_panel_check_reads_promql_as_meant() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, grpc_method)"
        ' (rate(grpc_server_handling_seconds_bucket{job="x"}[5m])))'
    )
    assert metric_names(expr) == {"grpc_server_handling_seconds_bucket"}
    assert "no_such_metric" not in _exposed_series()
