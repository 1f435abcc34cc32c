"""Hand-computed terms under the default policy (the worked examples of docs/loan-policy.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from loan_cases import commitment, default_raw, profile, request

import loan_rules as lr

POLICY = lr.default_policy()
DOC = Path(__file__).resolve().parents[3] / "docs" / "loan-policy.md"


def codes(steps: tuple[lr.TraceStep, ...]) -> list[str]:
    return [s.code for s in steps]


def step(terms: lr.Terms, code: str) -> lr.TraceStep:
    (found,) = [s for s in terms.trace if s.code == code]
    return found


def check_trace_adds_up(terms: lr.Terms) -> None:
    """The rate effects in the trace add up to final - base."""
    total = sum(s.rate_effect_bp for s in terms.trace)
    assert total == pytest.approx(terms.final_rate_bp - terms.base_rate_bp, abs=0.011 * len(terms.trace))


# ------------------------------------------------------------------------------ LOW_CARBON_EXPANSION


def test_grade_1_expansion() -> None:
    terms = lr.evaluate(
        profile(grade=1, trend_direction="IMPROVING", trend_confidence=0.8),
        None,
        request(product="LOW_CARBON_EXPANSION", requested_amount_cny=10_000_000, tenor_months=36),
        POLICY,
    )
    # -40 (grade 1) - 5 (IMPROVING trend) - 10 (expansion bonus for IMPROVING) = -55
    assert terms.eligible and not terms.decline_reasons
    assert terms.rate_adjustment_bp == -55.0
    assert terms.final_rate_bp == 255.0
    assert terms.approved_limit_cny == 13_000_000  # 1.3 x 10M
    assert not terms.manual_review
    assert codes(terms.reasons) == [
        "GRADE_RATE",
        "IMPROVING_TREND_BONUS",
        "TREND_RATE",
        "GRADE_LIMIT_MULTIPLIER",
    ]
    assert step(terms, "GRADE_LIMIT_MULTIPLIER").limit_effect_pct == 30.0
    assert [c.code for c in terms.conditions.covenants] == ["USE_OF_PROCEEDS_EXPANSION", "ANNUAL_CARBON_DATA"]
    assert terms.conditions.ratchet == ()
    assert terms.policy_version == "2026.1" and terms.policy_hash == POLICY.content_hash
    check_trace_adds_up(terms)


def test_rate_floor_binds() -> None:
    terms = lr.evaluate(
        profile(grade=1, trend_direction="IMPROVING"),
        None,
        request(product="LOW_CARBON_EXPANSION", base_rate_bp=290),
        POLICY,
    )
    assert terms.rate_adjustment_bp == -55.0  # 290 - 55 = 235 < 250
    assert terms.final_rate_bp == 250.0
    assert step(terms, "RATE_FLOOR").rate_effect_bp == 15.0
    check_trace_adds_up(terms)


def test_grade_5_expansion_declined_with_reason() -> None:
    terms = lr.evaluate(
        profile(grade=5, level="HIGH_CARBON", carbon_efficiency=2.4),
        None,
        request(product="LOW_CARBON_EXPANSION"),
        POLICY,
    )
    assert not terms.eligible
    assert codes(terms.decline_reasons) == ["GRADE_NOT_ELIGIBLE"]
    assert terms.approved_limit_cny == 0
    reason = terms.decline_reasons[0]
    assert reason.inputs["open_products"] == ("HIGH_CARBON_RETROFIT", "GENERAL")
    assert "HIGH_CARBON_RETROFIT" in reason.text_en and "高碳技改贷" in reason.text_zh
    assert terms.conditions == lr.Conditions()
    assert terms.final_rate_bp == 320.0  # indicative: 0 (grade 5) + 10 (HIGH_CARBON) + 0 (STABLE)


def test_grade_3_expansion_conditions() -> None:
    ok = lr.evaluate(
        profile(grade=3, carbon_efficiency=0.95), None, request(product="LOW_CARBON_EXPANSION"), POLICY
    )
    assert ok.eligible
    assert "GRADE_CONDITIONS_MET" in codes(ok.trace)
    assert "NO_GRADE_DETERIORATION" in [c.code for c in ok.conditions.covenants]
    assert ok.rate_adjustment_bp == -10.0
    assert ok.approved_limit_cny == 10_000_000

    bad = lr.evaluate(
        profile(grade=3, carbon_efficiency=1.1, trend_direction="WORSENING", data_quality_score=3),
        None,
        request(product="LOW_CARBON_EXPANSION"),
        POLICY,
    )
    assert not bad.eligible
    assert codes(bad.decline_reasons) == [
        "GRADE_CONDITION_DATA_QUALITY",
        "GRADE_CONDITION_TREND",
        "GRADE_CONDITION_CARBON_EFFICIENCY",
    ]
    # a WORSENING call below the confidence threshold counts as UNKNOWN, still worse than STABLE
    unsure = lr.evaluate(
        profile(grade=3, carbon_efficiency=0.9, trend_direction="IMPROVING", trend_confidence=0.3),
        None,
        request(product="LOW_CARBON_EXPANSION"),
        POLICY,
    )
    assert codes(unsure.decline_reasons) == ["GRADE_CONDITION_TREND"]
    assert unsure.decline_reasons[0].inputs["trend_used"] == "UNKNOWN"


def test_tenor_and_amount_rules() -> None:
    terms = lr.evaluate(profile(), None, request(product="LOW_CARBON_EXPANSION", tenor_months=72), POLICY)
    assert codes(terms.decline_reasons) == ["TENOR_OUT_OF_RANGE"]
    big = lr.evaluate(
        profile(), None, request(product="LOW_CARBON_EXPANSION", requested_amount_cny=90_000_000), POLICY
    )
    assert big.eligible and big.manual_review and big.review_reasons == ("AMOUNT_REVIEW",)
    assert big.approved_limit_cny == 100_000_000  # 1.3 x 90M capped at the product maximum
    assert step(big, "PRODUCT_LIMIT_CAP").limit_effect_pct == pytest.approx(-14.53, abs=0.01)


# ------------------------------------------------------------------------------ HIGH_CARBON_RETROFIT


def retrofit(**kw: object) -> lr.Terms:
    return lr.evaluate(
        profile(grade=4, level="HIGH_CARBON", carbon_intensity=3.2, carbon_efficiency=1.5),
        commitment(**kw),
        request(product="HIGH_CARBON_RETROFIT", requested_amount_cny=5_000_000, tenor_months=60),
        POLICY,
    )


def test_grade_4_retrofit_with_commitment() -> None:
    terms = retrofit()
    # +10 (grade 4) - 30 (3000 tCO2/yr is in the 2000-10000 band) = -20
    assert terms.eligible
    assert terms.rate_adjustment_bp == -20.0
    assert terms.final_rate_bp == 290.0
    # min(5M, 0.8 x 5M capex + 3000 t x 100 yuan) = 4.3M
    assert terms.approved_limit_cny == 4_300_000
    cap = step(terms, "PROJECT_LIMIT_CAP")
    assert cap.limit_effect_pct == -14.0 and cap.inputs["project_cap_cny"] == 4_300_000
    assert step(terms, "REDUCTION_DISCOUNT").inputs["band_from"] == 2000.0
    assert not terms.manual_review
    assert [(r.trigger, r.step_bp) for r in terms.conditions.ratchet] == [
        ("MILESTONE_MISSED", 7.5),
        ("VERIFICATION_ABSENT", 5.0),
        ("TARGET_EXCEEDED", -5.0),
    ]
    assert terms.conditions.ratchet_cap_bp == 20.0
    assert [c.code for c in terms.conditions.covenants] == [
        "USE_OF_PROCEEDS_RETROFIT",
        "ANNUAL_VERIFICATION",
        "KPI_REPORTING",
    ]
    check_trace_adds_up(terms)


def test_retrofit_ratchet_steps_and_cap() -> None:
    missed = retrofit(status="MISSED", milestones_missed=2, verified=False)
    # +10 - 30 + 2 x 7.5 + 5 = 0
    assert missed.rate_adjustment_bp == 0.0 and missed.final_rate_bp == 310.0
    assert missed.manual_review and missed.review_reasons == ("COMMITMENT_STATUS_REVIEW",)
    assert step(missed, "RATCHET_MILESTONE_MISSED").rate_effect_bp == 15.0
    assert step(missed, "RATCHET_VERIFICATION_ABSENT").rate_effect_bp == 5.0

    capped = retrofit(status="MISSED", milestones_missed=3, verified=False)
    # ratchet 22.5 + 5 = 27.5, capped at 20
    assert step(capped, "RATCHET_CAP").rate_effect_bp == -7.5
    assert capped.rate_adjustment_bp == 0.0

    exceeded = retrofit(status="COMPLETED", achieved_tco2_per_year=3300.0)
    # verified 3300 >= 1.1 x 3000: step-down 5
    assert step(exceeded, "RATCHET_TARGET_EXCEEDED").rate_effect_bp == -5.0
    assert exceeded.rate_adjustment_bp == -25.0

    unverified = retrofit(status="COMPLETED", achieved_tco2_per_year=3300.0, verified=False)
    assert "RATCHET_TARGET_EXCEEDED" not in codes(unverified.trace)  # no step-down without verification
    assert unverified.rate_adjustment_bp == -15.0  # and +5 for the missing verification

    not_started = retrofit(status="NOT_STARTED", verified=False)
    assert not_started.rate_adjustment_bp == -20.0  # verification is not due before the start


def test_retrofit_needs_a_sufficient_commitment() -> None:
    none = lr.evaluate(profile(grade=5), None, request(product="HIGH_CARBON_RETROFIT"), POLICY)
    assert codes(none.decline_reasons) == ["COMMITMENT_REQUIRED"] and none.approved_limit_cny == 0
    small = retrofit(target_tco2_per_year=400.0)
    assert codes(small.decline_reasons) == ["COMMITMENT_BELOW_MINIMUM"]


# ----------------------------------------------------------------------------------------- GENERAL


def test_grade_5_general_without_commitment_surcharge_and_haircut() -> None:
    g5 = profile(
        grade=5, level="HIGH_CARBON", carbon_efficiency=2.5, trend_direction="WORSENING", trend_confidence=0.9
    )
    terms = lr.evaluate(g5, None, request(requested_amount_cny=2_000_000, tenor_months=12), POLICY)
    # +30 (grade 5) + 10 (WORSENING) + 25 (no commitment) = 65
    assert terms.eligible
    assert terms.rate_adjustment_bp == 65.0 and terms.final_rate_bp == 375.0
    # 2M x 0.8 (grade 5) x 0.7 (no commitment) = 1.12M
    assert terms.approved_limit_cny == 1_120_000
    assert step(terms, "NO_COMMITMENT_SURCHARGE").rate_effect_bp == 25.0
    assert step(terms, "NO_COMMITMENT_HAIRCUT").limit_effect_pct == -30.0
    assert codes(terms.reasons)[:4] == [
        "GRADE_RATE",
        "NO_COMMITMENT_SURCHARGE",
        "TREND_RATE",
        "NO_COMMITMENT_HAIRCUT",
    ]
    assert [c.code for c in terms.conditions.covenants] == ["RETROFIT_PLAN_WITHIN_12_MONTHS"]

    with_commitment = lr.evaluate(
        g5, commitment(), request(requested_amount_cny=2_000_000, tenor_months=12), POLICY
    )
    assert with_commitment.rate_adjustment_bp == 40.0
    assert with_commitment.approved_limit_cny == 1_600_000
    assert with_commitment.conditions.covenants == ()


def test_ungraded_is_priced_as_configured_grade_with_review() -> None:
    terms = lr.evaluate(profile(grade=0, carbon_efficiency=float("nan")), None, request(), POLICY)
    assert step(terms, "UNGRADED").inputs["treated_as_grade"] == 4
    assert terms.rate_adjustment_bp == 15.0  # GENERAL grade 4
    assert terms.manual_review and "UNGRADED" in terms.review_reasons


# ------------------------------------------------------------------------------------- data quality


def test_low_data_quality_withholds_discounts_and_asks_for_review() -> None:
    terms = lr.evaluate(
        profile(grade=1, trend_direction="IMPROVING", data_quality_score=4.5),
        None,
        request(product="LOW_CARBON_EXPANSION"),
        POLICY,
    )
    gate = step(terms, "DATA_QUALITY_GATE")
    assert gate.rate_effect_bp == 55.0 and gate.inputs["discount_factor"] == 0.0
    assert terms.rate_adjustment_bp == 0.0 and terms.final_rate_bp == 310.0
    assert terms.eligible and terms.approved_limit_cny == 13_000_000
    assert terms.manual_review and terms.review_reasons == ("DATA_QUALITY_GATE",)
    assert codes(terms.reasons)[0] == "DATA_QUALITY_GATE"
    check_trace_adds_up(terms)


def test_gate_flag_and_middle_band() -> None:
    flagged = lr.evaluate(
        profile(grade=1, trend_direction="IMPROVING", quality_flags=("MOM_SPIKE", "STALE_DATA")),
        None,
        request(product="LOW_CARBON_EXPANSION"),
        POLICY,
    )
    assert flagged.rate_adjustment_bp == 0.0 and flagged.manual_review
    assert step(flagged, "DATA_QUALITY_GATE").inputs["gate_flags"] == ("STALE_DATA",)
    half = lr.evaluate(
        profile(grade=1, trend_direction="IMPROVING", data_quality_score=3.5),
        None,
        request(product="LOW_CARBON_EXPANSION"),
        POLICY,
    )
    assert half.rate_adjustment_bp == -27.5 and not half.manual_review
    # surcharges are never reduced by the gate
    g5 = lr.evaluate(profile(grade=5, data_quality_score=5), None, request(), POLICY)
    assert g5.rate_adjustment_bp == 55.0


def test_total_cap_and_floor() -> None:
    raw = default_raw()
    raw["total_adjustment_bp"] = {"min": -30, "max": 40}
    policy = lr.policy_from_mapping(raw)
    low = lr.evaluate(
        profile(grade=1, trend_direction="IMPROVING"), None, request(product="LOW_CARBON_EXPANSION"), policy
    )
    assert low.rate_adjustment_bp == -30.0
    assert step(low, "TOTAL_ADJUSTMENT_FLOOR").rate_effect_bp == 25.0
    high = lr.evaluate(profile(grade=5), None, request(), policy)
    assert high.rate_adjustment_bp == 40.0
    assert step(high, "TOTAL_ADJUSTMENT_CAP").rate_effect_bp == -15.0


# ------------------------------------------------------------------------------------ the contract


def test_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match=r"grade: must be 0\.\.5"):
        profile(grade=6)
    with pytest.raises(ValueError, match="data_quality_score"):
        profile(data_quality_score=0.5)
    with pytest.raises(ValueError, match="product: must be one of"):
        request(product="MORTGAGE")
    with pytest.raises(ValueError, match="requested_amount_cny: must be > 0"):
        request(requested_amount_cny=0)
    with pytest.raises(ValueError, match="target_tco2_per_year"):
        commitment(target_tco2_per_year=0)
    assert profile(trend_direction="INSUFFICIENT_DATA").trend_direction is lr.TrendDirection.UNKNOWN
    assert commitment(status="ACHIEVED").status is lr.CommitmentStatus.COMPLETED


def test_terms_serialise_and_reproduce() -> None:
    args = (profile(grade=4), commitment(status="AT_RISK"), request(product="HIGH_CARBON_RETROFIT"), POLICY)
    first = json.dumps(lr.evaluate(*args).to_dict(), ensure_ascii=False, sort_keys=True)
    again = json.dumps(lr.evaluate(*args).to_dict(), ensure_ascii=False, sort_keys=True)
    assert first == again
    assert lr.evaluate(*args) == lr.evaluate(*args)


def test_every_reason_code_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [code for code in lr.REASON_CODES if f"`{code}`" not in text]
    assert not missing, f"codes missing from docs/loan-policy.md: {missing}"


def test_library_stays_pure() -> None:
    code = (
        "import sys, loan_rules\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'grpc', 'sqlalchemy', 'tanxiao', "
        "'registry_service', 'scoring_service'})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
