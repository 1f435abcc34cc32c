"""Properties that must hold for every input and every policy the validator accepts."""

from __future__ import annotations

import dataclasses
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from loan_cases import any_policy, commitments, profiles, requests

import loan_rules as lr

CODE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
EXAMPLES = settings(max_examples=300, deadline=None)


def no_worse(better: lr.Terms, worse: lr.Terms) -> None:
    """``better`` is at least as good as ``worse``: rate not higher, limit not lower, eligibility kept."""
    assert better.final_rate_bp <= worse.final_rate_bp
    assert better.rate_adjustment_bp <= worse.rate_adjustment_bp
    assert better.approved_limit_fen >= worse.approved_limit_fen
    assert better.eligible or not worse.eligible


@EXAMPLES
@given(any_policy, profiles, commitments, requests, st.integers(1, 4))
def test_better_grade_never_gives_worse_terms(
    policy: lr.Policy,
    profile: lr.CarbonProfileInput,
    commitment: lr.CommitmentInput | None,
    request: lr.LoanRequest,
    grade: int,
) -> None:
    terms = [
        lr.evaluate(dataclasses.replace(profile, grade=g), commitment, request, policy)
        for g in (grade, grade + 1)
    ]
    no_worse(*terms)


@EXAMPLES
@given(any_policy, profiles, commitments, requests)
def test_improving_never_worse_than_worsening(
    policy: lr.Policy,
    profile: lr.CarbonProfileInput,
    commitment: lr.CommitmentInput | None,
    request: lr.LoanRequest,
) -> None:
    improving, stable, worsening = (
        lr.evaluate(dataclasses.replace(profile, trend_direction=t), commitment, request, policy)
        for t in ("IMPROVING", "STABLE", "WORSENING")
    )
    no_worse(improving, worsening)
    no_worse(improving, stable)
    no_worse(stable, worsening)


@EXAMPLES
@given(any_policy, profiles, commitments, requests, st.floats(0, 2))
def test_better_data_quality_never_gives_worse_terms(
    policy: lr.Policy,
    profile: lr.CarbonProfileInput,
    commitment: lr.CommitmentInput | None,
    request: lr.LoanRequest,
    worse_by: float,
) -> None:
    worse = min(profile.data_quality_score + worse_by, 5.0)
    better_terms = lr.evaluate(profile, commitment, request, policy)
    worse_terms = lr.evaluate(
        dataclasses.replace(profile, data_quality_score=worse), commitment, request, policy
    )
    no_worse(better_terms, worse_terms)
    assert (
        worse_terms.manual_review
        or not better_terms.manual_review
        or "DATA_QUALITY_GATE" not in (better_terms.review_reasons)
    )


@EXAMPLES
@given(any_policy, profiles, commitments, requests)
def test_adjustment_within_cap_and_floor_and_rate_above_floor(
    policy: lr.Policy,
    profile: lr.CarbonProfileInput,
    commitment: lr.CommitmentInput | None,
    request: lr.LoanRequest,
) -> None:
    terms = lr.evaluate(profile, commitment, request, policy)
    assert policy.total_min_bp <= terms.rate_adjustment_bp <= policy.total_max_bp
    lpr = request.lpr_bp
    bounded = min(
        max(terms.base_rate_bp + terms.rate_adjustment_bp, lpr + policy.floor_vs_lpr_bp),
        lpr + policy.cap_vs_lpr_bp,
    )
    spread = policy.products[request.product].facility_max_spread_bp
    if spread is not None:  # facility-eligible: about the same-tenor LPR
        bounded = min(max(bounded, lpr - spread), lpr + spread)
        assert abs(terms.final_rate_bp - lpr) <= spread + 1e-9
    assert terms.final_rate_bp == round(bounded, 2)
    assert terms.rate_adjustment_bp == round(terms.rate_adjustment_bp, 2)
    assert terms.lpr_bp == lpr
    assert terms.base_rate_source == ("LPR" if request.base_rate_bp is None else "LENDER")
    assert isinstance(terms.approved_limit_fen, int) and terms.approved_limit_fen >= 0
    # the limit is the smallest candidate: never above the request, nor above a retrofit's equity cap
    assert terms.approved_limit_fen <= request.requested_amount_fen
    rules = policy.products[request.product].commitment
    if commitment is not None and rules is not None and rules.project_limit is not None:
        share = 1 - rules.project_limit.min_equity_share
        assert terms.approved_limit_fen <= commitment.capex_fen * share + 0.5
    limit_steps = sum(s.limit_effect_fen for s in terms.trace)
    if terms.eligible:  # limit effects in fen add up from the request to the limit
        assert request.requested_amount_fen + limit_steps == terms.approved_limit_fen
    if not terms.eligible:
        assert terms.approved_limit_fen == 0 and terms.decline_reasons
        assert terms.conditions == lr.Conditions()
    else:
        assert not terms.decline_reasons
    assert terms.manual_review == bool(terms.review_reasons)
    # the trace explains the rate (each effect is rounded to 0.01 bp)
    total = sum(s.rate_effect_bp for s in terms.trace)
    assert abs(total - (terms.final_rate_bp - terms.base_rate_bp)) <= 0.011 * len(terms.trace)
    # reasons: the steps with an effect, largest |rate effect| first
    effects = [abs(s.rate_effect_bp) for s in terms.reasons]
    assert effects == sorted(effects, reverse=True)
    assert {s.code for s in terms.reasons} <= {s.code for s in terms.trace}
    for s in terms.trace:
        assert CODE.match(s.code) and s.code in lr.REASON_CODES
        assert s.text_zh and s.text_en
    json.dumps(terms.to_dict(), ensure_ascii=False, allow_nan=False)  # strict JSON


@settings(max_examples=100, deadline=None)
@given(any_policy, profiles, commitments, requests)
def test_deterministic(
    policy: lr.Policy,
    profile: lr.CarbonProfileInput,
    commitment: lr.CommitmentInput | None,
    request: lr.LoanRequest,
) -> None:
    first = lr.evaluate(profile, commitment, request, policy).to_dict()
    again = lr.evaluate(profile, commitment, request, policy).to_dict()
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
