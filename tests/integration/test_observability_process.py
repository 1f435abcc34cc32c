"""The operator's view of a real `tanxiao serve all` process (as `make run` starts it): both metrics
endpoints answer with the calls just made, health is listed, and health checks stay out of the info
log."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers import DEVELOPMENT
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow
TANXIAO = str(Path(sys.executable).with_name("tanxiao"))


def _drain(process: subprocess.Popen[str], lines: queue.Queue[dict[str, object]]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        try:
            lines.put(json.loads(line))
        except json.JSONDecodeError:
            lines.put({"event": "text", "line": line})


def _until(lines: queue.Queue[dict[str, object]], seen: list[dict[str, object]], event: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            entry = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(entry)
        if entry.get("event") == event:
            return
    raise AssertionError(f"no {event!r} within 90 s; saw {seen}")


def _handled(url: str, method: str) -> float:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode("utf-8")
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "grpc_server_handled_total" and s.labels.get("grpc_method") == method
    )


def test_serve_all_exposes_metrics_and_health_as_make_run_does(sqlite_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TANXIAO_DATABASE_URL": sqlite_url,
        "TANXIAO_ACCESS_LOG_DIR": str(tmp_path),
        "TANXIAO_LOG_FORMAT": "json",
        "TANXIAO_REGISTRY_LISTEN": "127.0.0.1:0",
        "TANXIAO_SCORING_LISTEN": "127.0.0.1:0",
        "TANXIAO_REGISTRY_METRICS_LISTEN": "127.0.0.1:0",
        "TANXIAO_SCORING_METRICS_LISTEN": "127.0.0.1:0",
        "TANXIAO_HEALTH_CHECK_INTERVAL_SECONDS": "0.2",
        **DEVELOPMENT,
    }
    process = subprocess.Popen(
        [TANXIAO, "serve", "all", "--no-console"], env=env, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[dict[str, object]] = queue.Queue()
    threading.Thread(target=_drain, args=(process, lines), daemon=True).start()
    seen: list[dict[str, object]] = []
    try:
        _until(lines, seen, "tanxiao.ready")
        metrics = {str(e["server"]): str(e["url"]) for e in seen if e.get("event") == "metrics.serving"}
        ready = next(e for e in seen if e.get("event") == "tanxiao.ready")
        services = ready["services"]
        assert isinstance(services, dict) and set(metrics) == {"registry", "scoring"}
        with grpc.insecure_channel(services["registry"]) as channel:
            categories = channel.unary_unary("/tanxiao.registry.v1.CarbonRegistry/ListDataCategories")
            for _ in range(3):
                categories(b"", timeout=30)
        with grpc.insecure_channel(services["scoring"]) as channel:
            listed = health_pb2_grpc.HealthStub(channel).List(health_pb2.HealthListRequest(), timeout=10)
        assert {n: s.status for n, s in listed.statuses.items()} == {
            "": health_pb2.HealthCheckResponse.SERVING,
            "liveness": health_pb2.HealthCheckResponse.SERVING,
            "tanxiao.scoring.v1.LoanScoring": health_pb2.HealthCheckResponse.SERVING,
            "tanxiao.portfolio.v1.PortfolioReporting": health_pb2.HealthCheckResponse.SERVING,
            "tanxiao.scoring.v1.DecisionLog": health_pb2.HealthCheckResponse.SERVING,
        }
        assert _handled(metrics["registry"], "ListDataCategories") == 3
        assert _handled(metrics["scoring"], "List") == 1
        time.sleep(1)  # the scoring service probes the registry's health every 0.2 s
        assert _handled(metrics["registry"], "Check") >= 2  # counted, yet not logged at info (below)
        process.send_signal(signal.SIGTERM)
        _until(lines, seen, "server.stopped")
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    rpc_lines = [e for e in seen if str(e.get("event", "")).startswith("rpc.")]
    # the calls' records are the access log's entries; their lines are at debug (none at info)
    assert not [
        e for e in rpc_lines if e.get("method") == "/tanxiao.registry.v1.CarbonRegistry/ListDataCategories"
    ]
    entries = [
        json.loads(line) for day in tmp_path.glob("access-*.jsonl") for line in day.read_text().splitlines()
    ]
    assert [e["method"] for e in entries].count("/tanxiao.registry.v1.CarbonRegistry/ListDataCategories") == 3
    assert not [e for e in rpc_lines if str(e.get("method", "")).startswith("/grpc.health.v1.")]
