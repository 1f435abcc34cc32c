"""Lines written off the request thread: in order, none lost, flush and close wait for the writer."""

from __future__ import annotations

import threading

from tanxiao.platform.line_writer import LineWriter


class _Sink:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.lines: list[int] = []
        self.batches = 0
        self.gate = gate

    def __call__(self, batch: list[int]) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        self.batches += 1
        self.lines.extend(batch)


def test_lines_from_many_threads_are_all_written_each_threads_in_order() -> None:
    sink = _Sink()
    writer = LineWriter("t", sink, linger=0.001)

    def put(base: int) -> None:
        for i in range(2_000):
            writer.put(base + i)

    threads = [threading.Thread(target=put, args=(k * 10_000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.flush()
    assert sorted(sink.lines) == sorted(k * 10_000 + i for k in range(4) for i in range(2_000))
    for k in range(4):
        own = [line for line in sink.lines if line // 10_000 == k]
        assert own == sorted(own)
    assert sink.batches < 8_000  # batched, not a write per line
    writer.close()


def test_flush_returns_once_earlier_lines_are_written() -> None:
    sink = _Sink()
    writer = LineWriter("t", sink, linger=0.05)
    writer.put(1)
    writer.put(2)
    writer.flush()
    assert sink.lines == [1, 2]
    writer.close()


def test_a_writer_far_behind_makes_the_caller_wait_instead_of_dropping() -> None:
    gate = threading.Event()
    sink = _Sink(gate)
    writer = LineWriter("t", sink, max_pending=10, linger=0.0)
    releaser = threading.Timer(0.2, gate.set)
    releaser.start()
    for i in range(100):
        writer.put(i)  # blocks in flush while the sink is held, then goes on
    writer.close()
    assert sink.lines == list(range(100))


def test_close_writes_what_is_queued_and_later_lines_at_once() -> None:
    sink = _Sink()
    writer = LineWriter("t", sink, linger=0.5)
    writer.put(1)
    writer.close()
    assert sink.lines == [1]
    writer.put(2)
    assert sink.lines == [1, 2]
