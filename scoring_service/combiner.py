"""Group commit for concurrent calls: the calls that arrive while one batch is being processed are
processed together as the next batch, by one of their own threads.

QuoteLoanTerms uses it so that concurrent quotes share one rules evaluation (``evaluate_compact``), one
registry round trip and one database transaction (one commit), instead of paying each per call. No call
waits for a timer: a call arriving while nothing is in progress runs at once, alone (as without the
combiner); calls arriving during a batch wait for it and then go together. Each call still gets its
own result or its own exception.

Two stages, pipelined: ``run_many`` may return its results, or a ``finish`` callable (the batch's
second stage, e.g. its database transaction). Then the next batch is led as soon as this one's
first stage is done, and prepares (registry, rules) while this one finishes (commits): a batch no
longer waits for the I/O of the one before. At most two batches are in flight (one finishing, one
preparing or waiting to finish), and finishes run one at a time, in batch order.

The batch runs on the thread of one of its calls (the first that arrived), so it runs in that call's
context (request id in logs and outgoing metadata); what a call's own context decides (authorization,
consents) must be settled before ``submit``. Both stages of a batch run on that thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Results = list[R | BaseException]
Finish = Callable[[], list[R | BaseException]]  # a batch's second stage: its results


class _Call(Generic[T, R]):
    __slots__ = ("done", "error", "lead", "request", "result")

    def __init__(self, request: T) -> None:
        self.request = request
        self.done = threading.Event()
        self.lead = False  # woken to process the next batch, not with a result
        self.result: R | None = None
        self.error: BaseException | None = None


class Combiner(Generic[T, R]):
    """``submit(request)`` -> ``run_many``'s result for it. ``run_many(requests)`` returns one result
    or exception per request, in order, or a ``finish`` callable returning them (two stages, see the
    module docstring); either may raise, which fails every call of that batch (only that batch)."""

    def __init__(
        self,
        run_many: Callable[[Sequence[T]], list[R | BaseException] | Finish[R]],
        max_batch: int = 64,
    ) -> None:
        self.run_many = run_many
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Call[T, R]] = []
        self._busy = False  # a batch is being led (in its first stage)
        self._finishing = threading.Lock()  # held by the batch in its second stage

    def submit(self, request: T) -> R:
        call: _Call[T, R] = _Call(request)
        with self._lock:
            self._pending.append(call)
            lead = not self._busy
            self._busy = True
        if not lead:
            call.done.wait()
            if not call.lead:
                return self._answer(call)
        with self._lock:  # this call leads: its batch is what waits now (itself included)
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        handed = False
        try:
            finish = self._first(batch)
            if finish is not None:
                # Wait for the batch before to finish (the only other one in flight), then let the next
                # batch be led while this one finishes: its first stage overlaps this one's second.
                with self._finishing:
                    self._hand_on()
                    handed = True
                    self._settle(batch, self._second(finish, len(batch)))
        finally:
            if not handed:
                self._hand_on()
        return self._answer(call)

    def _hand_on(self) -> None:
        with self._lock:
            if self._pending:  # the next batch is led by its first call
                self._pending[0].lead = True
                self._pending[0].done.set()
            else:
                self._busy = False

    def _first(self, batch: list[_Call[T, R]]) -> Finish[R] | None:
        """Stage one; None when the batch is settled already (results, or its failure)."""
        try:
            out = self.run_many([c.request for c in batch])
        except BaseException as exc:  # every call of the batch gets it (none is left waiting)
            self._settle(batch, [exc] * len(batch))
            return None
        if callable(out):
            return out
        self._settle(batch, self._checked(out, len(batch)))
        return None

    def _second(self, finish: Finish[R], size: int) -> list[R | BaseException]:
        try:
            return self._checked(finish(), size)
        except BaseException as exc:
            return [exc] * size

    @staticmethod
    def _checked(results: list[R | BaseException], size: int) -> list[R | BaseException]:
        if len(results) != size:
            error = RuntimeError(f"run_many answered {len(results)} results for {size} requests")
            return [error] * size
        return results

    @staticmethod
    def _settle(batch: list[_Call[T, R]], results: list[R | BaseException]) -> None:
        for c, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                c.error = result
            else:
                c.result = result
            c.lead = False
            c.done.set()

    @staticmethod
    def _answer(call: _Call[T, R]) -> R:
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[return-value]
