"""Health that means something: readiness from real probes, liveness apart, Health/List answered.

Names served by ``grpc.health.v1.Health`` on every server:

- ``""`` and each service's full name (``tanxiao.registry.v1.CarbonRegistry`` ...): **readiness**.
  SERVING only while every probe passes: the database answers ``SELECT 1`` (every server) and, for
  scoring, the registry's own readiness is SERVING. A failing probe turns them NOT_SERVING within one
  interval (``TANXIAO_HEALTH_CHECK_INTERVAL_SECONDS``) and a passing one back, so a gRPC-aware load
  balancer or a Kubernetes readiness probe stops sending calls that could only fail.
- ``liveness``: SERVING as long as the process serves at all (a Kubernetes liveness probe: restarting a
  process because its database is down would not help).

Transitions are logged at warning (not ready, with the failing probe and why) and info (ready again);
the checks themselves at debug.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent import futures

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from sqlalchemy import Engine

log = structlog.get_logger("tanxiao.health")
LIVENESS = "liveness"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
Probe = Callable[[], None]  # returns when the dependency is usable, raises when it is not


class HealthServicer(health.HealthServicer):  # type: ignore[misc]
    """grpcio-health-checking's servicer plus ``List`` (which it leaves unimplemented)."""

    def List(
        self, request: health_pb2.HealthListRequest, context: grpc.ServicerContext
    ) -> health_pb2.HealthListResponse:
        with self._lock:
            statuses = dict(self._server_status)
        return health_pb2.HealthListResponse(
            statuses={name: health_pb2.HealthCheckResponse(status=s) for name, s in statuses.items()}
        )


def database_probe(engine: Engine) -> Probe:
    def probe() -> None:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    return probe


def upstream_probe(channel: grpc.Channel, service: str, timeout: float) -> Probe:
    """Ready while the upstream server says ``service`` is SERVING (its own readiness, database included)."""
    stub = health_pb2_grpc.HealthStub(channel)

    def probe() -> None:
        answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        if answer.status != SERVING:
            state = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
            raise RuntimeError(f"{service} is {state}")

    return probe


def _reason(exc: Exception) -> str:
    """One line saying why a probe failed (a gRPC error's code and details, not its repr)."""
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        return f"{exc.code().name}: {exc.details()}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


class Readiness:
    """Runs the probes every ``interval`` seconds on a daemon thread and sets the readiness names."""

    def __init__(
        self, server: str, servicer: HealthServicer, services: Sequence[str], interval: float, timeout: float
    ) -> None:
        self.server, self.servicer = server, servicer
        self.names = [*services, ""]
        self.interval, self.timeout = interval, timeout
        self.probes: dict[str, Probe] = {}
        self.failures: dict[str, str] = {}
        self._pending: dict[str, futures.Future[None]] = {}
        self._pool = futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"{server}-probe")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{server}-readiness", daemon=True)
        self.ready: bool | None = None

    def add_probe(self, name: str, probe: Probe) -> None:
        self.probes[name] = probe
        self._wake.set()  # check now rather than one interval later

    def start(self) -> None:
        self.servicer.set(LIVENESS, SERVING)
        self._publish(True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self.interval + self.timeout + 1)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def check_once(self) -> dict[str, str]:
        """Run every probe (each bounded by ``timeout``); the failing ones with their reason."""
        failures: dict[str, str] = {}
        for name, probe in list(self.probes.items()):
            pending = self._pending.get(name)
            if pending is None or pending.done():  # a probe still hanging from before is not re-run
                pending = self._pending[name] = self._pool.submit(probe)
            try:
                pending.result(timeout=self.timeout)
            except futures.TimeoutError:
                failures[name] = f"no answer in {self.timeout:g} s"
            except Exception as exc:
                failures[name] = _reason(exc)
        log.debug("health.checked", server=self.server, failures=failures)
        return failures

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            failures = self.check_once()
            if self._stop.is_set():
                return
            self.failures = failures
            self._publish(not failures)
            self._wake.wait(self.interval)

    def _publish(self, ready: bool) -> None:
        if ready != self.ready:
            if ready:
                log.info("health.ready", server=self.server)
            elif self.ready is not None:
                log.warning("health.not_ready", server=self.server, failures=self.failures)
        self.ready = ready
        for name in self.names:
            self.servicer.set(name, SERVING if ready else NOT_SERVING)
