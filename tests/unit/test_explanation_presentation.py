"""How the explanation page looks (issue 16, item 4): amber when review is needed, red when declined,
Beijing time to the second, names instead of codes, the market's Chinese terms, rate axes from 0."""

from __future__ import annotations

import re

from test_explain import grade1_expansion, grade4_retrofit, grade5_expansion_declined

from registry_service.domain.catalog import load_catalog
from scoring_service import explain
from scoring_service.explain import _L, CODE_LABELS, render_html, render_text


def _outcome_class(html: str) -> str:
    found = re.search(r'<div class="outcome ([a-z]+)">', html)
    assert found, "no outcome box"
    return found.group(1)


def test_outcome_colour_follows_review_and_decline() -> None:
    assert _outcome_class(render_html(grade1_expansion(), "zh")) == "ok"
    review = grade1_expansion()
    review["terms"]["manual_review"] = True  # eligible, but a credit officer must look first
    review["terms"]["review_reasons"] = ["AMOUNT_REVIEW"]
    html = render_html(review, "zh")
    assert _outcome_class(html) == "review" and "需人工审核后生效" in html
    assert ".outcome.review" in html  # amber styles ship with the page
    assert _outcome_class(render_html(grade5_expansion_declined(), "en")) == "declined"


def test_market_terms_not_ratchet_or_gate() -> None:
    texts = [zh for zh, _ in CODE_LABELS.values()] + [zh for zh, _ in _L.values()]
    assert not any("棘轮" in text or "闸门" in text for text in texts)
    assert CODE_LABELS["DATA_QUALITY_GATE"][0] == "数据质量门槛"
    assert CODE_LABELS["RATCHET_CAP"][0] == "利率调整合计上限"
    html = render_html(grade4_retrofit(), "zh")
    assert "利率调整机制（阶梯定价" in html and "棘轮" not in html


def test_times_are_beijing_to_the_second() -> None:
    content = grade1_expansion()
    content["create_time"] = "2026-11-25T10:00:00.218785+00:00"  # as stored: UTC with microseconds
    html = render_html(content, "zh")
    assert "2026-11-25 18:00:00 北京时间" in html and ".218785" not in html
    assert "2026-11-25 18:00:00 Beijing time" in render_text(content, "en")


def test_flags_say_names_once_and_no_codes() -> None:
    content = grade1_expansion()
    content["profile"]["data_quality"]["flags"] = [
        {"code": "SELF_REPORTED_ONLY", "severity": "WARNING", "category": "STEAM", "period": "",
         "reason_zh": "STEAM：窗口内全部 12 个月仅有企业自报数据",
         "reason_en": "STEAM: every month in the window is self-reported only (12 months)"},
    ]  # fmt: skip
    # the servicer passes the registry's catalogue names (ListDataCategories); here the same catalogue
    names = {c.code: (c.name_zh, c.name_en) for c in load_catalog().categories}
    zh = render_text(content, "zh", category_names=names)
    en = render_text(content, "en", category_names=names)
    steam_zh, steam_en = names["STEAM"]
    assert f"[警告] {steam_zh}：窗口内全部 12 个月仅有企业自报数据" in zh
    assert f"[warning] {steam_en}: every month" in en
    for text in (zh, en):
        flags_line = next(line for line in text.splitlines() if line.startswith(("数据问题", "Flags")))
        assert "SELF_REPORTED_ONLY" not in flags_line and "STEAM" not in flags_line


def test_rate_axis_starts_at_zero() -> None:
    content = grade1_expansion()
    chart = explain._chart(explain.rate_waterfall(content["terms"]), "zh", "rate")
    assert chart["axis_lo"] == "0.00 bp" and not chart["broken_axis"]
    # base 310 bp on an axis 0 .. 310 x 1.05 = 325.5 bp, 380 px wide: the base bar is 310 / 325.5 of it
    plot = explain._CHART_WIDTH - explain._LABEL_WIDTH - explain._VALUE_WIDTH
    base = chart["rows"][0]
    assert base["x"] == explain._LABEL_WIDTH
    assert abs(base["width"] - round(plot * 310 / 325.5, 1)) <= 0.1
    assert "横轴不从0开始" not in render_html(content, "zh")


def test_the_lender_is_named_in_the_readers_language() -> None:
    content = grade1_expansion()
    content["lender"] = "lenders/huzhou-bank"  # listed in tanxiao/standards/data (lender names)
    assert "湖州银行 (lenders/huzhou-bank)" in render_text(content, "zh")
    assert "Bank of Huzhou (lenders/huzhou-bank)" in render_text(content, "en")
    content["lender"] = "lenders/not-listed"
    assert "lenders/not-listed" in render_text(content, "en")
