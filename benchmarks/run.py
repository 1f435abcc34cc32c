"""``make bench``: every case against the echo ceiling measured in the same run; prints the table and
writes docs/benchmarks.md (full runs; ``--quick`` / ``--only`` runs only print unless ``--docs``).

    python -m benchmarks.run                   # everything, ~8-12 minutes, bounded by --budget
    python -m benchmarks.run --quick           # small sizes, ~2 minutes
    python -m benchmarks.run --only ingest_sqlite --only evaluator
    python -m benchmarks.run --list
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from benchmarks import cases  # noqa: F401 - registers the cases
from benchmarks.core import CASES, MISS, SKIP, Budget, Context, Row
from benchmarks.report import machine, markdown_table, text_table

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="small sizes and short windows")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="CASE",
        help="run only this case (repeatable, or comma-separated); the echo baseline is "
        "added automatically for unary cases",
    )
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument(
        "--sizes",
        action="append",
        default=[],
        metavar="CASE=N,N,...",
        help="override the sizes of a sized case, e.g. --sizes ingest_sqlite=1000000",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=720.0,
        help="wall-clock budget of the whole run in seconds (default 720)",
    )
    p.add_argument(
        "--duration", type=float, default=None, help="seconds per unary measurement (3; quick 1.5)"
    )
    p.add_argument("--concurrency", default="1,8,32", help="unary concurrencies (default 1,8,32)")
    p.add_argument("--client-procs", type=int, default=2, help="client processes for unary load (2)")
    p.add_argument(
        "--pg-url",
        default=os.environ.get("TANXIAO_BENCH_POSTGRES_URL")
        or os.environ.get("TANXIAO_TEST_POSTGRES_URL")
        or DEFAULT_PG,
    )
    p.add_argument("--docs", dest="docs", action="store_true", default=None, help="write docs/benchmarks.md")
    p.add_argument("--no-docs", dest="docs", action="store_false")
    p.add_argument(
        "--log-file",
        default=None,
        help="where the services' structured logs go (default: a file in the temp dir)",
    )
    return p.parse_args(argv)


UNARY = {"get_enterprise", "quote", "quote_postgres", "echo_bare"}


def selected(args: argparse.Namespace) -> list[str]:
    only = [n.strip() for o in args.only for n in o.split(",") if n.strip()]
    unknown = [n for n in only if n not in CASES]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {', '.join(CASES)}")
    if not only:
        return [n for n, c in CASES.items() if c.default]
    if UNARY & set(only) and "echo" not in only:
        only.insert(0, "echo")  # ratios need the baseline of this run
    return [n for n in CASES if n in only]  # registry order: the baseline first


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.list:
        for name, c in CASES.items():
            print(f"{name:16} {c.title} (budget {c.budget_seconds:g} s)")
        return 0
    names = selected(args)
    full = not args.quick and not args.only
    write_docs = full if args.docs is None else args.docs
    started_at = dt.datetime.now().astimezone()
    t_start = time.monotonic()
    out = sys.stdout

    def say(message: str) -> None:
        print(message, file=out, flush=True)

    with tempfile.TemporaryDirectory(prefix="tanxiao-bench-") as workdir:
        log_path = Path(args.log_file or Path(tempfile.gettempdir()) / f"tanxiao-bench-{os.getpid()}.log")
        # The services log every call, as in production (JSON at INFO), into a file: that cost is
        # part of what is measured, for the echo baseline as for the services.
        from tanxiao.platform.logging import configure_logging

        real_stderr = sys.stderr
        log_file = open(log_path, "a", encoding="utf-8")  # noqa: SIM115
        sys.stderr = log_file  # before configuring: the stdlib handler (alembic etc.) binds it now
        configure_logging("INFO", "json")
        ctx = Context(
            quick=args.quick,
            budget=Budget(t_start + args.budget),
            workdir=workdir,
            pg_url=args.pg_url,
            duration=args.duration or (1.5 if args.quick else 3.0),
            concurrencies=tuple(int(c) for c in args.concurrency.split(",")),
            client_procs=args.client_procs,
            sizes={
                k: tuple(int(float(n)) for n in v.split(","))
                for k, v in (item.split("=", 1) for item in args.sizes)
            },
            log=say,
        )
        rows: list[Row] = []
        timings: list[tuple[str, float]] = []
        try:
            for name in names:
                c = CASES[name]
                share = c.budget_seconds / (2 if args.quick else 1)
                ctx.budget = Budget(t_start + args.budget).sub(share)
                say(f"[{time.monotonic() - t_start:6.1f} s] {name}: {c.title}")
                t0 = time.monotonic()
                try:
                    rows += c.run(ctx)
                except Exception as exc:
                    traceback.print_exc(file=out)
                    note = f"{type(exc).__name__}: {exc}"[:200]
                    rows.append(Row(name, "", "error", None, status=MISS, note=note))
                timings.append((name, time.monotonic() - t0))
        finally:
            sys.stderr = real_stderr
            log_file.close()
    total = time.monotonic() - t_start
    say("")
    say(text_table(rows))
    for note in ctx.notes:
        say(f"* {note}")
    spent = ", ".join(f"{n} {s:.0f} s" for n, s in timings)
    say(f"* total {total:.0f} s ({spent}); service logs: {log_path}")
    misses = [r for r in rows if r.status == MISS]
    say(
        f"* {sum(r.status == 'PASS' for r in rows)} PASS, {len(misses)} MISS, "
        f"{sum(r.status == SKIP for r in rows)} SKIP"
    )
    if write_docs:
        DOC.write_text(document(rows, ctx, args, started_at, total, timings) + kept_notes(), encoding="utf-8")
        say(f"* wrote {DOC.relative_to(ROOT)}")
    return 0


KEPT_MARKER = "<!-- kept by make bench: the sections below are written by hand -->"


def kept_notes() -> str:
    """The hand-written part of docs/benchmarks.md (profiles, before/after comparisons), below
    KEPT_MARKER: a new run rewrites the table above it and keeps this."""
    if not DOC.exists():
        return ""
    text = DOC.read_text(encoding="utf-8")
    at = text.find(KEPT_MARKER)
    return "\n" + text[at:] if at >= 0 else ""


def pg_version(url: str) -> str:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            version = str(conn.exec_driver_sql("SHOW server_version").scalar())
        engine.dispose()
        return f"{version} on 127.0.0.1 (same machine)"
    except Exception:
        return "unreachable"


def document(
    rows: list[Row],
    ctx: Context,
    args: argparse.Namespace,
    started_at: dt.datetime,
    total: float,
    timings: list[tuple[str, float]],
) -> str:
    mode = "quick" if args.quick else "full"
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks.run`); do not edit by hand. Numbers are from one",
        "run on the machine below, each case next to a ceiling measured in the same run: a trivial",
        "bytes->bytes unary echo served by the same `tanxiao.platform.server.start_server` plumbing",
        "(interceptor with access log, health, reflection, thread pool of `TANXIAO_MAX_WORKERS`).",
        "",
        f"Run: {started_at:%Y-%m-%d %H:%M %Z}, {mode} mode, {total:.0f} s "
        f"({', '.join(f'{n} {s:.0f} s' for n, s in timings)}).",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in machine(pg_version(ctx.pg_url))],
        "",
        "The machine may be shared with other work while the benchmark runs: treat single numbers as",
        "noisy (a few tens of percent) and compare ratios to the echo baseline of the same run.",
        "",
        "## Results",
        "",
        markdown_table(rows),
        "",
        *[f"- {n}" for n in ctx.notes],
        "",
        "## How to read it",
        "",
        f"- Unary cases: clients in {ctx.client_procs} separate processes (spawned, one channel each, "
        "grpc.aio), concurrency = calls in flight across all of them; "
        f"{ctx.duration:g} s measured after a 0.7 s warm-up. Requests are pre-serialised and responses "
        "not parsed, so the client cost is the same for every case. The server is in the harness process.",
        "- ratio to echo: QPS of the case / echo QPS at the same concurrency. Where a row has a ratio "
        "target (GetEnterprise c=1, QuoteLoanTerms c=8/32), the echo is measured again just before and "
        "just after the case (its servers stopped) and the ratio and the p99 limit are to the mean of "
        "those two: this host's speed drifts by tens of percent between the first case and a later one.",
        "- growth: how the measured time grew from the previous size, `t x<time ratio> / n x<size ratio>`;"
        " equal ratios mean linear scaling.",
        "- IngestRecords: one client stream (separate process, requests built before the clock starts) of "
        "chunks of 5,000 records into a fresh, migrated database per size, on which the enterprises exist; "
        "timed from the first request sent to the response (validation and the one commit included).",
        "- evaluate_batch: median of repeated calls on a frame with Categorical enum columns, 20 % with a "
        "commitment.",
        "- Sizes beyond what the time budget allows are skipped (SKIP) rather than overrunning.",
        "",
        "Options: `--quick`, `--only CASE` (see `--list`), `--budget SECONDS`, `--duration`, "
        "`--concurrency 1,8,32`, `--client-procs`, `--pg-url`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
