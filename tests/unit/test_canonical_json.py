"""canonical_json (orjson, with the reference path for what orjson writes otherwise) gives exactly the
bytes of its definition, json.dumps(sort_keys, ensure_ascii=False, compact, allow_nan=False)."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring_service.storage.log import canonical_json, canonical_json_bytes
from tanxiao.plain_json import PlainDict, PlainList, vouched, writes_alike


def _bits_as_float(bits: int) -> float:
    value: float = struct.unpack("<d", struct.pack("<Q", bits))[0]
    return value


def reference(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# Floats of every magnitude: subnormals, below 1e-4 (where orjson writes 0.00001 for Python's 1e-05),
# exponent forms both ways, rounded values like the service's basis points.
finite_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(0, 2**64 - 1)
    .map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0])
    .filter(math.isfinite),
    st.floats(-1e-3, 1e-3, allow_nan=False),
    st.floats(1e14, 1e18),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 2)),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),  # past 64 bits orjson refuses: the reference
    finite_floats,
    st.text(),  # any code point but lone surrogates: control characters, CJK, astral
)
documents = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_same_bytes_as_the_definition(obj: Any) -> None:
    assert canonical_json(obj) == reference(obj)
    assert canonical_json_bytes(obj) == reference(obj).encode("utf-8")


@pytest.mark.parametrize(
    "value", [1e-05, 1.5e-07, 5e-324, 1e16, 1.2345e22, -0.0, 0.0001, 123456789012345678.0, 2**64]
)
def test_floats_orjson_writes_otherwise(value: float) -> None:
    doc = {"b": [value, None], "a": value}
    assert canonical_json(doc) == reference(doc)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("with_null", [False, True])
def test_nan_and_infinity_are_refused(bad: float, with_null: bool) -> None:
    doc: dict[str, Any] = {"rate": bad, "nested": [1, {"x": bad}]}
    if with_null:
        doc["none"] = None
    with pytest.raises(ValueError):
        canonical_json(doc)
    with pytest.raises(ValueError):
        canonical_json([None, bad])


def test_tuples_and_non_string_keys_as_the_definition() -> None:
    for doc in ({1: (1, 2), 2: None}, {"k": None, "t": ("a", None)}):
        assert canonical_json(doc) == reference(doc)


def test_unknown_types_are_refused_as_by_the_definition() -> None:
    import datetime

    for bad in ({"when": datetime.date(2026, 1, 1)}, {"s": {1, 2}}, {"b": b"x"}):
        with pytest.raises(TypeError):
            canonical_json(bad)


# Any float at all (NaN and Infinity included), Chinese texts as decisions carry them, tuples: the
# definition either gives the same text or raises the same error.
any_leaves = st.one_of(
    leaves,
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e-4, 1e16, 9999999999999998.0, 0.0]),
    st.sampled_from(["湖州德清县永盛印染有限公司", "碳排放强度", "绿色贷款 ✓", "\u2028", "🌏"]),
)
any_documents = st.recursive(
    any_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(
            st.one_of(st.text(max_size=8), st.sampled_from(["企业", "rate_bp"])), inner, max_size=6
        ),
    ),
    max_leaves=60,
)


@settings(max_examples=500, deadline=None)
@given(any_documents)
def test_same_bytes_or_same_refusal_as_the_definition(obj: Any) -> None:
    try:
        expected: str | None = reference(obj)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            canonical_json_bytes(obj)
    else:
        assert canonical_json_bytes(obj) == expected.encode("utf-8")


def test_subclasses_as_the_definition() -> None:
    import enum
    from collections import OrderedDict

    class Level(enum.StrEnum):
        HIGH = "HIGH"

    class Grade(enum.IntEnum):
        A = 1

    class Rate(float):
        pass

    for doc in (
        {"level": Level.HIGH, "grade": Grade.A, "none": None},
        OrderedDict([("b", 1), ("a", [OrderedDict(z=None, y=0.5)])]),
        {"rate": Rate(0.25), "n": None},
        [True, False, None, 0, -0.0, 2**63 - 1, -(2**63)],
    ):
        assert canonical_json(doc) == reference(doc)
    with pytest.raises(ValueError):
        canonical_json({"rate": Rate("nan"), "n": None})
    with pytest.raises(ValueError):
        canonical_json(math.nan)
    assert (
        canonical_json(0.5) == "0.5" and canonical_json(1e-05) == "1e-05" and canonical_json(None) == "null"
    )


@settings(max_examples=300, deadline=None)
@given(documents)
def test_vouched_containers_as_the_definition(obj: Any) -> None:
    """Containers vouched for (PlainDict/PlainList, which the walk skips) encode as the definition; a
    document that does not write alike is never vouched for."""
    doc = {"part": vouched(obj) if isinstance(obj, dict) else obj, "list": [obj]}
    if writes_alike(obj):
        doc["plain"] = PlainList([obj])
    assert canonical_json(doc) == reference(doc)
    if isinstance(obj, dict) and not writes_alike(obj):
        assert type(doc["part"]) is not PlainDict


def test_vouched_for_only_when_written_alike() -> None:
    assert type(vouched({"rate": 0.5, "n": [1, None]})) is PlainDict

    class Rate(float):
        pass

    for bad in ({"rate": math.nan}, {"rate": 1e-05}, {"x": [1e16]}, {"rate": Rate(0.5)}):
        assert type(vouched(bad)) is dict


def test_writes_alike_verdict_by_kind() -> None:
    """The walk's verdict for each kind of value, wherever it sits (top level, nested, after a vouched
    part): the checks run commonest kind first, the verdict is the definition's."""
    import enum

    class Grade(enum.IntEnum):
        A = 1

    class Name(str):
        pass

    alike: list[Any] = ["湖州吴兴区", 0, 2**63 - 1, None, True, False, 0.0, -0.0, 1e-4, -1e-4, 9.9e15, 315.0]
    unlike: list[Any] = [1e-05, -1.5e-07, 5e-324, 1e16, -1e16, math.nan, math.inf, Grade.A, Name("x"), b"x"]
    for value in alike:
        for doc in ([value], {"a": value}, {"p": PlainDict(a=1), "n": [{"x": value}]}, (None, value)):
            assert writes_alike(doc), (value, doc)
    for value in unlike:
        for doc in ([value], {"a": value}, {"p": PlainList([1]), "n": [{"x": value}]}, ("s", 1, None, value)):
            assert not writes_alike(doc), (value, doc)
    assert writes_alike({"p": PlainDict(x=[1e-05]), "l": PlainList([math.nan])})  # vouched: not walked
