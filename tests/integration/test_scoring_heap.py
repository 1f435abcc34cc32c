"""The scoring app freezes its start-up heap for the cyclic garbage collector while it serves (start_server
does, and start_scoring again after its own start-up: a full collection over that heap was the largest pause
behind QuoteLoanTerms' p99) and unfreezes it when it stops, so that a process starting many servers (this
test suite) keeps nothing frozen past their stop."""

from __future__ import annotations

from scoring_service.app import start_scoring
from tests.helpers import Registry, check_start_up_heap_frozen


def test_the_start_up_heap_is_frozen_while_scoring_serves_and_unfrozen_at_stop(registry: Registry) -> None:
    address = registry.server.address
    check_start_up_heap_frozen(lambda: start_scoring(registry.settings, "127.0.0.1:0", registry_addr=address))
