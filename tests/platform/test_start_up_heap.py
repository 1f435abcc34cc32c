"""Every server freezes its start-up heap for the cyclic garbage collector while it serves (a full
collection over it was a 100-250 ms pause of every thread, the largest behind the quote's and the echo's
p99 at c=32) and unfreezes it when it stops, so that a process starting many servers (this test suite)
keeps nothing frozen past their stop."""

from __future__ import annotations

from helpers import DEVELOPMENT, check_start_up_heap_frozen

from tanxiao.platform.config import Settings
from tanxiao.platform.server import RunningServer, freeze_start_up_heap, start_server


def _start_and_freeze_again() -> RunningServer:
    running = start_server("heap", [], "127.0.0.1:0", Settings.from_env(DEVELOPMENT))
    freeze_start_up_heap(running)  # a service freezing again after its own start-up: still one unfreeze
    return running


def test_start_server_freezes_what_is_alive_and_its_stop_unfreezes_it() -> None:
    check_start_up_heap_frozen(_start_and_freeze_again)
