"""QPS of echo server kinds in short alternated windows: which toggle closes the plumbing/bare gap.

``benchmarks.echo_cpu`` starts a server per measurement and loads it from one asyncio client, too
little to load c=32. Here every kind's server (``echo_cpu``'s kinds: ``bare``, ``bare:opts``,
``plumbing``, ``plumbing:nolog+noaccess``, ``plumbing:drop``, ``plumbing:workers8``,
``plumbing:switch500``, ``plumbing@DIR`` for another checkout ...) stays up, and the same
``--client-procs`` client processes (asyncio, one channel per server each, as ``benchmarks.load``)
load one server after the other for ``--window`` seconds, in forward then reversed order each round.
A round's QPS ratio to the first kind is taken within the round, so the machine's drift between rounds
cancels; the median and range of those ratios is what to read. On a shared machine a round's ratio
still ranges over 2x: run it where the bench runs (quiet), or with many rounds.

    .venv/bin/python -m benchmarks.echo_ab --kinds bare,plumbing,plumbing:drop --concurrency 8,32
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.echo_cpu import Server

_SPAWN = mp.get_context("spawn")


def _client(commands: Any, results: Any) -> None:
    """Runs (port, in-flight calls, seconds) commands until None; answers (calls, seconds)."""
    import grpc

    from benchmarks.cases import ECHO_METHOD, echo_payloads

    payloads = echo_payloads()
    calls: dict[int, Any] = {}

    async def window(port: int, inflight: int, seconds: float) -> tuple[int, float]:
        if port not in calls:
            channel = grpc.aio.insecure_channel(
                f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
            )
            calls[port] = channel.unary_unary(ECHO_METHOD)
        call = calls[port]
        for payload in payloads[:20]:  # the channel connected and the server's threads awake
            await call(payload, timeout=10)
        done = 0
        started = time.perf_counter()
        end = started + seconds

        async def loop(offset: int) -> None:
            nonlocal done
            i = offset
            while time.perf_counter() < end:
                await call(payloads[i % len(payloads)], timeout=10)
                done += 1
                i += inflight

        await asyncio.gather(*(loop(k) for k in range(inflight)))
        return done, time.perf_counter() - started

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        while (command := await loop.run_in_executor(None, commands.get)) is not None:
            results.put(await window(*command))

    asyncio.run(serve())


def measure(servers: dict[str, Server], concurrency: int, rounds: int, window: float, procs: int) -> None:
    kinds = list(servers)
    commands = [_SPAWN.Queue() for _ in range(procs)]
    results: Any = _SPAWN.Queue()
    clients = [_SPAWN.Process(target=_client, args=(q, results), daemon=True) for q in commands]
    for client in clients:
        client.start()
    shares = [concurrency // procs + (1 if i < concurrency % procs else 0) for i in range(procs)]
    qps: dict[str, list[float]] = {kind: [] for kind in kinds}
    try:
        for number in range(rounds + 1):  # round 0 warms every server and channel
            for kind in kinds if number % 2 else kinds[::-1]:
                for queue, share in zip(commands, shares, strict=True):
                    queue.put((servers[kind].port, share, window))
                answers = [results.get(timeout=60 + window) for _ in commands]
                if number:
                    qps[kind].append(sum(n for n, _ in answers) / max(s for _, s in answers))
    finally:
        for queue in commands:
            queue.put(None)
        for client in clients:
            client.join(10)
    print(f"c={concurrency}, {rounds} rounds of {window:g} s windows, load {os.getloadavg()[0]:.1f}")
    first = kinds[0]
    for kind in kinds:
        ratios = sorted(a / b for a, b in zip(qps[kind], qps[first], strict=True))
        print(
            f"  {kind:<34} QPS median {statistics.median(qps[kind]):7.0f}   ratio to {first} "
            f"{statistics.median(ratios):.2f} [{ratios[0]:.2f}-{ratios[-1]:.2f}]"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="bare,plumbing", help="comma-separated; the first is the base")
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--window", type=float, default=1.0, help="seconds per kind per round")
    parser.add_argument("--client-procs", type=int, default=2)
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    servers: dict[str, Server] = {}
    try:
        for kind in args.kinds.split(","):
            tree = Path(kind.partition("@")[2] or here).resolve()
            servers[kind] = Server(kind, tree)
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            measure(servers, concurrency, args.rounds, args.window, args.client_procs)
    finally:
        for server in servers.values():
            server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
