"""Portfolio report exports (scoring_service/portfolio_export.py): the long table, CSV / Parquet / JSON
round trips of the exact numbers, the self-contained HTML page, chunking, the empty report and the
regulator view without enterprise-level rows."""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from google.protobuf import json_format
from helpers import parse_html
from openpyxl import load_workbook
from pypdf import PdfReader

from scoring_service.portfolio.csv_safety import neutralise
from scoring_service.portfolio_export import (
    COLUMNS,
    FORMATS,
    GRADE_COLOURS,
    chunks,
    export_report,
    export_stream,
    filename_for,
    render_html,
    report_table,
)
from tanxiao.portfolio.v1 import portfolio_pb2 as pb

MALICIOUS = '<script>alert("x")</script><img src="https://evil.example/x.png" onerror=1>&'

# Exact doubles that rounding or a lossy float format would change.
OUT_TOTAL = 1_234_567_890.123456789
S1_TOTAL = 12_345.678901234567
S2_TOTAL = 3_456.7890123456789


def fen(yuan: float) -> int:
    """Yuan written as in a lender's statement, as the integer fen of the message."""
    return round(yuan * 100)


def _metrics(
    loans: int, outstanding: float, s1: float, s2: float, wdqs: float, waci: float, without: int = 0
) -> pb.Metrics:
    financed = s1 + s2
    return pb.Metrics(
        loans=loans,
        outstanding_fen=fen(outstanding),
        financed_scope1_tco2=s1,
        financed_scope2_tco2=s2,
        financed_tco2=financed,
        wdqs=wdqs,
        economic_intensity=financed / (outstanding / 1e6) if outstanding else 0.0,
        waci=waci,
        loans_without_profile=without,
    )


def _row(key: str, zh: str, en: str, m: pb.Metrics) -> pb.GroupRow:
    return pb.GroupRow(
        key=key, label_zh=zh, label_en=en, metrics=m, outstanding_share=m.outstanding_fen / fen(OUT_TOTAL)
    )


def _lender_report(name: str = "湖州绿源纺织有限公司") -> pb.PortfolioReport:
    grades = pb.Breakdown(
        dimension=pb.GRADE,
        rows=[
            _row("1", "一级", "Grade 1", _metrics(12, 402_000_000.5, 1_200.25, 800.125, 2.1, 35.7)),
            _row("2", "二级", "Grade 2", _metrics(9, 311_000_000.0, 2_100.5, 600.0, 2.4, 61.2)),
            _row("3", "三级", "Grade 3", _metrics(7, 250_567_890.1, 3_000.1, 900.3, 2.9, 110.4)),
            _row("4", "四级", "Grade 4", _metrics(4, 171_000_000.0, 3_500.0, 700.0, 3.1, 190.9)),
            _row("5", "五级", "Grade 5", _metrics(2, 100_000_000.0 - 0.4771, 2_544.8, 456.1, 3.8, 410.0)),
        ],
    )
    level = pb.Breakdown(
        dimension=pb.LEVEL,
        rows=[
            _row(
                "LOW_CARBON",
                "低碳",
                "Low carbon",
                _metrics(21, 713_000_000.5, 3_300.75, 1_400.125, 2.2, 45.0),
            ),
            _row("MID_CARBON", "中碳", "Mid carbon", _metrics(7, 250_567_890.1, 3_000.1, 900.3, 2.9, 110.4)),
            _row(
                "HIGH_CARBON",
                "高碳",
                "High carbon",
                _metrics(6, 270_999_999.5229, 6_044.8, 1_156.1, 3.3, 250.0),
            ),
        ],
    )
    sections = pb.Breakdown(
        dimension=pb.INDUSTRY_SECTION,
        rows=[
            _row(
                "C", "制造业", "Manufacturing", _metrics(25, 901_234_567.0, 10_345.0, 2_956.0, 2.7, 140.2, 1)
            ),
            _row(
                "D",
                "电力、热力、燃气及水生产和供应业",
                "Utilities",
                _metrics(3, 200_000_000.0, 1_900.0, 300.0, 2.0, 300.5),
            ),
            _row(
                "F",
                "建筑业",
                "Construction",
                _metrics(6, 133_333_323.123456789, 100.678901234567, 200.789, 3.5, 20.0),
            ),
        ],
    )
    divisions = pb.Breakdown(
        dimension=pb.INDUSTRY_DIVISION,
        rows=[
            _row("17", "纺织业", "Textiles", _metrics(10, 300_000_000.0, 3_000.0, 1_000.0, 2.5, 120.0)),
            _row(
                "28",
                "化学纤维制造业",
                "Chemical fibres",
                _metrics(8, 350_000_000.0, 5_000.0, 1_200.0, 2.9, 180.0),
            ),
        ],
    )
    counties = pb.Breakdown(
        dimension=pb.COUNTY,
        rows=[
            _row("330502", "吴兴区", "Wuxing", _metrics(20, 700_000_000.0, 7_000.0, 2_000.0, 2.5, 100.0)),
            _row(
                "330503",
                "南浔区",
                "Nanxun",
                _metrics(14, 534_567_890.123456789, 5_345.678901234567, 1_456.789, 2.8, 130.0),
            ),
        ],
    )
    cities = pb.Breakdown(
        dimension=pb.CITY,
        rows=[_row("330500", "湖州市", "Huzhou", _metrics(34, OUT_TOTAL, S1_TOTAL, S2_TOTAL, 2.63, 118.4))],
    )
    products = pb.Breakdown(
        dimension=pb.PRODUCT,
        rows=[
            _row(
                "LOW_CARBON_EXPANSION",
                "低碳扩产贷",
                "Low-carbon expansion",
                _metrics(18, 600_000_000.0, 2_000.0, 1_000.0, 2.1, 40.0),
            ),
            _row(
                "HIGH_CARBON_RETROFIT",
                "高碳改造贷",
                "High-carbon retrofit",
                _metrics(5, 300_000_000.0, 6_000.0, 1_000.0, 3.2, 260.0),
            ),
            _row(
                "GENERAL",
                "一般贷款",
                "General",
                _metrics(11, 334_567_890.123456789, 4_345.678901234567, 1_456.789, 2.9, 90.0),
            ),
        ],
    )
    report = pb.PortfolioReport(
        scope="lenders/demo-bank",
        as_of_date="2026-11-25",
        compare_date="2025-11-25",
        totals=_metrics(34, OUT_TOTAL, S1_TOTAL, S2_TOTAL, 2.6312345678901234, 118.39999999999999, 1),
        breakdowns=[grades, level, sections, divisions, counties, cities, products],
        loans=[
            pb.LoanLine(
                loan="lenders/demo-bank/loans/L-0001",
                enterprise="enterprises/91330502MA2B3C4D5E",
                enterprise_name=name,
                product="HIGH_CARBON_RETROFIT",
                outstanding_fen=2500000037,
                grade=5,
                level="HIGH_CARBON",
                industry_code="17",
                region_code="330502",
                attribution_factor=0.123456789012345,
                financed_scope1_tco2=1_234.5678901234,
                financed_scope2_tco2=234.56789012345,
                pcaf_score=2,
                profile="enterprises/91330502MA2B3C4D5E/profiles/2025",
            ),
            pb.LoanLine(
                loan="lenders/demo-bank/loans/L-0002",
                enterprise="enterprises/91330503MA2X7Y8Z9Q",
                enterprise_name="南浔新材料科技股份有限公司",
                product="LOW_CARBON_EXPANSION",
                outstanding_fen=800000000,
                grade=1,
                level="LOW_CARBON",
                industry_code="28",
                region_code="330503",
                attribution_factor=0.05,
                financed_scope1_tco2=12.5,
                financed_scope2_tco2=30.25,
                pcaf_score=1,
                profile="enterprises/91330503MA2X7Y8Z9Q/profiles/2025",
            ),
        ],
        retrofit=pb.RetrofitProgress(
            loans=5,
            outstanding_fen=30000000000,
            committed_tco2_per_year=4_500.125,
            achieved_tco2_per_year=1_800.0625,
            on_track=2,
            at_risk=1,
            missed=0,
            achieved=1,
            not_started=1,
        ),
        green_share=0.4861234567890123,
        transition_share=0.24300000000000002,
        other_share=0.2708765432109877,
        migration=[
            pb.MigrationCell(from_grade=1, to_grade=1, loans=10, outstanding_fen=35000000000),
            pb.MigrationCell(from_grade=2, to_grade=1, loans=2, outstanding_fen=5200000050),
            pb.MigrationCell(from_grade=3, to_grade=3, loans=6, outstanding_fen=23000000000),
            pb.MigrationCell(from_grade=5, to_grade=4, loans=1, outstanding_fen=4000000000),
            pb.MigrationCell(from_grade=0, to_grade=2, loans=3, outstanding_fen=6000000000),
        ],
        grade5_share=0.08100000000000002,
        top_emitters=[
            pb.Emitter(
                enterprise="enterprises/91330502MA2B3C4D5E",
                enterprise_name=name,
                financed_tco2=1_469.13578024685,
                outstanding_fen=2500000037,
                grade=5,
            ),
            pb.Emitter(
                enterprise="enterprises/91330503MA2X7Y8Z9Q",
                enterprise_name="南浔新材料科技股份有限公司",
                financed_tco2=42.75,
                outstanding_fen=800000000,
                grade=1,
            ),
        ],
        attribution=pb.Attribution(
            financed_tco2_before=17_000.5,
            financed_tco2_after=S1_TOTAL + S2_TOTAL,
            emissions_effect_tco2=-1_500.25,
            attribution_effect_tco2=400.125,
            new_loans_tco2=1_200.0,
            ended_loans_tco2=-1_298.0,
        ),
        profile_year=2025,
    )
    report.generate_time.FromJsonString("2026-11-25T08:30:00.123Z")
    return report


def _regulator_report() -> pb.PortfolioReport:
    report = _lender_report()
    report.scope = "regulator"
    lender_a = _metrics(20, 700_000_000.123, 7_000.5, 2_000.25, 2.5, 100.0)
    lender_b = _metrics(14, OUT_TOTAL - 700_000_000.123, S1_TOTAL - 7_000.5, S2_TOTAL - 2_000.25, 2.8, 140.0)
    report.breakdowns.append(
        pb.Breakdown(
            dimension=pb.LENDER,
            rows=[
                _row("lenders/demo-bank", "示范银行", "Demo Bank", lender_a),
                _row("lenders/huzhou-rcb", "湖州农商行", "Huzhou RCB", lender_b),
            ],
        )
    )
    report.lenders.extend(
        [
            pb.LenderTotal(lender="lenders/demo-bank", metrics=lender_a),
            pb.LenderTotal(lender="lenders/huzhou-rcb", metrics=lender_b),
        ]
    )
    # loans and top_emitters are deliberately left in: the exports must drop them.
    return report


def _empty_report() -> pb.PortfolioReport:
    return pb.PortfolioReport(scope="lenders/new-bank", as_of_date="2026-01-01")


REPORTS = {
    "lender": _lender_report,
    "regulator": _regulator_report,
    "empty": _empty_report,
}


def _read_csv(data: bytes, section: str) -> pd.DataFrame:
    """One section's CSV out of the CSV export (a zip of one CSV per section)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        raw = archive.read(f"{section}.csv")
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    return pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str, keep_default_na=False)


def _assert_same_numbers(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    assert list(actual.columns) == list(expected.columns)
    assert len(actual) == len(expected)
    for column, dtype in COLUMNS.items():
        for i, (want, got) in enumerate(zip(expected[column], actual[column], strict=True)):
            if pd.isna(want):
                assert pd.isna(got), (column, i, got)
            elif dtype == "string":
                assert str(got) == want, (column, i)
            else:
                # exact equality: no rounding anywhere
                assert float(got) == float(want), (column, i, want, got)


# ----------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------


def test_report_table_sections_and_exact_numbers() -> None:
    report = _lender_report()
    table = report_table(report)
    assert list(table.columns) == list(COLUMNS)
    assert set(table["section"]) == {
        "totals",
        "breakdown",
        "loan",
        "migration",
        "top_emitter",
        "retrofit",
        "attribution",
    }
    totals = table[table["section"] == "totals"].iloc[0]
    assert totals["outstanding_fen"] == fen(OUT_TOTAL)
    assert totals["financed_scope1_tco2"] == S1_TOTAL
    assert totals["financed_tco2"] == report.totals.financed_tco2
    assert totals["wdqs"] == 2.6312345678901234
    assert totals["waci"] == 118.39999999999999
    assert totals["green_share"] == report.green_share
    assert totals["grade5_share"] == report.grade5_share
    assert totals["scope"] == "lenders/demo-bank"
    assert totals["generate_time"] == "2026-11-25T08:30:00.123Z"

    breakdown = table[table["section"] == "breakdown"]
    assert set(breakdown["dimension"]) == {
        "GRADE",
        "LEVEL",
        "INDUSTRY_SECTION",
        "INDUSTRY_DIVISION",
        "COUNTY",
        "CITY",
        "PRODUCT",
    }
    assert len(breakdown) == sum(len(b.rows) for b in report.breakdowns)
    grade5 = breakdown[(breakdown["dimension"] == "GRADE") & (breakdown["key"] == "5")].iloc[0]
    assert grade5["label_zh"] == "五级"
    assert grade5["outstanding_fen"] == 9_999_999_952  # 100,000,000 - 0.4771 yuan, to the fen
    assert grade5["outstanding_share"] == report.breakdowns[0].rows[4].outstanding_share
    section_f = breakdown[breakdown["key"] == "F"].iloc[0]
    assert section_f["outstanding_fen"] == 13_333_332_312
    assert section_f["financed_scope1_tco2"] == 100.678901234567

    loan = table[table["section"] == "loan"].iloc[0]
    assert loan["key"] == "lenders/demo-bank/loans/L-0001"
    assert loan["attribution_factor"] == 0.123456789012345
    assert loan["grade"] == 5
    assert loan["financed_tco2"] == 1_234.5678901234 + 234.56789012345

    migration = table[table["section"] == "migration"]
    assert list(migration["key"]) == ["1->1", "2->1", "3->3", "5->4", "0->2"]
    assert migration["outstanding_fen"].sum() == sum(c.outstanding_fen for c in report.migration)

    attribution = table[table["section"] == "attribution"].set_index("key")["value_tco2"]
    assert attribution["financed_tco2_before"] == 17_000.5
    assert attribution["financed_tco2_after"] == S1_TOTAL + S2_TOTAL
    assert attribution["emissions_effect_tco2"] == -1_500.25

    retrofit = table[table["section"] == "retrofit"].iloc[0]
    assert retrofit["committed_tco2_per_year"] == 4_500.125
    assert retrofit["on_track"] == 2

    emitters = table[table["section"] == "top_emitter"]
    assert list(emitters["key"]) == ["1", "2"]
    assert emitters.iloc[0]["financed_tco2"] == 1_469.13578024685


def test_regulator_table_has_lenders_and_no_enterprise_rows() -> None:
    table = report_table(_regulator_report())
    assert "loan" not in set(table["section"])
    assert "top_emitter" not in set(table["section"])
    assert table["enterprise"].isna().all()
    assert table["enterprise_name"].isna().all()
    lenders = table[table["section"] == "lender"]
    assert list(lenders["key"]) == ["lenders/demo-bank", "lenders/huzhou-rcb"]
    assert lenders.iloc[0]["outstanding_fen"] == 70_000_000_012


# ----------------------------------------------------------------------------------------------
# Formats
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_csv_is_one_rounded_file_per_section(kind: str) -> None:
    report = REPORTS[kind]()
    data, content_type, filename = export_report(report, "CSV", "en")
    assert content_type == "application/zip" and filename.endswith(".csv.zip")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
    assert {"report.csv", "totals.csv", "migration.csv"} <= names
    assert ("loans.csv" in names) == (report.scope != "regulator")  # a lender report keeps its loans
    if kind == "empty":
        assert _read_csv(data, "totals").iloc[0]["Outstanding (CNY)"] == "0.00"
        return
    totals = _read_csv(data, "totals").iloc[0]
    # money to the fen, emissions to 3 places: 1,234,567,890.123456789 yuan -> "1234567890.12"
    assert totals["Outstanding (CNY)"] == f"{Decimal(fen(OUT_TOTAL)) / 100:.2f}" == "1234567890.12"
    assert totals["Financed scope 1 (tCO₂/yr)"] == f"{S1_TOTAL:.3f}" == "12345.679"
    grades = _read_csv(data, "breakdown_GRADE")
    # the rows' fen sum to the totals' fen: the rounded yuan reconcile exactly
    assert sum(Decimal(v) for v in grades["Outstanding (CNY)"]) == sum(
        Decimal(r.metrics.outstanding_fen) / 100 for r in report.breakdowns[0].rows
    )


def test_csv_keeps_chinese_and_codes_as_text() -> None:
    data, _, _ = export_report(_lender_report(), "csv")
    loans = _read_csv(data, "loans")
    assert "湖州绿源纺织有限公司" in set(loans["企业名称"])
    counties = _read_csv(data, "breakdown_COUNTY")
    assert "330502" in set(counties["代码"])
    # grades as keys stay strings ("1".."5"), not numbers
    assert set(_read_csv(data, "breakdown_GRADE")["代码"]) >= {"1", "5"}


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_parquet_round_trips_the_numbers(kind: str) -> None:
    report = REPORTS[kind]()
    data, content_type, filename = export_report(report, "PARQUET")
    assert content_type == "application/vnd.apache.parquet"
    assert filename.endswith(".parquet")
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == list(COLUMNS)
    # real types: dates are date32, the generation time a UTC timestamp, money integer fen
    assert str(table.schema.field("as_of_date").type) == "date32[day]"
    assert str(table.schema.field("generate_time").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("outstanding_fen").type) == "int64"
    frame = table.to_pandas()
    assert str(frame["as_of_date"].iloc[0]) == report.as_of_date
    for column in ("as_of_date", "compare_date"):
        frame[column] = frame[column].map(lambda d: None if pd.isna(d) else d.isoformat())
    frame["generate_time"] = report_table(report)["generate_time"]  # checked above as a timestamp
    _assert_same_numbers(report_table(report), frame)


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_json_round_trips_the_message(kind: str) -> None:
    report = REPORTS[kind]()
    data, content_type, filename = export_report(report, "JSON")
    assert content_type == "application/json"
    assert filename.endswith(".json")
    parsed = json_format.Parse(data.decode("utf-8"), pb.PortfolioReport())
    if kind == "regulator":
        expected = pb.PortfolioReport()
        expected.CopyFrom(report)
        expected.ClearField("loans")
        expected.ClearField("top_emitters")
        assert parsed == expected
    else:
        assert parsed == report
    raw = json.loads(data)
    if kind == "lender":
        assert raw["scope"] == "lenders/demo-bank"  # preserving_proto_field_name: snake_case keys
        assert int(raw["totals"]["outstanding_fen"]) == fen(OUT_TOTAL)  # int64 is a JSON string
        assert "湖州绿源纺织有限公司" in data.decode("utf-8")


def test_filenames_and_format_names() -> None:
    report = _lender_report()
    assert FORMATS == ("CSV", "PARQUET", "JSON", "HTML", "XLSX", "PDF")
    expected = {
        "CSV": "portfolio-demo-bank-2026-11-25.csv.zip",
        "PARQUET": "portfolio-demo-bank-2026-11-25.parquet",
        "JSON": "portfolio-demo-bank-2026-11-25.json",
        "HTML": "portfolio-demo-bank-2026-11-25.html",
    }
    for fmt, name in expected.items():
        assert export_report(report, fmt)[2] == name
        assert export_report(report, fmt.lower())[2] == name
    assert export_report(report, pb.HTML)[2] == expected["HTML"]
    assert export_report(_regulator_report(), "JSON")[2] == "portfolio-regulator-2026-11-25.json"
    weird = pb.PortfolioReport(scope="lenders/../../etc", as_of_date="2026-11-25")
    assert "/" not in export_report(weird, "CSV")[2]
    assert filename_for(report, "XLSX") == "portfolio-demo-bank-2026-11-25.xlsx"
    assert filename_for(report, pb.PDF) == "portfolio-demo-bank-2026-11-25.pdf"
    with pytest.raises(ValueError):
        export_report(report, "DOCX")
    with pytest.raises(ValueError):
        export_report(report, pb.EXPORT_FORMAT_UNSPECIFIED)


# ----------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_is_self_contained_with_charts(lang: str) -> None:
    page = render_html(_lender_report(), lang)
    parsed = parse_html(page)
    assert parsed.html_lang == ("zh-CN" if lang == "zh" else "en")
    assert parsed.tags.count("svg") >= 4
    assert "script" not in parsed.tags
    assert "link" not in parsed.tags
    for tag, attr, value in parsed.attrs:
        if attr in ("src", "href", "xlink:href"):
            assert not re.match(r"\s*(https?:)?//", value or ""), (tag, attr, value)
        assert not attr.startswith("on"), (tag, attr)
    assert not re.search(r"https?://", page)
    # grade colours of the distribution chart
    for colour in ("#1A9641", "#A6D96A", "#FFD700", "#FDAE61", "#D7191C"):
        assert colour in page
    text = "".join(parsed.text)
    if lang == "zh":
        assert "贷款组合碳效报告" in text
        assert "制造业" in text
        assert "碳效等级迁移矩阵" in text
    else:
        assert "Portfolio carbon-efficiency report" in text
        assert "Manufacturing" in text
        assert "Grade migration matrix" in text
    # loan lines and top emitters in the lender view
    assert "湖州绿源纺织有限公司" in text
    assert "lenders/demo-bank/loans/L-0001" in text


def test_html_carries_exact_values_in_titles() -> None:
    parsed = parse_html(render_html(_lender_report(), "en"))
    titles = {v for _, k, v in parsed.attrs if k == "title"}
    assert f"{fen(OUT_TOTAL)} fen" in titles
    assert repr(0.123456789012345) in titles


def test_html_escapes_malicious_enterprise_name() -> None:
    report = _lender_report(name=MALICIOUS)
    report.breakdowns[2].rows[0].label_zh = "<b>制造业</b>"
    for lang in ("zh", "en"):
        page = render_html(report, lang)
        assert "<script>" not in page
        assert "<img" not in page
        assert "&lt;script&gt;" in page
        assert "<b>制造业" not in page
        parsed = parse_html(page)
        assert "script" not in parsed.tags
        assert "img" not in parsed.tags
        assert MALICIOUS in "".join(parsed.text)  # shown as text, not markup


def test_html_regulator_view_has_lenders_and_no_enterprise_rows() -> None:
    for lang in ("zh", "en"):
        page = render_html(_regulator_report(), lang)
        assert "湖州绿源纺织有限公司" not in page
        assert "南浔新材料" not in page
        assert "91330502MA2B3C4D5E" not in page
        assert "loans/L-0001" not in page
        assert 'id="loans"' not in page
        assert 'id="top-emitters"' not in page
        assert 'id="lenders"' in page
        assert "huzhou-rcb" in page
        assert parse_html(page).tags.count("svg") >= 4


def test_html_attribution_shows_components_and_residual() -> None:
    report = _lender_report()
    page = render_html(report, "en")
    section = page[page.index('id="attribution"') :]
    section = section[: section.index("</section>")]
    for label in ("Borrowers&#39; emission change", "Attribution effect", "New loans", "Ended loans"):
        assert label in section
    # the components add up to 15802.375, the reported after is S1 + S2: the gap is shown
    assert "Residual" in section
    assert repr(S1_TOTAL + S2_TOTAL) in section
    report.attribution.ended_loans_tco2 = (S1_TOTAL + S2_TOTAL) - (17_000.5 - 1_500.25 + 400.125 + 1_200.0)
    page = render_html(report, "zh")
    assert "未分解差额" not in page


def test_html_unknown_language_is_an_error() -> None:
    with pytest.raises(ValueError):
        render_html(_lender_report(), "fr")


# ----------------------------------------------------------------------------------------------
# Empty report, regulator view across formats, chunks
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_report_works_in_every_format(fmt: str) -> None:
    data, content_type, filename = export_report(_empty_report(), fmt)
    assert data
    assert filename.startswith("portfolio-new-bank-2026-01-01.")
    assert content_type
    if fmt == "HTML":
        page = data.decode("utf-8")
        parsed = parse_html(page)
        assert parsed.tags.count("svg") >= 4
        assert "无数据" in page


def test_empty_report_table_has_only_totals() -> None:
    table = report_table(_empty_report())
    assert list(table["section"]) == ["totals"]
    row = table.iloc[0]
    assert row["loans"] == 0
    assert row["outstanding_fen"] == 0
    assert row["outstanding_share"] == 0.0


@pytest.mark.parametrize("fmt", FORMATS)
def test_regulator_scope_carries_no_enterprise_rows(fmt: str) -> None:
    data, _, _ = export_report(_regulator_report(), fmt)
    if fmt == "PARQUET":
        frame = pq.read_table(io.BytesIO(data)).to_pandas()
        assert not {"loan", "top_emitter"} & set(frame["section"])
        assert frame["enterprise"].isna().all()
        return
    if fmt == "XLSX":
        book = load_workbook(io.BytesIO(data))
        text = "\n".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row)
    elif fmt == "PDF":
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    elif fmt == "CSV":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            text = "".join(archive.read(n).decode("utf-8-sig") for n in archive.namelist())
    else:
        text = data.decode("utf-8-sig")
    for needle in (
        "湖州绿源纺织有限公司",
        "南浔新材料",
        "91330502MA2B3C4D5E",
        "91330503MA2X7Y8Z9Q",
        "L-0001",
    ):
        assert needle not in text, (fmt, needle)
    if fmt == "JSON":
        raw: dict[str, Any] = json.loads(text)
        assert "loans" not in raw
        assert "top_emitters" not in raw
        assert len(raw["lenders"]) == 2


@pytest.mark.parametrize("size", [1, 7, 1024, 64 * 1024, 10**7])
def test_chunks_reassemble(size: int) -> None:
    data, _, _ = export_report(_lender_report(), "HTML")
    pieces = list(chunks(data, size))
    assert b"".join(pieces) == data
    assert all(0 < len(p) <= size for p in pieces)
    assert len(pieces) == math.ceil(len(data) / size)


def test_chunks_of_empty_data_and_bad_size() -> None:
    assert list(chunks(b"")) == [b""]
    with pytest.raises(ValueError):
        list(chunks(b"abc", 0))


def test_export_stream_puts_metadata_on_first_chunk() -> None:
    report = _lender_report()
    data, content_type, filename = export_report(report, "PARQUET")
    stream = list(export_stream(report, "PARQUET", size=1000))
    assert b"".join(c.data for c in stream) == data
    assert stream[0].content_type == content_type
    assert stream[0].filename == filename
    assert all(not c.content_type and not c.filename for c in stream[1:])


def test_grade_colours() -> None:
    assert [GRADE_COLOURS[g] for g in range(1, 6)] == ["#1A9641", "#A6D96A", "#FFD700", "#FDAE61", "#D7191C"]


def test_csv_neutralises_formula_cells_but_keeps_negative_numbers() -> None:
    # An enterprise named "=HYPERLINK(...)" must reach the spreadsheet as text: "'=HYPERLINK(...)".
    report = _lender_report(name='=HYPERLINK("http://x","y")')
    data, _, _ = export_report(report, "CSV", "en")
    loans = _read_csv(data, "loans")
    assert loans.iloc[0]["Enterprise name"] == '\'=HYPERLINK("http://x","y")'
    attribution = _read_csv(data, "attribution").set_index("Component")["tCO₂/yr"]
    assert attribution["emissions_effect_tco2"] == "-1500.250"  # a number, not "'-1500.250"
    for prefix in ("+", "-", "@", "="):
        assert neutralise(prefix + "1") == "'" + prefix + "1"
    assert neutralise(-3) == -3 and neutralise("湖州") == "湖州"
