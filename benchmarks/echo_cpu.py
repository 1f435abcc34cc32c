"""CPU per call of the echo servers: the plumbing echo (start_server) against the bare grpcio echo.

QPS on a shared machine swings with the load; the server process's own CPU time per call does much
less. Each round starts a server in a process of its own (the same code as the bench's ``echo`` and
``echo_bare`` cases, logging JSON at INFO to a file and writing the access log, as the bench does),
sends a fixed number of calls from this process with ``--concurrency`` in flight, and reads the
server's CPU time (every thread: gRPC's, the workers', the log writers') before and after, the log
writers flushed. Kinds alternate within each round so that load changes hit them alike.

``--tree DIR`` adds the plumbing echo of another checkout (e.g. ``git archive`` of the base commit) as
kind ``plumbing@DIR``, to compare old and new code in the same minutes. ``--threads`` splits the CPU by
server thread (/proc); ``--variant nolog|noaccess`` adds the plumbing echo without its log line or
access log (and ``drop``: lines queued, the log writer drops them; ``workersN``, ``switchN``; the
bare echo takes ``bare:opts``, start_server's server options, and ``bare:peer``, reading
``context.peer()`` as the plumbing does; ``benchmarks.echo_ab`` uses these kinds);
``--bare-md`` adds ``bare:md``, the bare echo echoing a new ``x-request-id`` in its initial
metadata as the plumbing does (that echo's own share of the gap); ``--profile plumbing|bare``
prints a yappi profile (CPU, every thread) of one server.

    .venv/bin/python -m benchmarks.echo_cpu --calls 20000 --rounds 5 --concurrency 1,8,32
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

from benchmarks.cases import ECHO_METHOD

# Run in the server process (of this tree or another): prints the port, then answers "cpu" on stdin
# with the process's CPU seconds after flushing the log writers; "prof" starts/stops a cProfile.
_SERVER = r"""
import io, os, sys, time
kind, workdir = sys.argv[1], sys.argv[2]
os.chdir(workdir)
from benchmarks.cases import ECHO_SERVICE, base_settings, start_echo
stdout = sys.stdout
variant = kind.partition(":")[2].split("+")
for toggle in variant:  # switchN: the interpreter's switch interval in µs (5,000 by default)
    if toggle.startswith("switch"):
        sys.setswitchinterval(int(toggle[6:]) / 1e6)
if kind.startswith("bare"):
    from concurrent import futures
    import grpc
    from tanxiao.platform.server import server_options
    options = server_options(base_settings()) if "opts" in variant else None
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=base_settings().max_workers), options=options)
    handle = lambda request, _context: request
    if kind == "bare:md":  # the bare echo that also echoes a new x-request-id, as the plumbing does
        import random
        from tanxiao.platform import response_metadata
        response_metadata.install()
        def handle(request, context):
            request_id = random.getrandbits(128).to_bytes(16, "big").hex()
            response_metadata.attach(context, (("x-request-id", request_id),))
            return request
    if kind == "bare:peer":  # the bare echo that also reads the caller's address, as the plumbing does
        def handle(request, context):
            context.peer()  # two short releases of the interpreter lock in grpcio
            return request
    echo = grpc.unary_unary_rpc_method_handler(handle)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(ECHO_SERVICE, {"Echo": echo}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    flush = lambda: None
else:
    sys.stderr = open(os.path.join(workdir, "server.log"), "a", encoding="utf-8")
    from tanxiao.platform.logging import configure_logging, flush as flush_log
    configure_logging("WARNING" if "nolog" in variant else "INFO", "json")
    overrides = {"access_log_dir": ""} if "noaccess" in variant else {}
    for toggle in variant:  # workersN: the gRPC thread pool's size
        if toggle.startswith("workers"):
            overrides["max_workers"] = int(toggle[7:])
    if "drop" in variant:  # calls queue their lines as ever; the log writer drops them (no rendering)
        from tanxiao.platform import logging as tanxiao_logging
        tanxiao_logging.WRITER.sink = lambda batch: None
    running = start_echo(base_settings(**overrides))
    port = running.port
    def flush():
        flush_log()
        if running.serving is not None and running.serving.access_log is not None:
            running.serving.access_log.flush()
print(port, file=stdout, flush=True)
profile = None
for line in sys.stdin:
    command = line.strip()
    if command == "cpu":
        flush()
        print(repr(time.process_time()), file=stdout, flush=True)
    elif command == "threads":
        flush()
        import re, threading
        names = {t.native_id: re.sub(r"[-_]?\d+", "", t.name) for t in threading.enumerate()}
        ticks = os.sysconf("SC_CLK_TCK")
        split = {}
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            name = names.get(int(tid), "native")
            split[name] = split.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
        print(repr(split), file=stdout, flush=True)
    elif command.startswith("prof"):
        import yappi
        if not yappi.is_running():
            yappi.set_clock_type("cpu")
            yappi.start(builtins=True, profile_threads=True)
            print("''", file=stdout, flush=True)
        else:
            yappi.stop()
            out = io.StringIO()
            stats = yappi.get_func_stats()
            columns = {0: ("name", 70), 1: ("ncall", 9), 2: ("tsub", 8), 3: ("ttot", 8)}
            stats.sort("tsub").print_all(out=out, columns=columns)
            print(repr("\n".join(out.getvalue().splitlines()[:70])), file=stdout, flush=True)
            yappi.clear_stats()
"""


SPLIT: dict[str, dict[str, list[float]]] = {}  # kind -> thread name -> CPU µs per call, per round


class Server:
    """The echo server of ``kind`` (``_SERVER``) in a process of its own, run from ``tree``; it prints
    its port, then answers commands on stdin (``ask``). Subclasses run it another way
    (benchmarks.echo_callgrind: under valgrind) through the class attributes and ``_launcher``."""

    script = _SERVER
    workdir_prefix = "echo-cpu-"
    extra_env: tuple[tuple[str, str], ...] = ()  # (name, value) added to the environment
    stderr: int | None = None  # inherited
    stop_seconds = 10.0

    def __init__(self, kind: str, tree: Path) -> None:
        self.kind = kind
        self.workdir = tempfile.mkdtemp(prefix=self.workdir_prefix)
        env = {**os.environ, "PYTHONPATH": str(tree), **dict(self.extra_env)}
        self.proc = subprocess.Popen(
            [*self._launcher(), sys.executable, "-c", self.script, kind.partition("@")[0], self.workdir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=env,
            cwd=tree,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def _launcher(self) -> list[str]:
        """What runs the interpreter (nothing: it runs itself)."""
        return []

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline()

    def cpu(self) -> float:
        return float(self.ask("cpu"))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait(self.stop_seconds)


async def _calls(port: int, calls: int, concurrency: int, payload: bytes) -> float:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(ECHO_METHOD)
        for _ in range(200):  # warm: the method's wrappers built, the threads started
            await call(payload, timeout=10)
        each, extra = divmod(calls, concurrency)
        started = time.perf_counter()

        async def loop(n: int) -> None:
            for _ in range(n):
                await call(payload, timeout=10)

        await asyncio.gather(*(loop(each + (1 if i < extra else 0)) for i in range(concurrency)))
        return time.perf_counter() - started


def measure(server: Server, calls: int, concurrency: int, payload: bytes) -> tuple[float, float]:
    """(server CPU µs per call, calls per second of wall time)."""

    async def warm() -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            for _ in range(200):
                await channel.unary_unary(ECHO_METHOD)(payload, timeout=10)

    asyncio.run(warm())
    before = server.cpu()
    threads = ast.literal_eval(server.ask("threads"))
    wall = asyncio.run(_calls(server.port, calls, concurrency, payload))
    after = server.cpu()
    for name, seconds in ast.literal_eval(server.ask("threads")).items():
        SPLIT.setdefault(server.kind, {}).setdefault(name, []).append(
            (seconds - threads.get(name, 0.0)) / calls * 1e6
        )
    return (after - before) / calls * 1e6, calls / wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="1")
    parser.add_argument("--tree", action="append", default=[], help="another checkout's plumbing echo")
    parser.add_argument("--threads", action="store_true", help="CPU per call by server thread (/proc)")
    parser.add_argument("--variant", action="append", default=[], help="nolog, noaccess, nolog+noaccess")
    parser.add_argument("--bare-md", action="store_true", help="add the bare echo echoing x-request-id")
    parser.add_argument(
        "--profile", choices=("plumbing", "bare"), help="yappi profile of one server (CPU, every thread)"
    )
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    kinds: list[tuple[str, Path]] = [("bare", here), ("plumbing", here)]
    kinds += [(f"plumbing@{tree}", Path(tree).resolve()) for tree in args.tree]
    kinds += [(f"plumbing:{variant}", here) for variant in args.variant]
    kinds += [("bare:md", here)] if args.bare_md else []
    payload = b"\n\x20enterprises/91110000MA01ABCDE1"  # about a GetEnterpriseRequest
    if args.profile:
        try:
            import yappi  # noqa: F401  (the server process imports it; said here when it is missing)
        except ImportError:
            print("--profile needs yappi: .venv/bin/pip install yappi", file=sys.stderr)
            return 2
        server = Server(args.profile, here)
        try:
            measure(server, 500, 1, payload)
            server.ask("prof")
            measure(server, args.calls, int(args.concurrency.split(",")[0]), payload)
            print(ast.literal_eval(server.ask("prof")))  # our own child's repr of a string
        finally:
            server.close()
        return 0
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in kinds}
        for _ in range(args.rounds):
            for name, tree in kinds:
                server = Server(name, tree)
                try:
                    results[name].append(measure(server, args.calls, concurrency, payload))
                finally:
                    server.close()
        bare_cpu = statistics.median(cpu for cpu, _ in results["bare"])
        bare_qps = statistics.median(qps for _, qps in results["bare"])
        print(f"c={concurrency}, {args.calls} calls x {args.rounds} rounds, load {os.getloadavg()[0]:.1f}")
        for name, rows in results.items():
            cpus = sorted(cpu for cpu, _ in rows)
            qpss = sorted(qps for _, qps in rows)
            cpu, qps = statistics.median(cpus), statistics.median(qpss)
            print(
                f"  {name:<28} CPU/call {cpu:6.1f} µs (x{cpu / bare_cpu:.2f} of bare; "
                f"{', '.join(f'{c:.0f}' for c in cpus)})  QPS {qps:6.0f} (x{qps / bare_qps:.2f}; "
                f"{', '.join(f'{q:.0f}' for q in qpss)})"
            )
            if args.threads:
                split = SPLIT.pop(name, {})
                print(
                    "    by thread: "
                    + ", ".join(
                        f"{t} {statistics.median(v):.0f}"
                        for t, v in sorted(split.items(), key=lambda kv: -statistics.median(kv[1]))
                    )
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
