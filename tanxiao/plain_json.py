"""JSON values that canonical JSON can take from orjson's text without looking at them again.

The decision log hashes ``json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
allow_nan=False)``; scoring_service.storage.log encodes it with orjson, which writes the same text
for plain JSON whose floats are finite and 0 or 1e-4 <= |x| < 1e16 (elsewhere Python's repr uses an
exponent that orjson writes otherwise, and orjson writes NaN as null). ``writes_alike`` is the walk
over the values that tells; it was a third of building a decision's log entry (~140 values).

``PlainList`` and ``PlainDict`` let a producer say so once for many values: a list or dict of one of
these types holds, at any depth, only str, int (64-bit), bool, None, floats in that range and
containers of the same, so the walk skips it. The loan rules check a chunk's outcome columns once
(loan_rules.compact) and the pricer the parts a call shares between decisions (profile, LPR,
financials); the text is the definition's either way (pinned by tests/unit/test_canonical_json.py).
Whoever makes one must not change it afterwards.
"""

from __future__ import annotations

from typing import Any


class PlainList(list[Any]):
    """A list vouched for as plain JSON that orjson writes as the definition does."""

    __slots__ = ()


class PlainDict(dict[str, Any]):
    """A dict (str keys) vouched for as plain JSON that orjson writes as the definition does."""

    __slots__ = ()


def writes_alike(obj: Any) -> bool:
    """Whether orjson's text of ``obj`` is the definition's: every float finite and 0 or 1e-4 <= |x| < 1e16,
    every other value of a plain JSON type (dict keys are left to orjson, which refuses non-str
    ones); a subclass or anything else: False (the reference decides). One walk, no recursion."""
    stack: list[Any] = [(obj,)]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        for value in node.values() if type(node) is dict else node:
            kind = type(value)
            # The commonest kinds first: a decision's content is mostly str, then int and None.
            if kind is str or kind is int or value is None or kind is bool:
                continue
            if kind is float:  # NaN fails every comparison, +-Infinity the range
                if not (1e-4 <= value < 1e16 or -1e16 < value <= -1e-4 or value == 0.0):
                    return False
            elif kind is dict or kind is list or kind is tuple:
                push(value)
            elif kind is not PlainList and kind is not PlainDict:  # those: vouched for by their producer
                return False
    return True


def vouched(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as a PlainDict (a shallow copy) when it writes alike, else ``obj`` itself: for a part
    built once and shared, read-only, by many decisions."""
    if type(obj) is PlainDict:
        return obj
    return PlainDict(obj) if writes_alike(obj) else obj
