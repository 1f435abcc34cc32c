"""The rules, once, as numpy array arithmetic over the policy's lookup tables.

Both entry points run this code: ``evaluate`` on one-element arrays (and then reads the intermediate
arrays to write the trace), ``evaluate_batch`` on whole columns. So they agree bit for bit, and the
arithmetic order (which decides float rounding) is the same for both.

Order of the rules (docs/loan-policy.md, "How terms are computed"):

1. grade 0 (ungraded) is priced as ``ungraded.treat_as_grade``; a trend below ``trend.min_confidence``
   counts as UNKNOWN;
2. eligibility: tenor, grade (eligible / conditional with its conditions / not), commitment;
3. rate components: grade, carbon level, trend, IMPROVING bonus, committed-reduction discount,
   no-commitment surcharge, ratchet (capped);
4. data-quality gate: every negative component (discount) x the band's factor (0 with a gate flag);
5. total cap and floor, rounded to 0.01 bp; final rate = max(base + adjustment, rate floor);
6. limit: requested x grade multiplier x no-commitment haircut, capped by the project (capex ratio +
   yuan per committed tCO2/yr) and the product maximum, rounded to the yuan; 0 when declined;
7. manual review: data quality, gate flags, ungraded, commitment status, amount.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loan_rules.model import LEVELS, STATUSES, TRENDS, CommitmentStatus, TrendDirection
from loan_rules.policy import Policy

N_GRADES = 6  # 0..5 in the per-grade tables
UNKNOWN = TRENDS.index(TrendDirection.UNKNOWN)
IMPROVING = TRENDS.index(TrendDirection.IMPROVING)
NOT_STARTED = STATUSES.index(CommitmentStatus.NOT_STARTED)

# Decline reasons in the order they are checked (the batch reports the first that applies).
DECLINE_CODES = (
    "TENOR_OUT_OF_RANGE",
    "GRADE_NOT_ELIGIBLE",
    "GRADE_CONDITION_DATA_QUALITY",
    "GRADE_CONDITION_TREND",
    "GRADE_CONDITION_CARBON_EFFICIENCY",
    "COMMITMENT_REQUIRED",
    "COMMITMENT_BELOW_MINIMUM",
)


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
    capex: np.ndarray
    milestones_missed: np.ndarray
    verified: np.ndarray
    requested: np.ndarray
    tenor: np.ndarray
    base_rate: np.ndarray


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
    dq_band: np.ndarray
    dq_factor: np.ndarray
    withheld_bp: np.ndarray  # discounts withheld by the data-quality gate (>= 0)
    gated_bp: np.ndarray  # sum after the gate
    cap_bp: np.ndarray  # what the total cap/floor changed
    rate_adjustment_bp: np.ndarray
    final_rate_bp: np.ndarray
    grade_mult: np.ndarray
    no_commitment_mult: np.ndarray
    limit_after_grade: np.ndarray
    limit_after_haircut: np.ndarray
    project_cap: np.ndarray  # inf where none
    limit_after_project: np.ndarray
    limit_after_product: np.ndarray
    approved_limit_cny: np.ndarray  # int64
    dq_review: np.ndarray
    ungraded_review: np.ndarray
    status_review: np.ndarray
    amount_review: np.ndarray
    manual_review: np.ndarray


def compute(c: Columns, policy: Policy) -> Outcome:
    t = policy.tables
    p = c.product
    has_c = c.has_commitment
    no_c = ~has_c
    zero = np.zeros(len(p))

    # 1. grade and trend actually used
    grade = np.where(c.grade == 0, policy.ungraded_as_grade, c.grade)
    pg = p * N_GRADES + grade
    trend = np.where(c.trend_confidence >= policy.trend_min_confidence, c.trend, UNKNOWN)

    # 2. eligibility
    elig = t.elig.take(pg)
    conditional = elig == 1
    max_k = t.cond_max_k.take(pg)
    requires = t.requires_commitment.take(p)
    declines = (
        (c.tenor < t.tenor_min.take(p)) | (c.tenor > t.tenor_max.take(p)),
        elig == 0,
        conditional & ~(c.data_quality_score <= t.cond_max_dq.take(pg)),
        conditional & (trend > t.cond_max_trend.take(pg)),
        conditional & (max_k < np.inf) & ~(c.carbon_efficiency <= max_k),
        requires & no_c,
        requires & has_c & (c.target < t.min_target.take(p)),
    )
    declined = declines[0]
    for d in declines[1:]:
        declined = declined | d
    eligible = ~declined

    # 3. rate components
    grade_bp = t.rate.take(pg)
    level_bp = t.level_rate.take(p * len(LEVELS) + c.level)
    trend_bp = t.trend_rate.take(trend)
    improving_bp = np.where(trend == IMPROVING, t.improving.take(p), 0.0)
    reduction_band = np.full(len(p), -1, dtype=np.intp)  # -1: none (no bands, no commitment, below)
    reduction_bp = zero
    for code, starts, rates in t.reduction:
        band = np.searchsorted(starts, c.target, side="right") - 1
        use = has_c & (p == code) & (band >= 0)
        reduction_band = np.where(use, band, reduction_band)
        reduction_bp = np.where(use, rates.take(np.maximum(band, 0)), reduction_bp)
    no_commitment_bp = np.where(no_c, t.nc_rate.take(pg), 0.0)
    missed_bp = np.where(has_c, t.ratchet_missed.take(p) * c.milestones_missed, 0.0)
    started = c.status != NOT_STARTED
    verification_bp = np.where(has_c & started & ~c.verified, t.ratchet_verification.take(p), 0.0)
    # rounded to 1e-6 t so that exactly "1.1 x the target" counts (3000 x 1.1 = 3300.0000000000005)
    exceeded = has_c & c.verified & (c.achieved >= np.round(c.target * t.exceed_ratio.take(p), 6))
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

    # 5. total cap/floor and the rate floor
    capped = np.clip(gated_bp, policy.total_min_bp, policy.total_max_bp)
    rate_adjustment_bp = np.round(capped, 2)
    final_rate_bp = np.round(np.maximum(c.base_rate + rate_adjustment_bp, policy.rate_floor_bp), 2)

    # 6. limit
    grade_mult = t.mult.take(pg)
    no_commitment_mult = np.where(no_c, t.nc_mult.take(pg), 1.0)
    limit_after_grade = c.requested * grade_mult
    limit_after_haircut = limit_after_grade * no_commitment_mult
    project_cap = np.where(
        has_c & t.has_project_limit.take(p),
        c.capex * t.capex_ratio.take(p) + c.target * t.yuan_per_t.take(p),
        np.inf,
    )
    limit_after_project = np.minimum(limit_after_haircut, project_cap)
    limit_after_product = np.minimum(limit_after_project, t.max_limit.take(p))
    approved = np.where(eligible, np.rint(limit_after_product), 0.0).astype(np.int64)

    # 7. manual review
    dq_review = c.gated | t.dq_review.take(dq_band)
    ungraded_review = (c.grade == 0) & policy.ungraded_manual_review
    status_review = has_c & t.review_status.take(p * len(STATUSES) + c.status)
    amount_review = c.requested > t.review_above.take(p)

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
        no_commitment_bp=no_commitment_bp,
        missed_bp=missed_bp,
        verification_bp=verification_bp,
        exceeded_bp=exceeded_bp,
        ratchet_cap_bp=ratchet_cap_bp,
        dq_band=dq_band,
        dq_factor=dq_factor,
        withheld_bp=withheld_bp,
        gated_bp=gated_bp,
        cap_bp=capped - gated_bp,
        rate_adjustment_bp=rate_adjustment_bp,
        final_rate_bp=final_rate_bp,
        grade_mult=grade_mult,
        no_commitment_mult=no_commitment_mult,
        limit_after_grade=limit_after_grade,
        limit_after_haircut=limit_after_haircut,
        project_cap=project_cap,
        limit_after_project=limit_after_project,
        limit_after_product=limit_after_product,
        approved_limit_cny=approved,
        dq_review=dq_review,
        ungraded_review=ungraded_review,
        status_review=status_review,
        amount_review=amount_review,
        manual_review=dq_review | ungraded_review | status_review | amount_review,
    )
