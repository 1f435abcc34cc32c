"""The per-call RPC metrics without a lock per update: counts kept per thread, summed when scraped.

prometheus-client guards every value with its own lock, and a unary call touched six of them (started,
in flight up and down, handled, the histogram's sum and bucket). Here each thread that serves calls
has its own shard of every method's counts, written only by that thread (no lock, no lost update under
the interpreter lock); a scrape adds the shards up. In flight is not kept at all: it is started minus
handled, read in that order (handled first), so a scrape never sees a call finished before it started.

Exposed exactly as prometheus-client's Counter, Histogram and Gauge of the same names would expose them
(``_total`` and ``_created``, ``_bucket``/``_count``/``_sum``), the families present before their first
sample (the Grafana dashboard test relies on that).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

LABELS = ("grpc_type", "grpc_service", "grpc_method")


class Shard:
    """One thread's counts of one method."""

    __slots__ = ("buckets", "handled", "ok", "received", "seconds", "sent", "started")

    def __init__(self, buckets: int) -> None:
        self.started = 0
        self.ok = 0  # handled with OK, the common code: an attribute (a caller may count it inline)
        self.handled: dict[str, int] = {}  # handled with any other code
        self.seconds = 0.0
        self.buckets = [0] * buckets
        self.received = 0
        self.sent = 0


class MethodSeries:
    """The series of one method (``labels``: grpc_type, grpc_service, grpc_method)."""

    def __init__(self, labels: tuple[str, str, str], bounds: Sequence[float]) -> None:
        self.labels = labels
        self.bounds = tuple(bounds)
        self.created = time.time()
        # thread id -> its shard; read without the lock (``by_thread.get(get_ident())`` is ``shard``'s fast
        # path, which a caller may take inline), written only under it
        self.by_thread: dict[int, Shard] = {}
        self._shards = self.by_thread
        self._lock = threading.Lock()  # only to add a thread's shard

    def shard(self) -> Shard:
        """The calling thread's shard (made on its first call)."""
        ident = threading.get_ident()
        shard = self._shards.get(ident)
        if shard is None:
            with self._lock:
                # A new thread may reuse a finished thread's id: it then continues that shard, alone.
                shard = self._shards.setdefault(ident, Shard(len(self.bounds) + 1))
        return shard

    def finished(self, shard: Shard, code: str, seconds: float) -> None:
        """One call ended with ``code`` after ``seconds``; ``shard`` is the calling thread's."""
        if code == "OK":
            shard.ok += 1
        else:
            handled = shard.handled
            handled[code] = handled.get(code, 0) + 1
        shard.seconds += seconds
        shard.buckets[bisect.bisect_left(self.bounds, seconds)] += 1

    def shards(self) -> list[Shard]:
        with self._lock:
            return list(self._shards.values())


class RpcCounts(Collector):
    """Every method's series of one server, and their exposition."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self._series: dict[tuple[str, str, str], MethodSeries] = {}
        self._lock = threading.Lock()

    def series(self, labels: tuple[str, str, str]) -> MethodSeries:
        with self._lock:
            found = self._series.get(labels)
            if found is None:
                found = self._series[labels] = MethodSeries(labels, self.bounds)
            return found

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        started, handled, latency, in_flight, received, sent = families = self._families()
        with self._lock:
            every = list(self._series.values())
        for series in every:
            shards = series.shards()
            if not shards:  # a method known (handlers are wrapped when registered) but never called
                continue
            labels = list(series.labels)
            codes: dict[str, int] = {}
            for shard in shards:  # handled before started: in flight never below zero
                if shard.ok:
                    codes["OK"] = codes.get("OK", 0) + shard.ok
                for code, count in list(shard.handled.items()):
                    codes[code] = codes.get(code, 0) + count
            begun = sum(shard.started for shard in shards)
            for code, count in sorted(codes.items()):
                handled.add_metric([*labels, code], count, created=series.created)
            started.add_metric(labels, begun, created=series.created)
            in_flight.add_metric(labels, begun - sum(codes.values()))
            latency.add_metric(labels, self._buckets(shards), sum(s.seconds for s in shards))
            kind = series.labels[0]
            if kind in ("client_stream", "bidi_stream"):
                received.add_metric(labels, sum(s.received for s in shards), created=series.created)
            if kind in ("server_stream", "bidi_stream"):
                sent.add_metric(labels, sum(s.sent for s in shards), created=series.created)
        yield from families

    def _buckets(self, shards: list[Shard]) -> list[tuple[str, float]]:
        counts = [0] * (len(self.bounds) + 1)
        for shard in shards:
            for i, count in enumerate(shard.buckets):
                counts[i] += count
        cumulative = 0
        out: list[tuple[str, float]] = []
        for bound, count in zip((*self.bounds, float("inf")), counts, strict=True):
            cumulative += count
            le = floatToGoString(bound)  # type: ignore[no-untyped-call]  # the "le" prometheus-client writes
            out.append((str(le), float(cumulative)))
        return out

    @staticmethod
    def _families() -> tuple[
        CounterMetricFamily,
        CounterMetricFamily,
        HistogramMetricFamily,
        GaugeMetricFamily,
        CounterMetricFamily,
        CounterMetricFamily,
    ]:
        labels = list(LABELS)
        return (
            CounterMetricFamily("grpc_server_started", "RPCs started on the server", labels=labels),
            CounterMetricFamily(
                "grpc_server_handled",
                "RPCs completed on the server, by status code",
                labels=[*labels, "grpc_code"],
            ),
            HistogramMetricFamily(
                "grpc_server_handling_seconds",
                "Time from the call's start to its status (streams: the whole stream)",
                labels=labels,
            ),
            GaugeMetricFamily("grpc_server_in_flight", "RPCs started and not yet completed", labels=labels),
            CounterMetricFamily(
                "grpc_server_msg_received",
                "Stream messages received (client and bidirectional streams)",
                labels=labels,
            ),
            CounterMetricFamily(
                "grpc_server_msg_sent",
                "Stream messages sent (server and bidirectional streams)",
                labels=labels,
            ),
        )
