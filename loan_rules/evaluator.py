"""``evaluate``: one profile + commitment + request + policy -> :class:`Terms` with the full trace.

Pure and deterministic: the numbers come from the shared array code in ``_core`` (the batch path runs
the same code), and this module only reads its intermediate values back to write the trace, the
conditions and the reasons, in Chinese and English. Every step code is listed in ``REASON_CODES`` and
documented in docs/loan-policy.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from loan_rules import _core
from loan_rules.model import (
    LEVELS,
    PRODUCTS,
    STATUSES,
    TRENDS,
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
from loan_rules.policy import Policy, ProductPolicy, default_policy

# code -> (kind, meaning). Kinds: decline, rate, limit, review, info.
REASON_CODES: Mapping[str, tuple[str, str]] = {
    "UNGRADED": ("review", "no carbon-efficiency grade (0): priced as ungraded.treat_as_grade"),
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
    "COMMITMENT_REQUIRED": ("decline", "the product requires a registered retrofit commitment"),
    "COMMITMENT_BELOW_MINIMUM": ("decline", "committed reduction below min_target_tco2_per_year"),
    "GRADE_RATE": ("rate", "the product's rate_bp_by_grade entry"),
    "CARBON_LEVEL_RATE": ("rate", "the product's carbon_level_rate_bp entry for the Huzhou level"),
    "TREND_RATE": ("rate", "trend.rate_bp for the trend (UNKNOWN below trend.min_confidence)"),
    "IMPROVING_TREND_BONUS": ("rate", "the product's improving_trend_bp for a confident IMPROVING trend"),
    "REDUCTION_DISCOUNT": ("rate", "commitment.reduction_rate_bp band of the committed tCO2/yr"),
    "NO_COMMITMENT_SURCHARGE": ("rate", "no_commitment.rate_bp_by_grade: no registered commitment"),
    "RATCHET_MILESTONE_MISSED": ("rate", "ratchet step-up per missed milestone"),
    "RATCHET_VERIFICATION_ABSENT": ("rate", "ratchet step-up: started project without passed verification"),
    "RATCHET_TARGET_EXCEEDED": ("rate", "ratchet step-down: verified savings >= target x exceed_ratio"),
    "RATCHET_CAP": ("rate", "the ratchet's aggregate cap took off the excess"),
    "DATA_QUALITY_GATE": ("review", "data-quality band: discounts x discount_factor (0 with a gate flag)"),
    "TOTAL_ADJUSTMENT_CAP": ("rate", "the sum exceeded total_adjustment_bp.max"),
    "TOTAL_ADJUSTMENT_FLOOR": ("rate", "the sum was below total_adjustment_bp.min"),
    "RATE_FLOOR": ("rate", "base + adjustment was below rate_floor_bp"),
    "GRADE_LIMIT_MULTIPLIER": ("limit", "the product's limit_multiplier_by_grade entry"),
    "NO_COMMITMENT_HAIRCUT": ("limit", "no_commitment.limit_multiplier_by_grade: no registered commitment"),
    "PROJECT_LIMIT_CAP": ("limit", "capex x capex_ratio + committed tCO2/yr x yuan_per_tco2_per_year"),
    "PRODUCT_LIMIT_CAP": ("limit", "the product's max_limit_cny"),
    "COMMITMENT_STATUS_REVIEW": ("review", "commitment status listed in commitment.review_statuses"),
    "AMOUNT_REVIEW": ("review", "requested amount above the product's review_above_cny"),
}

RATCHET_TRIGGERS = ("MILESTONE_MISSED", "VERIFICATION_ABSENT", "TARGET_EXCEEDED")

_TREND_ZH = {"IMPROVING": "改善", "STABLE": "平稳", "UNKNOWN": "不明", "WORSENING": "恶化"}
_LEVEL_ZH = {"LOW_CARBON": "低碳", "MEDIUM_CARBON": "中碳", "HIGH_CARBON": "高碳"}
_STATUS_ZH = {
    "NOT_STARTED": "未开始",
    "ON_TRACK": "按计划",
    "AT_RISK": "有风险",
    "MISSED": "未达标",
    "COMPLETED": "已完成",
}


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
        capex=a(c.capex_cny if c else 0.0),
        milestones_missed=a(c.milestones_missed if c else 0),
        verified=a(c.verified if c else False, np.bool_),
        requested=a(request.requested_amount_cny),
        tenor=a(request.tenor_months),
        base_rate=a(request.base_rate_bp),
    )


def _bp(value: float) -> float:
    return round(float(value), 2) + 0.0  # + 0.0: no -0.0 in the trace


def _pct(before: float, after: float) -> float:
    return _bp((after / before - 1.0) * 100.0) if before > 0 and math.isfinite(after) else 0.0


def _yuan(value: float) -> int | None:
    return int(np.rint(value)) if math.isfinite(value) else None


def _signed(value: float) -> str:
    return f"{value:+.2f} bp"


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
        value: float = getattr(self.o, name)[0].item()
        return value

    def add(
        self,
        code: str,
        inputs: Mapping[str, InputValue],
        zh: str,
        en: str,
        *,
        rate: float = 0.0,
        limit: float = 0.0,
    ) -> TraceStep:
        step = TraceStep(code, _bp(rate), _bp(limit), dict(inputs), zh, en)
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
            (s for s in self.steps if s.rate_effect_bp or s.limit_effect_pct),
            key=lambda s: (-abs(s.rate_effect_bp), -abs(s.limit_effect_pct)),
        )
        return Terms(
            product=self.request.product,
            eligible=eligible,
            decline_reasons=tuple(declines),
            approved_limit_cny=int(self.o.approved_limit_cny[0]),
            base_rate_bp=_bp(self.request.base_rate_bp),
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
        if pr.grade == 0:
            review = self.policy.ungraded_manual_review
            self.add(
                "UNGRADED",
                {"grade": 0, "treated_as_grade": grade, "manual_review": review},
                f"企业尚未评定碳效等级，按{grade}级处理" + ("，需人工审核" if review else ""),
                f"No carbon-efficiency grade: treated as grade {grade}"
                + (", manual review" if review else ""),
            )
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
        return declines

    # ------------------------------------------------------------------------------------------- rate

    def rate_steps(self) -> None:
        pr, pp, o, c, policy = self.profile, self.pp, self.o, self.commitment, self.policy
        grade = int(o.grade[0])
        bp = self.v("grade_bp")
        self.add(
            "GRADE_RATE",
            {"product": pp.product.value, "grade": grade, "rate_bp": bp},
            f"碳效{grade}级，{pp.name_zh}利率调整{_signed(bp)}",
            f"Grade {grade} on {pp.name_en}: {_signed(bp)}",
            rate=bp,
        )
        if pp.carbon_level_rate_bp is not None:
            bp = self.v("level_bp")
            level = pr.level.value
            self.add(
                "CARBON_LEVEL_RATE",
                {"level": level, "carbon_intensity": pr.carbon_intensity, "rate_bp": bp},
                f"{_LEVEL_ZH[level]}企业，利率调整{_signed(bp)}",
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
            + f"，利率调整{_signed(bp)}",
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
                f"碳强度持续下降，{pp.name_zh}额外优惠{_signed(bp)}",
                f"Improving carbon intensity: extra {_signed(bp)} on {pp.name_en}",
                rate=bp,
            )
        rules = pp.commitment
        if c is not None and rules is not None and rules.reduction_bands:
            bp = self.v("reduction_bp")
            index = int(o.reduction_band[0])
            band = rules.reduction_bands[index] if index >= 0 else None
            self.add(
                "REDUCTION_DISCOUNT",
                {
                    "commitment_id": c.commitment_id,
                    "target_tco2_per_year": c.target_tco2_per_year,
                    "band_from": band.lo if band else None,
                    "band_to": band.hi if band and math.isfinite(band.hi) else None,
                    "rate_bp": bp,
                },
                f"承诺年减排{c.target_tco2_per_year:g}吨CO2，利率调整{_signed(bp)}",
                f"Committed reduction of {c.target_tco2_per_year:g} tCO2/yr: {_signed(bp)}",
                rate=bp,
            )
        bp = self.v("no_commitment_bp")
        if bp:
            self.add(
                "NO_COMMITMENT_SURCHARGE",
                {"grade": grade, "has_commitment": False, "rate_bp": bp},
                f"碳效{grade}级且无减碳改造承诺，加点{_signed(bp)}",
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
                f"利率调整合计{self.v('gated_bp'):+.2f} bp，按{'上限' if over else '下限'}{bound:+g} bp执行",
                f"Total adjustment {self.v('gated_bp'):+.2f} bp limited to the {'cap' if over else 'floor'} "
                f"of {bound:+g} bp",
                rate=cap,
            )
        base, adjustment, final = (
            self.request.base_rate_bp,
            self.v("rate_adjustment_bp"),
            self.v("final_rate_bp"),
        )
        lift = final - (base + adjustment)
        if _bp(lift) > 0:
            self.add(
                "RATE_FLOOR",
                {
                    "base_rate_bp": base,
                    "rate_adjustment_bp": adjustment,
                    "rate_floor_bp": policy.rate_floor_bp,
                },
                f"执行利率不低于{policy.rate_floor_bp:g} bp的利率下限",
                f"Final rate raised to the rate floor of {policy.rate_floor_bp:g} bp",
                rate=lift,
            )

    def ratchet_steps(self, c: CommitmentInput, exceed_ratio: float, cap: float) -> None:
        status = c.status.value
        bp = self.v("missed_bp")
        if bp:
            self.add(
                "RATCHET_MILESTONE_MISSED",
                {"commitment_id": c.commitment_id, "milestones_missed": c.milestones_missed, "rate_bp": bp},
                f"减碳改造有{c.milestones_missed}个里程碑未达成，利率上调{_signed(bp)}",
                f"{c.milestones_missed} retrofit milestone(s) missed: {_signed(bp)}",
                rate=bp,
            )
        bp = self.v("verification_bp")
        if bp:
            self.add(
                "RATCHET_VERIFICATION_ABSENT",
                {"commitment_id": c.commitment_id, "status": status, "verified": c.verified, "rate_bp": bp},
                f"改造项目（{_STATUS_ZH[status]}）缺少第三方核查，利率上调{_signed(bp)}",
                f"Retrofit project ({status}) without a passed independent verification: {_signed(bp)}",
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
                f"经核查年减排{c.achieved_tco2_per_year:g}吨，超过目标的{exceed_ratio:g}倍，利率下调{_signed(bp)}",
                f"Verified reduction of {c.achieved_tco2_per_year:g} tCO2/yr exceeds {exceed_ratio:g} x the "
                f"target: {_signed(bp)}",
                rate=bp,
            )
        bp = self.v("ratchet_cap_bp")
        if bp:
            self.add(
                "RATCHET_CAP",
                {"cap_bp": cap, "rate_bp": bp},
                f"利率棘轮合计调整以±{cap:g} bp为限",
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
            zh += f"（{_signed(withheld)}）"
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
        pp, o, c = self.pp, self.o, self.commitment
        requested = self.request.requested_amount_cny
        grade = int(o.grade[0])
        mult = self.v("grade_mult")
        after = self.v("limit_after_grade")
        self.add(
            "GRADE_LIMIT_MULTIPLIER",
            {"requested_amount_cny": requested, "grade": grade, "multiplier": mult},
            f"碳效{grade}级，额度为申请金额的{mult:g}倍",
            f"Grade {grade}: limit {mult:g} x the requested amount",
            limit=_pct(requested, after),
        )
        mult = self.v("no_commitment_mult")
        before, after = after, self.v("limit_after_haircut")
        if mult != 1:
            self.add(
                "NO_COMMITMENT_HAIRCUT",
                {"grade": grade, "has_commitment": False, "multiplier": mult},
                f"碳效{grade}级且无减碳改造承诺，额度按{mult:.0%}核定",
                f"Grade {grade} without a retrofit commitment: limit x {mult:g}",
                limit=_pct(before, after),
            )
        cap = self.v("project_cap")
        before, after = after, self.v("limit_after_project")
        rules = pp.commitment.project_limit if pp.commitment is not None else None
        if c is not None and rules is not None:
            self.add(
                "PROJECT_LIMIT_CAP",
                {
                    "capex_cny": c.capex_cny,
                    "capex_ratio": rules.capex_ratio,
                    "target_tco2_per_year": c.target_tco2_per_year,
                    "yuan_per_tco2_per_year": rules.yuan_per_tco2_per_year,
                    "project_cap_cny": _yuan(cap),
                },
                f"项目额度上限：投资{c.capex_cny:,.0f}元×{rules.capex_ratio:g}"
                f" + 年减排{c.target_tco2_per_year:g}吨×{rules.yuan_per_tco2_per_year:g}元 = {cap:,.0f}元",
                f"Project cap: capex {c.capex_cny:,.0f} x {rules.capex_ratio:g} + {c.target_tco2_per_year:g} "
                f"tCO2/yr x {rules.yuan_per_tco2_per_year:g} yuan = {cap:,.0f} yuan",
                limit=_pct(before, after),
            )
        before, after = after, self.v("limit_after_product")
        if after < before and pp.max_limit_cny is not None:
            self.add(
                "PRODUCT_LIMIT_CAP",
                {"max_limit_cny": pp.max_limit_cny},
                f"{pp.name_zh}单户额度上限{pp.max_limit_cny:,.0f}元",
                f"{pp.name_en} is capped at {pp.max_limit_cny:,.0f} yuan per borrower",
                limit=_pct(before, after),
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
        if bool(o.amount_review[0]) and pp.review_above_cny is not None:
            amount = self.request.requested_amount_cny
            self.add(
                "AMOUNT_REVIEW",
                {"requested_amount_cny": amount, "review_above_cny": pp.review_above_cny},
                f"申请金额{amount:,.0f}元超过{pp.review_above_cny:,.0f}元，需人工审核",
                f"Requested {amount:,.0f} yuan is above {pp.review_above_cny:,.0f} yuan: manual review",
            )
        flags = {
            "UNGRADED": bool(o.ungraded_review[0]),
            "DATA_QUALITY_GATE": bool(o.dq_review[0]),
            "COMMITMENT_STATUS_REVIEW": bool(o.status_review[0]),
            "AMOUNT_REVIEW": bool(o.amount_review[0]),
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
                f"{zh}，利率{'上调' if step > 0 else '下调'}{abs(step):g} bp",
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
