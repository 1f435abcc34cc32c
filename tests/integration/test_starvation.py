"""No caller can stall a server (issue 13, item 1), with a real `tanxiao serve` process, tokens on.

Before: 16 idle Health/Watch, reflection or IngestRecords streams held all 16 worker threads and every
other caller got DEADLINE_EXCEEDED. Now streams run off the unary workers, a caller holds at most
``max_streams_per_caller`` of them (more: RESOURCE_EXHAUSTED with RetryInfo) and an idle stream is
cancelled after ``stream_idle_seconds``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2_grpc
from helpers import error_details

from tanxiao.registry.v1 import registry_pb2, registry_pb2_grpc

pytestmark = [pytest.mark.slow, pytest.mark.heavy]
TANXIAO = str(Path(sys.executable).with_name("tanxiao"))


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([TANXIAO, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Server:
    address: str
    provider: str  # a data_provider token (GRID_UTILITY)
    other: str  # a service token: another identity
    env: dict[str, str]


@pytest.fixture
def server(sqlite_url: str) -> Iterator[Server]:
    env = {
        **os.environ,
        "TANXIAO_DATABASE_URL": sqlite_url,
        "TANXIAO_LOG_FORMAT": "json",
        "TANXIAO_ALLOW_PLAINTEXT": "true",  # loopback only; tokens stay required
        "TANXIAO_AUTH_REQUIRED": "true",
        "TANXIAO_MAX_WORKERS": "16",
        "TANXIAO_STREAM_IDLE_SECONDS": "4",
        "TANXIAO_REGISTRY_LISTEN": "127.0.0.1:0",
    }
    provider = _run(env, "token", "create", "--role", "data_provider", "--tenant", "GRID_UTILITY")
    other = _run(env, "token", "create", "--role", "service")
    process = subprocess.Popen([TANXIAO, "serve", "registry"], env=env, stderr=subprocess.PIPE, text=True)
    stderr: deque[str] = deque(maxlen=2000)  # the child's last lines: the watchdog's stack dump ends there
    reader = threading.Thread(target=stderr.extend, args=(process.stderr,), daemon=True)
    try:
        address = _wait_ready(process, stderr, reader)
    except BaseException:
        process.kill()
        raise
    try:
        yield Server(address, provider, other, env)
    finally:
        process.terminate()  # graceful: 10 s grace + at most 10 s draining the stream pool, then exit
        _assert_stopped_cleanly(process, stderr, reader)


def _assert_stopped_cleanly(
    process: subprocess.Popen[str], stderr: deque[str], reader: threading.Thread
) -> None:
    """A stop that hangs ends in the server's watchdog (exit 70 and every thread's stack on stderr) or in
    our kill; either way the child's stderr goes into the failure, so a CI log shows where it hung."""
    try:
        code = process.wait(90)  # generous: CI runs this beside a browser and a Java build on two cores
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait()
    if reader.is_alive():
        reader.join(10)  # the last lines off the pipe
    assert code == 0, f"the server exited with {code} after SIGTERM; its stderr:\n" + "".join(stderr)


def _wait_ready(process: subprocess.Popen[str], stderr: deque[str], reader: threading.Thread) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        stderr.append(line)
        if not line:
            raise AssertionError(f"server exited: {process.wait()}\n" + "".join(stderr))
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("event") == "tanxiao.ready":
            reader.start()  # keeps reading, so the server never blocks on a full pipe
            return str(entry["services"]["registry"])
    raise AssertionError("not ready in time")


def _silent(stop: threading.Event) -> Iterator[registry_pb2.IngestRecordsRequest]:
    stop.wait()  # an open stream that never sends
    return
    yield  # pragma: no cover - makes this a generator


def _refused(calls: list[grpc.Future]) -> list[grpc.Future]:
    """The calls that ended with RESOURCE_EXHAUSTED."""
    return [f for f in calls if f.done() and _exhausted(f.exception())]


def _exhausted(error: BaseException | None) -> bool:
    return isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_idle_streams_of_one_caller_do_not_starve_another(server: Server) -> None:
    stop = threading.Event()
    channels = [grpc.insecure_channel(server.address) for _ in range(3)]
    try:
        registry = registry_pb2_grpc.CarbonRegistryStub(channels[0])
        provider = [("authorization", f"Bearer {server.provider}")]
        # 16 idle client streams from one data provider, 16 health watches, 16 reflection streams.
        ingests = [
            registry.IngestRecords.future(_silent(stop), metadata=provider, timeout=60) for _ in range(16)
        ]
        health = health_pb2_grpc.HealthStub(channels[1])
        watches = [health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=60) for _ in range(16)]
        reflect = reflection_pb2_grpc.ServerReflectionStub(channels[1])
        reflections = [reflect.ServerReflectionInfo(_silent(stop), timeout=60) for _ in range(16)]
        time.sleep(1.0)

        # Another identity's unary call answers well within its deadline.
        other = registry_pb2_grpc.CarbonRegistryStub(channels[2])
        started = time.monotonic()
        response = other.ListDataCategories(
            registry_pb2.ListDataCategoriesRequest(),
            metadata=[("authorization", f"Bearer {server.other}")],
            timeout=3,
        )
        assert response.categories and time.monotonic() - started < 3
        assert (
            health_pb2_grpc.HealthStub(channels[2]).Check(health_pb2.HealthCheckRequest(), timeout=3).status
            == 1
        )

        # The data provider holds at most 4 streams (the default); the rest were refused at once (the
        # answers can take a while to arrive on a loaded machine: wait for them, boundedly).
        deadline = time.monotonic() + 30
        while len(_refused(ingests)) < 12 and time.monotonic() < deadline:
            time.sleep(0.1)
        refused = _refused(ingests)
        assert len(refused) >= 12
        details = error_details(refused[0].exception())
        assert details.code == grpc.StatusCode.RESOURCE_EXHAUSTED and details.reason == "STREAM_LIMITED"
        assert details.retry_after is not None and details.retry_after > 0

        # Idle streams are cancelled after TANXIAO_STREAM_IDLE_SECONDS (4 s, checked every second).
        deadline = time.monotonic() + 10
        while not all(f.done() for f in ingests) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(f.done() for f in ingests)
        held = [f for f in ingests if f not in refused]
        assert all(f.exception().code() == grpc.StatusCode.DEADLINE_EXCEEDED for f in held)  # type: ignore[union-attr]
        del watches, reflections
    finally:
        stop.set()
        for channel in channels:
            channel.close()


def test_health_list_answers(server: Server) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        if not hasattr(stub, "List"):
            pytest.skip("grpcio-health-checking without Health/List")
        response = stub.List(health_pb2.HealthListRequest(), timeout=5)
        assert "tanxiao.registry.v1.CarbonRegistry" in response.statuses


def test_failed_authentication_is_throttled_per_peer(server: Server) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = registry_pb2_grpc.CarbonRegistryStub(channel)
        codes = []
        for attempt in range(25):
            bad = [("authorization", f"Bearer tx_{attempt:016x}_{'A' * 32}")]
            with pytest.raises(grpc.RpcError) as caught:
                stub.ListDataCategories(registry_pb2.ListDataCategoriesRequest(), metadata=bad, timeout=5)
            codes.append(error_details(caught.value))
        assert [d.code for d in codes[:20]] == [grpc.StatusCode.UNAUTHENTICATED] * 20
        assert codes[20].code == grpc.StatusCode.RESOURCE_EXHAUSTED and codes[20].reason == "AUTH_THROTTLED"
        assert codes[20].retry_after is not None and 0 < codes[20].retry_after <= 60
        # Even a good token from that address waits out the window: the peer is refused before lookup.
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListDataCategories(
                registry_pb2.ListDataCategoriesRequest(),
                metadata=[("authorization", f"Bearer {server.other}")],
                timeout=5,
            )
        assert error_details(caught.value).reason == "AUTH_THROTTLED"
