"""What the serving layer reads of a unary call straight from grpcio's own servicer context.

The public ``grpc.ServicerContext`` methods a call's plumbing needs (``peer``, ``is_active``,
``invocation_metadata``, ``code``) are each a Python method or three over the same few fields of the
call's state (``is_active`` takes the state's condition to read two of them). With a server's calls
all passing through one function (tanxiao.platform.interceptors), those calls were a noticeable part
of what the plumbing adds to a call, so that function reads the fields itself when the context is
grpcio's ``_Context`` laid out as expected here (grpcio is pinned, pyproject.toml); for any other
context (a test's fake, another grpcio) it uses the public methods. ``tests/platform/test_grpc_context.py``
pins that the pinned grpcio takes the direct way and that both ways read the same values.
"""

from __future__ import annotations

from typing import Any


def _probe() -> tuple[type | None, Any]:
    """grpcio's context class and its "client cancelled" marker, or (None, None) when its internals
    are not as expected."""
    try:
        from grpc import _server

        context_type = _server._Context
        cancelled = _server._CANCELLED
        state = _server._RPCState()
        fields = ("client", "statused", "code", "initial_metadata_allowed")
        annotations = getattr(context_type, "__annotations__", {})
        if all(hasattr(state, name) for name in fields) and {"_rpc_event", "_state"} <= set(annotations):
            return context_type, cancelled
    except (ImportError, AttributeError, TypeError):
        pass
    return None, None


# CONTEXT: grpcio's servicer-context class when its fields are read directly, else None.
# CANCELLED: the value of ``state.client`` once the client cancelled (or the deadline passed).
CONTEXT, CANCELLED = _probe()


def is_active(state: Any) -> bool:
    """``context.is_active()`` of a grpcio context, read without the state's lock: two attributes, each
    read atomically; the answer can change right after either way."""
    return state.client is not CANCELLED and not state.statused
