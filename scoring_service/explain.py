"""Rendered explanations of a stored loan decision (``ExplainDecision``): plain text and a
self-contained HTML page, in Chinese and English.

Everything is computed from the decision's stored *content* dict alone (the canonical JSON the
scoring service keeps for every quote: request, profile snapshot, commitment snapshot, terms with
the full trace, policy version and hash), so an explanation rendered today and one rendered years
later from the same content are identical. No I/O, no clock, no network: the HTML page has inline
CSS and inline SVG charts and references no external resource. The one input besides the content is
the names of the registry's data categories (``category_names``, code -> (zh, en)), which the servicer
reads from the registry's catalogue over its contract (ListDataCategories) to name the category of a
data-quality flag; without them the flag keeps the registry's code.

Public API::

    render_text(content, lang, review_trail=(), category_names=None) -> str   # lang "zh" or "en"
    render_html(content, lang, review_trail=(), category_names=None) -> str
    rate_waterfall(terms) -> list[WaterfallBar]              # base -> each rate effect -> final
    limit_buildup(terms, requested_amount_fen) -> list[WaterfallBar]  # requested -> ... -> approved

A :class:`WaterfallBar` runs from ``start`` to ``end`` (bp for the rate waterfall, yuan for the
limit build-up); ``base`` and ``total`` bars start at 0; the ``up``/``down`` bars in between chain,
so that the last ``total`` bar equals the final rate (approved limit).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import jinja2

from loan_rules.evaluator import fen_text, lpr_words
from loan_rules.policy import content_hash
from tanxiao.locale import pairs

__all__ = [
    "CODE_LABELS",
    "WaterfallBar",
    "limit_buildup",
    "rate_waterfall",
    "render_html",
    "render_text",
]

Lang = Literal["zh", "en"]
CategoryNames = Mapping[str, tuple[str, str]]  # data-category code -> (zh, en) name
LANGS: tuple[str, ...] = ("zh", "en")

# Tolerance for "equal" amounts: rates are rounded to 0.01 bp, limits to the yuan.
_BP_EPS = 0.005
_CNY_EPS = 0.5

# Short labels of every loan_rules reason code (docs/loan-policy.md, "Reason codes"), and below every
# other text of the explanation: (zh, en) from the one catalogue (tanxiao/locale, STYLE.md §4).
CODE_LABELS: Mapping[str, tuple[str, str]] = pairs("reason")

# Steps that keep the final rate within bounds after the capped adjustment (drawn after it).
_BOUND_CODES = ("RATE_FLOOR", "LPR_FLOOR", "LPR_CAP", "FACILITY_LPR_BAND")

_PRODUCTS = pairs("explain_product")
_LEVELS = pairs("level_word")
_TRENDS = pairs("trend_word")
_STATUSES = pairs("commitment_status_word")
_TRIGGERS = pairs("explain_trigger")
_SEVERITIES = pairs("explain_severity")

# Every fixed phrase of the text and the page, (zh, en): the catalogue's explain.<name>.
_L = pairs("explain")
_BARS = pairs("explain_bar")  # the build-up charts' own bars (a trace step's bar is labelled by its code)


# ------------------------------------------------------------------------------------------- bars


@dataclass(frozen=True)
class WaterfallBar:
    """One bar of a waterfall chart.

    ``start``/``end`` are in ``unit`` ("bp" for the rate waterfall, "CNY" for the limit build-up);
    ``kind`` is "base" (the starting value, drawn from 0), "up"/"down" (a change, drawn from
    ``start`` to ``end``) or "total" (the result, drawn from 0). ``code`` is the trace step's
    reason code when the bar comes from one, else a synthetic code (``BASE``, ``FINAL``, ...).
    """

    label_zh: str
    label_en: str
    start: float
    end: float
    kind: str
    code: str = ""
    unit: str = "bp"

    @property
    def delta(self) -> float:
        return self.end - self.start

    @property
    def start_bp(self) -> float:
        self._need("bp")
        return self.start

    @property
    def end_bp(self) -> float:
        self._need("bp")
        return self.end

    @property
    def start_cny(self) -> float:
        self._need("CNY")
        return self.start

    @property
    def end_cny(self) -> float:
        self._need("CNY")
        return self.end

    def label(self, lang: str) -> str:
        return self.label_zh if _lang(lang) == "zh" else self.label_en

    def _need(self, unit: str) -> None:
        if self.unit != unit:
            raise AttributeError(f"this bar is in {self.unit}, not {unit}")


def _bp(value: float) -> float:
    return round(float(value) + 0.0, 2) + 0.0  # + 0.0 turns -0.0 into 0.0


def _code_label(code: str) -> tuple[str, str]:
    return CODE_LABELS.get(code, (code, code))


def _step_bar(step: Mapping[str, Any], start: float, end: float, unit: str) -> WaterfallBar:
    code = str(step.get("code", ""))
    zh, en = _code_label(code)
    return WaterfallBar(zh, en, start, end, "up" if end > start else "down", code, unit)


def rate_waterfall(terms: Mapping[str, Any]) -> list[WaterfallBar]:
    """The rate from the base rate to the final rate, in basis points.

    Bars: the base rate; one bar per trace step with a non-zero rate effect, in trace order (the
    evaluator's own cap/floor and rate-floor steps included); a cap/floor bar when the capped total
    adjustment differs from the sum of the effects and the trace carries no cap step (or a
    rounding bar for the cents of a bp lost to per-step rounding); a rate-floor bar when the floor
    lifted the rate and the trace carries no ``RATE_FLOOR`` step; the final rate. The chained bars
    end exactly at ``final_rate_bp``.
    """
    base = _bp(_num(terms.get("base_rate_bp")))
    adjustment = _bp(_num(terms.get("rate_adjustment_bp")))
    final = _bp(_num(terms.get("final_rate_bp"), base + adjustment))
    trace: Sequence[Mapping[str, Any]] = terms.get("trace") or []
    lender = terms.get("base_rate_source") == "LENDER"
    reference = "LENDER_BASE" if lender else ("LPR_1Y" if terms.get("lpr_term", "1Y") == "1Y" else "LPR_5Y")
    bars = [WaterfallBar(*_BARS[reference], 0.0, base, "base", "BASE")]
    running = base
    floor_steps = [s for s in trace if s.get("code") in _BOUND_CODES and _bp(_num(s.get("rate_effect_bp")))]
    has_cap_step = any(s.get("code") in ("TOTAL_ADJUSTMENT_CAP", "TOTAL_ADJUSTMENT_FLOOR") for s in trace)
    effects = 0
    for step in trace:
        effect = _bp(_num(step.get("rate_effect_bp")))
        if step.get("code") in _BOUND_CODES or not effect:
            continue
        effects += 1
        end = _bp(running + effect)
        bars.append(_step_bar(step, running, end, "bp"))
        running = end
    target = _bp(base + adjustment)
    diff = _bp(target - running)
    if diff:
        # Per-step rounding loses at most half a cent of a bp per step; more is a cap or floor the
        # trace does not show (an older evaluator, or a hand-made content dict).
        if has_cap_step or abs(diff) <= 0.01 * max(effects, 1):
            code = "ROUNDING"
        elif diff < 0:
            code = "TOTAL_ADJUSTMENT_CAP"
        else:
            code = "TOTAL_ADJUSTMENT_FLOOR"
        bars.append(WaterfallBar(*_BARS[code], running, target, "up" if diff > 0 else "down", code))
        running = target
    for step in floor_steps:
        end = _bp(running + _bp(_num(step.get("rate_effect_bp"))))
        bars.append(_step_bar(step, running, end, "bp"))
        running = end
    if _bp(final - running) and not floor_steps:  # an older decision without its bound step
        zh, en = _code_label("RATE_FLOOR")
        kind = "up" if final > running else "down"
        bars.append(WaterfallBar(zh, en, running, final, kind, "RATE_FLOOR"))
    bars.append(WaterfallBar(*_BARS["FINAL"], 0.0, final, "total", "FINAL"))
    return bars


def limit_buildup(terms: Mapping[str, Any], requested_amount_fen: int) -> list[WaterfallBar]:
    """The limit from the requested amount to the approved limit, in yuan (drawn from fen).

    Bars: the requested amount; one bar per trace step with a non-zero ``limit_effect_fen`` (every
    limit step is a cap on the running minimum, so the bars add up exactly); a "declined" bar when
    the request was declined (limit 0); the approved limit. Text and chart use the same fen.
    """
    requested = int(requested_amount_fen)
    approved = int(_num(terms.get("approved_limit_fen")))
    trace: Sequence[Mapping[str, Any]] = terms.get("trace") or []
    bars = [WaterfallBar(*_BARS["REQUESTED"], 0.0, requested / 100, "base", "REQUESTED", "CNY")]
    running = requested
    for step in trace:
        effect = int(_num(step.get("limit_effect_fen")))
        if not effect:
            continue
        bars.append(_step_bar(step, running / 100, (running + effect) / 100, "CNY"))
        running += effect
    if approved != running:
        # declined: no limit; else a decision stored by another evaluator version: show the
        # difference, never hide it
        code = "DECLINED" if not terms.get("eligible", True) and approved == 0 else "DIFFERENCE"
        kind = "up" if approved > running else "down"
        bars.append(WaterfallBar(*_BARS[code], running / 100, approved / 100, kind, code, "CNY"))
    bars.append(WaterfallBar(*_BARS["APPROVED"], 0.0, approved / 100, "total", "APPROVED", "CNY"))
    return bars


# ------------------------------------------------------------------------------------- formatting


def _lender_display(lender: str, lang: str) -> str:
    """A lender's name in the reader's language with its resource name, e.g. "湖州银行 (lenders/huzhou-bank)"
    (tanxiao.standards: the display names as data); the resource name alone when none is listed."""
    from tanxiao.standards import lender_name

    if not lender:
        return ""
    zh, en = lender_name(lender)
    shown = zh if _lang(lang) == "zh" else en
    return lender if shown == lender.removeprefix("lenders/") else f"{shown} ({lender})"


def _lang(lang: str) -> Lang:
    if lang == "zh":
        return "zh"
    if lang == "en":
        return "en"
    raise ValueError(f"lang: must be one of zh, en, got {lang!r}")


def _num(value: Any, default: float = 0.0) -> float:
    if value is None or isinstance(value, bool):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _opt_num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fmt_rate(bp: float) -> str:
    """``305`` -> ``"3.05 % (305.00 bp)"``."""
    return f"{bp / 100:.2f} % ({bp:,.2f} bp)"


def fmt_bp(bp: float, signed: bool = True) -> str:
    bp = _bp(bp)
    return f"{bp:+,.2f} bp" if signed else f"{bp:,.2f} bp"


def fmt_yuan(amount: float, lang: Lang) -> str:
    text = f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.2f}"
    return _say("amount_yuan", lang, amount=text)


def fmt_money(amount: float, lang: Lang) -> str:
    """Yuan and 万元: ``"1,300.00 万元（13,000,000 元）"`` / ``"13,000,000 yuan (1,300.00 x 10k yuan)"``."""
    return _say("amount_wan_and_yuan", lang, wan=f"{amount / 10_000:,.2f}", yuan=fmt_yuan(amount, lang))


def fmt_pct(pct: float) -> str:
    return f"{pct:+.2f} %"


def _added_value_wan(profile: Mapping[str, Any]) -> float | None:
    """The profile's added value in 万元 (the intensity's unit) from its integer fen (int64: a JSON
    string in the snapshot); decisions stored before the registry's money was fen carry the 万元."""
    fen = profile.get("added_value_fen")
    if fen is not None:
        return int(fen) / 1_000_000
    return _opt_num(profile.get("added_value_10k_cny"))


def _g(value: float, digits: int = 4) -> str:
    """A measured number: up to ``digits`` decimals, trailing zeros dropped, thousands separated."""
    text = f"{value:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _value(value: Any) -> str:
    """An input value of a trace step, as written in the stored JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _g(value, 6).replace(",", "")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def _pick(table: Mapping[str, tuple[str, str]], key: object, lang: Lang) -> str:
    name = str(key or "")
    pair = table.get(name)
    if pair is None:
        return name
    return pair[0] if lang == "zh" else pair[1]


def _say(key: str, lang: Lang, **fields: object) -> str:
    """The catalogue's message ``explain.<key>`` in ``lang``, its ``{name}`` fields filled in: the
    explanation's punctuation and word order differ by language, so they are texts too."""
    text = _L[key][LANGS.index(lang)]
    return text.format(**fields) if fields else text


def _paren(text: str, lang: Lang) -> str:
    """An aside: "（text）" after Chinese, " (text)" after English."""
    return _say("paren", lang, text=text)


def _sep(lang: Lang) -> str:
    return _say("colon", lang)


def _short_hash(value: str) -> str:
    return value[:12]


def _content_sha256(content: Mapping[str, Any]) -> str:
    """``loan_rules.content_hash`` of the stored content; "" when it is not strict JSON (a NaN or a
    non-JSON value in a hand-made dict)."""
    try:
        return content_hash(content)
    except (TypeError, ValueError):
        return ""


# ------------------------------------------------------------------------------------------ model


@dataclass(frozen=True)
class _Row:
    """A label and its value, e.g. a line of the profile summary."""

    label: str
    value: str


def _view(content: Mapping[str, Any], lang: Lang, category_names: CategoryNames) -> dict[str, Any]:
    """Everything the text and the page show, in ``lang``, as plain strings and numbers."""

    def t(key: str) -> str:
        return _say(key, lang)

    terms: Mapping[str, Any] = content.get("terms") or {}
    request: Mapping[str, Any] = content.get("request") or {}
    policy: Mapping[str, Any] = content.get("policy") or {}
    profile: Mapping[str, Any] = content.get("profile") or {}
    trace: list[Mapping[str, Any]] = list(terms.get("trace") or [])
    by_code = {str(s.get("code")): s for s in trace}
    text_key = "text_zh" if lang == "zh" else "text_en"

    def step_text(code: str) -> str:
        step = by_code.get(code)
        return str(step.get(text_key, "")) if step else ""

    product_code = str(terms.get("product") or request.get("product") or "")
    product = _pick(_PRODUCTS, product_code, lang) if product_code else t("unknown")
    policy_version = str(terms.get("policy_version") or policy.get("version") or "")
    policy_hash = str(terms.get("policy_hash") or policy.get("hash") or "")
    requested_fen = int(_num(request.get("requested_amount_fen")))
    requested = requested_fen / 100
    tenor = request.get("tenor_months")
    base = _num(terms.get("base_rate_bp"), _num(request.get("base_rate_bp")))
    adjustment = _num(terms.get("rate_adjustment_bp"))
    final = _num(terms.get("final_rate_bp"), base + adjustment)
    approved = int(_num(terms.get("approved_limit_fen"))) / 100
    lpr = _num(terms.get("lpr_bp"), base)
    lpr_name = t("lpr_5Y") if terms.get("lpr_term") == "5Y" else t("lpr_1Y")
    lender_base = terms.get("base_rate_source") == "LENDER"
    reference = (
        f"{t('lender_base_rate')} {fmt_rate(base)}" + _paren(f"{lpr_name} {fmt_rate(lpr)}", lang)
        if lender_base
        else f"{lpr_name} {fmt_rate(lpr)}"
    )
    eligible = bool(terms.get("eligible", False))

    # ---- header
    name = str(content.get("enterprise_name") or "")
    enterprise = str(content.get("enterprise") or "")
    decision_id = str(content.get("id") or "")
    header = [
        _Row(t("enterprise"), f"{name} ({enterprise})" if name and enterprise else name or enterprise),
        _Row(t("decision"), f"decisions/{decision_id}" if decision_id else t("unknown")),
        _Row(t("time"), _beijing(content.get("create_time"), lang) or t("unknown")),
        _Row(t("lender"), _lender_display(str(content.get("lender") or ""), lang) or t("unknown")),
        _Row(t("product"), product),
        _Row(
            t("request"),
            fmt_money(requested, lang)
            + t("list_sep")
            + (f"{tenor} {t('months')}" if tenor is not None else "")
            + f"{t('list_sep')}{t('base_rate_in_sentence')} "
            + reference,
        ),
        _Row(
            t("policy"),
            f"{policy_version or t('unknown')}"
            + _paren(f"{t('policy_hash_in_sentence')} {_short_hash(policy_hash) or t('unknown')}", lang),
        ),
    ]
    if content.get("request_id"):
        header.append(_Row(t("request_id"), str(content["request_id"])))

    # ---- outcome
    declines = [
        {"code": str(code), "label": _pick(CODE_LABELS, code, lang), "text": step_text(str(code))}
        for code in terms.get("decline_reasons") or []
    ]

    def term(amount: float, what: str) -> str:
        amount = _bp(amount)
        sign = "-" if amount < 0 else "+"
        return f" {sign} {abs(amount):,.2f} bp" + _paren(what, lang)

    # the market's wording first (LPR减40BP), then how it was built from the reference rate
    spread = lpr_words(final - lpr, lang)
    built = (t("lender_base_rate") if lender_base else lpr_name) + f" {base:,.2f} bp"
    built += term(adjustment, t("adjustment"))
    bound = [
        str(s.get("code")) for s in trace if s.get("code") in _BOUND_CODES and _num(s.get("rate_effect_bp"))
    ]
    if _bp(final - (base + adjustment)):
        label = _pick(CODE_LABELS, bound[-1] if bound else "RATE_FLOOR", lang)
        built += term(final - (base + adjustment), label)
    rate_line = f"{fmt_rate(final)} = {spread}" + _paren(built, lang)
    if not eligible:
        rate_line += t("indicative")
    review_codes = [str(c) for c in terms.get("review_reasons") or []]
    reviews = [{"code": c, "label": _pick(CODE_LABELS, c, lang), "text": step_text(c)} for c in review_codes]
    manual_review = bool(terms.get("manual_review", False))
    outcome = {
        "eligible": eligible,
        # red when declined, amber when a credit officer must review it first, green otherwise
        "kind": "declined" if not eligible else ("review" if manual_review else "ok"),
        "status": (t("review_status") if manual_review else t("eligible")) if eligible else t("declined"),
        "declines": declines,
        "approved": fmt_money(approved, lang),
        "requested": fmt_money(requested, lang),
        "final_rate": fmt_rate(final),
        "rate_line": rate_line,
        "manual_review": bool(terms.get("manual_review", False)),
        "review_line": t("review_required") if terms.get("manual_review") else t("review_not_required"),
        "reviews": reviews,
    }

    # ---- profile snapshot
    profile_rows = _profile_rows(content, profile, lang, t, category_names)

    # ---- trace
    steps = []
    for number, step in enumerate(trace, 1):
        code = str(step.get("code", ""))
        rate = _num(step.get("rate_effect_bp"))
        limit = int(_num(step.get("limit_effect_fen")))
        inputs = step.get("inputs") or {}
        steps.append(
            {
                "number": number,
                "code": code,
                "label": _pick(CODE_LABELS, code, lang),
                "text": str(step.get(text_key, "")),
                "rate": fmt_bp(rate) if rate else "",
                "rate_sign": (rate > 0) - (rate < 0),
                "limit": fen_text(limit, lang) if limit else "",
                "limit_sign": (limit > 0) - (limit < 0),
                "inputs": [(str(k), _value(v)) for k, v in inputs.items()],
                "inputs_line": ", ".join(f"{k}={_value(v)}" for k, v in inputs.items()),
            }
        )

    # ---- conditions
    conditions: Mapping[str, Any] = terms.get("conditions") or {}
    covenants = [
        {"code": str(c.get("code", "")), "text": str(c.get(text_key, ""))}
        for c in conditions.get("covenants") or []
    ]
    ratchet = [
        {
            "trigger": str(r.get("trigger", "")),
            "label": _pick(_TRIGGERS, r.get("trigger"), lang),
            "step": fmt_bp(_num(r.get("step_bp"))),
            "text": str(r.get(text_key, "")),
        }
        for r in conditions.get("ratchet") or []
    ]
    cap = _opt_num(conditions.get("ratchet_cap_bp"))
    ratchet_cap = f"±{_g(cap, 2)} bp" if cap is not None else ""

    # ---- charts
    rate_bars = rate_waterfall(terms)
    limit_bars = limit_buildup(terms, requested_fen)

    fingerprint = str(profile.get("inputs_fingerprint") or "")
    return {
        "lang": lang,
        "html_lang": t("html_lang"),
        "t": t,
        "colon": _sep(lang),
        "title": t("title"),
        "name": name or enterprise,
        "header": header,
        "outcome": outcome,
        "profile_rows": profile_rows,
        "steps": steps,
        "covenants": covenants,
        "ratchet": ratchet,
        "ratchet_cap": ratchet_cap,
        "rate_bars": rate_bars,
        "limit_bars": limit_bars,
        "rate_rows": _bar_rows(rate_bars, lang, lambda v: f"{v:,.2f} bp"),
        "limit_rows": _bar_rows(limit_bars, lang, lambda v: fmt_yuan(round(v, 2), lang)),
        "policy_version": policy_version,
        "policy_hash": policy_hash,
        "fingerprint": fingerprint,
        "profile_name": str(content.get("profile_name") or profile.get("name") or ""),
        "profile_time": str(profile.get("compute_time") or ""),
        "content_sha256": _content_sha256(content),
    }


def _profile_rows(
    content: Mapping[str, Any],
    profile: Mapping[str, Any],
    lang: Lang,
    t: Callable[[str], str],
    category_names: CategoryNames,
) -> list[_Row]:
    zh = lang == "zh"
    sep = t("list_sep")
    rows: list[_Row] = []
    name = str(content.get("profile_name") or profile.get("name") or "")
    if name or profile.get("compute_time"):
        value = name or t("unknown")
        if profile.get("compute_time"):
            computed = _beijing(profile["compute_time"], lang)
            value += _paren(f"{t('computed')} {computed}", lang)
        rows.append(_Row(t("profile_name"), value))

    grade: Mapping[str, Any] = profile.get("grade") or {}
    number = int(_num(grade.get("grade")))
    label = str(grade.get("label_zh" if zh else "label_en") or "")
    level = _pick(_LEVELS, grade.get("level"), lang)
    if number:
        parts = [label] if label else []
        parts.append(t("grade_number").format(number=number))
        if grade.get("level"):
            parts.append(level)
        level_code = str(grade.get("level") or "")
        if label:
            level_name = _pick(_LEVELS, level_code, lang) if level_code else ""
            value = t("grade_label_with_level").format(label=label, level=level_name) if level_name else label
        else:
            value = sep.join(parts)
        if grade.get("grading_method"):
            value += f"{sep}{grade['grading_method']}"
    else:
        value = t("ungraded")
    rows.append(_Row(t("grade"), value))

    intensity = _opt_num(profile.get("carbon_intensity"))
    net = _opt_num(profile.get("net_tco2"))
    added = _added_value_wan(profile)
    if intensity is not None:
        value = f"{_g(intensity)} {t('intensity_unit')}"
        extra = []
        if net is not None:
            extra.append(f"{t('net_emissions')} {_g(net, 2)} tCO2")
        if added is not None:
            extra.append(f"{t('added_value')} {added:,.2f} {t('wan_yuan_unit')}")
        if extra:
            value += _paren(sep.join(extra), lang)
    else:
        value = t("unknown")
    rows.append(_Row(t("intensity"), value))

    k = _opt_num(profile.get("k_value"))
    k_note = _paren(t("k_note"), lang)
    rows.append(_Row(t("k_value"), (_g(k) + k_note) if k is not None else t("unknown")))

    bench: Mapping[str, Any] = profile.get("benchmark") or {}
    if bench:
        avg = _opt_num(bench.get("average_intensity"))
        parts = [f"{_g(avg)} {t('intensity_unit')}" if avg is not None else t("unknown")]
        if bench.get("industry_code"):
            parts.append(f"{t('industry')} {_industry_name(str(bench['industry_code']), lang)}")
        if bench.get("region_code"):
            parts.append(f"{t('region')} {bench['region_code']}")
        if bench.get("year"):
            parts.append(t("benchmark_year").format(year=bench["year"]))
        count = int(_num(bench.get("enterprise_count")))
        parts.append(t("enterprise_count").format(count=count))
        value = sep.join(parts)
        fallback = profile.get("benchmark_fallback") or []
        if fallback:
            value += sep + t("fallback") + " -> ".join(str(f) for f in fallback)
        rows.append(_Row(t("benchmark"), value))

    trend: Mapping[str, Any] = profile.get("trend") or {}
    if trend:
        direction = str(trend.get("direction") or "UNKNOWN")
        parts = [_pick(_TRENDS, direction, lang)]
        parts.append(f"{t('confidence')} {_num(trend.get('confidence')):.2f}")
        rel = _opt_num(trend.get("relative_change_per_year"))
        if rel:
            parts.append(t("trend_rate").format(rate=f"{rel:+.1%}"))
        if trend.get("reason"):
            parts.append(str(trend["reason"]))
        rows.append(_Row(t("trend"), sep.join(parts)))

    dq: Mapping[str, Any] = profile.get("data_quality") or {}
    if dq:
        pcaf = dq.get("pcaf_score")
        parts = [f"{t('pcaf')} {pcaf if pcaf is not None else t('unknown')}" + _paren(t("pcaf_note"), lang)]
        if dq.get("score") is not None:
            parts.append(f"{t('dq_score')} {_g(_num(dq.get('score')), 1)}/100")
        if dq.get("coverage") is not None:
            parts.append(f"{t('coverage')} {_num(dq.get('coverage')):.0%}")
        rows.append(_Row(t("data_quality"), sep.join(parts)))
        flags = []
        for flag in dq.get("flags") or []:
            if isinstance(flag, Mapping):
                flags.append(_flag_text(flag, lang, category_names))
            else:
                flags.append(str(flag))
        rows.append(_Row(t("flags"), t("semicolon_sep").join(flags) if flags else t("none")))

    progress = content.get("commitment_progress")
    request: Mapping[str, Any] = content.get("request") or {}
    if isinstance(progress, Mapping) and progress:
        status = str(progress.get("status") or "")
        parts = [str(progress.get("name") or request.get("commitment") or "")]
        parts.append(f"{t('status')} {_pick(_STATUSES, status, lang)}")
        parts.append(
            f"{t('achieved')} {_g(_num(progress.get('achieved_tco2_per_year')), 2)} {t('tco2_per_year')}"
        )
        if progress.get("achieved_ratio") is not None:
            parts.append(f"{t('achieved_ratio')} {_num(progress.get('achieved_ratio')):.0%}")
        if progress.get("expected_ratio") is not None:
            parts.append(f"{t('expected_ratio')} {_num(progress.get('expected_ratio')):.0%}")
        parts.append(f"{t('milestones_missed')} {int(_num(progress.get('milestones_missed')))}")
        parts.append(f"{t('verified')} {t('passed') if progress.get('verified') else t('not_passed')}")
        if progress.get("measured_year"):
            parts.append(f"{t('year')} {progress['measured_year']}")
        rows.append(_Row(t("commitment"), sep.join(p for p in parts if p)))
    elif request.get("commitment"):
        rows.append(_Row(t("commitment"), str(request["commitment"])))
    return rows


_BEIJING = dt.timezone(dt.timedelta(hours=8))  # China has kept UTC+8 without daylight saving since 1991


def _beijing(value: Any, lang: Lang) -> str:
    """An ISO-8601 instant as Beijing time to the second ("2026-11-30 21:12:30 北京时间")."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    suffix = _L["beijing_time"][0 if lang == "zh" else 1]
    return f"{moment.astimezone(_BEIJING):%Y-%m-%d %H:%M:%S} {suffix}"


def _industry_name(code: str, lang: Lang) -> str:
    from scoring_service.portfolio.metrics import group_label

    zh, en = group_label("INDUSTRY_DIVISION", code[:2])
    return code + _paren(zh if lang == "zh" else en, lang)


def _flag_text(flag: Mapping[str, Any], lang: Lang, category_names: CategoryNames) -> str:
    """A data-quality flag as a sentence: severity and the registry's own text, with category codes
    replaced by their names (the registry's text starts with the category code; the names come from the
    registry's catalogue over its contract, ListDataCategories; a code without a name stays a code)."""
    zh = lang == "zh"
    reason = str(flag.get("reason_zh" if zh else "reason_en") or "")
    category = str(flag.get("category") or "")
    names = category_names.get(category)
    if category and names:
        reason = reason.replace(category, names[0] if zh else names[1])
    severity = _pick(_SEVERITIES, flag.get("severity"), lang)
    if not reason:
        reason = _pick(_FLAG_NAMES, flag.get("code"), lang)
    return (f"[{severity}] " if severity else "") + reason


# Names of the registry's data-quality flag codes, for flags that arrive without a text.
_FLAG_NAMES = pairs("explain_flag")


def _bar_rows(bars: list[WaterfallBar], lang: Lang, fmt: Callable[[float], str]) -> list[dict[str, Any]]:
    rows = []
    for bar in bars:
        change = ""
        if bar.kind in ("up", "down"):
            sign = "+" if bar.delta >= 0 else "-"
            change = sign + fmt(abs(bar.delta))
        rows.append(
            {
                "label": bar.label(lang),
                "code": bar.code,
                "kind": bar.kind,
                "change": change,
                "value": fmt(bar.end),
            }
        )
    return rows


# ------------------------------------------------------------------------------------ review trail

_ACTIONS = pairs("explain_action")


def _trail_rows(trail: Sequence[Mapping[str, Any]], lang: Lang) -> list[dict[str, str]]:
    """One line per logged review action: when, who (token id and role), what, why, the state move,
    overridden terms (limit in fen as yuan, rate) and whether a second approver is awaited."""
    rows = []
    for a in trail:
        what = _pick(_ACTIONS, a.get("action"), lang)
        terms = a.get("override_terms") or {}
        line = f"{a.get('create_time', '')} {a.get('actor', '')} ({a.get('actor_role', '')}) {what}"
        line += f" {a.get('state_before', '')} -> {a.get('state_after', '')}"
        if a.get("reason_code"):
            line += f" [{a['reason_code']}]"
        if terms:
            limit = fen_text(int(terms.get("approved_limit_fen", 0)), lang)
            line += f" {limit}, {fmt_rate(float(terms.get('final_rate_bp', 0.0)))}"
        if a.get("override_pending"):
            reasons = ", ".join(a.get("second_approval_reasons") or [])
            line += _say("awaiting_second_approver", lang) + f" ({reasons})"
        if a.get("text"):
            line += _sep(lang) + str(a["text"])
        rows.append({"line": line})
    return rows


# ------------------------------------------------------------------------------------------- text


def render_text(
    content: Mapping[str, Any],
    lang: str,
    review_trail: Sequence[Mapping[str, Any]] = (),
    category_names: CategoryNames | None = None,
) -> str:
    """The plain-text explanation of a stored decision, in Chinese (``"zh"``) or English (``"en"``);
    ``review_trail``: the decision's review actions as logged (shown after the decision itself)."""
    view = _view(content, _lang(lang), category_names or {})
    view["review_trail"] = _trail_rows(review_trail, view["lang"])
    t: Callable[[str], str] = view["t"]
    zh = view["lang"] == "zh"
    sep = _sep(view["lang"])
    out: list[str] = []

    def section(title: str) -> None:
        out.append("")
        out.append(title)
        out.append("-" * (len(title) * (2 if zh else 1)))

    title = view["title"]
    out.append(title)
    out.append("=" * (len(title) * (2 if zh else 1)))
    width = max(_width(r.label) for r in view["header"]) + 1
    for row in view["header"]:
        out.append(_pad(row.label + sep.strip(), width + 1) + row.value)

    o = view["outcome"]
    section(t("outcome"))
    out.append(o["status"])
    for d in o["declines"]:
        out.append(f"  - {d['code']} {d['label']}{sep}{d['text']}")
    out.append(f"{t('approved_limit')}{sep}{o['approved']}")
    out.append(f"{t('final_rate')}{sep}{o['rate_line']}")
    out.append(f"{t('manual_review')}{sep}{o['review_line']}")

    section(t("profile"))
    for row in view["profile_rows"]:
        out.append(f"{row.label}{sep}{row.value}")

    section(t("rate_waterfall"))
    out.extend(_bar_lines(view["rate_rows"]))
    section(t("limit_buildup"))
    out.extend(_bar_lines(view["limit_rows"]))

    section(t("trace"))
    for s in view["steps"]:
        effects = []
        if s["rate"]:
            effects.append(f"{t('rate_effect')} {s['rate']}")
        if s["limit"]:
            effects.append(f"{t('limit_effect')} {s['limit']}")
        head = f"{s['number']:>2}. {s['code']} {s['label']}"
        if effects:
            head += " | " + t("list_sep").join(effects)
        out.append(head)
        out.append(f"    {s['text']}")
        if s["inputs_line"]:
            out.append(f"    {t('inputs')}{sep}{s['inputs_line']}")

    section(t("conditions"))
    out.append(
        f"{t('covenants')}{sep.rstrip()}" if view["covenants"] else f"{t('covenants')}{sep}{t('none')}"
    )
    for c in view["covenants"]:
        out.append(f"  - {c['code']}{sep}{c['text']}")
    if view["ratchet"]:
        cap = _paren(f"{t('ratchet_cap')} {view['ratchet_cap']}", view["lang"])
        out.append(f"{t('ratchet')}{cap if view['ratchet_cap'] else ''}{sep.rstrip()}")
        for r in view["ratchet"]:
            out.append(f"  - {r['trigger']}{sep}{r['text']}")

    section(t("review_reasons"))
    if o["reviews"]:
        for r in o["reviews"]:
            out.append(f"  - {r['code']} {r['label']}{sep}{r['text']}")
    else:
        out.append(t("review_not_required_line"))

    section(t("review_trail"))
    for row in view["review_trail"] or [{"line": t("no_review_actions")}]:
        out.append(f"  - {row['line']}")

    section(t("reproduce"))
    out.append(f"{t('policy')}{sep}{view['policy_version']}")
    out.append(f"{t('policy_hash')}{sep}{view['policy_hash']}")
    out.append(f"{t('profile_name')}{sep}{view['profile_name'] or t('unknown')}")
    out.append(f"{t('inputs_fingerprint')}{sep}{view['fingerprint'] or t('unknown')}")
    if view["content_sha256"]:
        out.append(f"{t('content_sha256')}{sep}{view['content_sha256']}")
    out.append(t("reproduce_note"))
    return "\n".join(out) + "\n"


def _width(text: str) -> int:
    """Display width: CJK and full-width characters take two columns."""
    return sum(2 if ord(ch) >= 0x1100 and not 0xD800 <= ord(ch) <= 0xDFFF else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 1)


def _bar_lines(rows: list[dict[str, Any]]) -> list[str]:
    width = max(_width(r["label"]) for r in rows) + 2
    change_width = max(len(r["change"]) for r in rows)
    lines = []
    for r in rows:
        lines.append(f"  {_pad(r['label'], width)}{r['change']:>{change_width}}  = {r['value']}")
    return lines


# ------------------------------------------------------------------------------------------- html

# Chart geometry (SVG user units).
_CHART_WIDTH = 760
_LABEL_WIDTH = 230
_VALUE_WIDTH = 150
_ROW_HEIGHT = 26
_BAR_HEIGHT = 16
_TOP = 8
_COLOURS = {
    "rate": {"up": "#c62828", "down": "#2e7d32", "base": "#546e7a", "total": "#1565c0"},
    "limit": {"up": "#2e7d32", "down": "#c62828", "base": "#546e7a", "total": "#1565c0"},
}


def _chart(bars: list[WaterfallBar], lang: Lang, chart: str) -> dict[str, Any]:
    """Geometry of a horizontal waterfall: one row per bar, label left, value right.

    Both axes start at 0, so bar lengths compare honestly (a 15 bp discount on a 300 bp base rate is a
    twentieth of the bar, not half of a zoomed-in axis); the table beside each chart gives exact values.
    """
    values = [b.end for b in bars] + [b.start for b in bars if b.kind in ("up", "down")]
    hi = max([*values, 0.0])
    lo = 0.0
    hi = hi * 1.05 if hi > 0 else 1.0
    plot = _CHART_WIDTH - _LABEL_WIDTH - _VALUE_WIDTH
    scale = plot / (hi - lo) if hi > lo else 0.0

    def x(value: float) -> float:
        return round(_LABEL_WIDTH + (min(max(value, lo), hi) - lo) * scale, 1)

    rows = []

    def fmt(value: float) -> str:
        return f"{value:,.2f} bp" if chart == "rate" else fmt_yuan(round(value), lang)

    previous_end: float | None = None
    for i, bar in enumerate(bars):
        y = _TOP + i * _ROW_HEIGHT
        a, b = (lo, bar.end) if bar.kind in ("base", "total") else (bar.start, bar.end)
        x0, x1 = sorted((x(a), x(b)))
        width = max(x1 - x0, 1.5)
        if bar.kind in ("up", "down"):
            sign = "+" if bar.delta >= 0 else "-"
            value = f"{sign}{fmt(abs(bar.delta))}"
        else:
            value = fmt(bar.end)
        rows.append(
            {
                "y": y,
                "bar_y": y + (_ROW_HEIGHT - _BAR_HEIGHT) / 2,
                "text_y": y + _ROW_HEIGHT / 2 + 4,
                "x": x0,
                "width": round(width, 1),
                "colour": _COLOURS[chart][bar.kind],
                "label": bar.label(lang),
                "value": value,
                "title": f"{bar.label(lang)}: {fmt(bar.start)} -> {fmt(bar.end)}",
                # connector from the previous bar's end to this bar's start
                "link_x": x(previous_end) if previous_end is not None else None,
                "link_y1": y - _ROW_HEIGHT + (_ROW_HEIGHT + _BAR_HEIGHT) / 2,
            }
        )
        previous_end = bar.end
    height = _TOP * 2 + len(bars) * _ROW_HEIGHT + 18
    axis_y = _TOP + len(bars) * _ROW_HEIGHT + 2
    return {
        "width": _CHART_WIDTH,
        "height": height,
        "rows": rows,
        "row_height": _ROW_HEIGHT,
        "bar_height": _BAR_HEIGHT,
        "label_x": _LABEL_WIDTH - 8,
        "value_x": _CHART_WIDTH - _VALUE_WIDTH + 8,
        "axis_y": axis_y,
        "axis_x0": _LABEL_WIDTH,
        "axis_x1": _CHART_WIDTH - _VALUE_WIDTH,
        "axis_lo": fmt(lo),
        "axis_hi": fmt(hi),
        "broken_axis": lo > 0,
    }


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("scoring_service", "templates"),
        autoescape=True,  # always: enterprise names and trace texts are data, not markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(
    content: Mapping[str, Any],
    lang: str,
    review_trail: Sequence[Mapping[str, Any]] = (),
    category_names: CategoryNames | None = None,
) -> str:
    """A self-contained HTML page explaining a stored decision: inline CSS and SVG, no scripts, no
    external resources; every value from ``content`` is HTML-escaped."""
    view = _view(content, _lang(lang), category_names or {})
    view["review_trail"] = _trail_rows(review_trail, view["lang"])
    view["rate_chart"] = _chart(view["rate_bars"], view["lang"], "rate")
    view["limit_chart"] = _chart(view["limit_bars"], view["lang"], "limit")
    view["colours"] = _COLOURS
    return _environment().get_template("explanation.html.j2").render(**view)
