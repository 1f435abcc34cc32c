"""ExplainDecision rendering (scoring_service/explain.py): waterfalls, plain text and the HTML page,
on real loan_rules decisions under the default policy (and a tightened copy for the caps)."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
import yaml
from helpers import parse_html

import loan_rules as lr
from scoring_service.explain import (
    CODE_LABELS,
    WaterfallBar,
    limit_buildup,
    rate_waterfall,
    render_html,
    render_text,
)

POLICY = lr.default_policy()
_RAW: dict[str, Any] = yaml.safe_load(
    resources.files("loan_rules").joinpath("policies", "default-2026.yaml").read_text("utf-8")
)
USCC = "91330502MA2B3C4D5E"


def tight_policy() -> Any:
    """The default with a narrow total cap/floor, so that both bind."""
    raw = copy.deepcopy(_RAW)
    raw["version"] = "2026.1-tight"
    raw["total_adjustment_bp"] = {"min": -30, "max": 40}
    return lr.policy_from_mapping(raw, source="test")


# ------------------------------------------------------------------------------------------ builders


def profile_input(**kw: Any) -> Any:
    values: dict[str, Any] = {
        "uscc": USCC,
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


def commitment_input(**kw: Any) -> Any:
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


def request_input(**kw: Any) -> Any:
    """Amounts in yuan here (``requested_amount_cny``), handed to loan_rules in fen; the lender's own
    base rate 310 on the 1-year LPR 300 (so the LPR floor is 250)."""
    values: dict[str, Any] = {
        "product": "GENERAL",
        "requested_amount_fen": kw.pop("requested_amount_cny", 10_000_000) * 100,
        "tenor_months": 24,
        "lpr_bp": 300,
        "lpr_date": "2025-05-20",
        "base_rate_bp": 310,
        # the bank's own limit equals the request; financials that leave ample debt capacity
        "revenue_fen": 500_000_000_00,
        "total_debt_fen": 100_000_000_00,
        "equity_fen": 200_000_000_00,
    }
    values["bank_limit_fen"] = values["requested_amount_fen"]
    values.update(kw)
    return lr.LoanRequest(**values)


_LABELS = {
    1: ("低碳1级", "Low-carbon, grade 1"),
    4: ("高碳4级", "High-carbon, grade 4"),
    5: ("高碳5级", "High-carbon, grade 5"),
}


def profile_dict(p: Any, flags: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The registry profile as MessageToDict(preserving_proto_field_name=True) would give it."""
    zh, en = _LABELS.get(p.grade, (f"{p.grade}级", f"grade {p.grade}"))
    pcaf = round(p.data_quality_score)
    return {
        "name": f"enterprises/{p.uscc}/profiles/{p.period}",
        "uscc": p.uscc,
        "period": p.period,
        "carbon_intensity": p.carbon_intensity,
        "k_value": p.carbon_efficiency,
        "net_tco2": 12_345.6,
        "added_value_fen": str(round(12_345.6 / p.carbon_intensity * 1_000_000)),  # int64: a JSON string
        "grade": {"grade": p.grade, "level": p.level.value, "label_zh": zh, "label_en": en},
        "benchmark": {
            "average_intensity": p.benchmark_intensity,
            "industry_code": "2822",
            "region_code": "330500",
            "enterprise_count": 5,
            "year": 2025,
        },
        "data_quality": {
            "score": 88.0,
            "pcaf_score": pcaf,
            "coverage": 1.0,
            "flags": flags
            or [
                {
                    "code": "MISSING_MONTHS",
                    "severity": "WARNING",
                    "category": "electricity",
                    "reason_en": "2 months without electricity data",
                    "reason_zh": "2个月缺少电力数据",
                }
            ],
        },
        "trend": {
            "direction": p.trend_direction.value,
            "confidence": p.trend_confidence,
            "relative_change_per_year": -0.06,
        },
        "inputs_fingerprint": "f1" * 32,
        "compute_time": "2026-01-05T02:00:00Z",
    }


def decision(
    p: Any,
    c: Any,
    r: Any,
    policy: Any = POLICY,
    name: str = "湖州恒信化纤有限公司",
) -> dict[str, Any]:
    """A stored decision content dict around real terms (round-tripped through JSON, as stored)."""
    terms = lr.evaluate(p, c, r, policy)
    progress = None
    if c is not None:
        progress = {
            "name": f"enterprises/{p.uscc}/commitments/{c.commitment_id}",
            "status": "ACHIEVED" if c.status.value == "COMPLETED" else c.status.value,
            "achieved_tco2_per_year": c.achieved_tco2_per_year,
            "achieved_ratio": c.achieved_tco2_per_year / c.target_tco2_per_year,
            "expected_ratio": 0.5,
            "milestones_missed": c.milestones_missed,
            "verified": c.verified,
            "measured_year": 2025,
        }
    content = {
        "id": "5f2c9a0e-0000-4000-8000-000000000001",
        "create_time": "2026-11-25T10:00:00+00:00",
        "lender": "lenders/huzhou-bank",
        "request_id": "req-001",
        "enterprise": f"enterprises/{p.uscc}",
        "enterprise_name": name,
        "request": {
            "product": r.product.value,
            "requested_amount_fen": r.requested_amount_fen,
            "tenor_months": r.tenor_months,
            "base_rate_bp": r.base_rate_bp,
            "commitment": f"enterprises/{p.uscc}/commitments/{c.commitment_id}" if c else "",
            "profile_period": p.period,
        },
        "profile_name": f"enterprises/{p.uscc}/profiles/{p.period}",
        "profile": profile_dict(p),
        "commitment_progress": progress,
        "terms": terms.to_dict(),
        "policy": {"version": terms.policy_version, "hash": terms.policy_hash},
    }
    loaded: dict[str, Any] = json.loads(json.dumps(content, ensure_ascii=False))
    return loaded


def grade1_expansion(**kw: Any) -> dict[str, Any]:
    return decision(
        profile_input(grade=1, trend_direction="IMPROVING", trend_confidence=0.8),
        None,
        request_input(product="LOW_CARBON_EXPANSION", requested_amount_cny=10_000_000, tenor_months=36, **kw),
    )


def grade4_retrofit(**kw: Any) -> dict[str, Any]:
    return decision(
        profile_input(grade=4, level="HIGH_CARBON", carbon_intensity=3.1, carbon_efficiency=1.5),
        commitment_input(**kw),
        request_input(product="HIGH_CARBON_RETROFIT", requested_amount_cny=5_000_000, tenor_months=60),
    )


def grade5_general() -> dict[str, Any]:
    return decision(
        profile_input(
            grade=5,
            level="HIGH_CARBON",
            carbon_intensity=4.0,
            carbon_efficiency=2.0,
            trend_direction="WORSENING",
            trend_confidence=0.9,
        ),
        None,
        request_input(product="GENERAL", requested_amount_cny=2_000_000, tenor_months=12),
    )


def grade5_expansion_declined() -> dict[str, Any]:
    return decision(
        profile_input(grade=5, level="HIGH_CARBON", carbon_intensity=4.0, carbon_efficiency=2.0),
        None,
        request_input(product="LOW_CARBON_EXPANSION", requested_amount_cny=3_000_000, tenor_months=36),
    )


def capped_floor() -> dict[str, Any]:
    """Grade 1 expansion (-55 bp) under a -30 bp total floor."""
    return decision(
        profile_input(grade=1, trend_direction="IMPROVING"),
        None,
        request_input(product="LOW_CARBON_EXPANSION", tenor_months=36),
        tight_policy(),
    )


def capped_cap() -> dict[str, Any]:
    """Grade 5 working capital (+65 bp) under a +40 bp total cap."""
    return decision(
        profile_input(
            grade=5,
            level="HIGH_CARBON",
            carbon_intensity=4.0,
            carbon_efficiency=2.0,
            trend_direction="WORSENING",
        ),
        None,
        request_input(product="GENERAL", requested_amount_cny=2_000_000, tenor_months=12),
        tight_policy(),
    )


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "grade1_expansion": grade1_expansion,
    "grade1_expansion_rate_floor": lambda: grade1_expansion(base_rate_bp=290),
    "grade4_retrofit": grade4_retrofit,
    "grade4_retrofit_ratchet_cap": lambda: grade4_retrofit(
        status="MISSED", milestones_missed=3, verification="OVERDUE"
    ),
    "grade4_retrofit_target_exceeded": lambda: grade4_retrofit(achieved_tco2_per_year=3300.0),
    "grade5_general": grade5_general,
    "declined": grade5_expansion_declined,
    "capped_floor": capped_floor,
    "capped_cap": capped_cap,
    "low_data_quality": lambda: decision(
        profile_input(grade=1, trend_direction="IMPROVING", data_quality_score=4.5),
        None,
        request_input(product="LOW_CARBON_EXPANSION", tenor_months=36),
    ),
}


@pytest.fixture(params=sorted(CASES))
def content(request: pytest.FixtureRequest) -> dict[str, Any]:
    built: dict[str, Any] = CASES[request.param]()
    return built


def check_chain(bars: list[WaterfallBar], start: float, end: float, abs_tol: float) -> None:
    """base first, total last, the bars in between chained from the base to the total."""
    assert bars[0].kind == "base" and bars[0].start == 0 and bars[0].end == pytest.approx(start, abs=abs_tol)
    assert (
        bars[-1].kind == "total" and bars[-1].start == 0 and bars[-1].end == pytest.approx(end, abs=abs_tol)
    )
    running = bars[0].end
    for bar in bars[1:-1]:
        assert bar.kind == ("up" if bar.end > bar.start else "down")
        assert bar.start == pytest.approx(running, abs=1e-9)
        assert bar.end != bar.start
        running = bar.end
    assert running == pytest.approx(bars[-1].end, abs=abs_tol)
    assert bars[0].end + sum(b.delta for b in bars[1:-1]) == pytest.approx(end, abs=abs_tol)
    for bar in bars:
        assert bar.label_zh and bar.label_en


# ---------------------------------------------------------------------------------------- waterfalls


def test_rate_waterfall_adds_up_to_final(content: dict[str, Any]) -> None:
    terms = content["terms"]
    bars = rate_waterfall(terms)
    check_chain(bars, terms["base_rate_bp"], terms["final_rate_bp"], 1e-9)
    assert all(b.unit == "bp" for b in bars)
    # one bar per step with a non-zero rate effect, in trace order
    effect_codes = [s["code"] for s in terms["trace"] if s["rate_effect_bp"]]
    assert [b.code for b in bars[1:-1] if b.code in CODE_LABELS] == effect_codes
    for bar in bars[1:-1]:
        step = next((s for s in terms["trace"] if s["code"] == bar.code), None)
        if step is not None:
            assert bar.delta == pytest.approx(step["rate_effect_bp"], abs=0.011)
            assert (bar.label_zh, bar.label_en) == CODE_LABELS[bar.code]


def test_limit_buildup_ends_at_approved(content: dict[str, Any]) -> None:
    terms = content["terms"]
    requested = content["request"]["requested_amount_fen"]
    bars = limit_buildup(terms, requested)
    check_chain(bars, requested / 100, terms["approved_limit_fen"] / 100, 1e-9)  # exact: drawn from fen
    assert all(b.unit == "CNY" for b in bars)
    effect_codes = [s["code"] for s in terms["trace"] if s["limit_effect_fen"]]
    assert [b.code for b in bars[1:-1] if b.code in CODE_LABELS] == effect_codes


def test_worked_examples_bars() -> None:
    bars = rate_waterfall(grade1_expansion()["terms"])
    assert [(b.code, b.start, b.end, b.kind) for b in bars] == [
        ("BASE", 0.0, 310.0, "base"),
        ("GRADE_RATE", 310.0, 270.0, "down"),
        ("TREND_RATE", 270.0, 265.0, "down"),
        ("IMPROVING_TREND_BONUS", 265.0, 255.0, "down"),
        ("FINAL", 0.0, 255.0, "total"),
    ]
    content = grade4_retrofit()
    bars = limit_buildup(content["terms"], 5_000_000_00)
    # project cap min(5M x 0.7 + 3000 t x 100 yuan = 3.8M, 5M x 0.8 = 4M) = 3.8M
    assert [(b.code, b.start, b.end) for b in bars] == [
        ("REQUESTED", 0.0, 5_000_000.0),
        ("PROJECT_LIMIT_CAP", 5_000_000.0, 3_800_000.0),
        ("APPROVED", 0.0, 3_800_000.0),
    ]
    bars = limit_buildup(grade5_general()["terms"], 2_000_000_00)
    # no bank limit: the request is the credit base, 2M x 0.8 (grade 5) x 0.7 (no commitment) = 1.12M
    assert [b.code for b in bars] == ["REQUESTED", "GRADE_LIMIT_MULTIPLIER", "APPROVED"]
    assert [b.end for b in bars] == [2_000_000, 1_120_000, 1_120_000]


def test_caps_and_rate_floor_show_as_bars() -> None:
    codes = [b.code for b in rate_waterfall(capped_floor()["terms"])]
    assert "TOTAL_ADJUSTMENT_FLOOR" in codes
    assert rate_waterfall(capped_floor()["terms"])[-1].end == 280.0
    bars = rate_waterfall(capped_cap()["terms"])
    assert bars[-2].code == "TOTAL_ADJUSTMENT_CAP" and bars[-2].kind == "down"
    assert bars[-1].end == 350.0
    bars = rate_waterfall(grade1_expansion(base_rate_bp=290)["terms"])
    assert bars[-2].code == "LPR_FLOOR" and (bars[-2].start, bars[-2].end) == (235.0, 250.0)
    assert bars[-1].end == 250.0


def test_missing_cap_and_floor_steps_are_synthesised() -> None:
    """A terms dict whose trace lacks the cap and floor steps (hand-made, or an older evaluator)."""
    terms = {
        "base_rate_bp": 260.0,
        "rate_adjustment_bp": -30.0,
        "final_rate_bp": 250.0,
        "approved_limit_cny": 1_000_000,
        "eligible": True,
        "trace": [
            {"code": "GRADE_RATE", "rate_effect_bp": -40.0, "limit_effect_pct": 0.0},
            {"code": "TREND_RATE", "rate_effect_bp": -15.0, "limit_effect_pct": 0.0},
        ],
    }
    bars = rate_waterfall(terms)
    assert [(b.code, b.start, b.end) for b in bars] == [
        ("BASE", 0.0, 260.0),
        ("GRADE_RATE", 260.0, 220.0),
        ("TREND_RATE", 220.0, 205.0),
        ("TOTAL_ADJUSTMENT_FLOOR", 205.0, 230.0),
        ("RATE_FLOOR", 230.0, 250.0),
        ("FINAL", 0.0, 250.0),
    ]
    # per-step rounding (a cent of a bp) is a rounding bar, not a cap
    terms = {**terms, "rate_adjustment_bp": -55.01, "final_rate_bp": 204.99}
    assert [b.code for b in rate_waterfall(terms)] == [
        "BASE",
        "GRADE_RATE",
        "TREND_RATE",
        "ROUNDING",
        "FINAL",
    ]


def test_limit_buildup_reconciles_rounding_and_declines() -> None:
    # a binding project cap on an odd amount: the fen effects add up exactly, no rounding bar
    content = decision(
        profile_input(grade=4, level="HIGH_CARBON", carbon_intensity=3.1, carbon_efficiency=1.5),
        commitment_input(),
        request_input(product="HIGH_CARBON_RETROFIT", requested_amount_cny=7_777_777, tenor_months=60),
    )
    bars = limit_buildup(content["terms"], 7_777_777_00)
    assert [b.code for b in bars] == ["REQUESTED", "PROJECT_LIMIT_CAP", "APPROVED"]
    assert bars[-1].end == 3_800_000 and bars[1].delta == 3_800_000 - 7_777_777
    # declined: the limit steps still show, then the decline takes the limit to 0
    content = grade5_expansion_declined()
    bars = limit_buildup(content["terms"], 3_000_000_00)
    assert bars[-2].code == "DECLINED" and bars[-2].end == 0 and bars[-1].end == 0


def test_every_reason_code_has_a_label() -> None:
    # RATE_FLOOR and NO_COMMITMENT_HAIRCUT: labels for decisions stored before the fen/LPR change
    assert set(CODE_LABELS) - set(lr.REASON_CODES) <= {"RATE_FLOOR", "NO_COMMITMENT_HAIRCUT"}
    assert set(lr.REASON_CODES) <= set(CODE_LABELS)


def test_bar_units() -> None:
    rate = rate_waterfall(grade1_expansion()["terms"])[0]
    assert rate.start_bp == 0 and rate.end_bp == 310
    with pytest.raises(AttributeError):
        _ = rate.end_cny
    limit = limit_buildup(grade1_expansion()["terms"], 10_000_000_00)[-1]
    assert limit.end_cny == 10_000_000  # never above the request
    with pytest.raises(AttributeError):
        _ = limit.end_bp
    assert limit.label("zh") == "核定额度" and limit.label("en") == "Approved limit"


# ---------------------------------------------------------------------------------------------- text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_text_mentions_every_step_and_the_final_rate(content: dict[str, Any], lang: str) -> None:
    text = render_text(content, lang)
    terms = content["terms"]
    for step in terms["trace"]:
        assert step["code"] in text
        assert step[f"text_{lang}"] in text
    final = terms["final_rate_bp"]
    assert f"{final / 100:.2f} % ({final:.2f} bp)" in text
    assert terms["policy_version"] in text and terms["policy_hash"] in text
    assert content["profile"]["inputs_fingerprint"] in text
    assert content["id"] in text and content["lender"] in text
    for code in terms["decline_reasons"] + terms["review_reasons"]:
        assert code in text
    for covenant in terms["conditions"]["covenants"]:
        assert covenant[f"text_{lang}"] in text
    for step in terms["conditions"]["ratchet"]:
        assert step[f"text_{lang}"] in text


def test_text_en_example() -> None:
    text = render_text(grade1_expansion(), "en")
    assert "Loan pricing decision explained" in text
    assert "Eligible" in text
    assert "Approved limit: 10,000,000 yuan (1,000.00 x 10k yuan)" in text
    assert (
        "Final rate: 2.55 % (255.00 bp) = LPR - 45 bp "
        "(Lender's base rate 310.00 bp - 55.00 bp (adjustment))" in text
    )
    # names, not codes (issue 16): the product, the trend and the flag are said in words
    assert "Product:    Low-carbon expansion loan\n" in text
    assert "Decided at: 2026-11-25 18:00:00 Beijing time" in text  # 10:00 UTC, to the second
    assert "Low-carbon, grade 1" in text
    assert "0.4 tCO2 per 10k yuan" in text
    assert "5 enterprises" in text
    assert "PCAF score 2" in text and "Flags: [warning] 2 months without electricity data" in text
    assert "Carbon-intensity trend: improving, confidence" in text
    assert "USE_OF_PROCEEDS_EXPANSION" in text
    assert "Manual review: not required" in text
    assert "2026.1" in text
    # nothing Chinese except the enterprise name and the flag's own Chinese reason is not shown
    assert "准入" not in text and "万元" not in text


def test_text_zh_example() -> None:
    text = render_text(grade1_expansion(), "zh")
    assert "贷款定价决策说明" in text
    assert "准入：符合条件" in text
    assert "核定额度：1,000.00 万元（10,000,000 元）" in text
    assert "执行利率：2.55 % (255.00 bp) = LPR减45BP（银行自定基准利率 310.00 bp - 55.00 bp（调整））" in text
    on_lpr = render_text(grade1_expansion(base_rate_bp=None), "zh")
    # priced on the 1-year LPR 300: 245 is below LPR - 50, so the floor lifts it: LPR减50BP
    assert "执行利率：2.50 % (250.00 bp) = LPR减50BP（1年期LPR 300.00 bp - 55.00 bp（调整）" in on_lpr
    assert "定价基准：1年期LPR 3.00%（2025-05-20）" in on_lpr
    assert "基准利率 -" not in on_lpr
    assert "低碳扩产贷" in text and "低碳1级" in text
    assert "吨CO2/万元" in text and "5家企业" in text
    assert "2个月缺少电力数据" in text
    assert "Eligible" not in text and "Approved limit" not in text


def test_text_declined_and_review() -> None:
    text = render_text(grade5_expansion_declined(), "en")
    assert "Declined" in text and "GRADE_NOT_ELIGIBLE" in text
    assert "Approved limit: 0 yuan (0.00 x 10k yuan)" in text
    assert "indicative" in text
    text = render_text(grade4_retrofit(status="MISSED", milestones_missed=3, verification="OVERDUE"), "zh")
    assert "拒绝" not in text.split("决策结果")[1].split("\n")[2]
    assert "人工审核：需要" in text and "COMMITMENT_STATUS_REVIEW" in text
    assert "±20 bp" in text and "RATCHET_CAP" in text


def test_text_rate_floor_line() -> None:
    text = render_text(grade1_expansion(base_rate_bp=290), "en")
    assert (
        "2.50 % (250.00 bp) = LPR - 50 bp (Lender's base rate 290.00 bp - 55.00 bp (adjustment) "
        "+ 15.00 bp (Floor relative to LPR))" in text
    )


def test_rendering_is_deterministic_and_needs_only_the_terms() -> None:
    content = grade4_retrofit()
    assert render_text(content, "zh") == render_text(copy.deepcopy(content), "zh")
    assert render_html(content, "en") == render_html(copy.deepcopy(content), "en")
    minimal = {"terms": content["terms"]}  # everything else missing: still renders
    for lang in ("zh", "en"):
        assert "HIGH_CARBON_RETROFIT" in render_text(minimal, lang)
        assert render_html(minimal, lang).count("<svg") == 2


@pytest.mark.parametrize("lang", ["", "fr", "ZH", "zh-CN", "EN"])
def test_unknown_lang_raises(lang: str) -> None:
    content = grade1_expansion()
    with pytest.raises(ValueError, match="lang"):
        render_text(content, lang)
    with pytest.raises(ValueError, match="lang"):
        render_html(content, lang)


# ---------------------------------------------------------------------------------------------- html


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_page(content: dict[str, Any], lang: str) -> None:
    html = render_html(content, lang)
    page = parse_html(html)
    assert html.startswith("<!DOCTYPE html>")
    assert page.html_lang == ("zh-CN" if lang == "zh" else "en")
    assert page.tags.count("svg") == 2
    assert "script" not in page.tags
    for tag, name, value in page.attrs:
        if name in ("src", "href", "xlink:href", "action", "srcset"):
            assert not (value or "").lower().startswith(("http://", "https://", "//")), (tag, name, value)
        assert not name.startswith("on"), (tag, name)
    assert "http://" not in html and "https://" not in html
    assert not {"link", "img", "iframe", "object", "embed"} & set(page.tags)
    text = "".join(page.text)
    terms = content["terms"]
    for step in terms["trace"]:
        assert step["code"] in text
        assert step[f"text_{lang}"] in text
    final = terms["final_rate_bp"]
    assert f"{final / 100:.2f} % ({final:.2f} bp)" in text
    assert terms["policy_hash"] in text
    assert content["profile"]["inputs_fingerprint"] in text
    assert lr.content_hash(content) in text
    assert content["enterprise_name"] in text
    # both charts carry every bar's label
    for bar in rate_waterfall(terms) + limit_buildup(terms, content["request"]["requested_amount_fen"]):
        assert bar.label(lang) in text


def test_html_colours() -> None:
    html = render_html(grade4_retrofit(), "en")
    rate_svg = html.split("<svg")[1]
    assert 'fill="#2e7d32"' in rate_svg  # the reduction discount: green
    assert 'fill="#c62828"' in rate_svg  # the grade surcharge: red


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_escapes_a_malicious_enterprise_name(lang: str) -> None:
    evil = '恶意<script>alert("x")</script><img src=x onerror=alert(1)>& "Co"'
    content = grade1_expansion()
    content["enterprise_name"] = evil
    content["profile"]["data_quality"]["flags"][0]["reason_en"] = "<b>bold</b>"
    content["profile"]["data_quality"]["flags"][0]["reason_zh"] = "<b>bold</b>"
    content["terms"]["trace"][0][f"text_{lang}"] = "<svg onload=alert(1)>"
    html = render_html(content, lang)
    page = parse_html(html)
    assert "script" not in page.tags and "img" not in page.tags and "b" not in page.tags
    assert page.tags.count("svg") == 2
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html
    text = "".join(page.text)
    assert evil in text  # shown verbatim, as text
    assert "<svg onload=alert(1)>" in text
    # the plain text keeps the name as it is
    assert evil in render_text(content, lang)


# ------------------------------------------------------------------------------------ pinned texts


def with_flags_and_trail() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """grade4_retrofit with every data-quality flag code (no text: named by the explanation) at each
    severity, and a review trail with every action."""
    content = grade4_retrofit()
    codes = (
        "MISSING_MONTHS SOURCE_DISAGREEMENT SELF_REPORTED_ONLY NO_ADDED_VALUE NEGATIVE_OR_ZERO_ADDED_VALUE"
    )
    codes += " MOM_SPIKE PEER_OUTLIER STALE_DATA MULTIPLE_RECORDS"
    severities = ["INFO", "WARNING", "CRITICAL"]
    content["profile"]["data_quality"]["flags"] = [
        {"code": code, "severity": severities[i % 3]} for i, code in enumerate(codes.split())
    ]
    actions = [
        "SUBMIT_FOR_REVIEW",
        "APPROVE",
        "DECLINE",
        "OVERRIDE",
        "CONFIRM_OVERRIDE",
        "REJECT_OVERRIDE",
        "BOOK",
    ]
    trail = [
        {"create_time": f"2026-11-30T0{i}:00:00Z", "actor": "tok_1", "actor_role": "credit_officer",
         "action": action, "state_before": "A", "state_after": "B"}
        for i, action in enumerate(actions)
    ]  # fmt: skip
    return content, trail


# SHA-256 (first 16 hex digits) of the text and the page in zh and en, and of the terms loan_rules
# wrote (their trace texts included), per case. Computed before the texts moved into the catalogue
# (tanxiao/locale): the move changed no character. A deliberate change of a text changes these.
PINNED = {
    "capped_cap": "59a009ab2e1989cf",
    "capped_floor": "8ae0870f771dc62d",
    "declined": "3d8c1e0176abe789",
    "grade1_expansion": "b17e9e133947de58",
    "grade1_expansion_rate_floor": "d867576e76a93025",
    "grade4_retrofit": "baba542fdc9660ad",
    "grade4_retrofit_ratchet_cap": "007481ce5faefe03",
    "grade4_retrofit_target_exceeded": "c1535a1775a9aaaa",
    "grade5_general": "120d40cbf8fea9fb",
    "low_data_quality": "604d9c670df71949",
    "flags_and_trail": "bb473f01826b1495",
}


def rendered_digest(content: dict[str, Any], trail: list[dict[str, Any]] | None = None) -> str:
    digest = hashlib.sha256()
    for lang in ("zh", "en"):
        digest.update(render_text(content, lang, review_trail=trail or ()).encode())
        digest.update(render_html(content, lang, review_trail=trail or ()).encode())
    digest.update(json.dumps(content["terms"], sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("case", sorted(PINNED))
def test_rendered_texts_are_pinned(case: str) -> None:
    if case == "flags_and_trail":
        assert rendered_digest(*with_flags_and_trail()) == PINNED[case]
    else:
        assert rendered_digest(CASES[case]()) == PINNED[case]
