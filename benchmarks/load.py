"""Load from separate client processes (spawned, each with its own channel) against a server of ours.

Unary: ``concurrency`` in-flight calls in total, spread over up to ``client_procs`` processes, each an
asyncio loop with that many call loops on one grpc.aio channel. Requests are pre-serialised bytes
and responses are not parsed (identity (de)serialisers) so client cost is the same for every case.
A warm-up, then a fixed measured window; a call counts when it completes inside the window.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

_SPAWN = mp.get_context("spawn")  # never fork a process that runs a gRPC server
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.use_local_subchannel_pool", 1),  # one connection per process, not shared
]


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    processes: int
    calls: int
    errors: int
    seconds: float
    latencies_ms: np.ndarray

    @property
    def qps(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else float("nan")


def split(concurrency: int, client_procs: int) -> list[int]:
    procs = max(1, min(client_procs, concurrency))
    base, extra = divmod(concurrency, procs)
    return [base + (1 if i < extra else 0) for i in range(procs)]


def run_unary(
    address: str,
    method: str,
    payloads: list[bytes],
    concurrency: int,
    *,
    client_procs: int = 2,
    duration: float = 3.0,
    warmup: float = 0.7,
    timeout: float = 30.0,
) -> LoadResult:
    shares = split(concurrency, client_procs)
    results: Any = _SPAWN.Queue()
    start_at = _SPAWN.Value("d", 0.0)
    go = _SPAWN.Event()
    procs = [
        _SPAWN.Process(
            target=_unary_client,
            args=(
                i,
                address,
                method,
                payloads[i :: len(shares)] or payloads,
                share,
                warmup,
                duration,
                start_at,
                go,
                results,
            ),
            daemon=True,
        )
        for i, share in enumerate(shares)
    ]
    for p in procs:
        p.start()
    try:
        for _ in procs:  # every client connected and warm
            kind, payload = results.get(timeout=timeout)
            if kind != "ready":
                raise RuntimeError(f"client failed before start: {payload}")
        start_at.value = time.monotonic() + 0.05
        go.set()
        calls = errors = 0
        latencies = []
        for _ in procs:
            kind, payload = results.get(timeout=timeout + warmup + duration)
            if kind != "done":
                raise RuntimeError(f"client failed: {payload}")
            calls += payload["calls"]
            errors += payload["errors"]
            latencies.append(np.frombuffer(payload["latencies"], dtype=np.int64))
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    lat = np.concatenate(latencies) / 1e6 if latencies else np.empty(0)
    return LoadResult(concurrency, len(procs), calls, errors, duration, lat)


def _unary_client(
    index: int,
    address: str,
    method: str,
    payloads: list[bytes],
    inflight: int,
    warmup: float,
    duration: float,
    start_at: Any,
    go: Any,
    results: Any,
) -> None:
    try:
        asyncio.run(_unary_main(address, method, payloads, inflight, warmup, duration, start_at, go, results))
    except BaseException:
        results.put(("error", traceback.format_exc()))


async def _unary_main(
    address: str,
    method: str,
    payloads: list[bytes],
    inflight: int,
    warmup: float,
    duration: float,
    start_at: Any,
    go: Any,
    results: Any,
) -> None:
    import grpc

    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        await asyncio.wait_for(channel.channel_ready(), 10)
        call = channel.unary_unary(method)  # bytes in, bytes out
        # readiness calls from the end of the list: the measured loops start at its head, so a case
        # whose every call must be new (a quote's request_id) never sees one of these again
        for p in payloads[-20:]:
            await call(p, timeout=10)
        results.put(("ready", None))
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        begin = start_at.value
        while time.monotonic() < begin:
            await asyncio.sleep(0.001)
        window_from = time.perf_counter_ns() + int(warmup * 1e9)
        window_to = window_from + int(duration * 1e9)
        latencies: list[int] = []
        counts = {"calls": 0, "errors": 0}
        n = len(payloads)

        async def loop(offset: int) -> None:
            i = offset
            while True:
                t0 = time.perf_counter_ns()
                ok = True
                try:
                    await call(payloads[i % n], timeout=10)
                except grpc.RpcError:
                    ok = False
                t1 = time.perf_counter_ns()
                i += inflight
                if window_from <= t1 <= window_to:
                    if ok:
                        counts["calls"] += 1
                        latencies.append(t1 - t0)
                    else:
                        counts["errors"] += 1
                if t1 > window_to:
                    return

        await asyncio.gather(*(loop(k) for k in range(inflight)))
        results.put(("done", {**counts, "latencies": np.asarray(latencies, dtype=np.int64).tobytes()}))


# ----------------------------------------------------------------------------------- ingest stream


def run_ingest_stream(address: str, spec: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    """One IngestRecords client stream from a separate process; requests are built before timing."""
    with _client_process("ingest", _ingest_client, (address, spec), timeout) as receive:
        return dict(_done("ingest", *receive()))


def _ingest_client(address: str, spec: dict[str, Any], results: Any) -> None:
    try:
        import grpc

        from benchmarks.data import ingest_requests
        from tanxiao.registry.v1 import registry_pb2_grpc

        t0 = time.perf_counter()
        requests = ingest_requests(**spec)
        build = time.perf_counter() - t0
        channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = registry_pb2_grpc.CarbonRegistryStub(channel)
        t0 = time.perf_counter()
        response = stub.IngestRecords(iter(requests), timeout=600)
        seconds = time.perf_counter() - t0
        channel.close()
        results.put(
            (
                "done",
                {
                    "seconds": seconds,
                    "build_seconds": build,
                    "received": response.received,
                    "accepted": response.accepted,
                    "rejected": response.rejected,
                    "duplicates": response.duplicates,
                },
            )
        )
    except BaseException:
        results.put(("error", traceback.format_exc()))


# ----------------------------------------------------------------------------------- CPU of processes


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc; its threads included), or NaN
    where /proc cannot be read."""
    import os

    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


# ----------------------------------------------------------------------------------- a registry process


@dataclass(frozen=True)
class ServiceProcess:
    """A server of ours running in a spawned process (as a deployment runs it): its address and pid."""

    address: str
    pid: int
    stop: Any  # an Event: set to stop the server and end the process
    process: Any

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def close(self) -> None:
        self.stop.set()
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)


def _start_service_process(what: str, target: Any, args: tuple[Any, ...], timeout: float) -> ServiceProcess:
    """Spawn ``target(*args, stop, results)``; returns once it reports "ready" (its address) or raises
    with what it reported. The three service processes below start alike."""
    results: Any = _SPAWN.Queue()
    stop = _SPAWN.Event()
    # Not daemonic: a service starts processes of its own (the registry's ingest workers), which a
    # daemonic process may not; ServiceProcess.close stops it, and terminates it if it hangs.
    proc = _SPAWN.Process(target=target, args=(*args, stop, results))
    proc.start()
    try:
        kind, payload = results.get(timeout=timeout)
    except queue.Empty:
        proc.terminate()
        raise TimeoutError(f"{what} process did not start in {timeout:.0f} s") from None
    if kind != "ready":
        proc.join(timeout=5)
        raise RuntimeError(f"{what} process failed: {payload}")
    return ServiceProcess(str(payload or ""), int(proc.pid or 0), stop, proc)


def start_registry_process(
    settings: Any, *, log_path: str | None = None, timeout: float = 60.0
) -> ServiceProcess:
    """``registry_service.app.start_registry(settings, "127.0.0.1:0")`` in a spawned process; returns
    once it serves. ``log_path``: where its structured logs go (appended), else its stderr."""
    return _start_service_process("registry", _serve_main, (settings, None, log_path), timeout)


def _serve_main(
    settings: Any, registry_addr: str | None, log_path: str | None, stop: Any, results: Any
) -> None:
    """A registry (``registry_addr`` None) or a scoring replica dialling ``registry_addr``, served
    until ``stop`` is set; its address (or the start-up traceback) reported on ``results``."""
    try:
        _child_logging(log_path)
        if registry_addr is None:
            from registry_service.app import start_registry

            running = start_registry(settings, "127.0.0.1:0")
        else:
            from scoring_service.app import start_scoring

            running = start_scoring(settings, "127.0.0.1:0", registry_addr=registry_addr)
    except BaseException:
        results.put(("error", traceback.format_exc()))
        return
    results.put(("ready", running.address))
    stop.wait()
    running.stop(None)


def start_scoring_process(
    settings: Any, registry_addr: str, *, log_path: str | None = None, timeout: float = 60.0
) -> ServiceProcess:
    """``scoring_service.app.start_scoring(settings, "127.0.0.1:0", registry_addr)`` in a spawned
    process: one more scoring replica on the same database (as a deployment adds replicas)."""
    return _start_service_process("scoring", _serve_main, (settings, registry_addr, log_path), timeout)


def start_sequencer_process(
    settings: Any, *, log_path: str | None = None, timeout: float = 60.0
) -> ServiceProcess:
    """The decision-log sequencer in a spawned process of its own, as ``tanxiao log sequence --follow``
    runs it beside scoring replicas started with ``log_sequencer=False``: every quarter of the merge
    delay it integrates what is pending (``scoring_service.sequencer.SequencerThread``)."""
    return _start_service_process("sequencer", _sequencer_main, (settings, log_path), timeout)


def _sequencer_main(settings: Any, log_path: str | None, stop: Any, results: Any) -> None:
    try:
        _child_logging(log_path)
        from scoring_service.log_keys import load_signing_key
        from scoring_service.sequencer import Sequencer, SequencerThread
        from tanxiao.platform.db import make_engine

        engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        key = load_signing_key(settings.log_signing_key_file)
        sequencer = Sequencer(engine, key, batch_size=settings.log_batch_size)
        thread = SequencerThread(sequencer, settings.log_merge_delay_seconds / 4).start()
    except BaseException:
        results.put(("error", traceback.format_exc()))
        return
    results.put(("ready", None))
    stop.wait()
    thread.stop()
    engine.dispose()


def _child_logging(log_path: str | None) -> None:
    import sys

    if log_path:
        sys.stderr = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - for the process's life
    from tanxiao.platform.logging import configure_logging

    configure_logging("INFO", "json")


# ----------------------------------------------------------------------------------- BatchQuote client


@dataclass(frozen=True)
class BatchClientResult:
    seconds: float  # wall time of the calls
    count: int  # decisions answered
    names: list[str]  # their names
    cpu_seconds: float  # the client process's CPU during the calls (building the requests excluded)


def run_batch_client(
    address: str, spec: dict[str, Any], *, timeout: float, started: Any = None
) -> BatchClientResult:
    """Quotes sent from a separate process (a bank's loan system): ``spec`` names the requests
    (``benchmarks.cases.varied_quotes`` arguments), ``mode`` "calls" (BatchQuoteLoanTerms, calls of
    ``call_size``, ``inflight`` in flight) or "stream" (BatchQuote, one quote a message), and ``view``.
    The requests are built and the channel connected before the clock starts; ``started``, if given, is
    called (in this process) right before the client is let go: snapshot other processes' CPU there."""
    go = _SPAWN.Event()
    with _client_process("batch", _batch_client, (address, spec, go), timeout) as receive:
        kind, payload = receive()
        if kind != "ready":
            raise RuntimeError(f"batch client failed before start: {payload}")
        if started is not None:
            started()
        go.set()
        return BatchClientResult(**_done("batch", *receive()))


@contextmanager
def _client_process(
    name: str, target: Callable[..., None], args: tuple[Any, ...], timeout: float
) -> Iterator[Callable[[], tuple[str, Any]]]:
    """A spawned client process that reports ``(kind, payload)`` on a queue passed as its last argument;
    yields the receive of its next report, and joins (or terminates) the process on the way out."""
    results: Any = _SPAWN.Queue()
    proc = _SPAWN.Process(target=target, args=(*args, results), daemon=True)
    proc.start()

    def receive() -> tuple[str, Any]:
        try:
            kind, payload = results.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{name} client gave no answer in {timeout:.0f} s") from None
        return kind, payload

    try:
        yield receive
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()


def _done(name: str, kind: str, payload: Any) -> Any:
    if kind != "done":
        raise RuntimeError(f"{name} client failed: {payload}")
    return payload


def _batch_client(address: str, spec: dict[str, Any], go: Any, results: Any) -> None:
    try:
        import grpc

        from benchmarks.cases import batch_call, varied_quotes
        from tanxiao.scoring.v1 import scoring_pb2, scoring_pb2_grpc

        spec = dict(spec)
        mode, view = spec.pop("mode"), spec.pop("view")
        call_size, inflight = spec.pop("call_size", 1000), spec.pop("inflight", 2)
        quotes = varied_quotes(scoring_pb2, **spec)
        channels = [grpc.insecure_channel(a, options=CHANNEL_OPTIONS) for a in address.split(",")]
        for channel in channels:
            grpc.channel_ready_future(channel).result(timeout=10)
        stubs = [scoring_pb2_grpc.LoanScoringStub(channel) for channel in channels]
        stub = stubs[0]
        results.put(("ready", None))
        go.wait()
        cpu, t0 = time.process_time(), time.perf_counter()
        if mode == "stream":
            requests = (scoring_pb2.BatchQuoteRequest(quote=q) for q in quotes)
            names = [d.name for d in stub.BatchQuote(requests, timeout=600)]  # a Decision a message
        else:
            from concurrent.futures import ThreadPoolExecutor

            calls = [
                (stubs[k % len(stubs)], quotes[i : i + call_size])
                for k, i in enumerate(range(0, len(quotes), call_size))
            ]  # round robin over the replicas' addresses
            with ThreadPoolExecutor(inflight * len(stubs)) as pool:
                answered = list(pool.map(lambda c: batch_call(c[0], scoring_pb2, c[1], view), calls))
            names = [n for part in answered for n in part]
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu
        for channel in channels:
            channel.close()
        results.put(("done", {"seconds": seconds, "count": len(names), "names": names, "cpu_seconds": cpu}))
    except BaseException:
        results.put(("error", traceback.format_exc()))
