"""xlsx and A4 PDF exports of a portfolio report: opened with a reader, not looked at."""

from __future__ import annotations

import io
import subprocess
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from scoring_service.portfolio.pdf import page_count
from scoring_service.portfolio_export import export_report
from tanxiao.portfolio.v1 import portfolio_pb2 as pb


def _report(scope: str = "lenders/huzhou-bank", loans: int = 60) -> pb.PortfolioReport:
    # Three loans' worth of groups plus `loans` loan lines: 12,345,678.91 yuan = 1,234,567,891 fen etc.
    grade1 = pb.Metrics(
        loans=2, outstanding_fen=1_234_567_891, financed_tco2=100.5, financed_scope1_tco2=100.5
    )
    grade3 = pb.Metrics(
        loans=1, outstanding_fen=10_000_000_009, financed_tco2=20.25, financed_scope2_tco2=20.25
    )
    totals = pb.Metrics(loans=3, outstanding_fen=11_234_567_900, financed_tco2=120.75, waci=12.5, wdqs=3.03)
    report = pb.PortfolioReport(
        scope=scope, as_of_date="2026-06-30", compare_date="2025-06-30", profile_year=2025, totals=totals,
        breakdowns=[
            pb.Breakdown(dimension=pb.GRADE, rows=[
                pb.GroupRow(key="1", label_zh="1级", label_en="Grade 1", metrics=grade1,
                            outstanding_share=0.11),
                pb.GroupRow(key="3", label_zh="3级", label_en="Grade 3", metrics=grade3,
                            outstanding_share=0.89),
            ]),
        ],
    )  # fmt: skip
    for n in range(loans):
        report.loans.append(
            pb.LoanLine(
                loan=f"{scope}/loans/L-{n:04d}", enterprise="enterprises/91330502MA2B3C4D5E",
                enterprise_name="湖州绿源纺织有限公司", product="GENERAL", outstanding_fen=100_000 + n,
                grade=3,
                level="MEDIUM_CARBON", industry_code="1713", region_code="330502", attribution_factor=0.25,
                financed_scope1_tco2=1.5, financed_scope2_tco2=0.5, pcaf_score=2,
                profile="enterprises/91330502MA2B3C4D5E/profiles/2025",
            )
        )  # fmt: skip
    return report


def test_xlsx_has_one_sheet_per_section_with_typed_cells_and_sums() -> None:
    data, content_type, filename = export_report(_report(), "XLSX", "en")
    assert filename.endswith(".xlsx") and "spreadsheetml" in content_type
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == [
        "Report", "Totals", "By carbon-efficiency grade", "Loans", "Top emitters", "Migration"
    ]  # fmt: skip
    meta = book["Report"]
    assert meta["A3"].value == "As of" and isinstance(meta["B3"].value, datetime)  # a date cell
    assert meta["B3"].value.date().isoformat() == "2026-06-30" and meta["B3"].number_format == "yyyy-mm-dd"
    grades = book["By carbon-efficiency grade"]
    headers = [c.value for c in grades[1]]
    assert headers[3] == "Outstanding (CNY)" and "tCO₂/CNY m revenue" in headers[10]
    assert headers[6] == "Financed scope 2, market-based (tCO₂/yr)"
    amounts = [grades.cell(r, 4).value for r in (2, 3)]
    assert all(isinstance(a, float) for a in amounts)  # numbers, not text
    # 12,345,678.91 + 100,000,000.09 = 112,345,679.00 yuan = the totals' 11,234,567,900 fen
    assert Decimal(str(amounts[0])) + Decimal(str(amounts[1])) == Decimal("112345679.00")
    assert book["Totals"].cell(2, 2).value == 112_345_679.0
    loans = book["Loans"]
    assert loans.max_row == 61 and loans.cell(2, 7).value == "1713 Cotton printing, dyeing and finishing"
    assert loans.cell(2, 8).value == "Wuxing District, Huzhou"
    assert loans.cell(2, 9).value == 1_000.0 and loans.cell(2, 9).number_format == "#,##0.00"


def test_xlsx_regulator_view_has_no_enterprise_sheets_and_neutralised_text() -> None:
    report = _report("regulator")
    report.lenders.append(
        pb.LenderTotal(lender="lenders/x", label_zh="=HYPERLINK(1)", metrics=pb.Metrics(loans=3))
    )
    book = load_workbook(io.BytesIO(export_report(report, "XLSX", "zh")[0]))
    assert "贷款明细" not in book.sheetnames and "融资排放前列" not in book.sheetnames
    assert book["金融机构"]["B2"].value == "'=HYPERLINK(1)"  # text, never a formula


def test_pdf_is_a4_and_keeps_the_loan_tables_last_column() -> None:
    data, content_type, _ = export_report(_report(), "PDF", "zh")
    assert content_type == "application/pdf" and data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    pages = page_count(data)
    assert pages >= 2  # summary pages + the 60-line loan table on landscape pages
    first = reader.pages[0].mediabox
    assert (round(float(first.width)), round(float(first.height))) == (595, 842)  # A4 portrait, points
    last = reader.pages[pages - 1].mediabox
    assert (round(float(last.width)), round(float(last.height))) == (842, 595)  # loans: A4 landscape
    text = "".join(p.extract_text() for p in reader.pages)
    # the loan table's last column (the profile) is on the page, for the last loan too
    assert "enterprises/91330502MA2B3C4D5E/profiles/2025" in text.replace("\n", "")
    assert "L-0059" in text


@pytest.mark.skipif(subprocess.run(["which", "pdftoppm"], capture_output=True).returncode, reason="poppler")
def test_pdf_renders_to_png(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(export_report(_report(), "PDF", "en")[0])
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")], check=True
    )
    (png,) = tmp_path.glob("p-*.png")  # p-1.png or p-01.png, by the page count's digits
    assert png.stat().st_size > 1000
