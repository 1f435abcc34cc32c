"""Builders and hypothesis strategies shared by the loan_rules tests (random inputs and random valid
policies: the properties must hold for every policy the validator accepts, not just the default)."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import yaml
from hypothesis import strategies as st

import loan_rules as lr
from loan_rules.model import GRADES, TRENDS

DEFAULT_TEXT = resources.files("loan_rules").joinpath("policies", "default-2026.yaml").read_text("utf-8")


_DEFAULT_RAW: dict[str, Any] = yaml.safe_load(DEFAULT_TEXT)


def default_raw() -> dict[str, Any]:
    """A fresh, mutable copy of the default policy document."""
    return copy.deepcopy(_DEFAULT_RAW)


def profile(**kw: Any) -> lr.CarbonProfileInput:
    values: dict[str, Any] = {
        "uscc": "91330500MA2B3C4D5E",
        "period": "2025",
        "grade": 1,
        "level": "LOW_CARBON",
        "carbon_intensity": 0.4,
        "carbon_efficiency": 0.5,
        "benchmark_intensity": 0.8,
        "trend_direction": "STABLE",
        "trend_confidence": 0.8,
        "data_quality_score": 2.0,
        "quality_flags": (),
        "neutrality_rate": 0.05,
    }
    values.update(kw)
    return lr.CarbonProfileInput(**values)


def commitment(**kw: Any) -> lr.CommitmentInput:
    values: dict[str, Any] = {
        "commitment_id": "C-2026-001",
        "project_type": "WASTE_HEAT",
        "status": "ON_TRACK",
        "target_tco2_per_year": 3000.0,
        "achieved_tco2_per_year": 1200.0,
        "capex_fen": 5_000_000_00,
        "milestones_missed": 0,
        "verification": "PASSED",
    }
    values.update(kw)
    return lr.CommitmentInput(**values)


def request(**kw: Any) -> lr.LoanRequest:
    values: dict[str, Any] = {
        "product": "GENERAL",
        "requested_amount_fen": 10_000_000_00,
        "tenor_months": 24,
        "lpr_bp": 300,
        "bank_limit_fen": 20_000_000_00,
        "revenue_fen": 500_000_000_00,
        "total_debt_fen": 100_000_000_00,
        "equity_fen": 200_000_000_00,
    }
    values.update(kw)
    return lr.LoanRequest(**values)


# ------------------------------------------------------------------------------------------- inputs

bp_values = st.integers(-400, 400).map(lambda x: x / 4)  # quarter bp steps: at most two decimals
flag_sets = st.lists(
    st.sampled_from(["STALE_DATA", "MOM_SPIKE", "PEER_OUTLIER", "SOURCE_DISAGREEMENT", "NO_ADDED_VALUE"]),
    max_size=2,
    unique=True,
).map(tuple)

profiles = st.builds(
    profile,
    grade=st.integers(0, 5),
    level=st.sampled_from([lv.value for lv in lr.CarbonLevel]),
    carbon_intensity=st.floats(0, 20, allow_nan=False),
    carbon_efficiency=st.one_of(st.floats(0, 4, allow_nan=False), st.just(float("nan"))),
    trend_direction=st.sampled_from([t.value for t in TRENDS]),
    trend_confidence=st.floats(0, 1),
    data_quality_score=st.one_of(st.integers(1, 5).map(float), st.floats(1, 5)),
    quality_flags=flag_sets,
)

commitments = st.one_of(
    st.none(),
    st.builds(
        commitment,
        status=st.sampled_from([s.value for s in lr.CommitmentStatus]),
        target_tco2_per_year=st.one_of(
            st.sampled_from([500.0, 1999.0, 2000.0, 9999.5, 10000.0]), st.floats(1, 50_000)
        ),
        achieved_tco2_per_year=st.floats(-1000, 60_000),
        capex_fen=st.one_of(st.just(0), st.integers(0, 5 * 10**10)),
        milestones_missed=st.integers(0, 5),
        verification=st.sampled_from([v.value for v in lr.VerificationState]),
    ),
)

requests = st.builds(
    request,
    product=st.sampled_from([p.value for p in lr.Product]),
    requested_amount_fen=st.integers(1, 3 * 10**10),
    tenor_months=st.integers(1, 120),
    lpr_bp=st.sampled_from([300.0, 350.0, 385.0]),
    base_rate_bp=st.one_of(st.none(), st.sampled_from([310.0, 350.0, 260.0]), st.floats(0, 1000)),
    bank_limit_fen=st.one_of(st.none(), st.integers(1, 3 * 10**10)),
    revenue_fen=st.one_of(st.none(), st.integers(0, 10**11)),
    total_debt_fen=st.integers(0, 5 * 10**10),
    equity_fen=st.integers(-(10**10), 10**11),
)


# ----------------------------------------------------------------------------------------- policies


def _sorted(
    draw: st.DrawFn, values: st.SearchStrategy[float], n: int, *, reverse: bool = False
) -> list[float]:
    return sorted(draw(st.lists(values, min_size=n, max_size=n)), reverse=reverse)


@st.composite
def policies(draw: st.DrawFn) -> lr.Policy:
    """Random policies the validator must accept: monotone tables, nested eligibility, sorted bands."""
    raw = default_raw()
    raw["rate_vs_lpr_bp"] = {"floor": -draw(st.integers(0, 400)) / 4, "cap": draw(st.integers(0, 800)) / 4}
    raw["total_adjustment_bp"] = {"min": -draw(st.integers(0, 400)) / 4, "max": draw(st.integers(0, 600)) / 4}
    raw["ungraded"]["treat_as_grade"] = draw(st.integers(1, 5))
    raw["trend"]["min_confidence"] = draw(st.sampled_from([0.0, 0.5, 0.6, 0.9, 1.0]))
    raw["trend"]["rate_bp"] = dict(zip([t.value for t in TRENDS], _sorted(draw, bp_values, 4), strict=True))
    factors = _sorted(draw, st.sampled_from([0.0, 0.25, 0.5, 1.0]), 3, reverse=True)
    limits = _sorted(draw, st.sampled_from([0.25, 0.5, 0.8, 1.0]), 3, reverse=True)
    for band, factor, limit in zip(raw["data_quality"]["bands"], factors, limits, strict=True):
        band["discount_factor"] = factor
        band["limit_factor"] = limit
    raw["ungraded"]["decline"] = draw(st.booleans())
    raw["capacity"] = {
        "max_debt_to_equity": draw(st.sampled_from([1.0, 2.0, 3.5])),
        "max_debt_to_revenue": draw(st.sampled_from([0.3, 0.6, 1.0])),
    }
    for name, product in raw["products"].items():
        product["rate_bp_by_grade"] = dict(zip(GRADES, _sorted(draw, bp_values, 5), strict=True))
        mults = _sorted(draw, st.integers(1, 30).map(lambda x: x / 10), 5, reverse=True)
        product["limit_multiplier_by_grade"] = dict(zip(GRADES, mults, strict=True))
        n_eligible = draw(st.integers(0, 5))
        n_conditional = draw(st.integers(0, 5 - n_eligible))
        product["eligible_grades"] = list(GRADES[:n_eligible])
        condition: dict[str, Any] = {}
        if draw(st.booleans()):
            condition["max_data_quality_score"] = draw(st.sampled_from([1, 2, 2.5, 3, 5]))
        if draw(st.booleans()):
            condition["max_trend"] = draw(st.sampled_from([t.value for t in TRENDS]))
        if draw(st.booleans()):
            condition["max_carbon_efficiency"] = draw(st.sampled_from([0.8, 1.0, 1.5]))
        product["conditional_grades"] = {
            g: copy.deepcopy(condition) for g in GRADES[n_eligible : n_eligible + n_conditional]
        }
        product["improving_trend_bp"] = -draw(st.integers(0, 80)) / 4
        product["tenor_months"] = {"min": draw(st.integers(1, 12)), "max": draw(st.integers(12, 120))}
        if draw(st.booleans()):
            product["max_limit_cny"] = draw(st.integers(1_000_000, 300_000_000))
        else:
            product.pop("max_limit_cny", None)
        if name == "HIGH_CARBON_RETROFIT":
            c = product["commitment"]
            c["min_target_tco2_per_year"] = draw(st.sampled_from([0, 100, 500, 2000]))
            c["project_limit"] = {
                "capex_ratio": draw(st.sampled_from([0.5, 0.8, 1.0])),
                "yuan_per_tco2_per_year": draw(st.sampled_from([0, 100, 2000])),
                "min_equity_share": draw(st.sampled_from([0, 0.2, 0.3])),
            }
            c["provisional_share"] = draw(st.sampled_from([0, 0.5, 1]))
            if draw(st.booleans()):
                product["facility"] = {"max_spread_bp": draw(st.sampled_from([0, 5, 10]))}
            rates = _sorted(draw, st.integers(0, 80).map(lambda x: -x / 4), 3, reverse=True)
            for band, rate in zip(c["reduction_rate_bp"], rates, strict=True):
                band["rate_bp"] = rate
            c["ratchet"] = {
                "milestone_missed_bp": draw(st.sampled_from([0, 2.5, 7.5, 15])),
                "verification_absent_bp": draw(st.sampled_from([0, 5, 10])),
                "target_exceeded_bp": draw(st.sampled_from([0, 2.5, 5, 10])),
                "exceed_ratio": draw(st.sampled_from([1.0, 1.1, 1.5])),
                "cap_bp": draw(st.sampled_from([0, 15, 20, 25])),
            }
        if name == "GENERAL":
            nc = product["no_commitment"]
            nc["rate_bp_by_grade"] = dict(
                zip(GRADES, _sorted(draw, st.integers(0, 200).map(lambda x: x / 4), 5), strict=True)
            )
            haircuts = _sorted(draw, st.integers(1, 10).map(lambda x: x / 10), 5, reverse=True)
            nc["limit_multiplier_by_grade"] = dict(zip(GRADES, haircuts, strict=True))
    return lr.policy_from_mapping(raw)


any_policy = st.one_of(st.just(lr.default_policy()), policies())
