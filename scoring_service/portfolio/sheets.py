"""A portfolio report as typed section tables, and as an xlsx workbook (one sheet per section).

Each section is a list of columns (header with its unit, kind) and rows of typed values: money in yuan
as a number (from the message's integer fen, exact to the fen), tonnes as numbers, dates as
``datetime.date``. The workbook writes numbers as numbers (never text) with a display format, dates as
date cells, and text cells that a spreadsheet would evaluate (= + - @) neutralised. The regulator view
has no loan and top-emitter sheets. Headers are in the report's language (zh or en).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from scoring_service.portfolio.csv_safety import neutralise
from tanxiao.common.v1 import common_pb2
from tanxiao.enum_names import enum_name
from tanxiao.locale import pairs
from tanxiao.portfolio.v1 import portfolio_pb2
from tanxiao.scoring.v1 import scoring_pb2
from tanxiao.standards import industry_name, region_name

Kind = Literal["text", "int", "yuan", "tco2", "ratio", "score", "date"]
_FORMATS = {
    "int": "#,##0",
    "yuan": "#,##0.00",
    "tco2": "#,##0.000",
    "ratio": "0.00%",
    "score": "0.00",
    "date": "yyyy-mm-dd",
}
# Header texts with units (zh, en) by column key.
HEADERS: Mapping[str, tuple[str, str]] = pairs("sheet_header")  # (zh, en): tanxiao/locale
SHEET_NAMES: Mapping[str, tuple[str, str]] = pairs("sheet_name")  # (zh, en): tanxiao/locale
# Breakdown dimensions (zh, en): headings of the HTML report; the sheet names derive from them.
DIMENSION_LABELS: Mapping[int, tuple[str, str]] = {  # (zh, en): tanxiao/locale
    portfolio_pb2.Dimension.Value(name): pair for name, pair in pairs("report_dimension").items()
}


def dimension_sheet(dimension: int, lang: int) -> str:
    """ "按碳效等级" / "By carbon-efficiency grade"."""
    name = portfolio_pb2.Dimension.Name(dimension) if dimension in portfolio_pb2.Dimension.values() else ""
    zh, en = DIMENSION_LABELS.get(dimension, (name or str(dimension),) * 2)
    if lang == 0:
        return pairs("report_label")["by_dimension"][0].format(name=zh)
    return pairs("report_label")["by_dimension"][1].format(name=f"{en[0].lower()}{en[1:]}")


# The figures of a Metrics in column order: (header key, Metrics field, kind). The xlsx and CSV
# sections, the HTML tables and the Parquet long table all read this one list.
METRIC_FIELDS: tuple[tuple[str, str, Kind], ...] = (
    ("loans", "loans", "int"),
    ("outstanding", "outstanding_fen", "yuan"),
    ("scope1", "financed_scope1_tco2", "tco2"),
    ("scope2", "financed_scope2_tco2", "tco2"),
    ("scope2_market", "financed_scope2_market_tco2", "tco2"),
    ("financed", "financed_tco2", "tco2"),
    ("wdqs", "wdqs", "score"),
    ("intensity", "economic_intensity", "score"),
    ("waci", "waci", "score"),
    ("without", "loans_without_profile", "int"),
    ("ungraded", "loans_ungraded", "int"),
)


@dataclass(frozen=True)
class Section:
    key: str  # stable id, e.g. "totals", "breakdown_GRADE"
    title: str  # sheet name in the report's language
    columns: tuple[tuple[str, Kind], ...]  # (header with unit, kind)
    rows: tuple[tuple[Any, ...], ...]
    # a two-column item/value list whose rows are (label, value, kind): the value typed per row
    items: bool = False


def yuan(fen: int) -> Decimal:
    """Integer fen as exact yuan (two decimals)."""
    return Decimal(fen) / 100


def _metric_columns(lang: int) -> list[tuple[str, Kind]]:
    return [(HEADERS[key][lang], kind) for key, _, kind in METRIC_FIELDS]


def _metric_values(m: portfolio_pb2.Metrics, suppressed: bool = False) -> list[Any]:
    if suppressed:  # disclosure control: a withheld cell is blank, never a misleading 0
        return [None] * len(METRIC_FIELDS)
    return [yuan(getattr(m, f)) if kind == "yuan" else getattr(m, f) for _, f, kind in METRIC_FIELDS]


def sections(report: portfolio_pb2.PortfolioReport, lang: Literal["zh", "en"] = "zh") -> list[Section]:
    """The report's sections in order; the regulator view has no enterprise-level sections."""
    i = 0 if lang == "zh" else 1
    h = {k: v[i] for k, v in HEADERS.items()}
    out = [_report_section(report, i)]
    out.append(
        Section("totals", SHEET_NAMES["totals"][i], tuple(_metric_columns(i)),
                (tuple(_metric_values(report.totals)),))
    )  # fmt: skip
    for b in report.breakdowns:
        columns = [(h["key"], "text"), (h["label"], "text"), *_metric_columns(i), (h["share"], "ratio")]
        columns.append((h["suppressed"], "text"))
        rows = tuple(
            (r.key, r.label_zh if i == 0 else r.label_en, *_metric_values(r.metrics, r.suppressed),
             None if r.suppressed else r.outstanding_share, "*" if r.suppressed else "")
            for r in b.rows
        )  # fmt: skip
        name = portfolio_pb2.Dimension.Name(b.dimension)
        out.append(Section(f"breakdown_{name}", dimension_sheet(b.dimension, i), tuple(columns), rows))
    if report.scope != "regulator":
        out.append(_loans_section(report, i, h))
        out.append(
            Section(
                "top_emitters", SHEET_NAMES["top_emitters"][i],
                ((h["enterprise"], "text"), (h["enterprise_name"], "text"), (h["financed"], "tco2"),
                 (h["outstanding"], "yuan"), (h["grade"], "int")),
                tuple((e.enterprise, e.enterprise_name, e.financed_tco2, yuan(e.outstanding_fen), e.grade)
                      for e in report.top_emitters),
            )
        )  # fmt: skip
    out.append(
        Section(
            "migration", SHEET_NAMES["migration"][i],
            ((h["from_grade"], "int"), (h["to_grade"], "int"), (h["loans"], "int"),
             (h["outstanding"], "yuan")),
            tuple((c.from_grade, c.to_grade, c.loans, yuan(c.outstanding_fen)) for c in report.migration),
        )
    )  # fmt: skip
    if report.HasField("attribution"):
        a = report.attribution
        names = ("financed_tco2_before", "emissions_effect_tco2", "attribution_effect_tco2",
                 "new_loans_tco2", "ended_loans_tco2", "financed_tco2_after")  # fmt: skip
        out.append(
            Section("attribution", SHEET_NAMES["attribution"][i],
                    ((h["component"], "text"), (h["value_tco2"], "tco2")),
                    tuple((n, getattr(a, n)) for n in names))
        )  # fmt: skip
    if report.lenders:
        columns = [
            (h["lender"], "text"),
            (h["label"], "text"),
            *_metric_columns(i),
            (h["suppressed"], "text"),
        ]
        rows = tuple(
            (t.lender, (t.label_zh if i == 0 else t.label_en) or t.lender,
             *_metric_values(t.metrics, t.suppressed),
             "*" if t.suppressed else "")
            for t in report.lenders
        )  # fmt: skip
        out.append(Section("lenders", SHEET_NAMES["lenders"][i], tuple(columns), rows))
    return out


def _report_section(report: portfolio_pb2.PortfolioReport, i: int) -> Section:
    as_of = date.fromisoformat(report.as_of_date) if report.as_of_date else None
    compare = date.fromisoformat(report.compare_date) if report.compare_date else None
    labels = tuple(pairs("report_label")[key] for key in ("scope", "as_of", "compared_with", "profile_year",
                                                          "min_cell_size"))  # fmt: skip
    values: tuple[Any, ...] = (report.scope, as_of, compare, report.profile_year, report.min_cell_size)
    kinds: tuple[Kind, ...] = ("text", "date", "date", "int", "int")
    # one row per item: the value column is typed per row (written cell by cell)
    rows = tuple((label[i], value, kind) for label, value, kind in zip(labels, values, kinds, strict=True))
    return item_section("report", SHEET_NAMES["report"][i], i, rows)


def item_section(key: str, title: str, lang: int, rows: tuple[tuple[str, Any, Kind], ...]) -> Section:
    """A two-column section of (label, value, kind) items (report header, terms)."""
    field, value = HEADERS["field"][lang], HEADERS["value"][lang]
    return Section(key, title, ((field, "text"), (value, "text")), rows, True)


def _loans_section(report: portfolio_pb2.PortfolioReport, i: int, h: dict[str, str]) -> Section:
    columns: tuple[tuple[str, Kind], ...] = (
        (h["loan"], "text"), (h["enterprise"], "text"), (h["enterprise_name"], "text"),
        (h["product"], "text"),
        (h["grade"], "int"), (h["level"], "text"), (h["industry"], "text"), (h["region"], "text"),
        (h["outstanding"], "yuan"), (h["factor"], "score"), (h["scope1"], "tco2"), (h["scope2"], "tco2"),
        (h["scope2_market"], "tco2"), (h["pcaf"], "int"),
    )  # fmt: skip
    rows = tuple(
        (line.loan, line.enterprise, line.enterprise_name, enum_name(scoring_pb2.Product, line.product),
         line.grade, enum_name(common_pb2.CarbonLevel, line.level),
         f"{line.industry_code} {industry_name(line.industry_code)[i]}".strip(),
         region_name(line.region_code)[i] if line.region_code else "", yuan(line.outstanding_fen),
         line.attribution_factor, line.financed_scope1_tco2, line.financed_scope2_tco2,
         line.financed_scope2_market_tco2, line.pcaf_score)
        for line in report.loans
    )  # fmt: skip
    return Section("loans", SHEET_NAMES["loans"][i], columns, rows)


def render_xlsx(report: portfolio_pb2.PortfolioReport, lang: Literal["zh", "en"] = "zh") -> bytes:
    """The report's workbook (:func:`workbook` of its sections)."""
    return workbook(sections(report, lang))


def workbook(parts: list[Section]) -> bytes:
    """The workbook: one sheet per section, header row bold and frozen, typed cells."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    used: set[str] = set()
    for section in parts:
        title = _sheet_title(section.title, used)
        sheet = book.create_sheet(title)
        sheet.append([c for c, _ in section.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for row in section.rows:
            if section.items:
                label, value, kind = row
                sheet.append([label, _cell_value(value, kind)])
                if kind in _FORMATS:
                    sheet.cell(sheet.max_row, 2).number_format = _FORMATS[kind]
                continue
            sheet.append([_cell_value(v, k) for v, (_, k) in zip(row, section.columns, strict=True)])
            for col, (_, kind) in enumerate(section.columns, start=1):
                if kind in _FORMATS:
                    sheet.cell(sheet.max_row, col).number_format = _FORMATS[kind]
        for col, (header, _) in enumerate(section.columns, start=1):
            sheet.column_dimensions[sheet.cell(1, col).column_letter].width = min(
                max(len(header) * 1.6, 10), 40
            )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "yuan":
        return float(value)  # a spreadsheet number (exact to the fen below 2^53 fen)
    if isinstance(value, float) and value != value:  # NaN: no value
        return None
    if kind == "text":
        return neutralise(str(value))
    return value


def _sheet_title(title: str, used: set[str]) -> str:
    base = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31] or "Sheet"
    name, n = base, 2
    while name in used:
        name = f"{base[:28]} {n}"
        n += 1
    used.add(name)
    return name


# Decimal places of each kind in the CSV files (what a reader compares; the Parquet keeps every digit).
_CSV_DIGITS: dict[str, int] = {"yuan": 2, "tco2": 3, "score": 4, "ratio": 6}


def render_csv_zip(report: portfolio_pb2.PortfolioReport, lang: Literal["zh", "en"] = "zh") -> bytes:
    """The report's sections as a zip of CSV files (:func:`csv_zip`)."""
    return csv_zip(sections(report, lang))


def csv_zip(parts: list[Section]) -> bytes:
    """One CSV per section (``{section}.csv``, UTF-8 with BOM for Excel) in a zip: headers with units,
    figures rounded (yuan to the fen, tCO2 to the kilogram, scores to 4 places), dates ISO, text cells
    neutralised against formula injection."""
    import csv
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for section in parts:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow([c for c, _ in section.columns])
            for row in section.rows:
                if section.items:
                    label, value, kind = row
                    writer.writerow([label, _csv_value(value, kind)])
                else:
                    writer.writerow(
                        [_csv_value(v, k) for v, (_, k) in zip(row, section.columns, strict=True)]
                    )
            archive.writestr(f"{section.key}.csv", "\ufeff" + text.getvalue())
    return buffer.getvalue()


def _csv_value(value: Any, kind: str) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if kind == "yuan":
        return f"{Decimal(value):.2f}"
    if kind in _CSV_DIGITS:
        return f"{float(value):.{_CSV_DIGITS[kind]}f}"
    if kind == "date":
        return value.isoformat()
    if kind == "text":
        return neutralise(str(value))
    return value
