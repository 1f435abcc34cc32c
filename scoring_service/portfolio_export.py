"""Portfolio report exports (``ExportPortfolioReport``): a ``tanxiao.portfolio.v1.PortfolioReport``
as CSV, Parquet, JSON, a self-contained HTML page with charts, an xlsx workbook or an A4 PDF, streamed
in chunks.

* **CSV** is a zip of one CSV per section (``scoring_service.portfolio.sheets.render_csv_zip``):
  headers with units, figures rounded (yuan to the fen, tCO2 to 3 places), UTF-8 with a byte-order mark
  so Excel opens the Chinese labels, text cells neutralised against formula injection (= + - @).
* **Parquet** is the long table of :func:`report_table` with every digit of the message (one row per
  totals line, breakdown group, loan line, migration cell, top emitter, retrofit line, attribution
  component and lender total); money as integer fen, ``as_of_date``/``compare_date`` as dates and
  ``generate_time`` as a UTC timestamp.
* **JSON** is ``json_format.MessageToJson(report, preserving_proto_field_name=True)``:
  ``json_format.Parse`` gives back an equal message (int64 fen fields are JSON strings).
* **XLSX**: one sheet per section, typed cells (``scoring_service.portfolio.sheets.render_xlsx``).
* **HTML** is rendered with Jinja2 (autoescape on): inline CSS, inline SVG charts (grade
  distribution, exposure by industry division, financed emissions scope 1 vs 2, grade-migration heat
  map), tables; no scripts, no external URLs. Chinese (``lang="zh"``) or English (``"en"``). Display
  values are formatted for reading; each numeric table cell carries the exact value in ``title``.
  A print stylesheet sets A4 pages, the loan table on landscape pages with every column.
* **PDF** is that HTML rendered by WeasyPrint (``scoring_service.portfolio.pdf``).

The regulator view (``scope == "regulator"``) never shows enterprise-level rows: loan lines and top
emitters are dropped from every format even if the message carries them (:func:`sanitized`).

Public API::

    FORMATS = ("CSV", "PARQUET", "JSON", "HTML", "XLSX", "PDF")
    report_table(report) -> pandas.DataFrame
    export_report(report, fmt, lang="zh") -> (data, content_type, filename)
    render_html(report, lang="zh") -> str
    chunks(data, size=64 * 1024) -> Iterator[bytes]
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import Any, Literal

import jinja2
import pandas as pd
from google.protobuf import json_format

from scoring_service.portfolio.pdf import html_to_pdf
from scoring_service.portfolio.sheets import DIMENSION_LABELS, METRIC_FIELDS, render_csv_zip, render_xlsx
from tanxiao.common.v1 import common_pb2
from tanxiao.enum_names import enum_name
from tanxiao.locale import pairs
from tanxiao.portfolio.v1 import portfolio_pb2
from tanxiao.scoring.v1 import scoring_pb2
from tanxiao.standards import industry_name, region_name

__all__ = [
    "COLUMNS",
    "CONTENT_TYPES",
    "FORMATS",
    "GRADE_COLOURS",
    "REGULATOR_SCOPE",
    "chunks",
    "export_report",
    "export_stream",
    "filename_for",
    "render_html",
    "report_table",
    "sanitized",
]

FORMATS: tuple[str, ...] = ("CSV", "PARQUET", "JSON", "HTML", "XLSX", "PDF")
REGULATOR_SCOPE = "regulator"
CHUNK_SIZE = 64 * 1024

CONTENT_TYPES: Mapping[str, str] = {
    "CSV": "application/zip",
    "PARQUET": "application/vnd.apache.parquet",
    "JSON": "application/json",
    "HTML": "text/html; charset=utf-8",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "PDF": "application/pdf",
}
_EXTENSIONS: Mapping[str, str] = {
    "CSV": "csv.zip",
    "PARQUET": "parquet",
    "JSON": "json",
    "HTML": "html",
    "XLSX": "xlsx",
    "PDF": "pdf",
}

# Carbon-efficiency grades 1 (best) .. 5; 0 = ungraded.
GRADE_COLOURS: Mapping[int, str] = {
    0: "#BDBDBD",
    1: "#1A9641",
    2: "#A6D96A",
    3: "#FFD700",
    4: "#FDAE61",
    5: "#D7191C",
}
_SCOPE1_COLOUR = "#5D4037"
_SCOPE2_COLOUR = "#90A4AE"
_EXPOSURE_COLOUR = "#1976D2"

Lang = Literal["zh", "en"]

# ---------------------------------------------------------------------------------------------
# The long table
# ---------------------------------------------------------------------------------------------

_STR = "string"
_INT = "Int64"  # nullable: a column only some sections fill
_FLOAT = "float64"

# Column -> pandas dtype, in table order.
COLUMNS: Mapping[str, str] = {
    "section": _STR,
    "dimension": _STR,
    "key": _STR,
    "label_zh": _STR,
    "label_en": _STR,
    # Metrics (totals, breakdown groups, lender totals; the loan/emitter/retrofit lines fill theirs).
    "loans": _INT,
    "outstanding_fen": _INT,
    "financed_scope1_tco2": _FLOAT,
    "financed_scope2_tco2": _FLOAT,
    # market-based scope 2 beside the location-based one (not in financed_tco2)
    "financed_scope2_market_tco2": _FLOAT,
    "financed_tco2": _FLOAT,
    "wdqs": _FLOAT,
    "economic_intensity": _FLOAT,
    "waci": _FLOAT,
    "loans_without_profile": _INT,
    "outstanding_share": _FLOAT,
    # Totals: the book's shares.
    "green_share": _FLOAT,
    "transition_share": _FLOAT,
    "other_share": _FLOAT,
    "grade5_share": _FLOAT,
    # Loan lines and top emitters.
    "enterprise": _STR,
    "enterprise_name": _STR,
    "product": _STR,
    "grade": _INT,
    "level": _STR,
    "industry_code": _STR,
    "region_code": _STR,
    "attribution_factor": _FLOAT,
    "pcaf_score": _INT,
    "profile": _STR,
    # Migration cells.
    "from_grade": _INT,
    "to_grade": _INT,
    # Retrofit progress.
    "committed_tco2_per_year": _FLOAT,
    "achieved_tco2_per_year": _FLOAT,
    "on_track": _INT,
    "at_risk": _INT,
    "missed": _INT,
    "achieved": _INT,
    "not_started": _INT,
    # Attribution components (key = component name).
    "value_tco2": _FLOAT,
    # The report's header, on every row (so that tables of several reports can be concatenated).
    "scope": _STR,
    "as_of_date": _STR,
    "compare_date": _STR,
    "profile_year": _INT,
    "generate_time": _STR,
}

_ATTRIBUTION_ORDER: tuple[str, ...] = (
    "financed_tco2_before",
    "emissions_effect_tco2",
    "attribution_effect_tco2",
    "new_loans_tco2",
    "ended_loans_tco2",
    "financed_tco2_after",
)

_ATTRIBUTION_LABELS: Mapping[str, tuple[str, str]] = pairs("report_attribution")  # (zh, en): tanxiao/locale


def is_regulator(report: portfolio_pb2.PortfolioReport) -> bool:
    return report.scope == REGULATOR_SCOPE


def sanitized(report: portfolio_pb2.PortfolioReport) -> portfolio_pb2.PortfolioReport:
    """The report as it may be exported: for the regulator view a copy without loan lines and top
    emitters (enterprise-level rows); otherwise the report itself."""
    if not is_regulator(report):
        return report
    copy = portfolio_pb2.PortfolioReport()
    copy.CopyFrom(report)
    copy.ClearField("loans")
    copy.ClearField("top_emitters")
    return copy


def _dimension_name(dimension: int) -> str:
    try:
        return str(portfolio_pb2.Dimension.Name(dimension))
    except ValueError:
        return str(dimension)


def _metrics(m: portfolio_pb2.Metrics) -> dict[str, Any]:
    return {field: getattr(m, field) for _, field, _ in METRIC_FIELDS if field in COLUMNS}


def _rows(report: portfolio_pb2.PortfolioReport) -> Iterator[dict[str, Any]]:
    yield {
        "section": "totals",
        "key": "totals",
        "label_zh": _LABELS["total"][0],
        "label_en": _LABELS["total"][1],
        **_metrics(report.totals),
        "outstanding_share": 1.0 if report.totals.outstanding_fen else 0.0,
        "green_share": report.green_share,
        "transition_share": report.transition_share,
        "other_share": report.other_share,
        "grade5_share": report.grade5_share,
    }
    for breakdown in report.breakdowns:
        dimension = _dimension_name(breakdown.dimension)
        for row in breakdown.rows:
            yield {
                "section": "breakdown",
                "dimension": dimension,
                "key": row.key,
                "label_zh": row.label_zh,
                "label_en": row.label_en,
                **_metrics(row.metrics),
                "outstanding_share": row.outstanding_share,
            }
    regulator = is_regulator(report)
    if not regulator:
        for line in report.loans:
            yield {
                "section": "loan",
                "key": line.loan,
                "outstanding_fen": line.outstanding_fen,
                "financed_scope1_tco2": line.financed_scope1_tco2,
                "financed_scope2_tco2": line.financed_scope2_tco2,
                "financed_scope2_market_tco2": line.financed_scope2_market_tco2,
                "financed_tco2": line.financed_scope1_tco2 + line.financed_scope2_tco2,
                "enterprise": line.enterprise,
                "enterprise_name": line.enterprise_name,
                "product": enum_name(scoring_pb2.Product, line.product),
                "grade": line.grade,
                "level": enum_name(common_pb2.CarbonLevel, line.level),
                "industry_code": line.industry_code,
                "region_code": line.region_code,
                "attribution_factor": line.attribution_factor,
                "pcaf_score": line.pcaf_score,
                "profile": line.profile,
            }
    for cell in report.migration:
        yield {
            "section": "migration",
            "dimension": "GRADE",
            "key": f"{cell.from_grade}->{cell.to_grade}",
            "loans": cell.loans,
            "outstanding_fen": cell.outstanding_fen,
            "from_grade": cell.from_grade,
            "to_grade": cell.to_grade,
        }
    if not regulator:
        for rank, emitter in enumerate(report.top_emitters, start=1):
            yield {
                "section": "top_emitter",
                "key": str(rank),
                "financed_tco2": emitter.financed_tco2,
                "outstanding_fen": emitter.outstanding_fen,
                "enterprise": emitter.enterprise,
                "enterprise_name": emitter.enterprise_name,
                "grade": emitter.grade,
            }
    if report.HasField("retrofit"):
        r = report.retrofit
        yield {
            "section": "retrofit",
            "key": "retrofit",
            "label_zh": _LABELS["retrofit"][0],
            "label_en": _LABELS["retrofit"][1],
            "loans": r.loans,
            "outstanding_fen": r.outstanding_fen,
            "committed_tco2_per_year": r.committed_tco2_per_year,
            "achieved_tco2_per_year": r.achieved_tco2_per_year,
            "on_track": r.on_track,
            "at_risk": r.at_risk,
            "missed": r.missed,
            "achieved": r.achieved,
            "not_started": r.not_started,
        }
    if report.HasField("attribution"):
        for name in _ATTRIBUTION_ORDER:
            zh, en = _ATTRIBUTION_LABELS[name]
            yield {
                "section": "attribution",
                "key": name,
                "label_zh": zh,
                "label_en": en,
                "value_tco2": getattr(report.attribution, name),
            }
    for lender in report.lenders:
        yield {
            "section": "lender",
            "dimension": "LENDER",
            "key": lender.lender,
            **_metrics(lender.metrics),
            "outstanding_share": (
                lender.metrics.outstanding_fen / report.totals.outstanding_fen
                if report.totals.outstanding_fen
                else 0.0
            ),
        }


def report_table(report: portfolio_pb2.PortfolioReport) -> pd.DataFrame:
    """The report as one long table (columns :data:`COLUMNS`), numbers exactly as in the message.

    ``section`` is one of "totals", "breakdown", "loan", "migration", "top_emitter", "retrofit",
    "attribution", "lender"; ``dimension`` names the breakdown (``Dimension`` enum name); ``key`` is
    the group key, loan name, "from->to" grade pair, emitter rank or attribution component. Columns
    a section does not use, and empty strings, are null. In the regulator view there are no "loan"
    and "top_emitter" rows. Derived values (not fields of the message): a loan's ``financed_tco2``
    (scope 1 + 2), the totals' ``outstanding_share`` (1, or 0 for an empty book) and a lender's share
    of the total outstanding."""
    header = {
        "scope": report.scope,
        "as_of_date": report.as_of_date,
        "compare_date": report.compare_date,
        "profile_year": report.profile_year,
        "generate_time": (
            json_format.MessageToJson(report.generate_time).strip('"')
            if report.HasField("generate_time")
            else None
        ),
    }
    records = [{k: (None if v == "" else v) for k, v in {**row, **header}.items()} for row in _rows(report)]
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    return frame.astype(dict(COLUMNS))


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def _format(fmt: str | int) -> str:
    if isinstance(fmt, int):
        if fmt in portfolio_pb2.ExportFormat.values():
            name = str(portfolio_pb2.ExportFormat.Name(fmt))
        else:
            name = str(fmt)
    else:
        name = fmt.strip().upper()
    if name not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return name


def filename_for(report: portfolio_pb2.PortfolioReport, fmt: str | int) -> str:
    """``portfolio-{lender|regulator}-{as_of_date}.{ext}``, e.g. "portfolio-demo-bank-2026-11-25.csv";
    characters outside ``[A-Za-z0-9_.-]`` become "_"."""
    name = _format(fmt)
    scope = report.scope.removeprefix("lenders/") or "report"
    parts = ["portfolio", scope]
    if report.as_of_date:
        parts.append(report.as_of_date)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(parts))
    return f"{stem}.{_EXTENSIONS[name]}"


def _parquet(report: portfolio_pb2.PortfolioReport) -> bytes:
    """The long table with real types: dates as date32, the generation time as a UTC timestamp."""
    buffer = io.BytesIO()
    table = report_table(report)
    for column in ("as_of_date", "compare_date"):
        table[column] = pd.to_datetime(table[column], format="%Y-%m-%d").dt.date
    times = pd.to_datetime(table["generate_time"], utc=True, format="ISO8601")
    table["generate_time"] = times.astype("datetime64[us, UTC]")  # protobuf Timestamps: microseconds here
    table.to_parquet(buffer, engine="pyarrow", index=False)
    return buffer.getvalue()


def _json(report: portfolio_pb2.PortfolioReport) -> bytes:
    text: str = json_format.MessageToJson(report, preserving_proto_field_name=True, ensure_ascii=False)
    return text.encode("utf-8")


def export_report(
    report: portfolio_pb2.PortfolioReport, fmt: str | int, lang: str = "zh"
) -> tuple[bytes, str, str]:
    """The report as a file: ``(data, content_type, filename)``. ``fmt`` is one of :data:`FORMATS`
    (case-insensitive) or an ``ExportFormat`` value; ``lang`` ("zh" or "en") is the language of HTML,
    PDF and the xlsx headers. The regulator view is :func:`sanitized` first."""
    name = _format(fmt)
    language = _lang(lang)
    clean = sanitized(report)
    if name == "XLSX":
        return render_xlsx(clean, language), CONTENT_TYPES[name], filename_for(report, name)
    if name == "PDF":
        return html_to_pdf(render_html(clean, language)), CONTENT_TYPES[name], filename_for(report, name)
    if name == "CSV":
        data = render_csv_zip(clean, language)
    elif name == "PARQUET":
        data = _parquet(clean)
    elif name == "JSON":
        data = _json(clean)
    else:
        data = render_html(clean, language).encode("utf-8")
    return data, CONTENT_TYPES[name], filename_for(report, name)


def chunks(data: bytes, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """``data`` in pieces of at most ``size`` bytes (one empty piece for empty data, so that a
    stream always has a first chunk to carry the content type and filename)."""
    if size <= 0:
        raise ValueError("chunk size must be positive")
    if not data:
        yield b""
        return
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield bytes(view[start : start + size])


def export_stream(
    report: portfolio_pb2.PortfolioReport, fmt: str | int, size: int = CHUNK_SIZE
) -> Iterator[portfolio_pb2.ExportChunk]:
    """``ExportChunk`` messages for the RPC: content type and filename on the first chunk only."""
    data, content_type, filename = export_report(report, fmt)
    for index, piece in enumerate(chunks(data, size)):
        if index == 0:
            yield portfolio_pb2.ExportChunk(data=piece, content_type=content_type, filename=filename)
        else:
            yield portfolio_pb2.ExportChunk(data=piece)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

_TEXTS: Mapping[str, tuple[str, str]] = pairs("report_text")  # (zh, en): tanxiao/locale
_LABELS: Mapping[str, tuple[str, str]] = pairs("report_label")


def _index(lang: Lang) -> int:
    """The position of ``lang``'s text in a catalogue pair (zh, en)."""
    return 0 if lang == "zh" else 1


def _lang(lang: str) -> Lang:
    value = lang.strip().lower().replace("_", "-")
    if value in ("zh", "zh-cn", "zh-hans"):
        return "zh"
    if value in ("en", "en-us", "en-gb"):
        return "en"
    raise ValueError(f"unsupported language {lang!r}; expected 'zh' or 'en'")


def _yuan(fen: int) -> float:
    """Fen as yuan for display (charts, rounded table text); exports keep the integer fen."""
    return fen / 100


def _fmt_number(value: float, digits: int) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.{digits}f}"


def _fmt_pct(value: float) -> str:
    return f"{value * 100:.1f}%" if math.isfinite(value) else str(value)


def _fmt_money_short(value: float, lang: Lang) -> str:
    """Compact amounts for chart labels: 亿/万 in Chinese, m/k in English (the unit chosen after
    rounding, so 99,999,999.5 is 1.00亿, not 10,000.0万)."""
    if not math.isfinite(value):
        return str(value)
    i = _index(lang)
    scales = ((1e8, 2), (1e4, 1)) if lang == "zh" else ((1e6, 1), (1e3, 1))  # 亿/万 or million/thousand
    units = zip(scales, (_LABELS["unit_large"][i], _LABELS["unit_small"][i]), strict=True)
    for (scale, digits), unit in units:
        if abs(round(value / scale, digits)) >= 1:
            return f"{value / scale:,.{digits}f}{unit}"
    return f"{value:,.0f}"


def _text_width(text: str) -> int:
    """Rough rendered width at 12px: CJK and full-width characters 12px, others 7px."""
    return sum(12 if ord(ch) >= 0x2E80 else 7 for ch in text)


def _fit(text: str, max_px: int) -> str:
    """``text`` cut (with "…") to about ``max_px`` pixels; the full text goes in a tooltip."""
    if _text_width(text) <= max_px:
        return text
    out = ""
    for ch in text:
        if _text_width(out + ch) + 12 > max_px:
            break
        out += ch
    return out + "…"


def _cell(value: float | int, kind: str) -> dict[str, str]:
    """A numeric table cell: display text and the exact value (``title``)."""
    if kind == "int":
        return {"text": f"{int(value):,}", "exact": str(int(value))}
    if kind == "fen":  # integer fen shown as yuan; the exact value is the fen
        return {"text": _fmt_number(_yuan(int(value)), 0), "exact": f"{int(value)} fen"}
    exact = repr(float(value))
    if kind == "money":
        text = _fmt_number(float(value), 0)
    elif kind == "tco2":
        text = _fmt_number(float(value), 1)
    elif kind == "signed_tco2":
        text = ("+" if value > 0 else "") + _fmt_number(float(value), 1)
    elif kind == "pct":
        text = _fmt_pct(float(value))
    elif kind == "factor":
        text = _fmt_number(float(value), 4)
    else:
        text = _fmt_number(float(value), 2)
    return {"text": text, "exact": exact}


def _label(zh: str, en: str, key: str, lang: Lang) -> str:
    preferred = zh if lang == "zh" else en
    return preferred or en or zh or key


def _grade_label(grade: int, lang: Lang) -> str:
    if grade <= 0:
        return _TEXTS["ungraded"][_index(lang)]
    return _LABELS["grade"][_index(lang)].format(grade=grade)


def _grade_of(key: str) -> int | None:
    try:
        return int(key)
    except ValueError:
        return None


def _breakdown(report: portfolio_pb2.PortfolioReport, *dimensions: int) -> portfolio_pb2.Breakdown | None:
    for dimension in dimensions:
        for breakdown in report.breakdowns:
            if breakdown.dimension == dimension and breakdown.rows:
                found: portfolio_pb2.Breakdown = breakdown
                return found
    return None


# Chart geometry (px).
_W = 720
_LABEL_W = 200
_VALUE_W = 110
_ROW_H = 24
_BAR_H = 16
_TOP = 12


def _scale(value: float, top: float, length: float) -> float:
    if top <= 0 or not math.isfinite(value) or value <= 0:
        return 0.0
    return round(length * min(value, top) / top, 2)


def _grade_chart(report: portfolio_pb2.PortfolioReport, lang: Lang) -> dict[str, Any]:
    """Vertical bars: outstanding by grade 1-5 (and ungraded when present)."""
    by_grade: dict[int, float] = {g: 0.0 for g in range(1, 6)}
    shares: dict[int, float] = {}
    breakdown = _breakdown(report, portfolio_pb2.GRADE)
    if breakdown is not None:
        for row in breakdown.rows:
            grade = _grade_of(row.key)
            if grade is None or not 0 <= grade <= 5:
                continue
            by_grade[grade] = by_grade.get(grade, 0.0) + _yuan(row.metrics.outstanding_fen)
            shares[grade] = shares.get(grade, 0.0) + row.outstanding_share
    grades = sorted(by_grade, key=lambda g: (g == 0, g))
    top = max(by_grade.values(), default=0.0)
    plot_h = 180
    slot = 100
    height = _TOP + plot_h + 48
    width = 60 + slot * len(grades)
    base_y = _TOP + plot_h
    bars = []
    for i, grade in enumerate(grades):
        value = by_grade[grade]
        h = _scale(value, top, plot_h - 20)
        x = 60 + i * slot + 20
        bars.append(
            {
                "x": x,
                "y": round(base_y - h, 2),
                "width": slot - 40,
                "height": h,
                "colour": GRADE_COLOURS[grade],
                "label": _grade_label(grade, lang),
                "label_x": x + (slot - 40) / 2,
                "value": _fmt_money_short(value, lang),
                "value_y": round(base_y - h - 4, 2),
                "title": f"{_grade_label(grade, lang)}: {_fmt_number(value, 2)}"
                + (f" ({_fmt_pct(shares[grade])})" if grade in shares else ""),
            }
        )
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "base_y": base_y,
        "axis_x0": 50,
        "axis_x1": width - 10,
        "label_y": base_y + 18,
        "empty": top <= 0,
    }


def _hbar_chart(items: Sequence[tuple[str, Sequence[tuple[float, str]], str]], lang: Lang) -> dict[str, Any]:
    """Horizontal (stacked) bars: ``items`` = (label, [(value, colour), ...], title)."""
    totals = [sum(max(v, 0.0) for v, _ in parts) for _, parts, _ in items]
    top = max(totals, default=0.0)
    length = _W - _LABEL_W - _VALUE_W
    rows = []
    for i, ((label, parts, title), total) in enumerate(zip(items, totals, strict=True)):
        y = _TOP + i * _ROW_H
        x = float(_LABEL_W)
        segments = []
        for value, colour in parts:
            w = _scale(max(value, 0.0), top, length)
            segments.append({"x": round(x, 2), "width": w, "colour": colour})
            x += w
        rows.append(
            {
                "label": _fit(label, _LABEL_W - 16),
                "title": title,
                "bar_y": y + (_ROW_H - _BAR_H) / 2,
                "text_y": y + _ROW_H / 2 + 4,
                "segments": segments,
                "value": _fmt_money_short(total, lang) if items else "",
            }
        )
    height = _TOP * 2 + max(len(items), 1) * _ROW_H
    return {
        "width": _W,
        "height": height,
        "rows": rows,
        "bar_height": _BAR_H,
        "label_x": _LABEL_W - 8,
        "value_x": _W - _VALUE_W + 8,
        "axis_x": _LABEL_W,
        "axis_y0": _TOP,
        "axis_y1": height - _TOP,
        "empty": top <= 0,
        "empty_y": _TOP + _ROW_H / 2 + 4,
    }


def _industry_rows(report: portfolio_pb2.PortfolioReport) -> list[portfolio_pb2.GroupRow]:
    # Divisions (2 digits) first: a Huzhou book is nearly all section C, a single 100 % bar says nothing.
    breakdown = _breakdown(report, portfolio_pb2.INDUSTRY_DIVISION, portfolio_pb2.INDUSTRY_SECTION)
    return list(breakdown.rows) if breakdown is not None else []


def _exposure_chart(report: portfolio_pb2.PortfolioReport, lang: Lang) -> dict[str, Any]:
    rows = sorted(_industry_rows(report), key=lambda r: -r.metrics.outstanding_fen)
    items = [
        (
            f"{r.key} {_label(r.label_zh, r.label_en, '', lang)}".strip(),
            [(_yuan(r.metrics.outstanding_fen), _EXPOSURE_COLOUR)],
            f"{r.key} {_label(r.label_zh, r.label_en, '', lang)}: "
            f"{_fmt_number(_yuan(r.metrics.outstanding_fen), 2)} ({_fmt_pct(r.outstanding_share)})",
        )
        for r in rows
    ]
    chart = _hbar_chart(items, lang)
    for row, r in zip(chart["rows"], rows, strict=True):
        row["value"] = (
            f"{_fmt_money_short(_yuan(r.metrics.outstanding_fen), lang)} · {_fmt_pct(r.outstanding_share)}"
        )
    return chart


def _emissions_chart(report: portfolio_pb2.PortfolioReport, lang: Lang) -> dict[str, Any]:
    rows = _industry_rows(report)
    by_grade = False
    if not rows:
        breakdown = _breakdown(report, portfolio_pb2.GRADE)
        rows = list(breakdown.rows) if breakdown is not None else []
        by_grade = True
    rows = sorted(rows, key=lambda r: -(r.metrics.financed_scope1_tco2 + r.metrics.financed_scope2_tco2))
    items = []
    for r in rows:
        grade = _grade_of(r.key) if by_grade else None
        label = (
            _grade_label(grade, lang)
            if grade is not None
            else f"{r.key} {_label(r.label_zh, r.label_en, '', lang)}".strip()
        )
        s1, s2 = r.metrics.financed_scope1_tco2, r.metrics.financed_scope2_tco2
        items.append(
            (
                label,
                [(s1, _SCOPE1_COLOUR), (s2, _SCOPE2_COLOUR)],
                f"{label}: {_fmt_number(s1, 2)} + {_fmt_number(s2, 2)} tCO₂",
            )
        )
    chart = _hbar_chart(items, lang)
    for row, r in zip(chart["rows"], rows, strict=True):
        row["value"] = _fmt_number(r.metrics.financed_scope1_tco2 + r.metrics.financed_scope2_tco2, 0)
    return chart


def _heat_colour(fraction: float) -> str:
    """White (0) to deep blue (1)."""
    f = min(max(fraction, 0.0), 1.0)
    low, high = (255, 255, 255), (8, 69, 148)
    r, g, b = (round(lo + (hi - lo) * f) for lo, hi in zip(low, high, strict=True))
    return f"#{r:02X}{g:02X}{b:02X}"


def _migration_chart(report: portfolio_pb2.PortfolioReport, lang: Lang) -> dict[str, Any]:
    """A heat-map grid: rows = grade at compare date, columns = grade at report date."""
    cells: dict[tuple[int, int], tuple[int, float]] = {}
    for c in report.migration:
        loans, amount = cells.get((c.from_grade, c.to_grade), (0, 0.0))
        cells[(c.from_grade, c.to_grade)] = (loans + c.loans, amount + _yuan(c.outstanding_fen))
    grades = list(range(1, 6))
    if any(0 in pair for pair in cells):
        grades.append(0)
    top = max((amount for _, amount in cells.values()), default=0.0)
    size, left, head = 88, 96, 40
    loans_word, loans_amount = (_LABELS[key][_index(lang)] for key in ("loans", "loans_amount"))
    grid = []
    for i, g_from in enumerate(grades):
        for j, g_to in enumerate(grades):
            loans, amount = cells.get((g_from, g_to), (0, 0.0))
            fraction = amount / top if top > 0 else 0.0
            x, y = left + j * size, head + i * size
            grid.append(
                {
                    "x": x,
                    "y": y,
                    "size": size - 2,
                    "fill": _heat_colour(fraction),
                    "text_colour": "#FFFFFF" if fraction > 0.55 else "#212121",
                    "cx": x + (size - 2) / 2,
                    "amount_y": y + size / 2 - 4,
                    "loans_y": y + size / 2 + 12,
                    "amount": _fmt_money_short(amount, lang) if loans or amount else "",
                    "loans": loans_word.format(loans=loans) if loans else "",
                    "diagonal": g_from == g_to,
                    "title": f"{_grade_label(g_from, lang)} → {_grade_label(g_to, lang)}: "
                    + loans_amount.format(loans=loans, amount=_fmt_number(amount, 2)),
                }
            )
    col_heads = [
        {"x": left + j * size + size / 2, "label": _grade_label(g, lang), "colour": GRADE_COLOURS[g]}
        for j, g in enumerate(grades)
    ]
    row_heads = [
        {"y": head + i * size + size / 2 + 4, "label": _grade_label(g, lang), "colour": GRADE_COLOURS[g]}
        for i, g in enumerate(grades)
    ]
    return {
        "width": left + len(grades) * size + 8,
        "height": head + len(grades) * size + 8,
        "cells": grid,
        "col_heads": col_heads,
        "row_heads": row_heads,
        "head_y": head - 12,
        "label_x": left - 8,
        "empty": not cells,
    }


_SUPPRESSED_CELL = {"text": "—", "exact": "suppressed"}


_HTML_KINDS: Mapping[str, str] = {"int": "int", "yuan": "fen", "tco2": "tco2", "score": "score"}


def _metric_cells(m: portfolio_pb2.Metrics, suppressed: bool = False) -> dict[str, dict[str, str]]:
    """Display cells of a Metrics (sheets.METRIC_FIELDS); a suppressed cell (disclosure control) shows
    a dash, never 0."""
    cells = {
        key: _SUPPRESSED_CELL if suppressed else _cell(getattr(m, field), _HTML_KINDS[kind])
        for key, field, kind in METRIC_FIELDS
    }
    cells["without_profile"] = cells["without"]
    return cells


def _view(report: portfolio_pb2.PortfolioReport, lang: Lang) -> dict[str, Any]:
    index = _index(lang)

    def t(key: str) -> str:
        return _TEXTS[key][index]

    regulator = is_regulator(report)
    header = [{"label": t("scope"), "value": report.scope or "-"}]
    header.append({"label": t("as_of"), "value": report.as_of_date or "-"})
    if report.compare_date:
        header.append({"label": t("compare"), "value": report.compare_date})
    if report.profile_year:
        header.append({"label": t("profile_year"), "value": str(report.profile_year)})
    if report.HasField("generate_time"):
        header.append(
            {"label": t("generated"), "value": json_format.MessageToJson(report.generate_time).strip('"')}
        )

    totals = report.totals
    figures = [
        {"label": t("outstanding"), **_cell(totals.outstanding_fen, "fen")},
        {"label": t("financed"), **_cell(totals.financed_tco2, "tco2")},
        {"label": t("wdqs"), **_cell(totals.wdqs, "score")},
        {"label": t("intensity"), **_cell(totals.economic_intensity, "score")},
        {"label": t("waci"), **_cell(totals.waci, "score")},
    ]
    shares = [
        {"label": t("green_share"), "colour": GRADE_COLOURS[1], **_cell(report.green_share, "pct")},
        {"label": t("transition_share"), "colour": GRADE_COLOURS[3], **_cell(report.transition_share, "pct")},
        {"label": t("other_share"), "colour": "#9E9E9E", **_cell(report.other_share, "pct")},
    ]
    share_bar = []
    x = 0.0
    for item, value in zip(
        shares, (report.green_share, report.transition_share, report.other_share), strict=True
    ):
        w = round(max(min(value, 1.0), 0.0) * 600, 2) if math.isfinite(value) else 0.0
        share_bar.append({"x": round(x, 2), "width": w, "colour": item["colour"], "title": item["label"]})
        x += w

    breakdowns = []
    for breakdown in report.breakdowns:
        zh, en = DIMENSION_LABELS.get(breakdown.dimension, (_dimension_name(breakdown.dimension),) * 2)
        rows = []
        for row in breakdown.rows:
            label = _label(row.label_zh, row.label_en, row.key, lang)
            if breakdown.dimension == portfolio_pb2.GRADE:
                grade = _grade_of(row.key)
                if grade is not None and not row.label_zh and not row.label_en:
                    label = _grade_label(grade, lang)
            rows.append(
                {
                    "key": row.key,
                    "label": label,
                    "colour": GRADE_COLOURS.get(_grade_of(row.key) or 0)
                    if breakdown.dimension == portfolio_pb2.GRADE
                    else None,
                    "share": _SUPPRESSED_CELL if row.suppressed else _cell(row.outstanding_share, "pct"),
                    **_metric_cells(row.metrics, row.suppressed),
                }
            )
        breakdowns.append({"title": zh if lang == "zh" else en, "rows": rows})

    retrofit = None
    if report.HasField("retrofit"):
        r = report.retrofit
        retrofit = {
            "loans": _cell(r.loans, "int"),
            "outstanding": _cell(r.outstanding_fen, "fen"),
            "committed": _cell(r.committed_tco2_per_year, "tco2"),
            "achieved_t": _cell(r.achieved_tco2_per_year, "tco2"),
            "progress": _cell(
                r.achieved_tco2_per_year / r.committed_tco2_per_year if r.committed_tco2_per_year else 0.0,
                "pct",
            ),
            "progress_w": (
                round(min(max(r.achieved_tco2_per_year / r.committed_tco2_per_year, 0.0), 1.0) * 300, 2)
                if r.committed_tco2_per_year
                else 0.0
            ),
            "statuses": [
                {"label": t(k), "colour": c, **_cell(getattr(r, k), "int")}
                for k, c in (
                    ("on_track", "#1A9641"),
                    ("achieved", "#2E7D32"),
                    ("at_risk", "#FDAE61"),
                    ("missed", "#D7191C"),
                    ("not_started", "#9E9E9E"),
                )
            ],
        }

    attribution = None
    if report.HasField("attribution"):
        a = report.attribution
        running = a.financed_tco2_before
        attribution = [
            {
                "label": _ATTRIBUTION_LABELS["financed_tco2_before"][index],
                "kind": "total",
                "change": None,
                "running": _cell(running, "tco2"),
            }
        ]
        for name in _ATTRIBUTION_ORDER[1:-1]:
            value = getattr(a, name)
            running += value
            attribution.append(
                {
                    "label": _ATTRIBUTION_LABELS[name][index],
                    "kind": "up" if value > 0 else "down" if value < 0 else "flat",
                    "change": _cell(value, "signed_tco2"),
                    "running": _cell(running, "tco2"),
                }
            )
        residual = a.financed_tco2_after - running
        if abs(residual) > 1e-9 * max(1.0, abs(a.financed_tco2_after)):
            # The components do not add up to the reported change: show the gap, never hide it.
            running += residual
            attribution.append(
                {
                    "label": t("residual"),
                    "kind": "residual",
                    "change": _cell(residual, "signed_tco2"),
                    "running": _cell(running, "tco2"),
                }
            )
        attribution.append(
            {
                "label": _ATTRIBUTION_LABELS["financed_tco2_after"][index],
                "kind": "total",
                "change": _cell(a.financed_tco2_after - a.financed_tco2_before, "signed_tco2"),
                "running": _cell(a.financed_tco2_after, "tco2"),
            }
        )

    emitters = []
    loans = []
    if not regulator:
        for rank, e in enumerate(report.top_emitters, start=1):
            emitters.append(
                {
                    "rank": rank,
                    "name": e.enterprise_name or e.enterprise,
                    "enterprise": e.enterprise,
                    "grade": _grade_label(e.grade, lang),
                    "colour": GRADE_COLOURS.get(e.grade, GRADE_COLOURS[0]),
                    "financed": _cell(e.financed_tco2, "tco2"),
                    "outstanding": _cell(e.outstanding_fen, "fen"),
                }
            )
        for line in report.loans:
            loans.append(
                {
                    "loan": line.loan,
                    "name": line.enterprise_name or line.enterprise,
                    "enterprise": line.enterprise,
                    "product": enum_name(scoring_pb2.Product, line.product),
                    "grade": _grade_label(line.grade, lang),
                    "colour": GRADE_COLOURS.get(line.grade, GRADE_COLOURS[0]),
                    "level": enum_name(common_pb2.CarbonLevel, line.level),
                    "industry": f"{line.industry_code} {industry_name(line.industry_code)[index]}".strip(),
                    "region": region_name(line.region_code)[index] if line.region_code else "",
                    "outstanding": _cell(line.outstanding_fen, "fen"),
                    "factor": _cell(line.attribution_factor, "factor"),
                    "scope1": _cell(line.financed_scope1_tco2, "tco2"),
                    "scope2": _cell(line.financed_scope2_tco2, "tco2"),
                    "scope2_market": _cell(line.financed_scope2_market_tco2, "tco2"),
                    "pcaf": _cell(line.pcaf_score, "int"),
                    "profile": line.profile,
                }
            )

    lenders = [
        {
            "lender": _label(lt.label_zh, lt.label_en, lt.lender.removeprefix("lenders/"), lang),
            **_metric_cells(lt.metrics, lt.suppressed),
        }
        for lt in report.lenders
    ]

    return {
        "lang": lang,
        "html_lang": "zh-CN" if lang == "zh" else "en",
        "t": t,
        "title": t("title_regulator" if regulator else "title"),
        "regulator": regulator,
        "header": header,
        "figures": figures,
        "totals": _metric_cells(totals),
        "shares": shares,
        "share_bar": share_bar,
        "grade5_share": _cell(report.grade5_share, "pct"),
        "grade_chart": _grade_chart(report, lang),
        "exposure_chart": _exposure_chart(report, lang),
        "emissions_chart": _emissions_chart(report, lang),
        "migration_chart": _migration_chart(report, lang),
        "breakdowns": breakdowns,
        "retrofit": retrofit,
        "attribution": attribution,
        "emitters": emitters,
        "loans": loans,
        "lenders": lenders,
        "colours": {"scope1": _SCOPE1_COLOUR, "scope2": _SCOPE2_COLOUR},
    }


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("scoring_service", "templates"),
        autoescape=True,  # always: enterprise names and labels are data, not markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(report: portfolio_pb2.PortfolioReport, lang: str = "zh") -> str:
    """A self-contained HTML report (inline CSS and SVG charts, no scripts, no external URLs), in
    Chinese (``"zh"``, ``<html lang="zh-CN">``) or English (``"en"``). Every value from the message
    is HTML-escaped; the regulator view shows no loan lines and no top emitters."""
    view = _view(sanitized(report), _lang(lang))
    return _environment().get_template("portfolio.html.j2").render(**view)
