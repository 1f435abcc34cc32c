"""The pieces every case shares: result rows, the case registry, the time budget, timing helpers."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PASS, MISS, SKIP, INFO = "PASS", "MISS", "SKIP", ""


@dataclass
class Row:
    """One line of the table."""

    case: str
    size: str
    metric: str
    value: float | None  # None: not measured (skipped, hook, error)
    unit: str = ""
    ratio: float | None = None  # to the echo baseline at the same concurrency
    growth: str = ""  # time growth vs the previous size, e.g. "x3.4 / n x3"
    target: str = ""
    status: str = INFO  # PASS | MISS | SKIP | ""
    note: str = ""

    def verdict(self, ok: bool) -> Row:
        self.status = PASS if ok else MISS
        return self


@dataclass
class Budget:
    """Wall-clock budget of the whole run and of one case; cases ask before starting a size."""

    deadline: float  # time.monotonic() by which the run must be done

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def sub(self, seconds: float) -> Budget:
        return Budget(min(self.deadline, time.monotonic() + seconds))

    def allows(self, predicted_seconds: float) -> bool:
        return predicted_seconds <= self.remaining()


@dataclass
class Context:
    """What a case gets: options, its budget, the baseline rows measured so far, scratch space."""

    quick: bool
    budget: Budget
    workdir: str  # a temp directory, removed at the end
    pg_url: str  # server URL of PostgreSQL (a database of ours is created and dropped per use)
    duration: float  # seconds per unary load measurement
    concurrencies: tuple[int, ...]
    client_procs: int
    sizes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # --sizes CASE=N,N overrides
    baseline: dict[int, Row] = field(default_factory=dict)  # concurrency -> echo QPS row
    baseline_p99: dict[int, float] = field(default_factory=dict)  # concurrency -> echo p99 (ms)
    notes: list[str] = field(default_factory=list)  # printed under the table
    log: Callable[[str], None] = print

    def sizes_for(self, case_name: str, full: tuple[int, ...], quick: tuple[int, ...]) -> tuple[int, ...]:
        return self.sizes.get(case_name) or (quick if self.quick else full)


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    budget_seconds: float  # full run; quick runs get half
    run: Callable[[Context], list[Row]]
    default: bool = True  # part of a plain `make bench`


CASES: dict[str, Case] = {}


def case(name: str, title: str, budget_seconds: float, *, default: bool = True) -> Callable[..., Any]:
    """Register a case; order of registration is order of running (the echo baseline first)."""

    def register(fn: Callable[[Context], list[Row]]) -> Callable[[Context], list[Row]]:
        CASES[name] = Case(name, title, budget_seconds, fn, default)
        return fn

    return register


def growth(prev: tuple[int, float] | None, size: int, seconds: float) -> str:
    """How time grew from the previous size: "x<time ratio> / n x<size ratio>" (equal = linear)."""
    if prev is None or prev[1] <= 0:
        return ""
    return f"t x{seconds / prev[1]:.2f} / n x{size / prev[0]:.3g}"


def best_of(
    fn: Callable[[], Any], *, min_repeats: int = 3, min_seconds: float = 1.0, max_seconds: float = 20.0
) -> tuple[float, Any]:
    """Median wall time of repeated calls (at least ``min_repeats`` and ``min_seconds`` in total,
    at most ``max_seconds``) and the last result. The median, not the minimum: the machine is shared."""
    times: list[float] = []
    started = time.perf_counter()
    result = None
    while True:
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        spent = time.perf_counter() - started
        if (len(times) >= min_repeats and spent >= min_seconds) or spent + times[-1] > max_seconds:
            break
    return statistics.median(times), result


def human(n: float) -> str:
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if n >= scale and n % scale == 0:
            return f"{n / scale:g}{unit}"
    return f"{n:,.0f}"
