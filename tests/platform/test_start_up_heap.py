"""Every server freezes its start-up heap for the cyclic garbage collector while it serves (a full
collection over it was a 100-250 ms pause of every thread, the largest behind the quote's and the echo's
p99 at c=32) and unfreezes it when it stops, so that a process starting many servers (this test suite)
keeps nothing frozen past their stop."""

from __future__ import annotations

import gc
import weakref

from helpers import DEVELOPMENT

from tanxiao.platform.config import Settings
from tanxiao.platform.server import freeze_start_up_heap, start_server


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_start_server_freezes_what_is_alive_and_its_stop_unfreezes_it() -> None:
    old = _Node()
    old_ref = weakref.ref(old)
    running = start_server("heap", [], "127.0.0.1:0", Settings.from_env(DEVELOPMENT))
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
        freeze_start_up_heap(running)  # a service freezing again after its own start-up: one unfreeze
        assert running.on_stop.count(gc.unfreeze) == 1
    finally:
        running.stop(None)
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert old_ref() is None
