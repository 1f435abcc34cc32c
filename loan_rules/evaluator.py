"""``evaluate``: one profile + commitment + request + policy -> :class:`Terms` with the full trace.

Pure and deterministic: the numbers come from the shared array code in ``_core`` (the batch path runs
the same code), and this module only reads its intermediate values back to write the trace, the
conditions and the reasons, in Chinese and English. Every step code is listed in ``REASON_CODES`` and
documented in docs/loan-policy.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from loan_rules import _core
from loan_rules.model import (
    LEVELS,
    PRODUCTS,
    STATUSES,
    TRENDS,
    VERIFICATIONS,
    CarbonProfileInput,
    CommitmentInput,
    Conditions,
    Covenant,
    InputValue,
    LoanRequest,
    Product,
    RatchetStep,
    Terms,
    TraceStep,
)
from loan_rules.policy import FEN_INF, Policy, ProductPolicy, default_policy
from tanxiao.locale import names

# code -> (kind, meaning). Kinds: decline, rate, limit, review, info.
REASON_CODES: Mapping[str, tuple[str, str]] = {
    "REFERENCE_RATE": ("info", "the rate the spread is added to: the tenor's LPR or the lender's base rate"),
    "UNGRADED": (
        "review",
        "no carbon-efficiency grade (0): eligibility of ungraded.treat_as_grade, no grade discount, "
        "no multiplier above 1",
    ),
    "UNGRADED_DECLINED": ("decline", "no carbon-efficiency grade and ungraded.decline is true"),
    "TENOR_OUT_OF_RANGE": ("decline", "tenor outside the product's tenor_months"),
    "GRADE_NOT_ELIGIBLE": ("decline", "the grade is neither eligible nor conditionally eligible"),
    "GRADE_CONDITION_DATA_QUALITY": ("decline", "conditional grade: PCAF score above max_data_quality_score"),
    "GRADE_CONDITION_TREND": (
        "decline",
        "conditional grade: trend (after the confidence gate) worse than max_trend",
    ),
    "GRADE_CONDITION_CARBON_EFFICIENCY": (
        "decline",
        "conditional grade: K above max_carbon_efficiency (or unknown)",
    ),
    "GRADE_CONDITIONS_MET": ("info", "conditional grade: every condition met"),
    "TWO_HIGH_SECTOR_EXCLUDED": (
        "decline",
        "两高 sector (data/two_high_sectors.yaml) at a level in the product's two_high_excluded_levels",
    ),
    "NO_DEBT_CAPACITY": ("decline", "the borrower's debt already uses all capacity under the capacity tests"),
    "COMMITMENT_REQUIRED": ("decline", "the product requires a registered retrofit commitment"),
    "COMMITMENT_BELOW_MINIMUM": ("decline", "committed reduction below min_target_tco2_per_year"),
    "GRADE_RATE": ("rate", "the product's rate_bp_by_grade entry"),
    "CARBON_LEVEL_RATE": ("rate", "the product's carbon_level_rate_bp entry for the Huzhou level"),
    "TREND_RATE": ("rate", "trend.rate_bp for the trend (UNKNOWN below trend.min_confidence)"),
    "IMPROVING_TREND_BONUS": ("rate", "the product's improving_trend_bp for a confident IMPROVING trend"),
    "REDUCTION_DISCOUNT": (
        "rate",
        "commitment.reduction_rate_bp band of the committed tCO2/yr x the verification share "
        "(provisional_share pending, 1 passed, 0 failed/overdue)",
    ),
    "NO_COMMITMENT_SURCHARGE": ("rate", "no_commitment.rate_bp_by_grade: no registered commitment"),
    "RATCHET_MILESTONE_MISSED": ("rate", "ratchet step-up per missed milestone"),
    "RATCHET_VERIFICATION_ABSENT": ("rate", "ratchet step-up: verification failed or overdue"),
    "RATCHET_TARGET_EXCEEDED": ("rate", "ratchet step-down: verified savings >= target x exceed_ratio"),
    "RATCHET_CAP": ("rate", "the ratchet's aggregate cap took off the excess"),
    "DATA_QUALITY_GATE": ("review", "data-quality band: discounts x discount_factor (0 with a gate flag)"),
    "TOTAL_ADJUSTMENT_CAP": ("rate", "the sum exceeded total_adjustment_bp.max"),
    "TOTAL_ADJUSTMENT_FLOOR": ("rate", "the sum was below total_adjustment_bp.min"),
    "LPR_FLOOR": ("rate", "reference + adjustment was below LPR + rate_vs_lpr_bp.floor"),
    "LPR_CAP": ("rate", "reference + adjustment was above LPR + rate_vs_lpr_bp.cap"),
    "FACILITY_LPR_BAND": (
        "rate",
        "facility-eligible product (PBoC carbon-reduction facility): "
        "kept within LPR +/- facility.max_spread_bp",
    ),
    "LIMIT_REQUEST": ("limit", "the requested amount: the limit never exceeds it"),
    "GRADE_LIMIT_MULTIPLIER": (
        "limit",
        "credit base (bank limit, else the request) x limit_multiplier_by_grade x no-commitment haircut",
    ),
    "DATA_QUALITY_LIMIT_CAP": ("limit", "the graded bank limit x the data-quality band's limit_factor"),
    "CAPACITY_CAP": ("limit", "min(equity x max_debt_to_equity, revenue x max_debt_to_revenue) - total debt"),
    "PROJECT_LIMIT_CAP": (
        "limit",
        "min(capex x capex_ratio + committed tCO2/yr x yuan_per_tco2_per_year, "
        "capex x (1 - min_equity_share))",
    ),
    "PRODUCT_LIMIT_CAP": ("limit", "the product's max_limit_cny"),
    "LIMIT_BINDING": ("info", "which candidate is the smallest and set the limit"),
    "COMMITMENT_STATUS_REVIEW": ("review", "commitment status listed in commitment.review_statuses"),
    "AMOUNT_REVIEW": ("review", "requested amount above the product's review_above_cny"),
    "BANK_LIMIT_MISSING": ("review", "no bank credit limit in the request: the request is the credit base"),
    "FINANCIALS_MISSING": ("review", "no revenue/debt/equity for the borrower: no capacity test possible"),
}

RATCHET_TRIGGERS = ("MILESTONE_MISSED", "VERIFICATION_ABSENT", "TARGET_EXCEEDED")

# The Chinese words of codes inside the trace texts, from the one catalogue (tanxiao/locale); the
# English texts name the codes themselves.
_TREND_ZH = names("trend_word", "zh")
_LEVEL_ZH = names("level_word", "zh")
_VERIFICATION_ZH = names("verification_word", "zh")
_CANDIDATE_STEP = {
    "REQUEST": "LIMIT_REQUEST",
    "BANK_LIMIT": "GRADE_LIMIT_MULTIPLIER",
    "DATA_QUALITY": "DATA_QUALITY_LIMIT_CAP",
    "CAPACITY": "CAPACITY_CAP",
    "PROJECT": "PROJECT_LIMIT_CAP",
    "PRODUCT": "PRODUCT_LIMIT_CAP",
}
_CANDIDATE_ZH = names("limit_candidate", "zh")
_STATUS_ZH = names("commitment_status_word", "zh")


def evaluate(
    profile: CarbonProfileInput,
    commitment: CommitmentInput | None,
    request: LoanRequest,
    policy: Policy | None = None,
) -> Terms:
    """Terms for one request under ``policy`` (the packaged default when None)."""
    policy = policy or default_policy()
    o = _core.compute(_columns(profile, commitment, request, policy), policy)
    return _Writer(profile, commitment, request, policy, o).terms()


def _columns(
    profile: CarbonProfileInput,
    commitment: CommitmentInput | None,
    request: LoanRequest,
    policy: Policy,
) -> _core.Columns:
    """One request as one-element arrays for ``_core.compute``."""
    c = commitment

    def a(value: float | bool, dtype: type = np.float64) -> np.ndarray:
        return np.array([value], dtype=dtype)

    def i(value: int) -> np.ndarray:
        return np.array([value], dtype=np.intp)

    def fen(value: int) -> np.ndarray:
        return np.array([value], dtype=np.int64)

    return _core.Columns(
        product=i(PRODUCTS.index(request.product)),
        grade=i(profile.grade),
        level=i(LEVELS.index(profile.level)),
        trend=i(TRENDS.index(profile.trend_direction)),
        trend_confidence=a(profile.trend_confidence),
        data_quality_score=a(profile.data_quality_score),
        gated=a(not policy.gate_flags.isdisjoint(profile.quality_flags), np.bool_),
        carbon_efficiency=a(profile.carbon_efficiency),
        has_commitment=a(c is not None, np.bool_),
        status=i(STATUSES.index(c.status) if c else 0),
        target=a(c.target_tco2_per_year if c else 0.0),
        achieved=a(c.achieved_tco2_per_year if c else 0.0),
        capex=fen(c.capex_fen if c else 0),
        milestones_missed=a(c.milestones_missed if c else 0),
        verification=i(VERIFICATIONS.index(c.verification) if c else 0),
        requested=fen(request.requested_amount_fen),
        tenor=a(request.tenor_months),
        lpr=a(request.lpr_bp),
        base_rate=a(request.reference_rate_bp),
        bank_limit=fen(FEN_INF if request.bank_limit_fen is None else request.bank_limit_fen),
        has_financials=a(request.has_financials, np.bool_),
        revenue=fen(request.revenue_fen or 0),
        debt=fen(request.total_debt_fen or 0),
        equity=fen(request.equity_fen or 0),
        two_high=a(bool(profile.two_high_sector), np.bool_),
    )


def _columns_many(
    rows: Sequence[tuple[CarbonProfileInput, CommitmentInput | None, LoanRequest]], policy: Policy
) -> _core.Columns:
    """Many requests as arrays for ``_core.compute``: column by column, each array exactly the
    concatenation of ``_columns``' one-element arrays for the rows (pinned by the property tests)."""
    profiles = [p for p, _, _ in rows]
    commitments = [c for _, c, _ in rows]
    requests = [r for _, _, r in rows]

    def a(values: list[Any], dtype: type = np.float64) -> np.ndarray:
        return np.array(values, dtype=dtype)

    def i(values: list[int]) -> np.ndarray:
        return np.array(values, dtype=np.intp)

    def fen(values: list[int]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    gates = policy.gate_flags
    return _core.Columns(
        product=i([PRODUCTS.index(r.product) for r in requests]),
        grade=i([p.grade for p in profiles]),
        level=i([LEVELS.index(p.level) for p in profiles]),
        trend=i([TRENDS.index(p.trend_direction) for p in profiles]),
        trend_confidence=a([p.trend_confidence for p in profiles]),
        data_quality_score=a([p.data_quality_score for p in profiles]),
        gated=a([not gates.isdisjoint(p.quality_flags) for p in profiles], np.bool_),
        carbon_efficiency=a([p.carbon_efficiency for p in profiles]),
        has_commitment=a([c is not None for c in commitments], np.bool_),
        status=i([STATUSES.index(c.status) if c else 0 for c in commitments]),
        target=a([c.target_tco2_per_year if c else 0.0 for c in commitments]),
        achieved=a([c.achieved_tco2_per_year if c else 0.0 for c in commitments]),
        capex=fen([c.capex_fen if c else 0 for c in commitments]),
        milestones_missed=a([c.milestones_missed if c else 0 for c in commitments]),
        verification=i([VERIFICATIONS.index(c.verification) if c else 0 for c in commitments]),
        requested=fen([r.requested_amount_fen for r in requests]),
        tenor=a([r.tenor_months for r in requests]),
        lpr=a([r.lpr_bp for r in requests]),
        base_rate=a([r.reference_rate_bp for r in requests]),
        bank_limit=fen([FEN_INF if r.bank_limit_fen is None else r.bank_limit_fen for r in requests]),
        has_financials=a([r.has_financials for r in requests], np.bool_),
        revenue=fen([r.revenue_fen or 0 for r in requests]),
        debt=fen([r.total_debt_fen or 0 for r in requests]),
        equity=fen([r.equity_fen or 0 for r in requests]),
        two_high=a([bool(p.two_high_sector) for p in profiles], np.bool_),
    )


def _bp(value: float) -> float:
    return round(float(value), 2) + 0.0  # + 0.0: no -0.0 in the trace


def _pct(before: float, after: float) -> float:
    return _bp((after / before - 1.0) * 100.0) if before > 0 and math.isfinite(after) else 0.0


def _signed(value: float) -> str:
    return f"{value:+.2f} bp"


def _zh_bp(value: float) -> str:
    """The market's Chinese wording of a rate step: 加10BP / 减40BP / 不变."""
    v = _bp(value)
    return "不变" if v == 0 else f"{'加' if v > 0 else '减'}{abs(v):g}BP"


def fen_text(fen: int, lang: str = "zh") -> str:
    """An amount in fen as the market writes it: 1,234,567.80元 / 1,234,567.80 yuan (no decimals when
    whole yuan)."""
    yuan, cents = divmod(abs(int(fen)), 100)
    sign = "-" if fen < 0 else ""
    text = f"{sign}{yuan:,}" + (f".{cents:02d}" if cents else "")
    return f"{text}元" if lang == "zh" else f"{text} yuan"


def lpr_words(spread_bp: float, lang: str = "zh") -> str:
    """The market's wording of a spread over the LPR: LPR减40BP / LPR - 40 bp, LPR持平 / LPR flat."""
    value = _bp(spread_bp)
    magnitude = f"{abs(value):g}"
    if lang == "zh":
        return "LPR" + ("持平" if value == 0 else f"{'加' if value > 0 else '减'}{magnitude}BP")
    return "LPR" + (" flat" if value == 0 else f" {'+' if value > 0 else '-'} {magnitude} bp")


class _Writer:
    """Reads one evaluated row back into trace steps, conditions and reasons."""

    def __init__(
        self,
        profile: CarbonProfileInput,
        commitment: CommitmentInput | None,
        request: LoanRequest,
        policy: Policy,
        outcome: _core.Outcome,
    ) -> None:
        self.profile = profile
        self.commitment = commitment
        self.request = request
        self.policy = policy
        self.pp: ProductPolicy = policy.products[request.product]
        self.o = outcome
        self.steps: list[TraceStep] = []

    def v(self, name: str) -> float:
        value = getattr(self.o, name)[0]  # a numpy scalar, or a stored number (loan_rules.compact)
        out: float = value.item() if isinstance(value, np.generic) else value
        return out

    def add(
        self,
        code: str,
        inputs: Mapping[str, InputValue],
        zh: str,
        en: str,
        *,
        rate: float = 0.0,
        limit: float = 0.0,
        limit_fen: int = 0,
    ) -> TraceStep:
        step = TraceStep(code, _bp(rate), _bp(limit), dict(inputs), zh, en, int(limit_fen))
        self.steps.append(step)
        return step

    # ------------------------------------------------------------------------------------------ terms

    def terms(self) -> Terms:
        declines = self.eligibility()
        self.rate_steps()
        self.limit_steps()
        reviews = self.review_steps()
        eligible = bool(self.o.eligible[0])
        reasons = sorted(
            (s for s in self.steps if s.rate_effect_bp or s.limit_effect_fen),
            key=lambda s: (-abs(s.rate_effect_bp), -abs(s.limit_effect_fen)),
        )
        r = self.request
        return Terms(
            product=self.request.product,
            eligible=eligible,
            decline_reasons=tuple(declines),
            approved_limit_fen=int(self.o.approved_limit_fen[0]),
            binding_limit=_core.LIMIT_CANDIDATES[int(self.o.binding[0])],
            lpr_bp=_bp(r.lpr_bp),
            lpr_term=r.lpr_term,
            base_rate_bp=_bp(r.reference_rate_bp),
            base_rate_source="LPR" if r.base_rate_bp is None else "LENDER",
            rate_adjustment_bp=_bp(self.v("rate_adjustment_bp")),
            final_rate_bp=_bp(self.v("final_rate_bp")),
            conditions=self.conditions() if eligible else Conditions(),
            manual_review=bool(self.o.manual_review[0]),
            review_reasons=tuple(reviews),
            reasons=tuple(reasons),
            trace=tuple(self.steps),
            policy_version=self.policy.version,
            policy_hash=self.policy.content_hash,
        )

    # ------------------------------------------------------------------------------------ eligibility

    def eligibility(self) -> list[TraceStep]:
        pr, pp, o = self.profile, self.pp, self.o
        grade = int(o.grade[0])
        declines: list[TraceStep] = []
        self.reference_step()
        hit = dict(zip(_core.DECLINE_CODES, (bool(d[0]) for d in o.declines), strict=True))
        if hit["TENOR_OUT_OF_RANGE"]:
            lo, hi, t = pp.tenor_min_months, pp.tenor_max_months, self.request.tenor_months
            declines.append(
                self.add(
                    "TENOR_OUT_OF_RANGE",
                    {"tenor_months": t, "min_months": lo, "max_months": hi},
                    f"期限{t}个月不在{pp.name_zh}允许的{lo}-{hi}个月之内",
                    f"Tenor of {t} months is outside {pp.name_en}'s {lo}-{hi} months",
                )
            )
        if pr.grade == 0:
            review = self.policy.ungraded_manual_review
            decline = self.policy.ungraded_decline
            step = self.add(
                "UNGRADED_DECLINED" if decline else "UNGRADED",
                {"grade": 0, "eligibility_as_grade": grade, "manual_review": review, "decline": decline},
                "企业尚未评定碳效等级"
                + ("，不予准入" if decline else f"，准入按{grade}级判断，不享受等级优惠及额度上浮")
                + ("，需人工审核" if review and not decline else ""),
                "No carbon-efficiency grade"
                + (
                    ": declined"
                    if decline
                    else f": eligibility as grade {grade}, no grade discount or uplift"
                )
                + ("; manual review" if review and not decline else ""),
            )
            if decline:
                declines.append(step)
        if hit["GRADE_NOT_ELIGIBLE"]:
            accepted = sorted(pp.eligible_grades | set(pp.conditional_grades))
            others = [
                q.value
                for q, other in self.policy.products.items()
                if q != pp.product and (grade in other.eligible_grades or grade in other.conditional_grades)
            ]
            grades = "、".join(map(str, accepted)) or "无"
            declines.append(
                self.add(
                    "GRADE_NOT_ELIGIBLE",
                    {
                        "grade": grade,
                        "accepted_grades": tuple(map(str, accepted)),
                        "open_products": tuple(others),
                    },
                    f"碳效{grade}级企业不符合{pp.name_zh}的准入等级（{grades}级）"
                    + (
                        f"，可申请：{'、'.join(self.policy.products[Product(q)].name_zh for q in others)}"
                        if others
                        else ""
                    ),
                    f"Grade {grade} is not eligible for {pp.name_en} "
                    f"(grades {', '.join(map(str, accepted)) or 'none'})"
                    + (f"; products open to grade {grade}: {', '.join(others)}" if others else ""),
                )
            )
        condition = pp.conditional_grades.get(grade)
        if condition is not None and not hit["GRADE_NOT_ELIGIBLE"]:
            failed = False
            if hit["GRADE_CONDITION_DATA_QUALITY"]:
                failed = True
                declines.append(
                    self.add(
                        "GRADE_CONDITION_DATA_QUALITY",
                        {
                            "grade": grade,
                            "data_quality_score": pr.data_quality_score,
                            "max_data_quality_score": condition.max_data_quality_score,
                        },
                        f"碳效{grade}级须数据质量评分不高于{condition.max_data_quality_score:g}，"
                        f"实际为{pr.data_quality_score:g}",
                        f"Grade {grade} needs a data-quality score of at most "
                        f"{condition.max_data_quality_score:g}, got {pr.data_quality_score:g}",
                    )
                )
            if hit["GRADE_CONDITION_TREND"]:
                failed = True
                used = TRENDS[int(o.trend[0])].value
                limit = condition.max_trend.value if condition.max_trend else ""
                declines.append(
                    self.add(
                        "GRADE_CONDITION_TREND",
                        {
                            "grade": grade,
                            "trend_direction": pr.trend_direction.value,
                            "trend_confidence": pr.trend_confidence,
                            "trend_used": used,
                            "max_trend": limit,
                        },
                        f"碳效{grade}级须碳强度趋势不差于“{_TREND_ZH[limit]}”，实际为“{_TREND_ZH[used]}”",
                        f"Grade {grade} needs a trend no worse than {limit}, got {used}",
                    )
                )
            if hit["GRADE_CONDITION_CARBON_EFFICIENCY"]:
                failed = True
                k = pr.carbon_efficiency
                declines.append(
                    self.add(
                        "GRADE_CONDITION_CARBON_EFFICIENCY",
                        {
                            "grade": grade,
                            "carbon_efficiency": k,
                            "max_carbon_efficiency": condition.max_carbon_efficiency,
                        },
                        f"碳效{grade}级须碳效值不高于{condition.max_carbon_efficiency:g}，实际为{k:g}",
                        f"Grade {grade} needs a carbon efficiency K of at most "
                        f"{condition.max_carbon_efficiency:g}, got {k:g}",
                    )
                )
            if not failed:
                self.add(
                    "GRADE_CONDITIONS_MET",
                    {
                        "grade": grade,
                        "max_data_quality_score": condition.max_data_quality_score,
                        "max_trend": condition.max_trend.value if condition.max_trend else None,
                        "max_carbon_efficiency": condition.max_carbon_efficiency,
                    },
                    f"碳效{grade}级满足{pp.name_zh}的附加准入条件",
                    f"Grade {grade} meets {pp.name_en}'s additional conditions",
                )
        if hit["TWO_HIGH_SECTOR_EXCLUDED"]:
            level = pr.level.value
            declines.append(
                self.add(
                    "TWO_HIGH_SECTOR_EXCLUDED",
                    {"industry_code": pr.industry_code, "level": level, "two_high_sector": True},
                    f"行业{pr.industry_code}属“两高”行业且为{_LEVEL_ZH[level]}企业，不适用{pp.name_zh}，"
                    "可申请高碳技改贷",
                    f"Industry {pr.industry_code} is a two-high (energy-intensive, high-emission) sector at "
                    f"level {level}: not eligible for {pp.name_en}; retrofit loans remain open",
                )
            )
        if hit["COMMITMENT_REQUIRED"]:
            declines.append(
                self.add(
                    "COMMITMENT_REQUIRED",
                    {"product": pp.product.value, "has_commitment": False},
                    f"{pp.name_zh}须有已登记的减碳改造承诺",
                    f"{pp.name_en} requires a registered retrofit commitment",
                )
            )
        if hit["COMMITMENT_BELOW_MINIMUM"] and self.commitment is not None and pp.commitment is not None:
            target, minimum = self.commitment.target_tco2_per_year, pp.commitment.min_target_tco2_per_year
            declines.append(
                self.add(
                    "COMMITMENT_BELOW_MINIMUM",
                    {
                        "commitment_id": self.commitment.commitment_id,
                        "target_tco2_per_year": target,
                        "min_target_tco2_per_year": minimum,
                    },
                    f"承诺减排量{target:g}吨CO2/年低于最低要求{minimum:g}吨",
                    f"Committed reduction of {target:g} tCO2/yr is below the minimum of {minimum:g}",
                )
            )
        if hit["NO_DEBT_CAPACITY"]:
            room = int(o.capacity_cap[0])
            declines.append(
                self.add(
                    "NO_DEBT_CAPACITY",
                    {"capacity_fen": room, "total_debt_fen": self.request.total_debt_fen},
                    f"现有负债已用尽偿债能力上限（剩余{fen_text(room)}），不予新增贷款",
                    f"Existing debt uses all debt capacity ({fen_text(room, 'en')} left): no new loan",
                )
            )
        return declines

    # ------------------------------------------------------------------------------------------- rate

    def rate_steps(self) -> None:
        pr, pp, o, c, policy = self.profile, self.pp, self.o, self.commitment, self.policy
        grade = int(o.grade[0])
        bp = self.v("grade_bp")
        self.add(
            "GRADE_RATE",
            {"product": pp.product.value, "grade": grade, "rate_bp": bp},
            f"碳效{grade}级，{pp.name_zh}利率{_zh_bp(bp)}",
            f"Grade {grade} on {pp.name_en}: {_signed(bp)}",
            rate=bp,
        )
        if pp.carbon_level_rate_bp is not None:
            bp = self.v("level_bp")
            level = pr.level.value
            self.add(
                "CARBON_LEVEL_RATE",
                {"level": level, "carbon_intensity": pr.carbon_intensity, "rate_bp": bp},
                f"{_LEVEL_ZH[level]}企业，利率{_zh_bp(bp)}",
                f"Carbon level {level}: {_signed(bp)}",
                rate=bp,
            )
        used = TRENDS[int(o.trend[0])].value
        bp = self.v("trend_bp")
        gated = used != pr.trend_direction.value
        self.add(
            "TREND_RATE",
            {
                "trend_direction": pr.trend_direction.value,
                "trend_confidence": pr.trend_confidence,
                "min_confidence": policy.trend_min_confidence,
                "trend_used": used,
                "rate_bp": bp,
            },
            f"碳强度趋势“{_TREND_ZH[used]}”"
            + (f"（置信度{pr.trend_confidence:.2f}低于{policy.trend_min_confidence:g}）" if gated else "")
            + f"，利率{_zh_bp(bp)}",
            f"Carbon-intensity trend {used}"
            + (
                f" (confidence {pr.trend_confidence:.2f} below {policy.trend_min_confidence:g})"
                if gated
                else ""
            )
            + f": {_signed(bp)}",
            rate=bp,
        )
        bp = self.v("improving_bp")
        if bp:
            self.add(
                "IMPROVING_TREND_BONUS",
                {"trend_used": used, "rate_bp": bp},
                f"碳强度持续下降，{pp.name_zh}利率再{_zh_bp(bp)}",
                f"Improving carbon intensity: extra {_signed(bp)} on {pp.name_en}",
                rate=bp,
            )
        rules = pp.commitment
        if c is not None and rules is not None and rules.reduction_bands:
            bp = self.v("reduction_bp")
            index = int(o.reduction_band[0])
            band = rules.reduction_bands[index] if index >= 0 else None
            full = self.v("reduction_full_bp")
            share = self.v("reduction_share")
            state = c.verification.value
            self.add(
                "REDUCTION_DISCOUNT",
                {
                    "commitment_id": c.commitment_id,
                    "target_tco2_per_year": c.target_tco2_per_year,
                    "band_from": band.lo if band else None,
                    "band_to": band.hi if band and math.isfinite(band.hi) else None,
                    "band_rate_bp": _bp(full),
                    "verification": state,
                    "share": share,
                    "rate_bp": bp,
                },
                f"承诺年减排{c.target_tco2_per_year:g}吨CO2（{_VERIFICATION_ZH[state]}，按{share:.0%}计），"
                f"利率{_zh_bp(bp)}",
                f"Committed reduction of {c.target_tco2_per_year:g} tCO2/yr ({state}, {share:.0%} of "
                f"{_signed(full)}): {_signed(bp)}",
                rate=bp,
            )
        bp = self.v("no_commitment_bp")
        if bp:
            self.add(
                "NO_COMMITMENT_SURCHARGE",
                {"grade": grade, "has_commitment": False, "rate_bp": bp},
                f"碳效{grade}级且无减碳改造承诺，利率{_zh_bp(bp)}",
                f"Grade {grade} without a retrofit commitment: {_signed(bp)}",
                rate=bp,
            )
        ratchet = rules.ratchet if rules is not None else None
        if c is not None and ratchet is not None:
            self.ratchet_steps(c, ratchet.exceed_ratio, ratchet.cap_bp)
        self.quality_step()
        cap = self.v("cap_bp")
        if cap:
            over = cap < 0
            bound = policy.total_max_bp if over else policy.total_min_bp
            self.add(
                "TOTAL_ADJUSTMENT_CAP" if over else "TOTAL_ADJUSTMENT_FLOOR",
                {"sum_bp": _bp(self.v("gated_bp")), "bound_bp": bound},
                f"利率调整合计{_zh_bp(self.v('gated_bp'))}，"
                f"按{'上限' if over else '下限'}{_zh_bp(bound)}执行",
                f"Total adjustment {self.v('gated_bp'):+.2f} bp limited to the {'cap' if over else 'floor'} "
                f"of {bound:+g} bp",
                rate=cap,
            )
        self.bound_steps()

    def bound_steps(self) -> None:
        policy, r = self.policy, self.request
        lpr = r.lpr_bp
        unbounded, bounded, final = (
            self.v("unbounded_rate_bp"),
            self.v("bounded_rate_bp"),
            self.v("final_rate_bp"),
        )
        if _bp(bounded - unbounded):
            low = bounded > unbounded
            bound = policy.floor_vs_lpr_bp if low else policy.cap_vs_lpr_bp
            self.add(
                "LPR_FLOOR" if low else "LPR_CAP",
                {"lpr_bp": lpr, "lpr_term": r.lpr_term, "bound_vs_lpr_bp": bound, "rate_bp": _bp(unbounded)},
                f"执行利率{'不低于' if low else '不高于'}{lpr_words(bound)}（{(lpr + bound) / 100:.2f}%）",
                f"Final rate kept {'at or above' if low else 'at or below'} {lpr_words(bound, 'en')} "
                f"({(lpr + bound) / 100:.2f} %)",
                rate=bounded - unbounded,
            )
        if _bp(final - bounded):
            spread = self.pp.facility_max_spread_bp or 0.0
            self.add(
                "FACILITY_LPR_BAND",
                {"lpr_bp": lpr, "lpr_term": r.lpr_term, "max_spread_bp": spread, "rate_bp": _bp(bounded)},
                f"{self.pp.name_zh}为碳减排支持工具支持贷款，利率与同期限LPR大致持平（LPR±{spread:g}BP）",
                f"{self.pp.name_en} is funded under the PBoC carbon-reduction facility: priced at about the "
                f"same-tenor LPR (LPR +/- {spread:g} bp)",
                rate=final - bounded,
            )

    def reference_step(self) -> None:
        r = self.request
        term_zh = "1年期" if r.lpr_term == "1Y" else "5年期以上"
        term_en = "1-year" if r.lpr_term == "1Y" else "over-5-year"
        lpr = f"{term_zh}LPR {r.lpr_bp / 100:.2f}%" + (f"（{r.lpr_date}）" if r.lpr_date else "")
        lpr_en = f"{term_en} LPR {r.lpr_bp / 100:.2f} %" + (f" ({r.lpr_date})" if r.lpr_date else "")
        own = r.base_rate_bp
        self.add(
            "REFERENCE_RATE",
            {
                "lpr_bp": r.lpr_bp,
                "lpr_term": r.lpr_term,
                "lpr_date": r.lpr_date,
                "base_rate_bp": own,
                "base_rate_source": "LPR" if own is None else "LENDER",
            },
            f"定价基准：{lpr}" if own is None else f"定价基准：银行自定基准利率{own / 100:.2f}%（参考{lpr}）",
            f"Priced on the {lpr_en}"
            if own is None
            else f"Priced on the lender's own base rate {own / 100:.2f} % (reference: {lpr_en})",
        )

    def ratchet_steps(self, c: CommitmentInput, exceed_ratio: float, cap: float) -> None:
        status = c.status.value
        bp = self.v("missed_bp")
        if bp:
            self.add(
                "RATCHET_MILESTONE_MISSED",
                {"commitment_id": c.commitment_id, "milestones_missed": c.milestones_missed, "rate_bp": bp},
                f"减碳改造有{c.milestones_missed}个里程碑未达成，利率{_zh_bp(bp)}",
                f"{c.milestones_missed} retrofit milestone(s) missed: {_signed(bp)}",
                rate=bp,
            )
        bp = self.v("verification_bp")
        if bp:
            self.add(
                "RATCHET_VERIFICATION_ABSENT",
                {
                    "commitment_id": c.commitment_id,
                    "status": status,
                    "verification": c.verification.value,
                    "rate_bp": bp,
                },
                f"改造项目（{_STATUS_ZH[status]}）第三方核查{_VERIFICATION_ZH[c.verification.value]}，"
                f"利率{_zh_bp(bp)}",
                f"Retrofit project ({status}): independent verification {c.verification.value}: "
                f"{_signed(bp)}",
                rate=bp,
            )
        bp = self.v("exceeded_bp")
        if bp:
            self.add(
                "RATCHET_TARGET_EXCEEDED",
                {
                    "commitment_id": c.commitment_id,
                    "achieved_tco2_per_year": c.achieved_tco2_per_year,
                    "target_tco2_per_year": c.target_tco2_per_year,
                    "exceed_ratio": exceed_ratio,
                    "rate_bp": bp,
                },
                f"经核查年减排{c.achieved_tco2_per_year:g}吨，超过目标的{exceed_ratio:g}倍，利率{_zh_bp(bp)}",
                f"Verified reduction of {c.achieved_tco2_per_year:g} tCO2/yr exceeds {exceed_ratio:g} x the "
                f"target: {_signed(bp)}",
                rate=bp,
            )
        bp = self.v("ratchet_cap_bp")
        if bp:
            self.add(
                "RATCHET_CAP",
                {"cap_bp": cap, "rate_bp": bp},
                f"利率棘轮合计调整以±{cap:g}BP为限",
                f"The ratchet is capped at +/-{cap:g} bp in total",
                rate=bp,
            )

    def quality_step(self) -> None:
        pr, o, policy = self.profile, self.o, self.policy
        band = policy.quality_bands[int(o.dq_band[0])]
        flags = tuple(sorted(policy.gate_flags.intersection(pr.quality_flags)))
        factor = self.v("dq_factor")
        review = bool(o.dq_review[0])
        withheld = self.v("withheld_bp")
        zh = f"数据质量评分{pr.data_quality_score:g}（PCAF，1最好）"
        en = f"Data-quality score {pr.data_quality_score:g} (PCAF, 1 best)"
        if flags:
            zh += f"，数据存在问题（{'、'.join(flags)}）"
            en += f" with flags {', '.join(flags)}"
        if factor < 1:
            zh += "，不享受利率优惠" if factor == 0 else f"，利率优惠按{factor:.0%}执行"
            en += ": no discounts" if factor == 0 else f": discounts at {factor:.0%}"
        if withheld:
            zh += f"（{_zh_bp(withheld)}）"
            en += f" ({_signed(withheld)})"
        if review:
            zh += "，需人工审核"
            en += "; manual review"
        self.add(
            "DATA_QUALITY_GATE",
            {
                "data_quality_score": pr.data_quality_score,
                "band_from": band.lo,
                "band_to": band.hi if math.isfinite(band.hi) else None,
                "gate_flags": flags,
                "discount_factor": factor,
                "manual_review": review,
            },
            zh,
            en,
            rate=withheld,
        )

    # ------------------------------------------------------------------------------------------ limit

    def limit_steps(self) -> None:
        """One step per limit candidate, its effect in fen on the running minimum, then which bound."""
        o, r = self.o, self.request
        running = int(o.candidates[0][0])
        names = _core.LIMIT_CANDIDATES
        for index, name in enumerate(names):
            cap = int(o.candidates[index][0])
            if index == 0:
                self.add(
                    "LIMIT_REQUEST",
                    {"requested_amount_fen": r.requested_amount_fen},
                    f"申请金额{fen_text(cap)}，核定额度不超过申请金额",
                    f"Requested {fen_text(cap, 'en')}: the limit never exceeds the request",
                )
                continue
            step = self.limit_candidate(name, cap)
            if step is None:
                continue
            code, inputs, zh, en = step
            after = min(running, cap)
            self.add(code, inputs, zh, en, limit=_pct(running, after), limit_fen=after - running)
            running = after
        binding = names[int(o.binding[0])]
        self.add(
            "LIMIT_BINDING",
            {"binding": binding, "limit_fen": int(o.limit_before_decline[0])},
            f"核定额度{fen_text(int(o.limit_before_decline[0]))}，由{_CANDIDATE_ZH[binding]}决定",
            f"Limit {fen_text(int(o.limit_before_decline[0]), 'en')}, set by {binding}",
        )

    def limit_candidate(self, name: str, cap: int) -> tuple[str, dict[str, InputValue], str, str] | None:
        o, r, pp, c, policy = self.o, self.request, self.pp, self.commitment, self.policy
        grade = int(o.grade[0])
        base = int(o.credit_base[0])
        if name == "BANK_LIMIT":
            mult = int(o.grade_mult[0]) / 10_000
            haircut = int(o.no_commitment_mult[0]) / 10_000
            source_zh = "银行授信额度" if r.bank_limit_fen is not None else "申请金额（未提供银行授信额度）"
            source_en = (
                "bank credit limit" if r.bank_limit_fen is not None else "request (no bank limit given)"
            )
            extra_zh = f"×无减碳承诺系数{haircut:g}" if haircut != 1 else ""
            extra_en = f" x no-commitment haircut {haircut:g}" if haircut != 1 else ""
            return (
                "GRADE_LIMIT_MULTIPLIER",
                {
                    "credit_base_fen": base,
                    "bank_limit_fen": r.bank_limit_fen,
                    "grade": grade,
                    "multiplier": mult,
                    "no_commitment_multiplier": haircut,
                    "cap_fen": cap,
                },
                f"{source_zh}{fen_text(base)}×碳效{grade}级系数{mult:g}{extra_zh} = {fen_text(cap)}",
                f"{source_en} {fen_text(base, 'en')} x grade {grade} multiplier {mult:g}{extra_en} "
                f"= {fen_text(cap, 'en')}",
            )
        if name == "DATA_QUALITY":
            factor = int(o.dq_limit[0]) / 10_000
            if factor == 1:
                return None
            graded = int(o.candidates[1][0])
            return (
                "DATA_QUALITY_LIMIT_CAP",
                {"graded_limit_fen": graded, "limit_factor": factor, "cap_fen": cap},
                f"数据质量额度上限：{fen_text(graded)}×{factor:g} = {fen_text(cap)}",
                f"Data-quality cap: {fen_text(graded, 'en')} x {factor:g} = {fen_text(cap, 'en')}",
            )
        if name == "CAPACITY":
            capacity = policy.capacity
            if capacity is None or not r.has_financials:
                return None
            return (
                "CAPACITY_CAP",
                {
                    "revenue_fen": r.revenue_fen,
                    "total_debt_fen": r.total_debt_fen,
                    "equity_fen": r.equity_fen,
                    "max_debt_to_equity": capacity.max_debt_to_equity,
                    "max_debt_to_revenue": capacity.max_debt_to_revenue,
                    "cap_fen": cap,
                },
                f"偿债能力上限：min(所有者权益{fen_text(r.equity_fen or 0)}×{capacity.max_debt_to_equity:g}，"
                f"营业收入{fen_text(r.revenue_fen or 0)}×{capacity.max_debt_to_revenue:g}) − "
                f"现有负债{fen_text(r.total_debt_fen or 0)} = {fen_text(cap)}",
                f"Debt capacity: min(equity {fen_text(r.equity_fen or 0, 'en')} x "
                f"{capacity.max_debt_to_equity:g}, revenue {fen_text(r.revenue_fen or 0, 'en')} x "
                f"{capacity.max_debt_to_revenue:g}) - debt {fen_text(r.total_debt_fen or 0, 'en')} "
                f"= {fen_text(cap, 'en')}",
            )
        if name == "PROJECT":
            rules = pp.commitment.project_limit if pp.commitment is not None else None
            if c is None or rules is None:
                return None
            formula, equity_cap = int(o.project_formula[0]), int(o.project_equity_cap[0])
            return (
                "PROJECT_LIMIT_CAP",
                {
                    "capex_fen": c.capex_fen,
                    "capex_ratio": rules.capex_ratio,
                    "target_tco2_per_year": c.target_tco2_per_year,
                    "yuan_per_tco2_per_year": rules.yuan_per_tco2_per_year,
                    "min_equity_share": rules.min_equity_share,
                    "formula_cap_fen": formula,
                    "equity_cap_fen": equity_cap,
                    "cap_fen": cap,
                },
                f"项目额度上限：min(投资{fen_text(c.capex_fen)}×{rules.capex_ratio:g} + 年减排"
                f"{c.target_tco2_per_year:g}吨×{rules.yuan_per_tco2_per_year:g}元 = {fen_text(formula)}，"
                f"投资×(1−最低自有资金比例{rules.min_equity_share:g}) = {fen_text(equity_cap)})",
                f"Project cap: min(capex {fen_text(c.capex_fen, 'en')} x {rules.capex_ratio:g} + "
                f"{c.target_tco2_per_year:g} tCO2/yr x {rules.yuan_per_tco2_per_year:g} yuan = "
                f"{fen_text(formula, 'en')}, capex x (1 - minimum equity share {rules.min_equity_share:g}) "
                f"= {fen_text(equity_cap, 'en')})",
            )
        if pp.max_limit_fen is None or cap >= FEN_INF:
            return None
        return (
            "PRODUCT_LIMIT_CAP",
            {"max_limit_fen": pp.max_limit_fen, "cap_fen": cap},
            f"{pp.name_zh}单户额度上限{fen_text(pp.max_limit_fen)}",
            f"{pp.name_en} is capped at {fen_text(pp.max_limit_fen, 'en')} per borrower",
        )

    # ----------------------------------------------------------------------------------------- review

    def review_steps(self) -> list[str]:
        o, c, pp = self.o, self.commitment, self.pp
        if bool(o.status_review[0]) and c is not None:
            status = c.status.value
            self.add(
                "COMMITMENT_STATUS_REVIEW",
                {"commitment_id": c.commitment_id, "status": status},
                f"减碳改造承诺状态为“{_STATUS_ZH[status]}”，需人工审核",
                f"Retrofit commitment is {status}: manual review",
            )
        if bool(o.amount_review[0]) and pp.review_above_fen is not None:
            amount = self.request.requested_amount_fen
            self.add(
                "AMOUNT_REVIEW",
                {"requested_amount_fen": amount, "review_above_fen": pp.review_above_fen},
                f"申请金额{fen_text(amount)}超过{fen_text(pp.review_above_fen)}，需人工审核",
                f"Requested {fen_text(amount, 'en')} is above {fen_text(pp.review_above_fen, 'en')}: "
                "manual review",
            )
        if bool(o.bank_limit_review[0]):
            self.add(
                "BANK_LIMIT_MISSING",
                {"bank_limit_fen": None},
                "请求未附银行授信额度，以申请金额为授信基数，需人工审核",
                "No bank credit limit in the request: the request is the credit base; manual review",
            )
        if bool(o.financials_review[0]):
            self.add(
                "FINANCIALS_MISSING",
                {"has_financials": False},
                "缺少企业营业收入、负债或所有者权益数据，无法测算偿债能力，需人工审核",
                "No revenue, debt or equity for the borrower: debt capacity not tested; manual review",
            )
        flags = {
            "UNGRADED": bool(o.ungraded_review[0]),
            "DATA_QUALITY_GATE": bool(o.dq_review[0]),
            "COMMITMENT_STATUS_REVIEW": bool(o.status_review[0]),
            "AMOUNT_REVIEW": bool(o.amount_review[0]),
            "BANK_LIMIT_MISSING": bool(o.bank_limit_review[0]),
            "FINANCIALS_MISSING": bool(o.financials_review[0]),
        }
        return [code for code, on in flags.items() if on]

    # ------------------------------------------------------------------------------------- conditions

    def conditions(self) -> Conditions:
        pp, o, c = self.pp, self.o, self.commitment
        covenants: list[Covenant] = list(pp.covenants)
        condition = pp.conditional_grades.get(int(o.grade[0]))
        if condition is not None:
            covenants.extend(condition.covenants)
        nc = pp.no_commitment
        if c is None and nc is not None and (self.v("no_commitment_bp") or self.v("no_commitment_mult") != 1):
            covenants.extend(nc.covenants)
        ratchet = pp.commitment.ratchet if pp.commitment is not None else None
        if c is None or ratchet is None:
            return Conditions(tuple(_unique(covenants)))
        steps = (
            (
                RATCHET_TRIGGERS[0],
                ratchet.milestone_missed_bp,
                "每有一个里程碑未达成",
                "for each retrofit milestone missed",
            ),
            (
                RATCHET_TRIGGERS[1],
                ratchet.verification_absent_bp,
                "年度第三方核查缺失或未通过",
                "when the annual independent verification is absent or fails",
            ),
            (
                RATCHET_TRIGGERS[2],
                -ratchet.target_exceeded_bp,
                f"经核查减排量达到目标的{ratchet.exceed_ratio:g}倍",
                f"when verified savings reach {ratchet.exceed_ratio:g} x the target",
            ),
        )
        schedule = tuple(
            RatchetStep(
                trigger,
                _bp(step),
                f"{zh}，利率{_zh_bp(step)}",
                f"{_signed(step)} {en}",
            )
            for trigger, step, zh, en in steps
            if step
        )
        return Conditions(tuple(_unique(covenants)), schedule, ratchet.cap_bp)


def _unique(covenants: Iterable[Covenant]) -> list[Covenant]:
    seen: set[str] = set()
    out = []
    for covenant in covenants:
        if covenant.code not in seen:
            seen.add(covenant.code)
            out.append(covenant)
    return out
