"""Log lines written off the request thread: one queue and one writer thread per sink.

A call puts its line (or what its line is rendered from) on a queue and goes on; the writer thread,
woken by the first line, lets ``linger`` seconds pass, then hands everything queued to the sink in one
batch (one ``write`` for many lines) and waits for more. Without the pause it would wake, and take the
interpreter lock, for about every line: measured, that cost more than writing the line in place. Each
wake-up still costs about as much CPU as rendering a dozen lines (echo server, ``benchmarks.echo_cpu
--threads``: the two writers' CPU per call 20 µs at a 10 ms pause, 14 at 25 ms, 6 at 50 ms), so the
pause is 50 ms: lines reach their files up to that much later, and a process killed outright loses
that much more.

Nothing is dropped: when more than ``max_pending`` items wait, the caller waits for the writer to catch
up (the queue is bounded by back-pressure, not by loss); ``flush`` returns once everything put before
it is written; ``close`` flushes and stops the thread, and every writer still open is flushed when the
interpreter exits. Lines keep the order they were put in: there is one
consumer, and ``flush`` is a marker in the same queue, never a second reader.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

_STOP = object()
_WRITERS: weakref.WeakSet[LineWriter] = weakref.WeakSet()


class _Marker:
    """Put by ``flush``: set once everything queued before it was handed to the sink."""

    def __init__(self) -> None:
        self.done = threading.Event()


class LineWriter:
    def __init__(
        self,
        name: str,
        sink: Callable[[list[Any]], None],
        max_pending: int = 10_000,
        linger: float = 0.05,
    ) -> None:
        self.name = name
        self.sink = sink
        self.max_pending = max_pending
        self.linger = linger
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._ready = False  # the thread started and not closed: put's one test per item
        _WRITERS.add(self)

    def put(self, item: Any) -> None:
        """Queue ``item`` for the sink; waits only when the writer is ``max_pending`` items behind."""
        if not self._ready and not self._start():
            self.sink([item])  # closed: written here and now, never dropped
            return
        queue = self._queue
        queue.put(item)
        if queue.qsize() > self.max_pending:
            self.flush()

    def flush(self, timeout: float = 30.0) -> None:
        """Return once every item put before this call has been handed to the sink."""
        thread = self._thread
        if thread is None:
            return
        if not thread.is_alive() or thread is threading.current_thread():
            self._drain()
            return
        marker = _Marker()
        self._queue.put(marker)
        if not marker.done.wait(timeout):
            self._drain()  # the writer is stuck (a blocked sink): the caller writes what is left

    def close(self) -> None:
        """Flush and stop the writer thread; later items are written by their caller."""
        with self._start_lock:
            self._closed = True
            self._ready = False
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(30.0)
        self._drain()

    def _start(self) -> bool:
        with self._start_lock:
            if self._closed:
                return False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"{self.name}-writer", daemon=True)
                self._thread.start()
            self._ready = True
            return True

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is not _STOP and not isinstance(first, _Marker):
                time.sleep(self.linger)
            if self._write_batch(first):
                return

    def _write_batch(self, first: Any) -> bool:
        """``first`` and everything queued behind it; True when the stop marker was among them."""
        batch: list[Any] = []
        markers: list[_Marker] = []
        stop = False
        item = first
        get = self._queue.get_nowait
        while True:
            kind = type(item)
            if kind is tuple or kind is str:  # the items sinks get (one test for most of them)
                batch.append(item)
            elif item is _STOP:
                stop = True
            elif kind is _Marker:
                markers.append(item)
            else:
                batch.append(item)
            try:
                item = get()
            except queue.Empty:
                break
        try:
            if batch:
                self.sink(batch)
        except Exception:  # a failing sink must not kill the writer (nor lose the next lines)
            import traceback

            traceback.print_exc()
        finally:
            for marker in markers:
                marker.done.set()
        return stop

    def _drain(self) -> None:
        try:
            first = self._queue.get_nowait()
        except queue.Empty:
            return
        self._write_batch(first)


@atexit.register
def _flush_all() -> None:
    for writer in list(_WRITERS):
        writer.flush(timeout=10.0)


def _forget_threads_in_child() -> None:
    """A forked child has none of its parent's threads: each writer starts its own on the next line,
    with an empty queue (what the parent had queued is the parent's to write)."""
    for writer in list(_WRITERS):
        writer._queue = queue.SimpleQueue()
        writer._thread = None
        writer._ready = False
        writer._start_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_threads_in_child)
