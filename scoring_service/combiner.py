"""Group commit for concurrent calls: the calls that arrive while one batch is being processed are
processed together as the next batch, by one of their own threads.

QuoteLoanTerms uses it so that concurrent quotes share one rules evaluation (``evaluate_compact``), one
registry round trip and one database transaction (one commit), instead of paying each per call. No call
waits for a timer: a call arriving while nothing is in progress runs at once, alone (as without the
combiner); calls arriving during a batch wait for it and then go together. Each call still gets its
own result or its own exception.

The batch runs on the thread of one of its calls (the first that arrived), so it runs in that call's
context (request id in logs and outgoing metadata); what a call's own context decides (authorization,
consents) must be settled before ``submit``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Call(Generic[T, R]):
    __slots__ = ("done", "error", "lead", "request", "result")

    def __init__(self, request: T) -> None:
        self.request = request
        # A plain lock held until the call is woken (once: with its result, or to lead): releasing it
        # is one C call, where Event.set runs Condition.notify_all's Python code under the GIL (~20 %
        # of the GIL at c=32, docs/benchmarks.md).
        self.done = threading.Lock()
        self.done.acquire()
        self.lead = False  # woken to process the next batch, not with a result
        self.result: R | None = None
        self.error: BaseException | None = None


class Combiner(Generic[T, R]):
    """``submit(request)`` -> ``run_many``'s result for it. ``run_many(requests)`` returns one result
    or exception per request, in order; it may raise, which fails every call of that batch."""

    def __init__(
        self, run_many: Callable[[Sequence[T]], list[R | BaseException]], max_batch: int = 64
    ) -> None:
        self.run_many = run_many
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Call[T, R]] = []
        self._busy = False

    def submit(self, request: T) -> R:
        call: _Call[T, R] = _Call(request)
        with self._lock:
            self._pending.append(call)
            lead = not self._busy
            self._busy = True
        if not lead:
            call.done.acquire()  # released by _run (answered) or by the batch before (to lead)
            if not call.lead:
                return self._answer(call)
        with self._lock:  # this call leads: its batch is what waits now (itself included)
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        try:
            self._run(batch, call)
        finally:
            with self._lock:
                if self._pending:  # the next batch is led by its first call
                    self._pending[0].lead = True
                    self._pending[0].done.release()
                else:
                    self._busy = False
        return self._answer(call)

    def _run(self, batch: list[_Call[T, R]], leader: _Call[T, R]) -> None:
        """Runs the batch and wakes its calls but ``leader``, the call running it (already awake)."""
        try:
            results = self.run_many([c.request for c in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"run_many answered {len(results)} results for {len(batch)} requests")
        except BaseException as exc:  # every call of the batch gets it (none is left waiting)
            results = [exc] * len(batch)
        for c, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                c.error = result
            else:
                c.result = result
            c.lead = False
            if c is not leader:
                c.done.release()

    @staticmethod
    def _answer(call: _Call[T, R]) -> R:
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[return-value]
