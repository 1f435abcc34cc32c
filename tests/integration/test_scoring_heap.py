"""The scoring app freezes its start-up heap for the cyclic garbage collector while it serves (start_server
does, and start_scoring again after its own start-up: a full collection over that heap was the largest pause
behind QuoteLoanTerms' p99) and unfreezes it when it stops, so that a process starting many servers (this
test suite) keeps nothing frozen past their stop."""

from __future__ import annotations

import gc
import weakref

from scoring_service.app import start_scoring
from tests.helpers import Registry


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_the_start_up_heap_is_frozen_while_scoring_serves_and_unfrozen_at_stop(registry: Registry) -> None:
    old = _Node()
    old_ref = weakref.ref(old)
    scoring = start_scoring(registry.settings, "127.0.0.1:0", registry_addr=registry.server.address)
    try:
        assert gc.get_freeze_count() > 0
        del old
        gc.collect()
        assert old_ref() is not None  # alive at start-up: frozen, the collector does not see its cycle
        young = _Node()
        young_ref = weakref.ref(young)
        del young
        gc.collect()
        assert young_ref() is None  # made while serving: collected as usual
    finally:
        scoring.stop(None)
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert old_ref() is None
