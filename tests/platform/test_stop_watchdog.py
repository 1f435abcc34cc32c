"""A stop that hangs (a handler ignoring cancellation, a blocked log sink) does not keep the process
alive forever: past the grace period plus STOP_OVERRUN_SECONDS it prints every thread's stack and exits
with 70, in a real child process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import threading
    from tanxiao.platform import server

    server.STOP_OVERRUN_SECONDS = 0.5

    class Stuck:
        name = "stuck"

        def stop(self, grace):
            threading.Event().wait()  # never returns, like a handler that ignores cancellation

    stop = server.StopSignal()
    stop.set()
    server.serve_until_signalled([Stuck()], 0.1, stop)
    """
)


def test_a_stop_that_hangs_ends_the_process_with_every_threads_stack() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert done.returncode == 70, done.stderr
    assert "server.stop_overdue" in done.stderr
    assert "in stop" in done.stderr  # the stuck frame is named in the dump


EXIT_HANGS = textwrap.dedent(
    """
    import threading
    from concurrent import futures
    from tanxiao.platform import server

    server.STOP_OVERRUN_SECONDS = 0.5

    class Quick:
        name = "quick"

        def stop(self, grace):
            pass

    # A worker still busy when the servers have stopped: the interpreter's exit joins it, for ever.
    pool = futures.ThreadPoolExecutor(1)
    pool.submit(threading.Event().wait)
    stop = server.StopSignal()
    stop.set()
    server.serve_until_signalled([Quick()], 0.1, stop)
    """
)


def test_an_exit_that_hangs_after_the_stop_is_bounded_too() -> None:
    done = subprocess.run([sys.executable, "-c", EXIT_HANGS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 70, done.stderr
    assert "server.stop_overdue" in done.stderr
    assert "in _python_exit" in done.stderr  # the interpreter's exit, waiting for the executor's worker
