"""The rules, once, as numpy array arithmetic over the policy's lookup tables.

Both entry points run this code: ``evaluate`` on one-element arrays (and then reads the intermediate
arrays to write the trace), ``evaluate_batch`` on whole columns. So they agree bit for bit, and the
arithmetic order (which decides float rounding) is the same for both.

Order of the rules (docs/loan-policy.md, "How terms are computed"):

1. grade 0 (ungraded) is eligible as ``ungraded.treat_as_grade`` but gets no grade discount and no
   limit multiplier above 1 (and is declined or sent to review); a trend below
   ``trend.min_confidence`` counts as UNKNOWN;
2. eligibility: tenor, ungraded, grade (eligible / conditional with its conditions / not), 两高
   sector at an excluded level, commitment, debt capacity left;
3. rate components: grade, carbon level, trend, IMPROVING bonus, committed-reduction discount (x the
   verification share), no-commitment surcharge, ratchet (capped);
4. data-quality gate: every negative component (discount) x the band's factor (0 with a gate flag);
5. total cap and floor, rounded to 0.01 bp; final = reference rate + adjustment kept within
   [LPR + floor, LPR + cap], and within LPR +/- the facility spread for facility-eligible products;
6. limit, integer fen: the smallest of the request, the credit base (bank limit, else the request) x
   grade multiplier x no-commitment haircut, the data-quality cap (that x the band's limit factor),
   the debt capacity, the project cap
   (capex ratio + fen per committed tCO2/yr, never above capex x (1 - min equity share)) and the
   product maximum; 0 when declined;
7. manual review: data quality, gate flags, ungraded, commitment status, amount, no bank limit, no
   financials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loan_rules.model import (
    LEVELS,
    STATUSES,
    TRENDS,
    VERIFICATIONS,
    CommitmentStatus,
    TrendDirection,
    VerificationState,
)
from loan_rules.policy import E4, FEN_INF, Policy

N_GRADES = 6  # 0..5 in the per-grade tables
UNKNOWN = TRENDS.index(TrendDirection.UNKNOWN)
IMPROVING = TRENDS.index(TrendDirection.IMPROVING)
NOT_STARTED = STATUSES.index(CommitmentStatus.NOT_STARTED)
PASSED = VERIFICATIONS.index(VerificationState.PASSED)
PENDING = VERIFICATIONS.index(VerificationState.PENDING)

# The limit candidates, in the order the trace shows them; the binding one is the smallest (first on ties).
LIMIT_CANDIDATES = ("REQUEST", "BANK_LIMIT", "DATA_QUALITY", "CAPACITY", "PROJECT", "PRODUCT")

# Decline reasons in the order they are checked (the batch reports the first that applies).
DECLINE_CODES = (
    "TENOR_OUT_OF_RANGE",
    "UNGRADED_DECLINED",
    "GRADE_NOT_ELIGIBLE",
    "GRADE_CONDITION_DATA_QUALITY",
    "GRADE_CONDITION_TREND",
    "GRADE_CONDITION_CARBON_EFFICIENCY",
    "TWO_HIGH_SECTOR_EXCLUDED",
    "COMMITMENT_REQUIRED",
    "COMMITMENT_BELOW_MINIMUM",
    "NO_DEBT_CAPACITY",
)


def mul_ratio(fen: np.ndarray, ratio_e4: np.ndarray) -> np.ndarray:
    """fen x (ratio / 10,000) in int64, rounded half-to-even to the fen (exact: no float)."""
    product = fen.astype(np.int64) * ratio_e4.astype(np.int64)
    q, r = np.divmod(product, E4)
    up = (2 * r > E4) | ((2 * r == E4) & (q % 2 == 1))
    result: np.ndarray = q + up
    return result


@dataclass(frozen=True)
class Columns:
    """Validated inputs as arrays of one length; enums as integer codes (model.* tuple order)."""

    product: np.ndarray
    grade: np.ndarray
    level: np.ndarray
    trend: np.ndarray
    trend_confidence: np.ndarray
    data_quality_score: np.ndarray
    gated: np.ndarray  # bool: the profile has one of the policy's gate flags
    carbon_efficiency: np.ndarray
    has_commitment: np.ndarray
    status: np.ndarray  # meaningful where has_commitment
    target: np.ndarray  # 0 where no commitment
    achieved: np.ndarray
    capex: np.ndarray  # int64 fen
    milestones_missed: np.ndarray
    verification: np.ndarray  # VERIFICATIONS code
    requested: np.ndarray  # int64 fen
    tenor: np.ndarray
    lpr: np.ndarray  # bp
    base_rate: np.ndarray  # bp: the lender's base rate, or the LPR
    bank_limit: np.ndarray  # int64 fen, FEN_INF where none
    has_financials: np.ndarray
    revenue: np.ndarray  # int64 fen (0 where unknown)
    debt: np.ndarray
    equity: np.ndarray
    two_high: np.ndarray  # bool


@dataclass(frozen=True)
class Outcome:
    """Every intermediate array; names match the trace step they feed."""

    grade: np.ndarray  # the grade priced (ungraded mapped)
    trend: np.ndarray  # after the confidence gate
    conditional: np.ndarray
    declines: tuple[np.ndarray, ...]  # one bool array per DECLINE_CODES entry
    eligible: np.ndarray
    grade_bp: np.ndarray
    level_bp: np.ndarray
    trend_bp: np.ndarray
    improving_bp: np.ndarray
    reduction_band: np.ndarray  # index into the product's reduction bands, -1 for none
    reduction_bp: np.ndarray
    no_commitment_bp: np.ndarray
    missed_bp: np.ndarray
    verification_bp: np.ndarray
    exceeded_bp: np.ndarray
    ratchet_cap_bp: np.ndarray  # what the ratchet cap took off (sign opposite to the ratchet)
    reduction_full_bp: np.ndarray  # the band's discount before the verification share
    reduction_share: np.ndarray
    dq_band: np.ndarray
    dq_factor: np.ndarray
    dq_limit: np.ndarray  # int64 per 10,000
    withheld_bp: np.ndarray  # discounts withheld by the data-quality gate (>= 0)
    gated_bp: np.ndarray  # sum after the gate
    cap_bp: np.ndarray  # what the total cap/floor changed
    rate_adjustment_bp: np.ndarray
    unbounded_rate_bp: np.ndarray  # reference + adjustment, before the LPR bounds
    bounded_rate_bp: np.ndarray  # within [LPR + floor, LPR + cap]
    final_rate_bp: np.ndarray  # ... and within the facility band
    grade_mult: np.ndarray  # int64 per 10,000
    no_commitment_mult: np.ndarray
    credit_base: np.ndarray  # int64 fen: the bank limit, else the request
    candidates: tuple[np.ndarray, ...]  # int64 fen per LIMIT_CANDIDATES entry (FEN_INF: none)
    capacity_cap: np.ndarray
    project_formula: np.ndarray  # capex x ratio + fen per t (FEN_INF where none)
    project_equity_cap: np.ndarray  # capex x (1 - min equity share)
    binding: np.ndarray  # index into LIMIT_CANDIDATES
    limit_before_decline: np.ndarray  # int64 fen
    approved_limit_fen: np.ndarray  # int64
    dq_review: np.ndarray
    ungraded_review: np.ndarray
    status_review: np.ndarray
    amount_review: np.ndarray
    bank_limit_review: np.ndarray
    financials_review: np.ndarray
    manual_review: np.ndarray


def compute(c: Columns, policy: Policy) -> Outcome:
    t = policy.tables
    p = c.product
    has_c = c.has_commitment
    no_c = ~has_c
    zero = np.zeros(len(p))

    # 1. grade and trend actually used (an ungraded profile: eligibility of treat_as_grade)
    ungraded = c.grade == 0
    grade = np.where(ungraded, policy.ungraded_as_grade, c.grade)
    pg = p * N_GRADES + grade
    trend = np.where(c.trend_confidence >= policy.trend_min_confidence, c.trend, UNKNOWN)

    # 2. eligibility
    elig = t.elig.take(pg)
    conditional = elig == 1
    max_k = t.cond_max_k.take(pg)
    requires = t.requires_commitment.take(p)
    capacity_cap = _capacity(c, policy)
    declines = (
        (c.tenor < t.tenor_min.take(p)) | (c.tenor > t.tenor_max.take(p)),
        ungraded & policy.ungraded_decline,
        elig == 0,
        conditional & ~(c.data_quality_score <= t.cond_max_dq.take(pg)),
        conditional & (trend > t.cond_max_trend.take(pg)),
        conditional & (max_k < np.inf) & ~(c.carbon_efficiency <= max_k),
        c.two_high & t.two_high_excluded.take(p * len(LEVELS) + c.level),
        requires & no_c,
        requires & has_c & (c.target < t.min_target.take(p)),
        capacity_cap <= 0,
    )
    declined = declines[0]
    for d in declines[1:]:
        declined = declined | d
    eligible = ~declined

    # 3. rate components (ungraded: no grade discount, only a surcharge of treat_as_grade)
    grade_bp = t.rate.take(pg)
    grade_bp = np.where(ungraded, np.maximum(grade_bp, 0.0), grade_bp)
    level_bp = t.level_rate.take(p * len(LEVELS) + c.level)
    trend_bp = t.trend_rate.take(trend)
    improving_bp = np.where(trend == IMPROVING, t.improving.take(p), 0.0)
    reduction_band = np.full(len(p), -1, dtype=np.intp)  # -1: none (no bands, no commitment, below)
    reduction_full = zero
    for code, starts, rates in t.reduction:
        band = np.searchsorted(starts, c.target, side="right") - 1
        use = has_c & (p == code) & (band >= 0)
        reduction_band = np.where(use, band, reduction_band)
        reduction_full = np.where(use, rates.take(np.maximum(band, 0)), reduction_full)
    # pledged tonnes earn the provisional share; verified ones all of it; failed/overdue nothing
    share = np.where(
        c.verification == PASSED, 1.0, np.where(c.verification == PENDING, t.provisional.take(p), 0.0)
    )
    reduction_bp = np.round(reduction_full * share, 2)
    no_commitment_bp = np.where(no_c, t.nc_rate.take(pg), 0.0)
    missed_bp = np.where(has_c, t.ratchet_missed.take(p) * c.milestones_missed, 0.0)
    lapsed = has_c & (c.verification != PASSED) & (c.verification != PENDING)
    verification_bp = np.where(lapsed, t.ratchet_verification.take(p), 0.0)
    # rounded to 1e-6 t so that exactly "1.1 x the target" counts (3000 x 1.1 = 3300.0000000000005)
    verified = has_c & (c.verification == PASSED)
    exceeded = verified & (c.achieved >= np.round(c.target * t.exceed_ratio.take(p), 6))
    exceeded_bp = np.where(exceeded, -t.ratchet_exceeded.take(p), 0.0)
    ratchet = missed_bp + verification_bp + exceeded_bp
    cap = t.ratchet_cap.take(p)
    ratchet_capped = np.clip(ratchet, -cap, cap)
    ratchet_cap_bp = ratchet_capped - ratchet

    # 4. data-quality gate: discounts (negative components) x factor
    dq_band = np.searchsorted(t.dq_starts, c.data_quality_score, side="right") - 1
    dq_factor = np.where(c.gated, 0.0, t.dq_factor.take(dq_band))
    components = (grade_bp, level_bp, trend_bp, improving_bp, reduction_bp, no_commitment_bp, ratchet_capped)
    surcharges = zero
    discounts = zero
    for component in components:
        surcharges = surcharges + np.maximum(component, 0.0)
        discounts = discounts + np.minimum(component, 0.0)
    gated_discounts = discounts * dq_factor
    withheld_bp = gated_discounts - discounts
    gated_bp = surcharges + gated_discounts

    # 5. total cap/floor, then the bounds relative to the LPR, then the facility band
    capped = np.clip(gated_bp, policy.total_min_bp, policy.total_max_bp)
    rate_adjustment_bp = np.round(capped, 2)
    unbounded = np.round(c.base_rate + rate_adjustment_bp, 2)
    bounded = np.clip(unbounded, c.lpr + policy.floor_vs_lpr_bp, c.lpr + policy.cap_vs_lpr_bp)
    spread = t.facility_spread.take(p)
    final_rate_bp = np.round(
        np.where(t.facility.take(p), np.clip(bounded, c.lpr - spread, c.lpr + spread), bounded), 2
    )

    # 6. limit in integer fen: the smallest candidate binds
    grade_mult = t.mult.take(pg)
    grade_mult = np.where(ungraded, np.minimum(grade_mult, E4), grade_mult)
    no_commitment_mult = np.where(no_c, t.nc_mult.take(pg), E4)
    has_bank = c.bank_limit < FEN_INF
    credit_base = np.where(has_bank, c.bank_limit, c.requested)
    bank_cap = mul_ratio(mul_ratio(credit_base, grade_mult), no_commitment_mult)
    # a gate flag caps the limit as the worst band does
    dq_limit = np.where(c.gated, t.dq_limit[-1], t.dq_limit.take(dq_band))
    dq_cap = mul_ratio(bank_cap, dq_limit)
    project = has_c & t.has_project_limit.take(p)
    formula = mul_ratio(c.capex, t.capex_ratio.take(p)) + np.rint(
        c.target * t.yuan_per_t.take(p) * 100
    ).astype(np.int64)
    project_formula = np.where(project, formula, FEN_INF)
    project_equity_cap = np.where(project, mul_ratio(c.capex, t.loan_share.take(p)), FEN_INF)
    candidates = (
        c.requested,
        bank_cap,
        dq_cap,
        np.maximum(capacity_cap, 0),
        np.minimum(project_formula, project_equity_cap),
        t.max_limit.take(p),
    )
    stacked = np.stack(candidates)
    binding = np.argmin(stacked, axis=0)
    limit = stacked.min(axis=0)
    approved = np.where(eligible, limit, 0).astype(np.int64)

    # 7. manual review
    dq_review = c.gated | t.dq_review.take(dq_band)
    ungraded_review = ungraded & policy.ungraded_manual_review & (not policy.ungraded_decline)
    status_review = has_c & t.review_status.take(p * len(STATUSES) + c.status)
    amount_review = c.requested > t.review_above.take(p)
    bank_limit_review = ~has_bank
    financials_review = ~c.has_financials & (policy.capacity is not None)

    return Outcome(
        grade=grade,
        trend=trend,
        conditional=conditional,
        declines=declines,
        eligible=eligible,
        grade_bp=grade_bp,
        level_bp=level_bp,
        trend_bp=trend_bp,
        improving_bp=improving_bp,
        reduction_band=reduction_band,
        reduction_bp=reduction_bp,
        reduction_full_bp=reduction_full,
        reduction_share=share,
        no_commitment_bp=no_commitment_bp,
        missed_bp=missed_bp,
        verification_bp=verification_bp,
        exceeded_bp=exceeded_bp,
        ratchet_cap_bp=ratchet_cap_bp,
        dq_band=dq_band,
        dq_factor=dq_factor,
        dq_limit=dq_limit,
        withheld_bp=withheld_bp,
        gated_bp=gated_bp,
        cap_bp=capped - gated_bp,
        rate_adjustment_bp=rate_adjustment_bp,
        unbounded_rate_bp=unbounded,
        bounded_rate_bp=bounded,
        final_rate_bp=final_rate_bp,
        grade_mult=grade_mult,
        no_commitment_mult=no_commitment_mult,
        credit_base=credit_base,
        candidates=candidates,
        capacity_cap=capacity_cap,
        project_formula=project_formula,
        project_equity_cap=project_equity_cap,
        binding=binding,
        limit_before_decline=limit,
        approved_limit_fen=approved,
        dq_review=dq_review,
        ungraded_review=ungraded_review,
        status_review=status_review,
        amount_review=amount_review,
        bank_limit_review=bank_limit_review,
        financials_review=financials_review,
        manual_review=dq_review
        | ungraded_review
        | status_review
        | amount_review
        | bank_limit_review
        | financials_review,
    )


def _capacity(c: Columns, policy: Policy) -> np.ndarray:
    """New debt that fits both leverage tests (int64 fen, may be <= 0); FEN_INF without financials."""
    cap = policy.capacity
    if cap is None:
        return np.full(len(c.requested), FEN_INF, dtype=np.int64)
    d2e = np.full(len(c.requested), round(cap.max_debt_to_equity * E4), dtype=np.int64)
    d2r = np.full(len(c.requested), round(cap.max_debt_to_revenue * E4), dtype=np.int64)
    by_equity = mul_ratio(np.maximum(c.equity, 0), d2e) - c.debt
    by_revenue = mul_ratio(c.revenue, d2r) - c.debt
    room: np.ndarray = np.where(c.has_financials, np.minimum(by_equity, by_revenue), FEN_INF)
    return room
