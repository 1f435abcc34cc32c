"""A unary answer handed to gRPC as its wire bytes, already encoded.

A handler that has its answer's bytes at hand (QuoteLoanTerms: a new decision's parts are cached wire
bytes, scoring_service.convert) would otherwise parse them into a message only for gRPC to serialize
that message again: ~50k instructions a call (docs/benchmarks.md). A method marked ``answers_encoded``
may return ``Encoded(bytes, MessageType)``; the server interceptor gives such a method a response
serializer (``serializer``) that sends the bytes as they are and serializes anything else as before.
Whatever reads the answer before it is sent (an authorization rule on responses, a test) reads it as
its message, parsed from the bytes on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

_MARK = "tanxiao_answers_encoded"
F = TypeVar("F", bound=Callable[..., Any])


class Encoded:
    """Wire bytes of a message of type ``kind``; its fields read as the message's (parsed once)."""

    # names no message field has (a field read goes to the message through __getattr__)
    __slots__ = ("_tanxiao_message", "encoded_bytes", "encoded_kind")

    def __init__(self, data: bytes, kind: Any) -> None:
        self.encoded_bytes = data
        self.encoded_kind = kind
        self._tanxiao_message: Any = None

    def decoded(self) -> Any:
        """The message these bytes encode (parsed on first use)."""
        if self._tanxiao_message is None:
            self._tanxiao_message = self.encoded_kind.FromString(self.encoded_bytes)
        return self._tanxiao_message

    def __getattr__(self, name: str) -> Any:  # only names this class does not have: the message's
        return getattr(self.decoded(), name)


def answers_encoded(method: F) -> F:
    """Marks a unary handler that may return ``Encoded`` (read by ``answers_encoded_by``)."""
    setattr(method, _MARK, True)
    return method


def answers_encoded_by(behavior: Any) -> bool:
    """Whether the handler (a function or a bound method) is marked ``answers_encoded``."""
    return bool(getattr(behavior, _MARK, False))


def serializer(inner: Callable[[Any], bytes] | None) -> Callable[[Any], bytes]:
    """A response serializer sending an ``Encoded`` answer's bytes as they are, others by ``inner``."""

    def serialize(response: Any) -> bytes:
        if type(response) is Encoded:
            return response.encoded_bytes
        return inner(response) if inner is not None else response  # type: ignore[no-any-return]

    return serialize
