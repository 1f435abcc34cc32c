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

import functools
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import Engine

log = structlog.get_logger("tanxiao.health")
LIVENESS = "liveness"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
Send = Callable[[Any], None]  # a non-blocking handler's send: a response, or None to end the call
Probe = Callable[[], None]  # returns when the dependency is usable, raises when it is not


class HealthServicer(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
    """grpc.health.v1.Health: Check, a non-blocking Watch, and List (which grpcio-health-checking
    leaves unimplemented); ``set`` and ``enter_graceful_shutdown`` as in grpcio-health-checking.

    Why not grpcio-health-checking's own servicer: it sends a status change to every watch while holding
    the lock that a watch's close callback takes. gRPC runs close callbacks on the server's one polling
    thread, and a send waits for that thread to report the message written; a watch closing during a
    send left the polling thread waiting for the lock and the sender waiting for the polling thread, for
    good: the server answered nothing more, and a SIGTERM's stop hung (the starvation test's teardown,
    under load; tests/platform/test_health_watch_close.py). Here ``_lock`` (statuses, watchers) is
    never held while sending, and ``_sending`` (one change at a time, so a watch sees changes in order
    and never two sends at once) is never taken on the polling thread. A watch is sent a status only
    when it changes, as the protocol says, not on every readiness check."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._statuses: dict[str, int] = {"": SERVING}
        self._watches: dict[str, set[Send]] = {}
        self._shutting_down = False

    def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        with self._lock:
            status = self._statuses.get(request.service)
        if status is None:
            context.set_code(grpc.StatusCode.NOT_FOUND)
            return health_pb2.HealthCheckResponse()
        return health_pb2.HealthCheckResponse(status=status)

    def Watch(
        self,
        request: health_pb2.HealthCheckRequest,
        context: grpc.ServicerContext,
        send_response_callback: Send,  # the name gRPC's and our interceptors' callers pass it by
    ) -> None:
        """The current status now, then each change, until the call ends."""
        service, send = request.service, send_response_callback
        with self._sending:  # registered and sent before any change is sent: no change is missed
            with self._lock:
                status = self._statuses.get(service, SERVICE_UNKNOWN)
                self._watches.setdefault(service, set()).add(send)
            if not context.add_callback(functools.partial(self._unwatch, service, send)):
                self._unwatch(service, send)  # the call has already ended
                return
            send(health_pb2.HealthCheckResponse(status=status))

    Watch.experimental_non_blocking = True  # type: ignore[attr-defined]

    def List(
        self, request: health_pb2.HealthListRequest, context: grpc.ServicerContext
    ) -> health_pb2.HealthListResponse:
        with self._lock:
            statuses = dict(self._statuses)
        return health_pb2.HealthListResponse(
            statuses={name: health_pb2.HealthCheckResponse(status=s) for name, s in statuses.items()}
        )

    def set(self, service: str, status: int) -> None:
        """``service``'s status; ignored once the server is shutting down."""
        with self._sending:
            with self._lock:
                if self._shutting_down or self._statuses.get(service) == status:
                    return
                self._statuses[service] = status
                watches = list(self._watches.get(service, ()))
            _send_all(watches, status)

    def enter_graceful_shutdown(self) -> None:
        """Every status NOT_SERVING, for good (load balancers stop sending calls before the server
        stops)."""
        with self._sending:
            with self._lock:
                if self._shutting_down:
                    return
                self._shutting_down = True
                changed = [s for s, status in self._statuses.items() if status != NOT_SERVING]
                for service in changed:
                    self._statuses[service] = NOT_SERVING
                watches = [w for s in changed for w in self._watches.get(s, ())]
            _send_all(watches, NOT_SERVING)

    def _unwatch(self, service: str, send: Send) -> None:
        """A watch's call ended (on gRPC's polling thread): forget it, and end the call's side."""
        with self._lock:
            self._watches.get(service, set()).discard(send)
        send(None)  # starts the status batch; does not wait for the polling thread


def _send_all(watches: list[Send], status: int) -> None:
    for send in watches:
        send(health_pb2.HealthCheckResponse(status=status))


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
