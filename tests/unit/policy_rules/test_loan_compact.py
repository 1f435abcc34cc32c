"""Compact terms (what a decision stores) render back to exactly what evaluate gives, texts included."""

from __future__ import annotations

import json
import math
import struct

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loan_cases import any_policy, commitment, commitments, profile, profiles, request, requests

import loan_rules as lr
from loan_rules.compact import (
    OUTCOME_FIELDS,
    SCALAR_MAX_ROWS,
    Renderer,
    _bp,
    evaluate_compact,
    render_terms,
    summary_differences,
)
from scoring_service.storage.log import canonical_json
from tanxiao.plain_json import PlainDict, PlainList

Row = tuple[lr.CarbonProfileInput, lr.CommitmentInput | None, lr.LoanRequest]
rows = st.lists(st.tuples(profiles, commitments, requests), min_size=1, max_size=25)


def stored(compact: dict) -> dict:
    """As read back from the log: through JSON text (orjson, as canonical_json encodes; json to read)."""
    return json.loads(orjson.dumps(compact))


@settings(max_examples=200, deadline=None)
@given(any_policy, rows)
def test_render_from_compact_equals_evaluate(policy: lr.Policy, items: list[Row]) -> None:
    """For random policies and inputs: the trace rendered from the stored compact terms (after a JSON
    round trip) is today's row-wise evaluate trace, every text and number; the stored summary is the
    evaluated one."""
    compacts = evaluate_compact(items, policy)
    assert len(compacts) == len(items)
    for row, compact in zip(items, compacts, strict=True):
        alone = lr.evaluate(*row, policy)
        back = stored(compact)
        assert len(back["outcome"]) == len(OUTCOME_FIELDS)
        rendered = render_terms(row, policy, back)
        assert rendered == alone
        assert rendered.to_dict() == alone.to_dict()
        assert summary_differences(back, alone.to_dict()) == []
        terms, full = Renderer().render(row, policy, back)
        assert terms == alone and full == alone.to_dict()


def test_compact_is_small_and_has_no_texts() -> None:
    items: list[Row] = [
        (profile(grade=1), None, request(product="GENERAL")),
        (profile(grade=4, level="HIGH_CARBON"), commitment(), request(product="HIGH_CARBON_RETROFIT")),
    ]
    policy = lr.default_policy()
    for row, compact in zip(items, evaluate_compact(items, policy), strict=True):
        text = orjson.dumps(compact).decode()
        full = lr.evaluate(*row, policy).to_dict()
        assert "trace" not in compact and "text_zh" not in text
        assert len(text) * 4 < len(json.dumps(full, ensure_ascii=False))
        assert compact["final_rate_bp"] == full["final_rate_bp"]
        assert compact["decline_reasons"] == full["decline_reasons"]


def test_memo_shares_equal_rows_and_keeps_distinct_ones_apart() -> None:
    policy = lr.default_policy()
    a, b = (profile(grade=1), None, request()), (profile(grade=2), None, request())
    renderer = Renderer(size=8)
    ca, cb = evaluate_compact([a, b], policy)
    first = renderer.render(a, policy, ca)
    assert renderer.render(a, policy, stored(ca)) is first
    assert renderer.render(b, policy, cb)[0] == lr.evaluate(*b, policy)


def _definition(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(any_policy, st.lists(st.tuples(profiles, commitments, requests), min_size=33, max_size=45))
def test_vouched_terms_encode_as_the_definition(policy: lr.Policy, items: list[Row]) -> None:
    """The column-wise path (more than SCALAR_MAX_ROWS rows) vouches for a chunk's outcomes and terms
    (PlainList, PlainDict: canonical JSON does not walk them): their canonical JSON is still the
    definition's byte for byte, or refused as by it."""
    for compact in evaluate_compact(items, policy):
        try:
            expected: str | None = _definition(compact)
        except ValueError:
            expected = None
        if expected is None:
            assert type(compact) is not PlainDict
            with pytest.raises(ValueError):
                canonical_json(compact)
        else:
            assert canonical_json(compact) == expected


def test_ordinary_chunks_are_vouched_for() -> None:
    """A chunk of ordinary requests is vouched for whole (what spares BatchQuote the walk)."""
    items: list[Row] = [
        (profile(grade=1 + i % 4), None, request(product="GENERAL")) for i in range(SCALAR_MAX_ROWS + 8)
    ]
    compacts = evaluate_compact(items, lr.default_policy())
    assert all(type(c) is PlainDict and type(c["outcome"]) is PlainList for c in compacts)
    assert all(canonical_json(c) == _definition(c) for c in compacts)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.floats(),
        st.integers(-(10**14), 10**14).map(lambda k: k / 100),  # the usual: a rounded rate
        st.integers(-(10**14), 10**14).map(lambda k: k / 100 + 1e-9),
        st.integers(-(10**6), 10**6).map(lambda k: k / 1000),  # ties at the third decimal
        st.integers(-(10**6), 10**6),
    )
)
def test_bp_rounds_as_pythons_round_to_two_digits(value: float) -> None:
    """The stored rates' rounding (its shortcut for values already on 0.01) is round(x, 2) + 0.0,
    to the bit: the sign of a zero, NaN and infinities included."""
    got, want = _bp(value), round(value, 2) + 0.0
    assert type(got) is type(want)
    assert struct.pack("<d", got) == struct.pack("<d", want) or (math.isnan(got) and math.isnan(want))
