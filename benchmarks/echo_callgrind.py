"""Instructions per call of a whole echo server process, by callgrind (load-independent).

The server is ``benchmarks.echo_cpu``'s (the bench's echo: JSON log at INFO to a file, access log on;
``bare`` the bare grpcio echo), of this tree or another (``KIND@DIR``), run under
``valgrind --tool=callgrind`` with instrumentation off while it starts; ``gc.freeze()`` once started.
Then ``--warm`` calls uninstrumented, instrumentation on, ``--warm`` calls more, the counters zeroed,
``--calls`` calls at ``--concurrency``, the log writers flushed, and the counters dumped: every
thread's instructions summed (and printed per thread with ``--threads``), divided by the calls.
The method of docs/benchmarks.md "The plumbing's writers and the call's queueing" (plumbing9).

    .venv/bin/python -m benchmarks.echo_callgrind --kinds bare,plumbing,plumbing@/tmp/base --concurrency 1,8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import grpc

from benchmarks.cases import ECHO_METHOD
from benchmarks.echo_cpu import _SERVER, Server

_FROZEN = _SERVER.replace(
    "print(port, file=stdout, flush=True)",
    "import gc\ngc.collect()\ngc.freeze()\nprint(port, file=stdout, flush=True)",
    1,
)


class CallgrindServer(Server):
    """``benchmarks.echo_cpu``'s server under callgrind, instrumentation off until ``control``."""

    script = _FROZEN
    workdir_prefix = "echo-cg-"
    extra_env = (("PYTHONHASHSEED", "0"),)
    stderr = subprocess.DEVNULL
    stop_seconds = 60.0

    def _launcher(self) -> list[str]:
        return [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--separate-threads=yes",
            f"--callgrind-out-file={self.workdir}/cg.out",
        ]

    def control(self, *args: str) -> None:
        subprocess.run(["callgrind_control", *args, str(self.proc.pid)], check=True, capture_output=True)

    def flush(self) -> None:
        """The server's log writers flushed (its ``cpu`` command flushes before it answers)."""
        self.ask("cpu")

    def dumped(self) -> dict[str, int]:
        """Dump the counters; instructions by thread file of this dump."""
        before = set(os.listdir(self.workdir))
        self.control("-d")
        deadline = time.monotonic() + 120
        while True:
            new = sorted(set(os.listdir(self.workdir)) - before)
            if new and all(_complete(Path(self.workdir, name)) for name in new):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("no dump")
            time.sleep(0.5)
        return {name: _total(Path(self.workdir, name)) for name in new}


def _complete(path: Path) -> bool:
    text = path.read_text(errors="replace")
    return "\ntotals:" in text or "\nsummary:" in text


def _total(path: Path) -> int:
    found = re.search(r"^(?:totals|summary): (\d+)", path.read_text(errors="replace"), re.M)
    return int(found.group(1)) if found else 0


async def _calls(port: int, calls: int, concurrency: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(ECHO_METHOD)
        each, extra = divmod(calls, concurrency)

        async def loop(n: int) -> None:
            for _ in range(n):
                await call(b"x" * 16, timeout=600)

        await asyncio.gather(*(loop(each + (1 if i < extra else 0)) for i in range(concurrency)))


def measure(kind: str, tree: Path, calls: int, warm: int, concurrency: int, threads: bool) -> float:
    server = CallgrindServer(kind, tree)
    try:
        asyncio.run(_calls(server.port, warm, concurrency))
        server.control("-i", "on")
        asyncio.run(_calls(server.port, warm, concurrency))
        server.flush()
        server.control("-z")
        asyncio.run(_calls(server.port, calls, concurrency))
        server.flush()
        split = server.dumped()
    finally:
        server.close()
    if threads:
        for name, count in sorted(split.items()):
            print(f"    {name}: {count / calls / 1000:.1f}k")
    return sum(split.values()) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="bare,plumbing")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--concurrency", default="1")
    parser.add_argument("--threads", action="store_true", help="instructions per call by thread")
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        for kind in args.kinds.split(","):
            tree = Path(kind.partition("@")[2] or here)
            count = measure(kind, tree, args.calls, args.warm, concurrency, args.threads)
            print(f"c={concurrency} {kind}: {count / 1000:.1f}k instructions a call", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
