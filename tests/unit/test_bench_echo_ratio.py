"""The bench judges a ratio target against the plumbing echo measured on both sides of the case (A B A),
so the host's drift between the echo case and a case minutes later does not pass or fail it by itself."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import cases
from benchmarks.core import MISS, PASS, Budget, Context, Row
from benchmarks.load import LoadResult

TARGETS: dict[str, object] = {"concurrency": (8,), "min_ratio": 0.5, "max_p99_x_echo": 3.0}


def _context(seconds: float = 600.0) -> Context:
    import time

    ctx = Context(
        quick=True,
        budget=Budget(time.monotonic() + seconds),
        workdir="/nonexistent",
        pg_url="",
        duration=1.0,
        concurrencies=(1, 8),
        client_procs=2,
    )
    ctx.baseline = {1: Row("echo", "c=1 (1p)", "QPS", 1000.0), 8: Row("echo", "c=8 (2p)", "QPS", 4000.0)}
    ctx.baseline_p99 = {1: 1.0, 8: 4.0}
    return ctx


def _load(qps: float, p99_ms: float) -> LoadResult:
    return LoadResult(8, 2, int(qps), 0, 1.0, np.full(100, p99_ms))


def _case_rows(ctx: Context) -> list[Row]:
    """What unary_rows gives for a case at 1,800 QPS and p99 10 ms at c=8 (judged against the echo case)."""
    rows = []
    for concurrency, size in ((1, "c=1 (1p)"), (8, "c=8 (2p)")):
        base = ctx.baseline[concurrency]
        qps = Row("case", size, "QPS", 1800.0, ratio=1800.0 / (base.value or 1), note="n calls")
        p99 = Row("case", size, "p99", 10.0)
        cases.judge(qps, p99, concurrency, TARGETS, base.value, ctx.baseline_p99[concurrency])
        rows += [qps, Row("case", size, "p50", 5.0), p99]
    return rows


def test_the_echo_case_alone_judges_against_its_own_rows() -> None:
    ctx = _context()
    rows = _case_rows(ctx)
    qps, p99 = rows[3], rows[5]
    assert qps.ratio == pytest.approx(0.45) and qps.status == MISS  # 1,800 / 4,000
    assert p99.status == PASS and "12.0 ms" in p99.target  # 3 x 4.0 ms
    assert rows[0].status == "" and rows[0].target == ""  # c=1 is not targeted


def test_the_echoes_beside_the_case_judge_it_and_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _context()
    echoes = iter([{8: _load(3000.0, 3.0)}, {8: _load(3400.0, 4.0)}])  # the host slowed since the echo case
    measured: list[list[int]] = []

    def echo_now(_ctx: Context, concurrencies: list[int]) -> dict[int, LoadResult]:
        measured.append(concurrencies)
        return next(echoes)

    monkeypatch.setattr(cases, "echo_now", echo_now)
    rows = cases.beside_the_echo(ctx, TARGETS, lambda: _case_rows(ctx))
    qps, p99 = rows[3], rows[5]
    assert measured == [[8], [8]]  # before and after, only where a target is
    assert qps.ratio == pytest.approx(1800 / 3200) and qps.status == PASS
    assert "3,000 / 3,400 QPS" in qps.note and qps.note.endswith("n calls")
    assert p99.status == PASS and "10.5 ms" in p99.target  # 3 x mean(3.0, 4.0)
    assert rows[0].ratio == pytest.approx(1.8)  # c=1 keeps its ratio to the echo case


def test_no_room_in_the_budget_keeps_the_echo_case_s_verdicts(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _context(seconds=5.0)
    monkeypatch.setattr(cases, "echo_now", lambda *_: pytest.fail("no time for the echoes beside"))
    rows = cases.beside_the_echo(ctx, TARGETS, lambda: _case_rows(ctx))
    assert rows[3].status == MISS and rows[3].ratio == pytest.approx(0.45)
