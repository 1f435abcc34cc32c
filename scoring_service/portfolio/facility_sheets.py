"""The carbon emission reduction facility ledger (``tanxiao.portfolio.v1.FacilityLedger``) as files: the
same typed sections (scoring_service.portfolio.sheets) written as a CSV zip, an xlsx workbook (one
sheet per section) or an A4 PDF (the loan ledger on landscape pages, every column kept), and the
message as JSON.

Sections: 报告/Report (scope, quarter, dates, minimum cell size, LPR source), 工具条款/Facility terms
(dated, with source and confirmation), 按用途汇总/By use of proceeds (totals first, then each green
catalogue first-level category; suppressed cells blank with ``*``) and, when the ledger carries loan
lines, 逐笔台账/Loan ledger (one row per loan). Money in yuan from the message's fen, exact to the fen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal

import jinja2
from google.protobuf import json_format

from scoring_service.portfolio.pdf import html_to_pdf
from scoring_service.portfolio.sheets import (
    HEADERS,
    SHEET_NAMES,
    Kind,
    Section,
    csv_zip,
    item_section,
    workbook,
    yuan,
)
from tanxiao.locale import pairs
from tanxiao.portfolio.v1 import portfolio_pb2

FORMATS = ("CSV", "XLSX", "PDF", "JSON")
CONTENT_TYPES = {
    "CSV": "application/zip",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "PDF": "application/pdf",
    "JSON": "application/json",
}
_EXTENSIONS = {"CSV": "csv.zip", "XLSX": "xlsx", "PDF": "pdf", "JSON": "json"}
_LABELS: Mapping[str, tuple[str, str]] = pairs("report_label")  # (zh, en): tanxiao/locale
_YES_NO = tuple(zip(_LABELS["yes"], _LABELS["no"], strict=True))  # ((zh yes, zh no), (en yes, en no))
TITLES = _LABELS["facility_title"]


def _d(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def ledger_sections(ledger: portfolio_pb2.FacilityLedger, lang: Literal["zh", "en"] = "zh") -> list[Section]:
    i = 0 if lang == "zh" else 1
    h = {k: v[i] for k, v in HEADERS.items()}
    keys = ("scope", "quarter", "quarter_start", "quarter_end", "min_cell_size")
    labels = tuple(_LABELS[key] for key in (*keys, "loan_lines_included", "lpr_source"))
    values: tuple[Any, ...] = (
        ledger.scope, ledger.quarter, _d(ledger.quarter_start), _d(ledger.quarter_end), ledger.min_cell_size,
        _YES_NO[i][0 if ledger.loan_level else 1], ledger.lpr_source,
    )  # fmt: skip
    kinds: tuple[Kind, ...] = ("text", "text", "date", "date", "int", "text", "text")
    items = tuple((label[i], v, k) for label, v, k in zip(labels, values, kinds, strict=True))
    out = [item_section("report", SHEET_NAMES["report"][i], i, items)]
    out.append(
        Section(
            "terms", SHEET_NAMES["terms"][i],
            ((h["effective"], "date"), (h["refinance_share"], "ratio"), (h["refinance_rate"], "int"),
             (h["tolerance"], "int"), (h["fields"], "text"), (h["confirmed"], "text"), (h["source"], "text")),
            tuple((_d(t.effective_date), Decimal(t.refinance_share), t.rate_bp, t.rate_tolerance_bp,
                   ";".join(t.eligible_categories), t.confirmed, t.source) for t in ledger.terms),
        )
    )  # fmt: skip
    summary_columns: tuple[tuple[str, Kind], ...] = (
        (h["key"], "text"), (h["label"], "text"), (h["loans"], "int"), (h["outstanding"], "yuan"),
        (h["eligible_loans"], "int"), (h["eligible_outstanding"], "yuan"), (h["refinanceable"], "yuan"),
        (h["attributable"], "tco2"), (h["suppressed"], "text"),
    )  # fmt: skip
    out.append(
        Section(
            "summary", SHEET_NAMES["summary"][i], summary_columns,
            tuple(_summary_row(r, i) for r in (ledger.totals, *ledger.categories)),
        )
    )  # fmt: skip
    if ledger.lines:
        out.append(_lines_section(ledger, i, h))
    return out


def _summary_row(row: portfolio_pb2.FacilityLedgerRow, i: int) -> tuple[Any, ...]:
    label = row.label_zh if i == 0 else row.label_en
    if row.suppressed:  # disclosure control: blank, never a misleading 0
        return (row.key, label, None, None, None, None, None, None, "*")
    return (
        row.key, label, row.loans, yuan(row.outstanding_fen), row.eligible_loans,
        yuan(row.eligible_outstanding_fen), yuan(row.refinanceable_fen), row.attributable_tco2_per_year, "",
    )  # fmt: skip


def _lines_section(ledger: portfolio_pb2.FacilityLedger, i: int, h: dict[str, str]) -> Section:
    columns: tuple[tuple[str, Kind], ...] = (
        (h["loan"], "text"), (h["enterprise"], "text"), (h["enterprise_name"], "text"),
        (h["category"], "text"), (h["category_name"], "text"), (h["start"], "date"), (h["maturity"], "date"),
        (h["tenor"], "text"), (h["rate"], "score"), (h["lpr"], "int"), (h["eligible"], "text"),
        (h["reason"], "text"), (h["committed_amount"], "yuan"), (h["outstanding"], "yuan"),
        (h["refinanceable"], "yuan"), (h["commitment"], "text"), (h["investment"], "yuan"),
        (h["project_share"], "ratio"), (h["verified"], "tco2"), (h["attributable"], "tco2"),
        (h["co2_reduced"], "tco2"), (h["tce_saved"], "tco2"), (h["benefit_basis"], "text"),
        (h["new_in_quarter"], "text"), (h["terms_date"], "date"),
    )  # fmt: skip
    yes_no = _YES_NO[i]
    rows = tuple(
        (
            line.loan, line.enterprise, line.enterprise_name, line.green_category,
            line.category_label_zh if i == 0 else line.category_label_en, _d(line.start_date),
            _d(line.maturity_date), line.lpr_tenor, line.rate_bp, line.lpr_bp or None,
            yes_no[0 if line.eligible else 1], line.reason_zh if i == 0 else line.reason_en,
            yuan(line.committed_amount_fen), yuan(line.outstanding_fen), yuan(line.refinanceable_fen),
            line.commitment, yuan(line.project_investment_fen) if line.project_investment_fen else None,
            line.project_share, line.project_verified_tco2_per_year, line.attributable_tco2_per_year,
            line.co2_reduced_tco2_per_year, line.energy_saved_tce_per_year, line.benefit_basis,
            yes_no[0 if line.new_in_quarter else 1], _d(line.terms_effective_date),
        )
        for line in ledger.lines
    )  # fmt: skip
    return Section("ledger", SHEET_NAMES["ledger"][i], columns, rows)


# --- display (PDF) ----------------------------------------------------------------------------------


def display(value: Any, kind: Kind) -> str:
    """A cell as text for reading: thousands separators, yuan to the fen, tCO2 to 3 places."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if kind == "yuan":
        return f"{Decimal(value):,.2f}"
    if kind == "tco2":
        return f"{float(value):,.3f}"
    if kind == "score":
        return f"{float(value):,.2f}"
    if kind == "ratio":
        return f"{float(value) * 100:.2f}%"
    if kind == "int":
        return f"{int(value):,}"
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    return str(value)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("scoring_service", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(ledger: portfolio_pb2.FacilityLedger, lang: Literal["zh", "en"] = "zh") -> str:
    """A self-contained page of the sections (inline CSS, no scripts, no external URLs); its print
    stylesheet puts the loan ledger on A4 landscape pages with every column."""
    i = 0 if lang == "zh" else 1
    parts = []
    for section in ledger_sections(ledger, lang):
        if section.items:
            rows = [[label, display(value, kind)] for label, value, kind in section.rows]
            numeric = [False, False]
        else:
            kinds = [k for _, k in section.columns]
            rows = [[display(v, k) for v, k in zip(row, kinds, strict=True)] for row in section.rows]
            numeric = [k in ("int", "yuan", "tco2", "score", "ratio") for _, k in section.columns]
        parts.append({"key": section.key, "title": section.title, "heads": [c for c, _ in section.columns],
                      "numeric": numeric, "rows": rows})  # fmt: skip
    return _environment().get_template("sections.html.j2").render(
        html_lang="zh-CN" if lang == "zh" else "en", title=TITLES[i],
        subtitle=f"{ledger.scope} · {ledger.quarter}", sections=parts,
    )  # fmt: skip


def filename_for(ledger: portfolio_pb2.FacilityLedger, fmt: str) -> str:
    """``facility-{lender|regulator}-{quarter}.{ext}``."""
    scope = ledger.scope.removeprefix("lenders/")
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", f"facility-{scope}-{ledger.quarter}")
    return f"{stem}.{_EXTENSIONS[fmt]}"


def export_ledger(ledger: portfolio_pb2.FacilityLedger, fmt: str, lang: str = "zh") -> tuple[bytes, str, str]:
    """(data, content type, filename) of the ledger in ``fmt`` (CSV, XLSX, PDF or JSON)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown ledger format {fmt!r}; expected one of {', '.join(FORMATS)}")
    language: Literal["zh", "en"] = "en" if lang == "en" else "zh"
    if fmt == "CSV":
        data = csv_zip(ledger_sections(ledger, language))
    elif fmt == "XLSX":
        data = workbook(ledger_sections(ledger, language))
    elif fmt == "PDF":
        data = html_to_pdf(render_html(ledger, language))
    else:
        text = json_format.MessageToJson(ledger, preserving_proto_field_name=True, indent=2)
        data = text.encode("utf-8")
    return data, CONTENT_TYPES[fmt], filename_for(ledger, fmt)
