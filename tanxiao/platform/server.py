"""Server bootstrap written once: interceptors, health checking, reflection, graceful shutdown.

``start_server`` binds (port 0 picks a free port, as the in-process tests do) and returns a handle;
``serve_until_signalled`` blocks until SIGTERM/SIGINT and stops with a grace period.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tanxiao.platform.access_log import AccessLog
from tanxiao.platform.config import Settings
from tanxiao.platform.health import HealthServicer
from tanxiao.platform.interceptors import Authenticator, ServerCallInterceptor, Serving
from tanxiao.platform.logging import flush as flush_logs
from tanxiao.platform.observability import Observability
from tanxiao.platform.tls import ConfigError, is_loopback, server_credentials, transport

log = structlog.get_logger("tanxiao.server")


@dataclass(frozen=True)
class ServiceBinding:
    """A servicer and how to attach it: ``add_to_server`` is the generated add_XServicer_to_server."""

    full_name: str  # e.g. "tanxiao.registry.v1.CarbonRegistry"
    servicer: Any
    add_to_server: Callable[[Any, grpc.Server], None]


@dataclass
class RunningServer:
    name: str
    server: grpc.Server
    port: int
    health: HealthServicer
    services: Sequence[str] = field(default_factory=tuple)
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    observability: Observability | None = None  # metrics, traces, readiness (observability.py)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    serving: Serving | None = None

    def stop(self, grace: float | None = 5.0) -> None:
        """In this order: health says NOT_SERVING (load balancers first), gRPC stops (calls in flight get
        ``grace`` seconds, then are cancelled), the stream pool drains, the hooks close what the calls
        used, and the log lines are written. Every step is bounded; the watchdog of
        ``serve_until_signalled`` bounds the whole."""
        self.health.enter_graceful_shutdown()
        stopped = self.server.stop(grace)
        # After the grace period gRPC cancels every call, and reports stopped once its polling thread
        # has seen them end: normally at once. Waiting longer would only hide a stuck polling thread.
        if not stopped.wait((grace or 0.0) + CALLS_END_SECONDS):
            log.error("server.calls_not_ended", server=self.name, after_grace_seconds=CALLS_END_SECONDS)
        if self.serving is not None:
            self.serving.stop()
        for hook in self.on_stop:
            hook()
        flush_logs()  # the log lines of the last calls are written before stop returns


def server_options(settings: Settings) -> list[tuple[str, int]]:
    """Message size bounds, keepalive enforcement and connection age (a connection cannot be kept
    forever, nor pinged as a flood)."""
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_time_ms", 60_000),  # the server pings idle connections to find dead peers
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", settings.keepalive_min_ping_seconds * 1000),
        ("grpc.http2.max_ping_strikes", 2),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.max_connection_age_ms", settings.max_connection_age_seconds * 1000),
        ("grpc.max_connection_age_grace_ms", 30_000),
        ("grpc.max_connection_idle_ms", settings.max_connection_idle_seconds * 1000),
    ]


def start_server(
    name: str,
    bindings: Sequence[ServiceBinding],
    listen: str,
    settings: Settings,
    *,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
    authenticator: Authenticator | None = None,
) -> RunningServer:
    """Serve ``bindings`` on ``listen``. With TANXIAO_AUTH_REQUIRED every call but health and reflection
    needs a bearer token that ``authenticator`` (the token store) knows."""
    if settings.auth_required and authenticator is None:
        raise ConfigError(f"{name}: TANXIAO_AUTH_REQUIRED is on but the server has no token store")
    access_log = (
        AccessLog(Path(settings.access_log_dir), settings.access_log_retention_days, server=name)
        if settings.access_log_dir
        else None
    )
    serving = Serving.create(settings.limits(), settings.stream_idle_seconds, access_log=access_log)
    observed = Observability(name, settings)
    # outermost: counts every call (metrics), including those refused by authentication or quotas
    calls = ServerCallInterceptor(
        authenticator if settings.auth_required else None, serving, observed.metrics
    )
    inner = [*observed.inner_interceptors(), *interceptors]
    pool = futures.ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix=name)
    if inner:  # tracing, a caller's own: gRPC runs the chain per call (ours keeps its handler per method)
        server = grpc.server(pool, interceptors=[calls, *inner], options=server_options(settings))
        target: Any = server
    else:  # ours alone: handlers wrapped as they are added, no interceptor pipeline per call
        server = grpc.server(pool, options=server_options(settings))
        target = calls.registering(server)
    health_servicer = observed.health
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, target)
    for binding in bindings:
        binding.add_to_server(binding.servicer, target)
    names = [b.full_name for b in bindings]
    observed.enable_reflection([*names, health.SERVICE_NAME], target)  # v1 and v1alpha
    port = _bind(server, name, listen, settings)
    server.start()
    for service in [*names, ""]:
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    observed.start(names)
    log.info(
        "server.started",
        server=name,
        listen=listen,
        port=port,
        services=names,
        transport=transport(settings),
        auth=settings.auth_required,
    )
    running = RunningServer(
        name, server, port, health_servicer, names, observability=observed, serving=serving
    )
    running.on_stop.append(observed.stop)
    freeze_start_up_heap(running)
    return running


def freeze_start_up_heap(running: RunningServer) -> None:
    """Move every object alive now (modules, settings, engines, the server: the start-up heap) out of
    the cyclic garbage collector's sight until ``running`` stops. A service whose start-up builds more
    after ``start_server`` (a policy, a sequencer) calls it again at its end.

    A full collection traverses every tracked object: over the start-up heap it was a 100-250 ms pause
    of every thread (the GIL held), the longest single pause behind QuoteLoanTerms' and the echo's p99
    at c=32 (docs/benchmarks.md, helper quote10). Frozen objects are still freed by reference counting;
    only cycles among them wait for the unfreeze, which the stop calls (a process starting many servers,
    as the tests do, keeps nothing frozen past their stop)."""
    gc.freeze()
    if gc.unfreeze not in running.on_stop:
        running.on_stop.append(gc.unfreeze)


def _bind(server: grpc.Server, name: str, listen: str, settings: Settings) -> int:
    """TLS (mutual when a client CA is set) unless plaintext is explicitly allowed; development modes
    (plaintext, no authentication) only on loopback, and said in the log."""
    credentials = server_credentials(settings)  # ConfigError names the TANXIAO_ variable at fault
    development = credentials is None or not settings.auth_required
    if development and not is_loopback(listen):
        raise ConfigError(
            f"{name}: plaintext (TANXIAO_ALLOW_PLAINTEXT) or no authentication (TANXIAO_AUTH_REQUIRED=false) "
            f"is for development on loopback only, not on {listen}"
        )
    if credentials is None:
        port = server.add_insecure_port(listen)
        log.warning(
            "server.plaintext", server=name, listen=listen, reason="TANXIAO_ALLOW_PLAINTEXT on loopback"
        )
    else:
        port = server.add_secure_port(listen, credentials)
    if not settings.auth_required:
        log.warning(
            "server.no_authentication", server=name, listen=listen, reason="TANXIAO_AUTH_REQUIRED=false"
        )
    if port == 0:
        raise RuntimeError(f"{name}: could not bind {listen}")
    return port


class StopSignal(threading.Event):
    """Set by SIGTERM or SIGINT; remembers which. The handler only sets it: logging from a signal
    handler can deadlock on the log stream's lock if the main thread was writing a line."""

    received: str = ""


def stop_on_signals() -> StopSignal:
    """Install before starting servers, so a signal during start-up stops the process gracefully."""
    stop = StopSignal()

    def _handle(signum: int, _frame: object) -> None:
        stop.received = signal.Signals(signum).name
        stop.set()

    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGINT, _handle)
    return stop


def serve_until_signalled(
    servers: Sequence[RunningServer], grace: float, stop: StopSignal | None = None
) -> None:
    """Block until ``stop`` (default: SIGTERM or SIGINT), then stop every server with ``grace`` seconds
    for in-flight calls. For a process that exits next: from the signal to the exit is bounded (the
    watchdog below, past ``grace + STOP_OVERRUN_SECONDS``, prints every thread's stack and exits 70)."""
    stop = stop or stop_on_signals()
    while not stop.wait(1.0):  # a timed wait keeps the main thread responsive to signals
        pass
    log.info("server.stopping", signal=stop.received, grace_seconds=grace)
    # Not cancelled when the servers have stopped: the interpreter's exit still joins threads (the
    # executors' workers: a handler or probe that never returns keeps the process alive), and that
    # wait is bounded by the same watchdog. A daemon thread: it ends with the process.
    watchdog = threading.Timer(grace + STOP_OVERRUN_SECONDS, _stop_overdue, args=(grace,))
    watchdog.daemon = True
    watchdog.start()
    for running in servers:
        running.stop(grace)
    log.info("server.stopped", servers=[s.name for s in servers])


# A graceful stop takes the grace period plus at most ~10 s draining the stream pool and the log
# writers' flush. Past this much more, something is stuck (a handler ignoring cancellation, a blocked
# sink): an orchestrator would SIGKILL the process anyway, so it exits by itself, first printing every
# thread's stack so that the stuck one can be found.
STOP_OVERRUN_SECONDS = 30.0
# How long after the grace period gRPC may take to report that the cancelled calls have ended.
CALLS_END_SECONDS = 10.0


def _stop_overdue(grace: float) -> None:
    overdue = grace + STOP_OVERRUN_SECONDS
    message = f"server.stop_overdue: not stopped and exited {overdue:.0f} s after the signal; exiting\n"
    sys.stderr.write(message)  # directly: the log writers may be what is stuck
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(70)  # EX_SOFTWARE: a forced exit, not a clean one
