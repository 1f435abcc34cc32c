"""``_core.compute`` for one row in plain Python floats and ints: the same numbers, bit for bit.

A quote group is small (1-8 rows under concurrent calls), and numpy's fixed cost per call (~150
array operations of a few µs each) is then most of the price of the rules. This module repeats
``_core.compute``'s arithmetic on Python scalars, in the same order, with helpers that reproduce
numpy's semantics where Python's builtins differ:

- ``np.maximum``/``np.minimum`` return the second operand on a tie (``-0.0`` vs ``0.0``) and
  propagate NaN from either side; ``np.clip`` with array bounds is ``minimum(maximum(x, lo), hi)``
  of those, with Python scalar bounds it keeps the first operand on ties;
- ``np.round(x, d)`` is ``rint(x * 10**d) / 10**d`` (not Python's correctly rounded ``round``),
  keeping the sign of a zero;
- int64 arithmetic wraps in numpy: a value outside int64 raises :class:`Overflow`, and the caller
  uses the numpy path for the group (so even then the numbers are numpy's).

The row's values come out as ``tolist`` gives them (int, float, bool), in ``_core.Outcome``'s
field order, the tuple fields as lists. Pinned against ``_core.compute`` by a property test over
random policies and inputs (tests/unit/policy_rules/test_loan_scalar.py).
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from loan_rules._core import IMPROVING, N_GRADES, PASSED, PENDING, UNKNOWN
from loan_rules.model import (
    LEVELS,
    PRODUCTS,
    STATUSES,
    TRENDS,
    VERIFICATIONS,
    CarbonProfileInput,
    CommitmentInput,
    LoanRequest,
)
from loan_rules.policy import E4, FEN_INF, Policy

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_N_LEVELS = len(LEVELS)
_N_STATUSES = len(STATUSES)


class Overflow(ArithmeticError):
    """An int64 value numpy would wrap (or a float it would cast): use the numpy path."""


def maximum(a: float, b: float) -> float:
    """``np.maximum`` of two float64 scalars: NaN from either side, the second operand on a tie."""
    return a if a != a or a > b else b


def minimum(a: float, b: float) -> float:
    """``np.minimum`` of two float64 scalars: NaN from either side, the second operand on a tie."""
    return a if a != a or a < b else b


def clip(x: float, lo: float, hi: float) -> float:
    """``np.clip`` with array bounds."""
    return minimum(maximum(x, lo), hi)


def clip_scalar_bounds(x: float, lo: float, hi: float) -> float:
    """``np.clip`` with Python float bounds (another numpy loop: the first operand on ties)."""
    y = x if x >= lo or x != x else lo
    return y if y <= hi or y != y else hi


def np_round(x: float, decimals: int) -> float:
    """``np.round(x, decimals)`` of a float64: rint of the scaled value, scaled back."""
    f = 10.0**decimals
    y = x * f
    if not math.isfinite(y):
        return y / f
    r = float(round(y))  # round() of a float with no digits: to even, as rint
    if r == 0.0:
        r = math.copysign(0.0, y)  # rint keeps the sign of a zero
    return r / f


def _i64(value: int) -> int:
    if not _I64_MIN <= value <= _I64_MAX:
        raise Overflow(value)
    return value


def mul_ratio(fen: int, ratio_e4: int) -> int:
    """``_core.mul_ratio`` on two ints (an int64 product out of range: Overflow)."""
    q, r = divmod(_i64(fen * ratio_e4), E4)
    return q + (2 * r > E4 or (2 * r == E4 and q % 2 == 1))


class _Tables:
    """The policy's lookup tables as Python lists (``tolist``: the values numpy reads)."""

    def __init__(self, policy: Policy) -> None:
        t = policy.tables
        for name in (
            "elig", "cond_max_dq", "cond_max_trend", "cond_max_k", "rate", "mult", "nc_rate", "nc_mult",
            "level_rate", "improving", "tenor_min", "tenor_max", "max_limit", "review_above",
            "requires_commitment", "min_target", "review_status", "has_project_limit", "capex_ratio",
            "yuan_per_t", "loan_share", "provisional", "facility", "facility_spread", "two_high_excluded",
            "ratchet_missed", "ratchet_verification", "ratchet_exceeded", "exceed_ratio", "ratchet_cap",
            "trend_rate", "dq_starts", "dq_factor", "dq_review", "dq_limit",
        ):  # fmt: skip
            setattr(self, name, getattr(t, name).tolist())
        self.reduction = [(code, starts.tolist(), rates.tolist()) for code, starts, rates in t.reduction]
        cap = policy.capacity
        self.capacity = (
            None if cap is None else (round(cap.max_debt_to_equity * E4), round(cap.max_debt_to_revenue * E4))
        )


_TABLES: dict[int, tuple[Policy, _Tables]] = {}
_TABLES_LOCK = threading.Lock()


def tables(policy: Policy) -> Any:
    """The policy's tables as lists, built once per policy object (kept referenced, so its id is
    not reused while cached)."""
    hit = _TABLES.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    built = _Tables(policy)
    with _TABLES_LOCK:
        if len(_TABLES) >= 64:
            _TABLES.clear()
        _TABLES[id(policy)] = (policy, built)
    return built


def compute_row(
    profile: CarbonProfileInput, c: CommitmentInput | None, request: LoanRequest, policy: Policy
) -> list[Any]:
    """One row of ``_core.compute`` as the values of ``_core.Outcome``'s fields, in order."""
    t = tables(policy)
    # the row's columns, as _columns_many converts them
    p = PRODUCTS.index(request.product)
    level = LEVELS.index(profile.level)
    gated = not policy.gate_flags.isdisjoint(profile.quality_flags)
    has_c = c is not None
    status = STATUSES.index(c.status) if c else 0
    target = float(c.target_tco2_per_year if c else 0.0)
    achieved = float(c.achieved_tco2_per_year if c else 0.0)
    capex = _i64(c.capex_fen if c else 0)
    milestones_missed = float(c.milestones_missed if c else 0)
    verification = VERIFICATIONS.index(c.verification) if c else 0
    requested = _i64(request.requested_amount_fen)
    tenor = float(request.tenor_months)
    lpr = float(request.lpr_bp)
    base_rate = float(request.reference_rate_bp)
    bank_limit = _i64(FEN_INF if request.bank_limit_fen is None else request.bank_limit_fen)
    dq_score = float(profile.data_quality_score)

    # 1. grade and trend actually used
    ungraded = profile.grade == 0
    grade = policy.ungraded_as_grade if ungraded else profile.grade
    pg = p * N_GRADES + grade
    trend = TRENDS.index(profile.trend_direction)
    if not float(profile.trend_confidence) >= policy.trend_min_confidence:
        trend = UNKNOWN

    # 2. eligibility
    elig = t.elig[pg]
    conditional = elig == 1
    max_k = t.cond_max_k[pg]
    requires = t.requires_commitment[p]
    capacity_cap = _capacity(t, request)
    declines = [
        tenor < t.tenor_min[p] or tenor > t.tenor_max[p],
        ungraded and policy.ungraded_decline,
        elig == 0,
        conditional and not dq_score <= t.cond_max_dq[pg],
        conditional and trend > t.cond_max_trend[pg],
        conditional and max_k < math.inf and not float(profile.carbon_efficiency) <= max_k,
        bool(profile.two_high_sector) and t.two_high_excluded[p * _N_LEVELS + level],
        requires and not has_c,
        requires and has_c and target < t.min_target[p],
        capacity_cap <= 0,
    ]
    declines = [bool(d) for d in declines]
    eligible = not any(declines)

    # 3. rate components
    grade_bp = t.rate[pg]
    if ungraded:
        grade_bp = maximum(grade_bp, 0.0)
    level_bp = t.level_rate[p * _N_LEVELS + level]
    trend_bp = t.trend_rate[trend]
    improving_bp = t.improving[p] if trend == IMPROVING else 0.0
    reduction_band = -1
    reduction_full = 0.0
    for code, starts, rates in t.reduction:
        band = bisect_right(starts, target) - 1  # np.searchsorted(side="right") - 1, NaN last in both
        if has_c and p == code and band >= 0:
            reduction_band = band
            reduction_full = rates[band]
    share = 1.0 if verification == PASSED else t.provisional[p] if verification == PENDING else 0.0
    reduction_bp = np_round(reduction_full * share, 2)
    no_commitment_bp = 0.0 if has_c else t.nc_rate[pg]
    missed_bp = t.ratchet_missed[p] * milestones_missed if has_c else 0.0
    lapsed = has_c and verification != PASSED and verification != PENDING
    verification_bp = t.ratchet_verification[p] if lapsed else 0.0
    exceeded = has_c and verification == PASSED and achieved >= np_round(target * t.exceed_ratio[p], 6)
    exceeded_bp = -t.ratchet_exceeded[p] if exceeded else 0.0
    ratchet = missed_bp + verification_bp + exceeded_bp
    cap = t.ratchet_cap[p]
    ratchet_capped = clip(ratchet, -cap, cap)

    # 4. data-quality gate
    dq_band = bisect_right(t.dq_starts, dq_score) - 1
    dq_factor = 0.0 if gated else t.dq_factor[dq_band]
    surcharges = 0.0
    discounts = 0.0
    for component in (grade_bp, level_bp, trend_bp, improving_bp, reduction_bp, no_commitment_bp,
                      ratchet_capped):  # fmt: skip
        surcharges = surcharges + maximum(component, 0.0)
        discounts = discounts + minimum(component, 0.0)
    gated_discounts = discounts * dq_factor
    gated_bp = surcharges + gated_discounts

    # 5. total cap/floor, LPR bounds, facility band
    capped = clip_scalar_bounds(gated_bp, policy.total_min_bp, policy.total_max_bp)
    rate_adjustment_bp = np_round(capped, 2)
    unbounded = np_round(base_rate + rate_adjustment_bp, 2)
    bounded = clip(unbounded, lpr + policy.floor_vs_lpr_bp, lpr + policy.cap_vs_lpr_bp)
    spread = t.facility_spread[p]
    final_rate_bp = np_round(clip(bounded, lpr - spread, lpr + spread) if t.facility[p] else bounded, 2)

    # 6. limit in integer fen
    grade_mult = t.mult[pg]
    if ungraded:
        grade_mult = min(grade_mult, E4)
    no_commitment_mult = E4 if has_c else t.nc_mult[pg]
    has_bank = bank_limit < FEN_INF
    credit_base = bank_limit if has_bank else requested
    bank_cap = mul_ratio(mul_ratio(credit_base, grade_mult), no_commitment_mult)
    dq_limit = t.dq_limit[-1] if gated else t.dq_limit[dq_band]
    dq_cap = mul_ratio(bank_cap, dq_limit)
    if has_c and t.has_project_limit[p]:
        scaled = target * t.yuan_per_t[p] * 100
        if not abs(scaled) < 2.0**62:
            raise Overflow(scaled)
        project_formula = _i64(mul_ratio(capex, t.capex_ratio[p]) + round(scaled))
        project_equity_cap = mul_ratio(capex, t.loan_share[p])
    else:
        project_formula = project_equity_cap = FEN_INF
    candidates = [
        requested,
        bank_cap,
        dq_cap,
        max(capacity_cap, 0),
        min(project_formula, project_equity_cap),
        t.max_limit[p],
    ]
    limit = min(candidates)
    binding = candidates.index(limit)  # the first on ties, as argmin

    # 7. manual review
    dq_review = gated or t.dq_review[dq_band]
    ungraded_review = ungraded and policy.ungraded_manual_review and not policy.ungraded_decline
    status_review = has_c and t.review_status[p * _N_STATUSES + status]
    amount_review = requested > t.review_above[p]
    financials_review = not request.has_financials and t.capacity is not None
    reviews = [bool(dq_review), bool(ungraded_review), bool(status_review), amount_review, not has_bank,
               financials_review]  # fmt: skip
    return [
        grade, trend, conditional, declines, eligible, grade_bp, level_bp, trend_bp, improving_bp,
        reduction_band, reduction_bp, no_commitment_bp, missed_bp, verification_bp, exceeded_bp,
        ratchet_capped - ratchet, reduction_full, share, dq_band, dq_factor, dq_limit,
        gated_discounts - discounts, gated_bp, capped - gated_bp, rate_adjustment_bp, unbounded, bounded,
        final_rate_bp, grade_mult, no_commitment_mult, credit_base, candidates, capacity_cap,
        project_formula, project_equity_cap, binding, limit, limit if eligible else 0, *reviews,
        any(reviews),
    ]  # fmt: skip


def _capacity(t: Any, request: LoanRequest) -> int:
    """``_core._capacity`` for one row."""
    if t.capacity is None or not request.has_financials:
        return FEN_INF
    d2e, d2r = t.capacity
    debt = _i64(request.total_debt_fen or 0)
    by_equity = _i64(mul_ratio(max(_i64(request.equity_fen or 0), 0), d2e) - debt)
    by_revenue = _i64(mul_ratio(_i64(request.revenue_fen or 0), d2r) - debt)
    return min(by_equity, by_revenue)


def compute_rows(
    rows: Sequence[tuple[CarbonProfileInput, CommitmentInput | None, LoanRequest]], policy: Policy
) -> list[list[Any]]:
    return [compute_row(profile, c, request, policy) for profile, c, request in rows]
