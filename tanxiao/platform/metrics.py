"""Prometheus metrics: what each server exposes on its metrics endpoint, defined in one place.

Two kinds of metric objects:

- **RPC metrics** (``ServerMetrics``), one set per server and in that server's own registry, named as
  the grpc-ecosystem interceptors name them (``grpc_server_started_total`` ...) so that existing gRPC
  dashboards and alerts apply unchanged. The labels are ``grpc_service``, ``grpc_method``,
  ``grpc_type`` and, once a call ends, ``grpc_code``.
  Quota rejections are counted there too, from the status every RESOURCE_EXHAUSTED carries: whichever
  quota or stream bound refused the call, its ErrorInfo reason becomes the ``reason`` label, so a new
  quota needs no new metric code.
- **Domain metrics** (module-level below: ingest rows, decisions, profile cache, sequencer lag),
  incremented by the code that does the work with one line, and registered into the registry of each
  server that serves them (``DOMAIN_METRICS``). They are process-wide objects: with
  ``tanxiao serve all`` both servers share a process, and each endpoint shows only the metrics of its
  own service.

``DB pool`` gauges are read at scrape time from the SQLAlchemy pool of the engine each server watches.
The endpoint (``Endpoint``) is prometheus-client's own HTTP server on the address of
``TANXIAO_REGISTRY_METRICS_LISTEN`` / ``TANXIAO_SCORING_METRICS_LISTEN`` (off when empty).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from tanxiao.platform.rpc_counts import RpcCounts, Shard

# --------------------------------------------------------------------------------- domain metrics
# Created without a registry: each server registers the ones it serves (see DOMAIN_METRICS).

INGEST_ROWS = Counter(
    "tanxiao_ingest_rows_total",
    "Records received by IngestRecords / BatchIngestRecords / the importer, by outcome "
    "(accepted, duplicate, revised, rejected)",
    ["outcome"],
    registry=None,
)
DECISIONS_APPENDED = Counter(
    "tanxiao_decisions_appended_total",
    "Decisions appended to the hash chain (retries of a stored request are not counted)",
    registry=None,
)
PROFILE_CACHE = Counter(
    "tanxiao_profile_cache_requests_total",
    "Carbon profile look-ups in the scoring service's cache, by result (hit, miss)",
    ["result"],
    registry=None,
)
SEQUENCER_LAG = Gauge(
    "tanxiao_sequencer_lag_entries",
    "Decision-log entries the last sequencer run found waiting and integrated (0 where another "
    "replica holds the sequencer lock)",
    registry=None,
)

DOMAIN_METRICS: dict[str, tuple[Collector, ...]] = {
    "registry": (INGEST_ROWS,),
    "scoring": (DECISIONS_APPENDED, PROFILE_CACHE, SEQUENCER_LAG),
}

# Seconds; gRPC calls here range from sub-millisecond cache hits to minutes-long recomputes.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


def record_ingest(accepted: int, duplicates: int, revised: int, rejected: int) -> None:
    for outcome, count in (
        ("accepted", accepted),
        ("duplicate", duplicates),
        ("revised", revised),
        ("rejected", rejected),
    ):
        if count:
            INGEST_ROWS.labels(outcome).inc(count)


# ----------------------------------------------------------------------------- per-server metrics


class ServerMetrics:
    """The RPC metrics of one server and the registry its endpoint serves."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.registry = CollectorRegistry(auto_describe=True)
        # The per-call series, without a lock per update (tanxiao.platform.rpc_counts).
        self.rpcs = RpcCounts(LATENCY_BUCKETS)
        self.registry.register(self.rpcs)
        self.quota_rejections = Counter(
            "tanxiao_quota_rejections_total",
            "Calls refused with RESOURCE_EXHAUSTED (a quota or a size/stream bound), by ErrorInfo reason",
            ["grpc_service", "grpc_method", "reason"],
            registry=self.registry,
        )
        self.pools = _PoolCollector()
        self.registry.register(self.pools)
        for metric in DOMAIN_METRICS.get(server, ()):
            self.registry.register(metric)

    def watch_pool(self, name: str, engine: Engine) -> None:
        """Expose ``engine``'s connection pool as ``tanxiao_db_pool_*{pool=name}``."""
        self.pools.engines[name] = engine

    def method(self, handler: grpc.RpcMethodHandler, method: str) -> MethodMetrics:
        """The series of ``method`` (served by ``handler``, which gives its grpc_type)."""
        return MethodMetrics(self, handler, method)


class _PoolCollector(Collector):
    """Pool gauges read when scraped: the pool knows its own numbers, nothing to keep in step."""

    def __init__(self) -> None:
        self.engines: dict[str, Engine] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size = GaugeMetricFamily("tanxiao_db_pool_size", "Connections the pool keeps open", labels=["pool"])
        out = GaugeMetricFamily(
            "tanxiao_db_pool_checked_out", "Connections in use by a call right now", labels=["pool"]
        )
        overflow = GaugeMetricFamily(
            "tanxiao_db_pool_overflow", "Connections opened beyond the pool size (negative: unused)",
            labels=["pool"],
        )  # fmt: skip
        for name, engine in self.engines.items():
            pool: Any = engine.pool
            for family, reader in ((size, "size"), (out, "checkedout"), (overflow, "overflow")):
                value = getattr(pool, reader, None)
                if callable(value):
                    family.add_metric([name], float(value()))
        yield from (size, out, overflow)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # families are built at scrape time; nothing to check for collisions up front


# ------------------------------------------------------------------------------ per-call counting
# There is no interceptor of its own: the serving layer (tanxiao.platform.interceptors), the outermost
# one, counts every call it sees, refusals included, in the same function per call that does the rest
# of the plumbing (unary calls), or through ``count_calls`` (streams, health, reflection).


def _split(method: str) -> tuple[str, str]:
    service, _, name = method.lstrip("/").rpartition("/")
    return service, name


def _kind(handler: grpc.RpcMethodHandler) -> str:
    if handler.unary_unary:
        return "unary"
    if handler.stream_unary:
        return "client_stream"
    if handler.unary_stream:
        return "server_stream"
    return "bidi_stream"


class MethodMetrics:
    """One method's series (per-thread counts) and its quota-rejection counter."""

    def __init__(self, metrics: ServerMetrics, handler: grpc.RpcMethodHandler, method: str) -> None:
        self.metrics = metrics
        self.labels = (_kind(handler), *_split(method))
        self.series = metrics.rpcs.series(self.labels)

    def start(self) -> Shard:
        shard = self.series.shard()
        shard.started += 1
        return shard

    def finish(self, context: grpc.ServicerContext, started: float, otherwise: str = "OK") -> None:
        """handled/latency of one call (and the quota rejection it may be), on the calling thread;
        the code is what the call's context says (an abort, set_code), else ``otherwise``."""
        self.ended(_code_of(context, otherwise), time.perf_counter() - started, context)

    def ended(self, code: str, seconds: float, context: grpc.ServicerContext) -> None:
        """One call ended with ``code`` after ``seconds``, counted on the calling thread's shard."""
        self.series.finished(self.series.shard(), code, seconds)
        if code == "RESOURCE_EXHAUSTED":
            self.metrics.quota_rejections.labels(*self.labels[1:], _reason_of(context)).inc()

    def received(self) -> None:
        self.series.shard().received += 1

    def sent(self) -> None:
        self.series.shard().sent += 1


class _Call:
    """One stream's bookkeeping: started on entry, handled/latency exactly once on exit (a stream can
    end in the generator and in the cancellation callback)."""

    def __init__(self, counts: MethodMetrics) -> None:
        self.counts = counts
        self.started = time.perf_counter()
        self._done = threading.Lock()
        self._finished = False
        counts.start()

    def finish(self, context: grpc.ServicerContext, otherwise: str = "OK") -> None:
        """``otherwise``: the code when no inner layer set one (UNKNOWN after an exception)."""
        with self._done:
            if self._finished:
                return
            self._finished = True
        self.counts.finish(context, self.started, otherwise)

    def counted(self, messages: Iterator[Any], count: Callable[[], None]) -> Iterator[Any]:
        for message in messages:
            count()
            yield message


def _code_of(context: grpc.ServicerContext, otherwise: str) -> str:
    """The status the call ends with: what the inner layers set (abort or set_code), else
    ``otherwise`` (UNKNOWN for an exception nobody turned into a status, what gRPC itself then sends)."""
    code = context.code() if hasattr(context, "code") else None
    return str(code.name) if isinstance(code, grpc.StatusCode) else otherwise


def _reason_of(context: grpc.ServicerContext) -> str:
    """The ErrorInfo reason in the call's google.rpc.Status trailer ("" when there is none)."""
    metadata = context.trailing_metadata() if hasattr(context, "trailing_metadata") else None
    for key, value in metadata or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    return str(info.reason)
    return ""


def count_calls(handler: grpc.RpcMethodHandler, counts: MethodMetrics) -> grpc.RpcMethodHandler:
    """``handler`` counted: started, handled by code, latency, stream messages."""
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            _unary(handler.unary_unary, counts), handler.request_deserializer, handler.response_serializer
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            _client_stream(handler.stream_unary, counts),
            handler.request_deserializer,
            handler.response_serializer,
        )
    behavior = handler.unary_stream or handler.stream_stream
    make = (
        grpc.unary_stream_rpc_method_handler
        if handler.unary_stream
        else grpc.stream_stream_rpc_method_handler
    )
    wrapped = _streaming(behavior, counts, client_streaming=bool(handler.stream_stream))
    return make(wrapped, handler.request_deserializer, handler.response_serializer)


def _unary(behavior: Callable[..., Any], counts: MethodMetrics) -> Callable[..., Any]:
    """A unary call starts and ends on one thread: its shard, no lock, no per-call object."""
    series, shard_of = counts.series, counts.series.shard
    clock = time.perf_counter

    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        started = clock()
        shard = shard_of()
        shard.started += 1
        try:
            response = behavior(request, context)
        except BaseException:
            counts.finish(context, started, "UNKNOWN")
            raise
        code = _code_of(context, "OK")
        if code == "RESOURCE_EXHAUSTED":
            counts.finish(context, started)
        else:
            series.finished(shard, code, clock() - started)
        return response

    return handler


def _client_stream(behavior: Callable[..., Any], counts: MethodMetrics) -> Callable[..., Any]:
    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        call = _Call(counts)
        try:
            response = behavior(call.counted(request, counts.received), context)
        except BaseException:
            call.finish(context, "UNKNOWN")
            raise
        call.finish(context)
        return response

    return handler


def _streaming(
    behavior: Callable[..., Any], counts: MethodMetrics, client_streaming: bool
) -> Callable[..., Any]:
    if getattr(behavior, "experimental_non_blocking", False):
        return _non_blocking(behavior, counts, client_streaming)

    def handler(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        call = _Call(counts)
        # A client that cancels mid-stream never resumes the generator: count the end there too.
        context.add_callback(lambda: call.finish(context, "CANCELLED"))
        if client_streaming:
            request = call.counted(request, counts.received)
        try:
            for item in behavior(request, context):
                counts.sent()
                yield item
        except BaseException:
            call.finish(context, "UNKNOWN")
            raise
        call.finish(context)

    return handler


def _non_blocking(
    behavior: Callable[..., None], counts: MethodMetrics, client_streaming: bool
) -> Callable[..., None]:
    """Streams the serving layer runs off the gRPC workers (tanxiao.platform.streams): they answer
    through ``send_response_callback``, whose final ``None`` is the end of the call."""

    def handler(
        request: Any, context: grpc.ServicerContext, send_response_callback: Callable[[Any], None]
    ) -> None:
        call = _Call(counts)
        context.add_callback(lambda: call.finish(context, "CANCELLED"))
        if client_streaming:
            request = call.counted(request, counts.received)

        def send(response: Any) -> None:
            if response is None:
                call.finish(context)
            else:
                counts.sent()
            send_response_callback(response)

        try:
            behavior(request, context, send)
        except BaseException:
            call.finish(context, "UNKNOWN")
            raise

    handler.experimental_non_blocking = True  # type: ignore[attr-defined]
    return handler


# ------------------------------------------------------------------------------------- endpoint


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6) -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected host:port, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


class Endpoint:
    """A running /metrics HTTP server; ``port`` is the bound one (0 in the setting picks a free one)."""

    def __init__(self, listen: str, registry: CollectorRegistry) -> None:
        host, port = parse_listen(listen)
        self.httpd, self.thread = start_http_server(port, addr=host, registry=registry)
        self.host = host
        self.port = int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
