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
    results: Any = _SPAWN.Queue()
    proc = _SPAWN.Process(target=_ingest_client, args=(address, spec, results), daemon=True)
    proc.start()
    try:
        kind, payload = results.get(timeout=timeout)
    except queue.Empty:
        raise TimeoutError(f"ingest client gave no answer in {timeout:.0f} s") from None
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
    if kind != "done":
        raise RuntimeError(f"ingest client failed: {payload}")
    return dict(payload)


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
