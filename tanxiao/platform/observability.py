"""What every server offers its operators, attached by ``start_server`` in a few lines: Prometheus
metrics (``metrics``), OpenTelemetry traces (``tracing``), readiness and liveness (``health``) and
reflection v1 beside v1alpha (``reflection_v1``).

The service wiring tells it what the server depends on: ``watch_database(engine)`` (pool gauges and the
database probe) and, for scoring, ``watch_upstream(channel, service)`` (the registry's readiness).
``client_channel`` wraps a channel the server dials so that its calls carry the request id and the
trace context of the call being served.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
import structlog
from sqlalchemy import Engine

from tanxiao.platform import reflection_v1, tracing
from tanxiao.platform.config import Settings
from tanxiao.platform.health import HealthServicer, Readiness, database_probe, upstream_probe
from tanxiao.platform.metrics import Endpoint, ServerMetrics
from tanxiao.platform.request_context import RequestIdClientInterceptor

log = structlog.get_logger("tanxiao.observability")


def metrics_listen(name: str, settings: Settings) -> str:
    """The metrics address configured for server ``name`` ("" = no endpoint)."""
    return str(getattr(settings, f"{name}_metrics_listen", "") or "")


class Observability:
    def __init__(self, name: str, settings: Settings) -> None:
        self.name, self.settings = name, settings
        self.metrics = ServerMetrics(name)
        self.health = HealthServicer()
        self.endpoint: Endpoint | None = None
        self.readiness: Readiness | None = None

    def inner_interceptors(self) -> list[grpc.ServerInterceptor]:
        """Inside the serving layer (tanxiao.platform.interceptors, which also counts the RPC metrics):
        the trace span wraps the servicer. It cannot sit outside, because the serving layer runs streams
        off the gRPC workers (non-blocking handlers) and the instrumentation only knows generator
        handlers."""
        return tracing.server_interceptors(self.name)

    def enable_reflection(self, service_names: Sequence[str], server: grpc.Server) -> None:
        reflection_v1.enable(service_names, server)

    def start(self, services: Sequence[str]) -> None:
        """After the server started: the metrics endpoint (when configured) and the readiness loop."""
        listen = metrics_listen(self.name, self.settings)
        if listen:
            self.endpoint = Endpoint(listen, self.metrics.registry)
            log.info("metrics.serving", server=self.name, url=self.endpoint.url)
        self.readiness = Readiness(
            self.name,
            self.health,
            services,
            self.settings.health_check_interval_seconds,
            self.settings.health_probe_timeout_seconds,
        )
        self.readiness.start()

    def watch_database(self, engine: Engine, pool: str = "main") -> None:
        self.metrics.watch_pool(pool, engine)
        if self.readiness is not None:
            self.readiness.add_probe("database", database_probe(engine))

    def watch_upstream(self, name: str, channel: grpc.Channel, service: str) -> None:
        if self.readiness is not None:
            timeout = self.settings.health_probe_timeout_seconds
            self.readiness.add_probe(name, upstream_probe(channel, service, timeout))

    def stop(self) -> None:
        if self.readiness is not None:
            self.readiness.stop()
        if self.endpoint is not None:
            self.endpoint.stop()
        tracing.flush(self.name)


def client_channel(server: str, channel: grpc.Channel) -> grpc.Channel:
    """``channel`` with the request id and (when tracing is on) the trace context propagated."""
    return grpc.intercept_channel(tracing.traced_channel(server, channel), RequestIdClientInterceptor())
