"""The regional dashboard's answers (dashboard.proto) as typed tables, and as CSV, xlsx or JSON.

Used by `tanxiao report dashboard`. Each table is a list of columns (a header in zh and en with its
unit, and a kind) and rows of typed values (numbers stay numbers). A suppressed figure is blank (None),
never 0, and the row's last column names what was suppressed ("*" for the whole row): the disclosure
convention of docs/security.md. Headers are kept together here, one catalogue for these tables.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.message import Message

from tanxiao.locale import pairs
from tanxiao.registry.v1 import dashboard_pb2

Kind = Literal["text", "int", "tco2", "ratio", "number"]
_FORMATS = {"int": "#,##0", "tco2": "#,##0.000", "ratio": "0.00%", "number": "0.0000"}
HEADERS: Mapping[str, tuple[str, str]] = pairs("dashboard_header")  # (zh, en): tanxiao/locale


def header(key: str, language: str, **values: object) -> str:
    zh, en = HEADERS[key]
    return (en if language == "en" else zh).format(**values)


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[tuple[str, Kind], ...]
    rows: tuple[tuple[Any, ...], ...]


def _grade_label(grade: int, language: str) -> str:
    return header("grade0", language) if grade == 0 else header("grade", language, n=grade)


def _pick(language: str, zh: str, en: str) -> str:
    return en if language == "en" else zh


def grades_table(answer: dashboard_pb2.GradeDistribution, language: str = "zh") -> Table:
    columns: list[tuple[str, Kind]] = [
        (header(k, language), "int" if k == "year" else "text")
        for k in ("year", "county", "county_name", "division", "division_name")
    ]
    columns += [(header("enterprises", language), "int")]
    columns += [(_grade_label(g, language), "int") for g in range(6)]
    columns += [(header("suppressed", language), "text")]
    rows = []
    for row, total in [(r, False) for r in answer.rows] + [(r, True) for r in answer.year_totals]:
        hidden = [c for c in row.grades if c.suppressed]
        rows.append(
            (
                row.year,
                row.county_code,
                header("total", language)
                if total
                else _pick(language, row.county_name_zh, row.county_name_en),
                row.industry_division,
                _pick(language, row.industry_name_zh, row.industry_name_en),
                None if row.suppressed else row.enterprises,
                *(None if c.suppressed else c.enterprises for c in row.grades),
                "*" if row.suppressed else ", ".join(_grade_label(c.grade, language) for c in hidden),
            )
        )
    return Table("grades", tuple(columns), tuple(rows))


def migration_table(answer: dashboard_pb2.GradeMigration, language: str = "zh") -> Table:
    targets: list[tuple[int, bool]] = [(g, False) for g in range(6)] + [(0, True)]

    def target_label(grade: int, no_profile: bool) -> str:
        label = header("no_profile", language) if no_profile else _grade_label(grade, language)
        return header("to_grade", language, label=label)

    columns: list[tuple[str, Kind]] = [
        (header("from_grade", language), "text"),
        (header("enterprises", language), "int"),
    ]
    columns += [(target_label(g, n), "int") for g, n in targets]
    columns += [(header("suppressed", language), "text")]
    cells = {(c.from_grade, c.to_grade, c.no_profile): c for c in answer.cells}
    rows = []
    for row in answer.rows:
        values: list[Any] = []
        hidden = []
        for g, n in targets:
            cell = cells.get((row.from_grade, g, n))
            if cell is not None and cell.suppressed:
                values.append(None)
                hidden.append(target_label(g, n))
            else:
                values.append(cell.enterprises if cell is not None else 0)
        marker = "*" if row.suppressed else ", ".join(hidden)
        rows.append(
            (
                _grade_label(row.from_grade, language),
                None if row.suppressed else row.enterprises,
                *values,
                marker,
            )
        )
    return Table("migration", tuple(columns), tuple(rows))


def grade5_table(items: list[dashboard_pb2.GradeFiveEnterprise], language: str = "zh") -> Table:
    keys: list[tuple[str, Kind]] = [
        ("enterprise", "text"),
        ("name", "text"),
        ("county", "text"),
        ("county_name", "text"),
        ("industry", "text"),
        ("division_name", "text"),
        ("intensity", "number"),
        ("benchmark", "number"),
        ("k", "number"),
        ("gross", "tco2"),
        ("source_code", "text"),
        ("source", "text"),
        ("source_tco2", "tco2"),
        ("source_share", "ratio"),
    ]
    rows = tuple(
        (
            e.enterprise,
            e.display_name,
            e.county_code,
            _pick(language, e.county_name_zh, e.county_name_en),
            e.industry_code,
            _pick(language, e.industry_name_zh, e.industry_name_en),
            e.carbon_intensity,
            e.benchmark_intensity,
            e.k_value,
            e.gross_tco2,
            e.largest_source_category,
            _pick(language, e.largest_source_name_zh, e.largest_source_name_en),
            e.largest_source_tco2 if e.largest_source_category else None,
            e.largest_source_share if e.largest_source_category else None,
        )
        for e in items
    )
    return Table("grade5", tuple((header(k, language), kind) for k, kind in keys), rows)


def pipeline_table(answer: dashboard_pb2.SavingsPipeline, language: str = "zh") -> Table:
    columns: tuple[tuple[str, Kind], ...] = (
        (header("key", language), "text"),
        (header("label", language), "text"),
        (header("enterprises", language), "int"),
        (header("pledged", language), "int"),
        (header("pledged_tco2", language), "tco2"),
        (header("verified", language), "int"),
        (header("verified_tco2", language), "tco2"),
        (header("overdue", language), "int"),
        (header("overdue_tco2", language), "tco2"),
        (header("suppressed", language), "text"),
    )

    def line(
        key: str, label: str, f: dashboard_pb2.PipelineFigures, whole: bool, v: bool, o: bool
    ) -> tuple[Any, ...]:
        if whole:
            return (key, label, None, None, None, None, None, None, None, "*")
        marks = [header(h, language) for h, hidden in (("verified", v), ("overdue", o)) if hidden]
        return (
            key,
            label,
            f.enterprises,
            f.pledged_commitments,
            f.pledged_tco2_per_year,
            None if v else f.verified_commitments,
            None if v else f.verified_tco2_per_year,
            None if o else f.overdue_commitments,
            None if o else f.overdue_tco2_per_year,
            ", ".join(marks),
        )

    rows = [
        line(
            r.key,
            _pick(language, r.name_zh, r.name_en),
            r.figures,
            r.suppressed,
            r.verified_suppressed,
            r.overdue_suppressed,
        )
        for r in answer.rows
    ]
    rows.append(
        line(
            "",
            header("total", language),
            answer.totals,
            answer.withheld,
            answer.verified_suppressed,
            answer.overdue_suppressed,
        )
    )
    return Table("pipeline", columns, tuple(rows))


# --- writers --------------------------------------------------------------------------------------


def _neutral(value: Any) -> Any:
    """Text a spreadsheet would evaluate (= + - @ at the start) is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _rounded(value: Any, kind: Kind) -> Any:
    if value is None or not isinstance(value, float):
        return value
    return round(value, {"tco2": 3, "ratio": 4, "number": 4}.get(kind, 6))


def to_csv(table: Table) -> bytes:
    """UTF-8 with BOM (so spreadsheets read the Chinese), figures rounded, suppressed cells blank."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in table.columns])
    for row in table.rows:
        writer.writerow(
            [
                "" if v is None else _neutral(_rounded(v, kind))
                for v, (_, kind) in zip(row, table.columns, strict=True)
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    """One sheet: numbers as numbers with a display format, suppressed cells empty, a bold header."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.title
    sheet.append([name for name, _ in table.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([_neutral(v) for v in row])
    for index, (_, kind) in enumerate(table.columns, start=1):
        number_format = _FORMATS.get(kind)
        if number_format is None:
            continue
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            if cell.value is not None:
                cell.number_format = number_format
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_json(message: Message) -> bytes:
    text: str = json_format.MessageToJson(
        message,
        preserving_proto_field_name=True,
        ensure_ascii=False,
        always_print_fields_with_no_presence=True,
    )
    return text.encode("utf-8")
