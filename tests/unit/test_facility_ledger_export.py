"""The facility ledger's files (scoring_service.portfolio.facility_sheets), opened with readers: the
xlsx with openpyxl (types and sums), the CSV zip, the PDF with poppler (pages and the last column)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile
from datetime import datetime
from decimal import Decimal

import pytest
from google.protobuf import json_format
from openpyxl import load_workbook

from scoring_service.portfolio.facility_sheets import export_ledger
from scoring_service.portfolio.pdf import page_count
from tanxiao.portfolio.v1 import portfolio_pb2 as pb


def _ledger(lines: int = 40) -> pb.FacilityLedger:
    # `lines` PV loans of 10,000,000.01 yuan outstanding, each refinanceable 6,000,000.00 (60 %, floor)
    # and credited 1,000 tCO2/yr; the even ones eligible, the odd ones 55 bp off the LPR.
    ledger = pb.FacilityLedger(
        scope="lenders/huzhou-bank", quarter="2026Q3", quarter_start="2026-07-01", quarter_end="2026-09-30",
        terms=[pb.FacilityTerms(effective_date="2021-11-08", refinance_share="0.60", rate_bp=175,
                                rate_tolerance_bp=10, eligible_categories=["1", "3"], confirmed="unconfirmed",
                                source="PBoC announcement of 2021-11-08", version="2021-11")],
        lpr_source="NIFC LPR announcements (2025-05)", loan_level=True,
    )  # fmt: skip
    eligible = (lines + 1) // 2
    ledger.totals.CopyFrom(pb.FacilityLedgerRow(
        key="total", label_zh="合计", label_en="Total", loans=lines, outstanding_fen=lines * 1_000_000_001,
        eligible_loans=eligible, eligible_outstanding_fen=eligible * 1_000_000_001,
        refinanceable_fen=eligible * 600_000_000, attributable_tco2_per_year=lines * 1_000.0,
    ))  # fmt: skip
    ledger.categories.append(pb.FacilityLedgerRow(key="3", label_zh="清洁能源产业", label_en="Clean energy",
                                                  suppressed=True))  # fmt: skip
    for n in range(lines):
        ok = n % 2 == 0
        ledger.lines.append(pb.FacilityLedgerLine(
            loan=f"lenders/huzhou-bank/loans/PV-{n:03d}", lender="lenders/huzhou-bank",
            enterprise="enterprises/91330502MA2B3C4D5E", enterprise_name="=湖州光伏有限公司",
            green_category="3.2", category_label_zh="清洁能源设施建设和运营",
            category_label_en="Construction and operation of clean energy facilities",
            start_date="2026-07-15", maturity_date="2029-07-15", lpr_tenor="1Y",
            rate_bp=300.0 if ok else 355.0, lpr_bp=300, eligible=ok, reason_code="" if ok else "RATE",
            reason_en="" if ok else "rate not within the tolerance of the same-tenor LPR",
            committed_amount_fen=1_200_000_000, outstanding_fen=1_000_000_001,
            refinanceable_fen=600_000_000 if ok else 0,
            commitment="enterprises/91330502MA2B3C4D5E/commitments/1",
            project_investment_fen=4_800_000_000, project_share=0.25, project_verified_tco2_per_year=4_000.0,
            attributable_tco2_per_year=1_000.0, new_in_quarter=True, terms_effective_date="2021-11-08",
            co2_reduced_tco2_per_year=1_250.5, energy_saved_tce_per_year=400.25,
            benefit_basis="registry: 2025 vs baseline 2024, grid factor frozen at 2024",
        ))  # fmt: skip
    return ledger


def test_xlsx_sheets_types_and_sums() -> None:
    data, content_type, filename = export_ledger(_ledger(), "XLSX", "en")
    assert filename == "facility-huzhou-bank-2026Q3.xlsx" and "spreadsheetml" in content_type
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Report", "Facility terms", "By use of proceeds", "Loan ledger"]
    assert isinstance(book["Report"]["B4"].value, datetime)  # quarter start: a date cell
    terms = book["Facility terms"]
    assert isinstance(terms["A2"].value, datetime) and terms["B2"].value == pytest.approx(0.6)
    assert terms["B2"].number_format == "0.00%" and terms["F2"].value == "unconfirmed"
    summary = book["By use of proceeds"]
    assert [c.value for c in summary[1]][6] == "Refinanceable (CNY)"
    assert summary["G2"].value == 20 * 6_000_000.0 and summary["G2"].number_format == "#,##0.00"
    assert summary["C3"].value is None and summary["I3"].value == "*"  # suppressed: blank, marked
    sheet = book["Loan ledger"]
    headers = [c.value for c in sheet[1]]
    assert headers[-1] == "Terms effective" and sheet.max_row == 41
    column = {h: i + 1 for i, h in enumerate(headers)}
    refinance = [sheet.cell(r, column["Refinanceable (CNY)"]).value for r in range(2, 42)]
    assert all(isinstance(v, int | float) for v in refinance)  # numbers (0 reads back as int), not text
    # the lines add up to the totals' refinanceable amount: 20 x 6,000,000.00 yuan
    assert sum(Decimal(str(v)) for v in refinance) == Decimal("120000000.00")
    assert isinstance(sheet.cell(2, column["Start"]).value, datetime)
    assert sheet.cell(2, column["CO₂ reduced (tCO₂/yr)"]).value == 1_250.5
    assert sheet.cell(2, column["Energy saved (tce/yr)"]).value == 400.25
    assert "frozen at 2024" in sheet.cell(2, column["Benefits computed on"]).value
    assert sheet.cell(2, column["Outstanding (CNY)"]).value == 10_000_000.01
    assert sheet.cell(2, column["Enterprise name"]).value == "'=湖州光伏有限公司"  # neutralised
    header = "Attributable verified reduction (tCO₂/yr)"
    attributable = [sheet.cell(r, column[header]).value for r in range(2, 42)]
    assert sum(attributable) == book["By use of proceeds"]["H2"].value == 40_000.0


def test_csv_zip_has_one_file_per_section_with_rounded_figures() -> None:
    data, content_type, filename = export_ledger(_ledger(4), "CSV", "zh")
    assert content_type == "application/zip" and filename.endswith(".csv.zip")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["report.csv", "terms.csv", "summary.csv", "ledger.csv"]
        rows = list(csv.reader(io.StringIO(archive.read("ledger.csv").decode("utf-8-sig"))))
    assert rows[0][-1] == "适用条款生效日" and len(rows) == 5
    assert rows[1][13] == "10000000.01" and rows[1][10] == "是" and rows[2][10] == "否"


def test_json_is_the_message() -> None:
    data, _, _ = export_ledger(_ledger(2), "JSON")
    assert json_format.Parse(data.decode(), pb.FacilityLedger()) == _ledger(2)


def test_pdf_is_a4_with_the_ledger_on_landscape_pages_and_its_last_column() -> None:
    data, content_type, _ = export_ledger(_ledger(), "PDF", "en")
    assert content_type == "application/pdf" and data.startswith(b"%PDF")
    pages = page_count(data)
    assert pages >= 2
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    first, last = reader.pages[0].mediabox, reader.pages[pages - 1].mediabox
    assert (round(float(first.width)), round(float(first.height))) == (595, 842)
    assert (round(float(last.width)), round(float(last.height))) == (842, 595)
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                              check=True).stdout.decode()  # fmt: skip
    else:
        text = "".join(page.extract_text() for page in reader.pages)
    flat = text.replace("\n", "").replace(" ", "")
    assert "PV-039" in flat  # the last loan
    # the last column (the terms' effective date) for the last line too: the final date on the last page
    last_page = reader.pages[pages - 1].extract_text().replace("\n", "").replace(" ", "")
    assert "2021-11-08" in last_page
