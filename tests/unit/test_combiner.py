"""The group-commit combiner: calls arriving during a batch go together in the next one, each call
gets its own result or its own error, and nobody is left waiting."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from scoring_service.combiner import Combiner


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.first_started = threading.Event()
        self.release_first = threading.Event()

    def run_many(self, requests: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(requests))
        if len(self.batches) == 1:  # hold the first batch until the others are queued
            self.first_started.set()
            assert self.release_first.wait(30)
        return [ValueError(f"odd {r}") if r % 2 else r * 10 for r in requests]


def test_calls_during_a_batch_go_together_and_each_gets_its_own_answer() -> None:
    recorder = Recorder()
    combiner: Combiner[int, int] = Combiner(recorder.run_many, max_batch=4)
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = pool.submit(combiner.submit, 0)
        assert recorder.first_started.wait(30)
        others = [pool.submit(combiner.submit, i) for i in range(1, 8)]
        while len(combiner._pending) < 7:  # all seven queued behind the running batch
            threading.Event().wait(0.01)
        recorder.release_first.set()
        assert first.result(30) == 0
        for i, future in enumerate(others, start=1):
            if i % 2:
                with pytest.raises(ValueError, match=f"odd {i}"):
                    future.result(30)
            else:
                assert future.result(30) == i * 10
    assert recorder.batches[0] == [0]
    # the seven waiting calls in arrival order, at most max_batch at a time
    assert [r for batch in recorder.batches[1:] for r in batch] == list(range(1, 8))
    assert [len(b) for b in recorder.batches[1:]] == [4, 3]


def test_a_call_alone_runs_at_once_and_a_failing_batch_fails_only_its_calls() -> None:
    calls: list[list[str]] = []

    def run_many(requests: Sequence[str]) -> list[str | BaseException]:
        calls.append(list(requests))
        if "boom" in requests:
            raise RuntimeError("batch failed")
        return [r.upper() for r in requests]

    combiner: Combiner[str, str] = Combiner(run_many)
    assert combiner.submit("a") == "A"
    with pytest.raises(RuntimeError, match="batch failed"):
        combiner.submit("boom")
    assert combiner.submit("b") == "B"  # the combiner is free again after a failed batch
    assert calls == [["a"], ["boom"], ["b"]]


def test_many_threads_all_get_their_own_results() -> None:
    def run_many(requests: Sequence[int]) -> list[int | BaseException]:
        return [r + 1 for r in requests]

    combiner: Combiner[int, int] = Combiner(run_many, max_batch=16)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(combiner.submit, range(2000)))
    assert results == [r + 1 for r in range(2000)]


def test_a_lone_call_and_its_followers_each_wake_once() -> None:
    """Calls are woken by a lock each holds (released once: answered, or to lead): many rounds of
    bursts, every call answered with its own result, none left waiting."""
    combiner: Combiner[int, int] = Combiner(lambda xs: [x * 2 for x in xs], max_batch=3)
    out: dict[int, int] = {}

    def call(i: int) -> None:
        out[i] = combiner.submit(i)

    for burst in range(20):
        threads = [threading.Thread(target=call, args=(burst * 100 + i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
            assert not t.is_alive()
    assert out == {i: 2 * i for i in out} and len(out) == 200
