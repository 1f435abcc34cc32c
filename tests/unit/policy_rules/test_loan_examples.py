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


YUAN = 100  # fen per yuan: amounts below are written in yuan x YUAN so the arithmetic reads naturally
M = 1_000_000 * YUAN  # one million yuan, in fen


def limit_fen(terms: lr.Terms, code: str) -> int:
    return step(terms, code).limit_effect_fen


# ------------------------------------------------------------------------------ LOW_CARBON_EXPANSION


def test_grade_1_expansion_is_never_more_than_the_request() -> None:
    terms = lr.evaluate(
        profile(grade=1, trend_direction="IMPROVING", trend_confidence=0.8),
        None,
        request(
            product="LOW_CARBON_EXPANSION",
            requested_amount_fen=10 * M,
            bank_limit_fen=8 * M,
            base_rate_bp=320,
        ),
        POLICY,
    )
    # -40 (grade 1) - 5 (IMPROVING trend) - 10 (expansion bonus for IMPROVING) = -55 on the lender's 320
    assert terms.eligible and not terms.decline_reasons
    assert terms.rate_adjustment_bp == -55.0 and terms.final_rate_bp == 265.0
    assert terms.base_rate_source == "LENDER" and terms.base_rate_bp == 320.0 and terms.lpr_bp == 300.0
    # min(request 10M, bank 8M x 1.3 = 10.4M) = 10M: the grade multiplier applies to the bank's limit
    assert terms.approved_limit_fen == 10 * M and terms.binding_limit == "REQUEST"
    assert limit_fen(terms, "GRADE_LIMIT_MULTIPLIER") == 0
    assert step(terms, "GRADE_LIMIT_MULTIPLIER").inputs["cap_fen"] == 10_400_000 * YUAN
    assert not terms.manual_review
    assert codes(terms.reasons) == ["GRADE_RATE", "IMPROVING_TREND_BONUS", "TREND_RATE"]
    assert [c.code for c in terms.conditions.covenants] == ["USE_OF_PROCEEDS_EXPANSION", "ANNUAL_CARBON_DATA"]
    assert terms.policy_version == "2026.1" and terms.policy_hash == POLICY.content_hash
    check_trace_adds_up(terms)


def test_grade_1_firm_whose_capacity_binds() -> None:
    terms = lr.evaluate(
        profile(grade=1),
        None,
        request(
            product="LOW_CARBON_EXPANSION",
            requested_amount_fen=10 * M,
            bank_limit_fen=10 * M,
            revenue_fen=30 * M,
            total_debt_fen=12 * M,
            equity_fen=20 * M,
        ),
        POLICY,
    )
    # bank 10M x 1.3 = 13M; capacity = min(equity 20M x 2.0 = 40M, revenue 30M x 0.6 = 18M) - debt 12M = 6M
    assert terms.eligible and terms.approved_limit_fen == 6 * M and terms.binding_limit == "CAPACITY"
    assert step(terms, "CAPACITY_CAP").inputs["cap_fen"] == 6 * M
    assert limit_fen(terms, "CAPACITY_CAP") == -4 * M  # 10M -> 6M, in fen in the trace
    assert step(terms, "LIMIT_BINDING").inputs["binding"] == "CAPACITY"
    assert "偿债能力上限" in step(terms, "CAPACITY_CAP").text_zh
    assert "6,000,000元" in step(terms, "CAPACITY_CAP").text_zh

    broke = lr.evaluate(
        profile(grade=1),
        None,
        request(product="LOW_CARBON_EXPANSION", total_debt_fen=100 * M, equity_fen=20 * M),
        POLICY,
    )
    # equity 20M x 2 = 40M < debt 100M: no room for new debt
    assert not broke.eligible and codes(broke.decline_reasons) == ["NO_DEBT_CAPACITY"]
    assert broke.approved_limit_fen == 0


def test_lpr_floor_cap_and_tenor_term() -> None:
    floor = lr.evaluate(
        profile(grade=1, trend_direction="IMPROVING"), None, request(product="LOW_CARBON_EXPANSION"), POLICY
    )
    # LPR 300 - 55 = 245 < LPR - 50 = 250: lifted by 5 to the floor
    assert floor.rate_adjustment_bp == -55.0 and floor.final_rate_bp == 250.0
    assert step(floor, "LPR_FLOOR").rate_effect_bp == 5.0
    assert "LPR减50BP" in step(floor, "LPR_FLOOR").text_zh
    assert floor.base_rate_source == "LPR" and floor.lpr_term == "1Y"
    check_trace_adds_up(floor)

    g5 = profile(grade=5, level="HIGH_CARBON", trend_direction="WORSENING", trend_confidence=0.9)
    cap = lr.evaluate(g5, None, request(base_rate_bp=500.0), POLICY)
    # lender's 500 + 30 (grade 5) + 10 (WORSENING) + 25 (no commitment) = 565 > LPR 300 + 150 = 450
    assert cap.final_rate_bp == 450.0 and step(cap, "LPR_CAP").rate_effect_bp == -115.0

    long = lr.evaluate(
        profile(grade=4, level="HIGH_CARBON"),
        commitment(),
        request(product="HIGH_CARBON_RETROFIT", tenor_months=84, lpr_bp=350.0, lpr_term="5Y"),
        POLICY,
    )
    # over-5-year LPR 350: +10 (grade 4) - 30 (3000 t, verified) = -20 -> 330
    assert long.final_rate_bp == 330.0 and long.lpr_term == "5Y"
    assert "5年期以上LPR 3.50%" in step(long, "REFERENCE_RATE").text_zh


def test_facility_eligible_product_prices_at_about_the_lpr() -> None:
    raw = default_raw()
    raw["products"]["HIGH_CARBON_RETROFIT"]["facility"] = {"max_spread_bp": 10}
    policy = lr.policy_from_mapping(raw)
    cheap = lr.evaluate(
        profile(grade=4, level="HIGH_CARBON"),
        commitment(achieved_tco2_per_year=3300.0, status="COMPLETED"),
        request(product="HIGH_CARBON_RETROFIT"),
        policy,
    )
    # +10 - 30 - 5 (target exceeded) = -25 -> 275, kept within LPR 300 +/- 10: 290
    assert cheap.rate_adjustment_bp == -25.0 and cheap.final_rate_bp == 290.0
    assert step(cheap, "FACILITY_LPR_BAND").rate_effect_bp == 15.0
    dear = lr.evaluate(
        profile(grade=5, level="HIGH_CARBON"),
        commitment(status="MISSED", milestones_missed=3, verification="FAILED"),
        request(product="HIGH_CARBON_RETROFIT"),
        policy,
    )
    # +20 (grade 5) + 20 (ratchet, capped) = 40 -> 340, kept at LPR + 10 = 310
    assert dear.final_rate_bp == 310.0 and step(dear, "FACILITY_LPR_BAND").rate_effect_bp == -30.0


def test_grade_5_expansion_declined_with_reason() -> None:
    terms = lr.evaluate(
        profile(grade=5, level="HIGH_CARBON", carbon_efficiency=2.4),
        None,
        request(product="LOW_CARBON_EXPANSION"),
        POLICY,
    )
    assert not terms.eligible
    assert codes(terms.decline_reasons) == ["GRADE_NOT_ELIGIBLE"]
    assert terms.approved_limit_fen == 0
    reason = terms.decline_reasons[0]
    assert reason.inputs["open_products"] == ("HIGH_CARBON_RETROFIT", "GENERAL")
    assert "HIGH_CARBON_RETROFIT" in reason.text_en and "高碳技改贷" in reason.text_zh
    assert terms.conditions == lr.Conditions()
    assert terms.final_rate_bp == 310.0  # indicative: LPR 300 + 0 (grade 5) + 10 (HIGH_CARBON) + 0 (STABLE)


def test_two_high_firm_refused_expansion_but_not_retrofit() -> None:
    cement = profile(grade=2, level="HIGH_CARBON", industry_code="3011")  # 水泥制造
    assert cement.two_high_sector
    expansion = lr.evaluate(cement, None, request(product="LOW_CARBON_EXPANSION"), POLICY)
    assert not expansion.eligible and codes(expansion.decline_reasons) == ["TWO_HIGH_SECTOR_EXCLUDED"]
    assert "两高" in expansion.decline_reasons[0].text_zh
    retrofit_terms = lr.evaluate(cement, commitment(), request(product="HIGH_CARBON_RETROFIT"), POLICY)
    assert retrofit_terms.eligible
    # the same cement firm at the medium level, and a grade-2 high-carbon firm outside the list, may expand
    medium = lr.evaluate(
        profile(grade=2, level="MEDIUM_CARBON", industry_code="3011"),
        None,
        request(product="LOW_CARBON_EXPANSION"),
        POLICY,
    )
    other = lr.evaluate(
        profile(grade=2, level="HIGH_CARBON", industry_code="3911"),
        None,
        request(product="LOW_CARBON_EXPANSION"),
        POLICY,
    )
    assert medium.eligible and other.eligible and not lr.is_two_high("3911")


def test_grade_3_expansion_conditions() -> None:
    ok = lr.evaluate(
        profile(grade=3, carbon_efficiency=0.95), None, request(product="LOW_CARBON_EXPANSION"), POLICY
    )
    assert ok.eligible
    assert "GRADE_CONDITIONS_MET" in codes(ok.trace)
    assert "NO_GRADE_DETERIORATION" in [c.code for c in ok.conditions.covenants]
    assert ok.rate_adjustment_bp == -10.0
    assert ok.approved_limit_fen == 10 * M

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
        profile(),
        None,
        request(product="LOW_CARBON_EXPANSION", requested_amount_fen=120 * M, bank_limit_fen=100 * M),
        POLICY,
    )
    assert big.eligible and big.manual_review and big.review_reasons == ("AMOUNT_REVIEW",)
    # min(120M, 100M x 1.3 = 130M, capacity 200M, product 100M) = 100M
    assert big.approved_limit_fen == 100 * M and big.binding_limit == "PRODUCT"
    assert limit_fen(big, "PRODUCT_LIMIT_CAP") == -20 * M
    assert step(big, "PRODUCT_LIMIT_CAP").limit_effect_pct == pytest.approx(-16.67, abs=0.01)


def test_missing_bank_limit_and_financials_go_to_review() -> None:
    terms = lr.evaluate(
        profile(grade=2),
        None,
        request(bank_limit_fen=None, revenue_fen=None, total_debt_fen=None, equity_fen=None),
        POLICY,
    )
    assert terms.eligible and terms.review_reasons == ("BANK_LIMIT_MISSING", "FINANCIALS_MISSING")
    # the request is the credit base: 10M x 1.0 (GENERAL grade 2) = 10M, no capacity test
    assert terms.approved_limit_fen == 10 * M and "CAPACITY_CAP" not in codes(terms.trace)


# ------------------------------------------------------------------------------ HIGH_CARBON_RETROFIT


def retrofit(**kw: object) -> lr.Terms:
    return lr.evaluate(
        profile(grade=4, level="HIGH_CARBON", carbon_intensity=3.2, carbon_efficiency=1.5),
        commitment(**kw),
        request(product="HIGH_CARBON_RETROFIT", requested_amount_fen=5 * M, tenor_months=60),
        POLICY,
    )


def test_grade_4_retrofit_with_commitment() -> None:
    terms = retrofit()
    # +10 (grade 4) - 30 (3000 tCO2/yr, verified: the 2000-10000 band in full) = -20
    assert terms.eligible
    assert terms.rate_adjustment_bp == -20.0
    assert terms.final_rate_bp == 280.0
    # project cap = min(5M capex x 0.7 + 3000 t x 100 yuan = 3.8M, 5M x (1 - 0.2) = 4M) = 3.8M
    assert terms.approved_limit_fen == 3_800_000 * YUAN and terms.binding_limit == "PROJECT"
    cap = step(terms, "PROJECT_LIMIT_CAP")
    assert cap.limit_effect_fen == -1_200_000 * YUAN and cap.inputs["formula_cap_fen"] == 3_800_000 * YUAN
    assert cap.inputs["equity_cap_fen"] == 4 * M
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


def test_retrofit_whose_equity_share_binds() -> None:
    terms = lr.evaluate(
        profile(grade=4, level="HIGH_CARBON"),
        commitment(capex_fen=1 * M, target_tco2_per_year=6000.0),
        request(product="HIGH_CARBON_RETROFIT", requested_amount_fen=1_500_000 * YUAN),
        POLICY,
    )
    # formula: 1M x 0.7 + 6000 t x 100 yuan = 1.3M (more than the capex itself: the old limit);
    # equity cap: 1M x (1 - 0.2) = 0.8M -> the borrower funds 20 % of the project
    cap = step(terms, "PROJECT_LIMIT_CAP")
    assert (
        cap.inputs["formula_cap_fen"] == 1_300_000 * YUAN and cap.inputs["equity_cap_fen"] == 800_000 * YUAN
    )
    assert terms.approved_limit_fen == 800_000 * YUAN and terms.binding_limit == "PROJECT"
    assert cap.limit_effect_fen == -700_000 * YUAN  # 1.5M -> 0.8M


def test_provisional_discount_becomes_full_and_steps_back() -> None:
    pledged = retrofit(status="ON_TRACK", verification="PENDING")
    # pledged tonnes: -30 x 0.5 (provisional share) = -15; +10 (grade 4) -> -5
    assert step(pledged, "REDUCTION_DISCOUNT").rate_effect_bp == -15.0
    assert pledged.rate_adjustment_bp == -5.0 and pledged.final_rate_bp == 295.0
    assert "RATCHET_VERIFICATION_ABSENT" not in codes(pledged.trace)
    verified = retrofit(status="ON_TRACK", verification="PASSED")
    assert step(verified, "REDUCTION_DISCOUNT").rate_effect_bp == -30.0  # full once verified
    assert verified.rate_adjustment_bp == -20.0 and verified.final_rate_bp == 280.0
    failed = retrofit(status="ON_TRACK", verification="FAILED")
    # the discount is withdrawn and the ratchet steps up: +10 + 0 + 5 = +15
    assert step(failed, "REDUCTION_DISCOUNT").rate_effect_bp == 0.0
    assert step(failed, "RATCHET_VERIFICATION_ABSENT").rate_effect_bp == 5.0
    assert failed.rate_adjustment_bp == 15.0 and failed.final_rate_bp == 315.0
    overdue = retrofit(status="AT_RISK", verification="OVERDUE")
    assert overdue.rate_adjustment_bp == 15.0 and overdue.review_reasons == ("COMMITMENT_STATUS_REVIEW",)


def test_retrofit_ratchet_steps_and_cap() -> None:
    missed = retrofit(status="MISSED", milestones_missed=2, verification="OVERDUE")
    # +10 + 0 (no discount while overdue) + 2 x 7.5 + 5 = 30
    assert missed.rate_adjustment_bp == 30.0 and missed.final_rate_bp == 330.0
    assert missed.manual_review and missed.review_reasons == ("COMMITMENT_STATUS_REVIEW",)
    assert step(missed, "RATCHET_MILESTONE_MISSED").rate_effect_bp == 15.0
    assert step(missed, "RATCHET_VERIFICATION_ABSENT").rate_effect_bp == 5.0

    capped = retrofit(status="MISSED", milestones_missed=3, verification="OVERDUE")
    # ratchet 22.5 + 5 = 27.5, capped at 20
    assert step(capped, "RATCHET_CAP").rate_effect_bp == -7.5
    assert capped.rate_adjustment_bp == 30.0

    exceeded = retrofit(status="COMPLETED", achieved_tco2_per_year=3300.0)
    # verified 3300 >= 1.1 x 3000: step-down 5
    assert step(exceeded, "RATCHET_TARGET_EXCEEDED").rate_effect_bp == -5.0
    assert exceeded.rate_adjustment_bp == -25.0

    unverified = retrofit(status="COMPLETED", achieved_tco2_per_year=3300.0, verification="OVERDUE")
    assert "RATCHET_TARGET_EXCEEDED" not in codes(unverified.trace)  # no step-down without verification
    assert unverified.rate_adjustment_bp == 15.0  # +10, no discount, +5 for the missing verification

    not_started = retrofit(status="NOT_STARTED", verification="PENDING")
    assert not_started.rate_adjustment_bp == -5.0  # provisional discount, verification not yet due


def test_retrofit_needs_a_sufficient_commitment() -> None:
    none = lr.evaluate(profile(grade=5), None, request(product="HIGH_CARBON_RETROFIT"), POLICY)
    assert codes(none.decline_reasons) == ["COMMITMENT_REQUIRED"] and none.approved_limit_fen == 0
    small = retrofit(target_tco2_per_year=400.0)
    assert codes(small.decline_reasons) == ["COMMITMENT_BELOW_MINIMUM"]


# ----------------------------------------------------------------------------------------- GENERAL


def test_grade_5_general_without_commitment_surcharge_and_haircut() -> None:
    g5 = profile(
        grade=5, level="HIGH_CARBON", carbon_efficiency=2.5, trend_direction="WORSENING", trend_confidence=0.9
    )
    small = request(requested_amount_fen=2 * M, bank_limit_fen=2 * M, tenor_months=12)
    terms = lr.evaluate(g5, None, small, POLICY)
    # +30 (grade 5) + 10 (WORSENING) + 25 (no commitment) = 65
    assert terms.eligible
    assert terms.rate_adjustment_bp == 65.0 and terms.final_rate_bp == 365.0
    # bank 2M x 0.8 (grade 5) x 0.7 (no commitment) = 1.12M
    assert terms.approved_limit_fen == 1_120_000 * YUAN and terms.binding_limit == "BANK_LIMIT"
    assert step(terms, "NO_COMMITMENT_SURCHARGE").rate_effect_bp == 25.0
    assert limit_fen(terms, "GRADE_LIMIT_MULTIPLIER") == -880_000 * YUAN
    assert codes(terms.reasons)[:4] == [
        "GRADE_RATE",
        "NO_COMMITMENT_SURCHARGE",
        "TREND_RATE",
        "GRADE_LIMIT_MULTIPLIER",
    ]
    assert [c.code for c in terms.conditions.covenants] == ["RETROFIT_PLAN_WITHIN_12_MONTHS"]

    with_commitment = lr.evaluate(g5, commitment(), small, POLICY)
    assert with_commitment.rate_adjustment_bp == 40.0
    assert with_commitment.approved_limit_fen == 1_600_000 * YUAN  # 2M x 0.8
    assert with_commitment.conditions.covenants == ()


def test_ungraded_gets_no_grade_discount_and_no_multiplier() -> None:
    terms = lr.evaluate(profile(grade=0, carbon_efficiency=float("nan")), None, request(), POLICY)
    assert step(terms, "UNGRADED").inputs["eligibility_as_grade"] == 4
    assert terms.rate_adjustment_bp == 15.0  # GENERAL grade 4 is a surcharge: kept
    assert terms.manual_review and "UNGRADED" in terms.review_reasons

    raw = default_raw()
    raw["ungraded"]["treat_as_grade"] = 1
    as_one = lr.policy_from_mapping(raw)
    ungraded = lr.evaluate(
        profile(grade=0),
        None,
        request(product="LOW_CARBON_EXPANSION", requested_amount_fen=12 * M, bank_limit_fen=8 * M),
        as_one,
    )
    # eligible as grade 1, but no -40 bp and no 1.3 x: bank 8M x 1.0 = 8M binds
    assert ungraded.eligible and step(ungraded, "GRADE_RATE").rate_effect_bp == 0.0
    assert ungraded.approved_limit_fen == 8 * M and ungraded.binding_limit == "BANK_LIMIT"
    assert ungraded.manual_review

    raw["ungraded"]["decline"] = True
    declined = lr.evaluate(profile(grade=0), None, request(), lr.policy_from_mapping(raw))
    assert codes(declined.decline_reasons) == ["UNGRADED_DECLINED"] and declined.approved_limit_fen == 0
    raw["ungraded"] = {"treat_as_grade": 4, "decline": False, "manual_review": False}
    with pytest.raises(lr.PolicyError, match="must be declined or sent to manual review"):
        lr.policy_from_mapping(raw)


# ------------------------------------------------------------------------------------- data quality


def test_low_data_quality_withholds_discounts_caps_the_limit_and_asks_for_review() -> None:
    terms = lr.evaluate(
        profile(grade=1, trend_direction="IMPROVING", data_quality_score=4.5),
        None,
        request(product="LOW_CARBON_EXPANSION", requested_amount_fen=15 * M, bank_limit_fen=20 * M),
        POLICY,
    )
    gate = step(terms, "DATA_QUALITY_GATE")
    assert gate.rate_effect_bp == 55.0 and gate.inputs["discount_factor"] == 0.0
    assert terms.rate_adjustment_bp == 0.0 and terms.final_rate_bp == 300.0
    # bank 20M x 1.3 = 26M; data-quality cap 26M x 0.5 = 13M binds
    assert terms.eligible and terms.approved_limit_fen == 13 * M and terms.binding_limit == "DATA_QUALITY"
    assert limit_fen(terms, "DATA_QUALITY_LIMIT_CAP") == -2 * M
    assert terms.manual_review and terms.review_reasons == ("DATA_QUALITY_GATE",)
    assert codes(terms.reasons)[0] == "DATA_QUALITY_GATE"
    check_trace_adds_up(terms)


def test_gate_flag_and_middle_band() -> None:
    flagged = lr.evaluate(
        profile(grade=1, trend_direction="IMPROVING", quality_flags=("MOM_SPIKE", "STALE_DATA")),
        None,
        request(product="LOW_CARBON_EXPANSION", requested_amount_fen=15 * M),
        POLICY,
    )
    assert flagged.rate_adjustment_bp == 0.0 and flagged.manual_review
    assert step(flagged, "DATA_QUALITY_GATE").inputs["gate_flags"] == ("STALE_DATA",)
    assert flagged.approved_limit_fen == 13 * M  # a gate flag caps like the worst band: 20M x 1.3 x 0.5
    half = lr.evaluate(
        profile(grade=1, trend_direction="IMPROVING", data_quality_score=3.5),
        None,
        request(product="LOW_CARBON_EXPANSION", requested_amount_fen=25 * M),
        POLICY,
    )
    assert half.rate_adjustment_bp == -27.5 and not half.manual_review
    assert half.approved_limit_fen == 20_800_000 * YUAN  # 20M x 1.3 x 0.8
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


def test_market_wording() -> None:
    from loan_rules.evaluator import fen_text, lpr_words

    assert lpr_words(-40) == "LPR减40BP" and lpr_words(12.5) == "LPR加12.5BP" and lpr_words(0) == "LPR持平"
    assert lpr_words(-40, "en") == "LPR - 40 bp"
    assert fen_text(558_400_000) == "5,584,000元" and fen_text(11_050, "en") == "110.50 yuan"
    assert fen_text(-5) == "-0.05元"


# ------------------------------------------------------------------------------------ the contract


def test_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match=r"grade: must be 0\.\.5"):
        profile(grade=6)
    with pytest.raises(ValueError, match="data_quality_score"):
        profile(data_quality_score=0.5)
    with pytest.raises(ValueError, match="product: must be one of"):
        request(product="MORTGAGE")
    with pytest.raises(ValueError, match="requested_amount_fen: must be 1"):
        request(requested_amount_fen=0)
    with pytest.raises(ValueError, match="requested_amount_fen: must be an integer amount in fen"):
        request(requested_amount_fen=1000.5)
    with pytest.raises(ValueError, match="lpr_term"):
        request(lpr_term="3Y")
    with pytest.raises(ValueError, match="target_tco2_per_year"):
        commitment(target_tco2_per_year=0)
    with pytest.raises(ValueError, match="verification: must be one of"):
        commitment(verification="MAYBE")
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
    # Of tanxiao only the text catalogue (tanxiao.locale: the standard library and the PO files), whose
    # words the trace texts use; nothing that brings gRPC, SQLAlchemy or a service.
    code = (
        "import sys, loan_rules\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'grpc', 'sqlalchemy', 'tanxiao', "
        "'registry_service', 'scoring_service'} and m not in {'tanxiao', 'tanxiao.locale'})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
