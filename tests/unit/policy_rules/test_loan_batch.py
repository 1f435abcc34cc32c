"""evaluate_batch gives every row exactly what evaluate gives; bad columns are named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loan_cases import any_policy, commitment, commitments, profile, profiles, request, requests

import loan_rules as lr

Row = tuple[lr.CarbonProfileInput, lr.CommitmentInput | None, lr.LoanRequest]
rows = st.lists(st.tuples(profiles, commitments, requests), min_size=1, max_size=25)


def assert_matches(result: pd.DataFrame, items: list[Row], policy: lr.Policy) -> None:
    assert list(result.columns) == list(lr.RESULT_COLUMNS)
    for i, (p, c, r) in enumerate(items):
        terms = lr.evaluate(p, c, r, policy)
        row = result.iloc[i]
        assert bool(row.eligible) == terms.eligible
        assert int(row.approved_limit_fen) == terms.approved_limit_fen
        assert row.binding_limit == terms.binding_limit
        assert float(row.rate_adjustment_bp) == terms.rate_adjustment_bp
        assert float(row.final_rate_bp) == terms.final_rate_bp
        assert bool(row.manual_review) == terms.manual_review
        assert row.decline_reason == (terms.decline_reasons[0].code if terms.decline_reasons else "")


@settings(max_examples=150, deadline=None)
@given(any_policy, rows, st.booleans())
def test_batch_equals_evaluate(policy: lr.Policy, items: list[Row], categorical: bool) -> None:
    frame = lr.to_frame(items)
    if categorical:
        for column in ("product", "level", "trend_direction", "commitment_status"):
            frame[column] = frame[column].astype("category")
    result = lr.evaluate_batch(frame, policy)
    assert result.index.equals(frame.index)
    assert result.attrs["policy_hash"] == policy.content_hash
    assert_matches(result, items, policy)


@settings(max_examples=150, deadline=None)
@given(any_policy, rows)
def test_evaluate_many_equals_evaluate_with_trace(policy: lr.Policy, items: list[Row]) -> None:
    """BatchQuote prices a chunk with evaluate_many: every Terms, trace and texts included, must be
    exactly what evaluate gives the request alone (also in dict form, as stored in a decision)."""
    many = lr.evaluate_many(items, policy)
    assert len(many) == len(items)
    for (p, c, r), terms in zip(items, many, strict=True):
        alone = lr.evaluate(p, c, r, policy)
        assert terms == alone
        assert terms.to_dict() == alone.to_dict()


def test_evaluate_many_mixed_chunk_hand_checked() -> None:
    """A chunk mixing a commitment-backed retrofit and a plain request: each row keeps its own
    terms (no value leaks between rows of the one compute), and no rows give no terms."""
    items: list[Row] = [
        (profile(grade=1), None, request(product="GENERAL")),
        (profile(grade=4, level="HIGH_CARBON"), commitment(), request(product="HIGH_CARBON_RETROFIT")),
        (profile(grade=1), None, request(product="GENERAL")),
    ]
    policy = lr.default_policy()
    many = lr.evaluate_many(items, policy)
    assert many[0] == many[2] == lr.evaluate(*items[0], policy)
    assert many[1] == lr.evaluate(*items[1], policy)
    assert many[1].trace != many[0].trace
    assert lr.evaluate_many([], policy) == []


def test_batch_minimal_columns_and_flag_formats() -> None:
    bare = {"bank_limit_fen": None, "revenue_fen": None, "total_debt_fen": None, "equity_fen": None}
    items: list[Row] = [
        (
            profile(grade=1, quality_flags=("STALE_DATA",)),
            None,
            request(product="LOW_CARBON_EXPANSION", **bare),
        ),
        (profile(grade=2), None, request(**bare)),
        (profile(grade=5), None, request(**bare)),
    ]
    full = lr.to_frame(items)
    minimal = full[list(lr.batch.REQUIRED_COLUMNS)].copy()
    minimal["quality_flags"] = ["MOM_SPIKE, STALE_DATA", None, ""]  # comma-separated strings
    policy = lr.default_policy()
    assert_matches(lr.evaluate_batch(minimal, policy), items, policy)
    minimal["quality_flags"] = [["STALE_DATA"], [], []]  # lists (unhashable) work too
    assert_matches(lr.evaluate_batch(minimal, policy), items, policy)
    assert lr.evaluate_batch(minimal.iloc[:0], policy).empty


def test_batch_names_bad_columns_and_rows() -> None:
    items: list[Row] = [(profile(), commitment(), request()), (profile(grade=3), None, request())]
    frame = lr.to_frame(items).set_index(pd.Index(["a", "b"]))

    def fails(change: dict[str, object], message: str, drop: tuple[str, ...] = ()) -> None:
        bad = frame.drop(columns=list(drop)).assign(**change)
        with pytest.raises(ValueError, match=message):
            lr.evaluate_batch(bad)

    fails({"grade": [1, 7]}, r"grade: must be <= 5, got 7 at row 'b'")
    fails({"grade": [1.5, 2]}, r"grade: must be an integer, got 1.5 at row 'a'")
    fails({"product": ["GENERAL", "MORTGAGE"]}, r"product: must be one of .*got 'MORTGAGE' at row 'b'")
    fails({"trend_direction": [None, "STABLE"]}, r"trend_direction: must not be null, got .* at row 'a'")
    fails({"requested_amount_fen": [0, 1]}, r"requested_amount_fen: must be 1\.\.\d+ fen, got 0 at row 'a'")
    fails(
        {"requested_amount_fen": [10.5, 1]}, r"requested_amount_fen: must be a whole number of fen, got 10.5"
    )
    fails({"bank_limit_fen": [0, None]}, r"bank_limit_fen: must be 1\.\.\d+ fen, got 0(\.0)? at row 'a'")
    fails({"data_quality_score": [np.nan, 2]}, r"data_quality_score: must be a finite number")
    fails(
        {"target_tco2_per_year": [np.nan, np.nan]}, r"target_tco2_per_year: must be a finite number.*row 'a'"
    )
    fails({"verification": ["yes", None]}, r"verification: must be one of .*got 'yes' at row 'a'")
    fails({}, r"missing columns: tenor_months", drop=("tenor_months",))
    fails({}, r"commitment_status given without: capex_fen", drop=("capex_fen",))
    # no commitment anywhere: the commitment columns may be absent or empty
    ok = frame.drop(columns=["target_tco2_per_year", "capex_fen"]).assign(commitment_status=[None, ""])
    assert lr.evaluate_batch(ok).eligible.tolist() == [True, True]


@settings(max_examples=150, deadline=None)
@given(any_policy, rows)
def test_columns_many_equals_concatenated_columns(policy: lr.Policy, items: list[Row]) -> None:
    """evaluate_many builds its arrays column by column: each must be exactly (values and dtype) the
    concatenation of the one-element arrays evaluate builds for each row."""
    import dataclasses

    from loan_rules.evaluator import _columns, _columns_many

    many = _columns_many(items, policy)
    singles = [_columns(p, c, r, policy) for p, c, r in items]
    for field in dataclasses.fields(many):
        got = getattr(many, field.name)
        want = np.concatenate([getattr(s, field.name) for s in singles])
        assert got.dtype == want.dtype, field.name
        np.testing.assert_array_equal(got, want, err_msg=field.name)


@settings(max_examples=100, deadline=None)
@given(any_policy, rows)
def test_terms_dict_is_json_as_stored(policy: lr.Policy, items: list[Row]) -> None:
    """The pricer stores Terms.to_dict() as it is (no to_json walk): it must already be what to_json
    makes of it, type for type (strict JSON: no NaN, no tuples, no enums)."""
    import json

    from scoring_service.inputs import to_json

    for terms in lr.evaluate_many(items, policy):
        d = terms.to_dict()
        assert to_json(d) == d
        text = json.dumps(d, sort_keys=True, ensure_ascii=False, allow_nan=False)
        assert json.dumps(to_json(d), sort_keys=True, ensure_ascii=False, allow_nan=False) == text
