"""The scalar path of the rules (loan_rules._scalar, small groups) gives numpy's numbers bit for bit."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from loan_cases import any_policy, commitment, commitments, profile, profiles, request, requests

import loan_rules as lr
from loan_rules import _core, _scalar, compact
from loan_rules.compact import evaluate_compact
from loan_rules.evaluator import _columns_many

Row = tuple[lr.CarbonProfileInput, lr.CommitmentInput | None, lr.LoanRequest]
rows = st.lists(st.tuples(profiles, commitments, requests), min_size=1, max_size=32)
SPECIAL = [-0.0, 0.0, 1.0, -1.0, 0.5, -2.5, math.nan, math.inf, -math.inf]


def exact(value: Any) -> str:
    """A text that tells apart what == does not: int/float/bool, -0.0/0.0, NaN."""
    return repr(value)


def by_numpy(items: list[Row], policy: lr.Policy) -> list[dict[str, Any]]:
    saved = compact.SCALAR_MAX_ROWS
    compact.SCALAR_MAX_ROWS = 0
    try:
        return evaluate_compact(items, policy)
    finally:
        compact.SCALAR_MAX_ROWS = saved


def numpy_rows(items: list[Row], policy: lr.Policy) -> list[list[Any]]:
    o = _core.compute(_columns_many(items, policy), policy)
    out: list[list[Any]] = [[] for _ in items]
    for name in compact.OUTCOME_FIELDS:
        value = getattr(o, name)
        if isinstance(value, tuple):
            columns = list(zip(*[a.tolist() for a in value], strict=True))
            for row, column in zip(out, columns, strict=True):
                row.append(list(column))
        else:
            for row, v in zip(out, value.tolist(), strict=True):
                row.append(v)
    return out


@settings(max_examples=600, deadline=None)
@given(any_policy, rows)
def test_scalar_compact_terms_are_numpys(policy: lr.Policy, items: list[Row]) -> None:
    """For random policies and inputs: every value of the compact terms, types and signs of zero
    included, is what the numpy path stores; and each row's raw outcome is numpy's."""
    assert exact(evaluate_compact(items, policy)) == exact(by_numpy(items, policy))
    assert exact(_scalar.compute_rows(items, policy)) == exact(numpy_rows(items, policy))


def test_helpers_follow_numpy_on_special_values() -> None:
    for n in (1, 20):  # a one-row group and a SIMD-sized one
        for a, b in itertools.product(SPECIAL, SPECIAL):
            x, y = np.full(n, a), np.full(n, b)
            assert exact(np.maximum(x, y)[0].item()) == exact(_scalar.maximum(a, b))
            assert exact(np.minimum(x, y)[0].item()) == exact(_scalar.minimum(a, b))
        for a, lo, hi in itertools.product(SPECIAL, SPECIAL, SPECIAL):
            x = np.full(n, a)
            with_arrays = np.clip(x, np.full(n, lo), np.full(n, hi))[0].item()
            assert exact(with_arrays) == exact(_scalar.clip(a, lo, hi))
            if not (math.isnan(lo) or math.isnan(hi)):  # policy bounds are numbers
                got = _scalar.clip_scalar_bounds(a, lo, hi)
                assert exact(np.clip(x, lo, hi)[0].item()) == exact(got)
        for value in [*SPECIAL, 0.125, -0.005, 0.015, 2.675, 1e300, -1e-9, 123.455]:
            for d in (2, 6):
                assert exact(np.round(np.full(n, value), d)[0].item()) == exact(_scalar.np_round(value, d))


@settings(max_examples=2000, deadline=None)
@given(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([2, 6]))
def test_round_follows_numpy(value: float, decimals: int) -> None:
    assert exact(np.round(np.array([value]), decimals)[0].item()) == exact(_scalar.np_round(value, decimals))


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**62), 2**62), st.integers(0, 40_000))
def test_mul_ratio_follows_numpy(fen: int, ratio: int) -> None:
    try:
        got = _scalar.mul_ratio(fen, ratio)
    except _scalar.Overflow:
        assert not -(2**63) <= fen * ratio < 2**63
        return
    assert got == _core.mul_ratio(np.array([fen]), np.array([ratio]))[0].item()


def test_int64_overflow_takes_the_numpy_path() -> None:
    """A product of fen that numpy wraps in int64: the scalar path gives way, the terms are numpy's."""
    policy = lr.default_policy()
    items: list[Row] = [
        (profile(grade=1), None, request(requested_amount_fen=10**16, bank_limit_fen=10**16)),
        (profile(grade=4, level="HIGH_CARBON"), commitment(), request(product="HIGH_CARBON_RETROFIT")),
    ]
    try:
        _scalar.compute_rows(items, policy)
        overflowed = False
    except _scalar.Overflow:
        overflowed = True
    assert overflowed
    assert exact(evaluate_compact(items, policy)) == exact(by_numpy(items, policy))


def test_large_groups_use_numpy_and_agree() -> None:
    policy = lr.default_policy()
    items: list[Row] = [
        (profile(grade=g), commitment() if g % 2 else None, request(requested_amount_fen=10**6 * (g + 1)))
        for g in range(6)
    ] * 7
    assert len(items) > compact.SCALAR_MAX_ROWS
    split = evaluate_compact(items[:8], policy) + by_numpy(items[8:], policy)
    assert exact(evaluate_compact(items, policy)) == exact(split)
