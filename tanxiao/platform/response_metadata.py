"""Initial metadata that travels in the response's own batch instead of a batch of its own.

``context.send_initial_metadata`` starts a gRPC batch of its own: one more operation for the core, one
more completion event for the server's single polling thread and a condition round trip on the call's
state, on every call. The server echoes ``x-request-id`` on every call, so that batch was about a sixth
of the plumbing's per-call cost (docs/benchmarks.md). grpcio has no public way to add initial metadata
to the batch that sends the response (or the status of a failed call), but every one of its server
paths builds that batch's initial metadata in one module function, ``grpc._server._get_initial_metadata``
(compression is added there the same way). ``install`` wraps it once to add what ``attach`` stored on
the call's state; grpcio is pinned (pyproject.toml), and where its internals are not as expected
(another grpcio, a test's fake context) ``attach`` falls back to ``send_initial_metadata``.
``tests/platform/test_response_metadata.py`` pins that a unary call no longer starts a batch of its own.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import grpc

ATTRIBUTE = "tanxiao_initial_metadata"  # the attribute of the call state holding it
_lock = threading.Lock()
_installed: bool | None = None  # None: not tried yet


def install() -> bool:
    """Wrap grpcio's initial-metadata builder once; False when grpcio's internals are not as expected."""
    global _installed
    with _lock:
        if _installed is None:
            _installed = _wrap_builder()
        return _installed


def _wrap_builder() -> bool:
    try:
        from grpc import _server
    except ImportError:
        return False
    original: Callable[[Any, Any], Any] | None = getattr(_server, "_get_initial_metadata", None)
    state_type = getattr(_server, "_RPCState", None)
    if original is None or state_type is None or getattr(original, "tanxiao_wrapped", False):
        return original is not None and getattr(original, "tanxiao_wrapped", False)

    def get_initial_metadata(state: Any, metadata: Any) -> Any:
        extra = getattr(state, ATTRIBUTE, None)
        if extra is not None:
            metadata = extra if metadata is None else (*extra, *metadata)
        return original(state, metadata)

    get_initial_metadata.tanxiao_wrapped = True  # type: ignore[attr-defined]
    _server._get_initial_metadata = get_initial_metadata
    return True


def attach(
    context: grpc.ServicerContext, metadata: tuple[tuple[str, str], ...], *, merge: bool = True
) -> None:
    """Send ``metadata`` as (part of) the call's initial metadata. Merged (unary responses): in
    whichever batch sends it first, the response, the status of a failed call or a handler's own
    ``send_initial_metadata``; attached twice (stacked interceptors), the last one counts. Not merged
    (streams, whose first message may come much later): sent now, once."""
    state = getattr(context, "_state", None) if merge else None
    if _installed and state is not None and getattr(state, "initial_metadata_allowed", False):
        setattr(state, ATTRIBUTE, metadata)
        return
    with contextlib.suppress(ValueError):  # "Initial metadata no longer allowed!": sent already
        context.send_initial_metadata(metadata)
