"""PortfolioReporting end to end over a real registry and scoring server: the loan book with its
balance history, lender and regulator reports that reconcile, exports with the same numbers, CLI."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import grpc
import pandas as pd
import pytest
from google.protobuf import json_format
from helpers import Registry, error_details, graded_year_records, make_uscc
from openpyxl import load_workbook
from typer.testing import CliRunner

from registry_service.domain.enterprise import AnnualFinancials, Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from scoring_service import portfolio_servicer
from scoring_service.app import start_scoring
from scoring_service.portfolio.pdf import page_count
from tanxiao.cli import app
from tanxiao.common.v1 import common_pb2
from tanxiao.platform.server import RunningServer
from tanxiao.portfolio.v1 import portfolio_pb2 as ppb
from tanxiao.portfolio.v1 import portfolio_pb2_grpc
from tanxiao.registry.v1 import registry_pb2 as rpb
from tanxiao.scoring.v1 import scoring_pb2 as spb

INTENSITIES = [0.3, 1.0, 2.0, 2.9, 3.5, 8.0]  # tCO2/万元 on 3,000 万元 each: 900 .. 24,000 tCO2 (scope 2)
FIRMS = [make_uscc(200 + i) for i in range(len(INTENSITIES))]
BANK, OTHER = "lenders/huzhou-bank", "lenders/anji-rcb"
AS_OF = "2023-06-30"


@pytest.fixture
def book(registry: Registry) -> Iterator[tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer]]:
    # fen: added value 3,000 万元, revenue 12,000 万元, equity 4,000 万元 + debt 6,000 万元 = 1 亿元
    financials = (AnnualFinancials(2022, 3_000_000_000, 12_000_000_000, 4_000_000_000, 6_000_000_000),)
    EnterpriseRepository(registry.engine).create_many(
        [Enterprise(u, f"湖州企业{i}", "2822", "330502" if i % 2 else "330521", financials=financials)
         for i, u in enumerate(FIRMS)]
    )  # fmt: skip
    rows = [r for u, i in zip(FIRMS, INTENSITIES, strict=True) for r in graded_year_records(u, i)]
    registry.stub.BatchIngestRecords(rpb.BatchIngestRecordsRequest(records=rows), timeout=30)
    registry.stub.RecomputeBenchmarks(rpb.RecomputeBenchmarksRequest(year=2022), timeout=60)
    scoring = start_scoring(
        replace(registry.settings, profile_cache_seconds=0.0),
        "127.0.0.1:0",
        registry_addr=registry.server.address,
    )
    channel = grpc.insecure_channel(scoring.address)
    stub = portfolio_pb2_grpc.PortfolioReportingStub(channel)
    for i, uscc in enumerate(FIRMS):
        stub.RecordLoan(_loan(BANK, f"L{i}", uscc, outstanding=1_000_000_000), timeout=30)
    stub.RecordLoan(_loan(OTHER, "X1", FIRMS[5], outstanding=500_000_000), timeout=30)
    try:
        yield stub, scoring
    finally:
        channel.close()
        scoring.stop(None)


def _loan(lender: str, loan_id: str, uscc: str, outstanding: int, **fields: object) -> ppb.RecordLoanRequest:
    values: dict[str, object] = {
        "request_id": f"r-{lender}-{loan_id}", "lender": lender, "loan_id": loan_id,
        "enterprise": f"enterprises/{uscc}", "product": spb.GENERAL, "committed_amount_fen": 2_000_000_000,
        "outstanding_fen": outstanding, "start_date": "2023-01-15", "maturity_date": "2026-01-15",
        "rate_bp": 345,
    }  # fmt: skip
    return ppb.RecordLoanRequest(**{**values, **fields})


def _report(stub: portfolio_pb2_grpc.PortfolioReportingStub, **fields: object) -> ppb.PortfolioReport:
    return stub.GetPortfolioReport(
        ppb.GetPortfolioReportRequest(lender=BANK, as_of_date=AS_OF, **fields), timeout=60
    )


def test_financed_emissions_follow_pcaf(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer],
) -> None:
    stub, _ = book
    report = _report(stub)
    # AF = 1,000 万元 outstanding / (4,000 + 6,000 万元) = 0.1 for every loan; scope 2 = L x 3,000 tCO2.
    expected = 0.1 * sum(i * 3_000 for i in INTENSITIES)
    assert report.totals.loans == 6 and report.totals.outstanding_fen == 6_000_000_000
    assert report.totals.financed_tco2 == pytest.approx(expected, rel=1e-6)
    assert report.totals.financed_scope1_tco2 == pytest.approx(0.0, abs=1e-6)
    assert report.totals.economic_intensity == pytest.approx(expected / 60, rel=1e-6)  # per million yuan
    assert [line.attribution_factor for line in report.loans] == [pytest.approx(0.1)] * 6
    assert report.profile_year == 2022 and report.scope == BANK


def test_both_scope2_methods_over_grpc(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer],
) -> None:
    stub, _ = book
    report = _report(stub)
    # Grid electricity only, no instruments: location = kWh x 0.5153 (Zhejiang 2022) = L x 3,000 t;
    # market = the same kWh x residual mix 0.5942 (national 2021, latest <= 2022) = L x 3,000 x 0.5942/0.5153.
    # AF = 0.1 for every loan: financed market = 0.1 x sum(L x 3,000) x 0.5942 / 0.5153.
    location = 0.1 * sum(i * 3_000 for i in INTENSITIES)
    assert report.totals.financed_scope2_tco2 == pytest.approx(location, rel=1e-6)
    assert report.totals.financed_scope2_market_tco2 == pytest.approx(location * 0.5942 / 0.5153, rel=1e-6)
    assert report.totals.financed_tco2 == pytest.approx(location, rel=1e-6)  # market is beside, not added
    first = report.loans[0]
    assert first.financed_scope2_market_tco2 == pytest.approx(first.financed_scope2_tco2 * 0.5942 / 0.5153)


def test_every_breakdown_reconciles_with_the_totals(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer],
) -> None:
    report = _report(book[0])
    assert {ppb.Dimension.Name(b.dimension) for b in report.breakdowns} >= {
        "GRADE",
        "COUNTY",
        "INDUSTRY_SECTION",
    }
    for breakdown in report.breakdowns:
        assert sum(r.metrics.loans for r in breakdown.rows) == report.totals.loans
        assert sum(r.metrics.outstanding_fen for r in breakdown.rows) == (report.totals.outstanding_fen)
        assert sum(r.metrics.financed_tco2 for r in breakdown.rows) == pytest.approx(
            report.totals.financed_tco2
        )
    assert report.green_share + report.transition_share + report.other_share == pytest.approx(1.0)


def test_balances_are_a_history(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer],
) -> None:
    stub, _ = book
    name = f"{BANK}/loans/L0"
    request = ppb.UpdateLoanBalanceRequest(
        request_id="rep-1", name=name, as_of_date="2023-03-01", repayment_fen=400_000_000
    )
    assert stub.UpdateLoanBalance(request, timeout=30).outstanding_fen == 600_000_000
    assert stub.UpdateLoanBalance(request, timeout=30).outstanding_fen == 600_000_000  # a retry, once
    early = ppb.UpdateLoanBalanceRequest(
        request_id="x", name=name, as_of_date="2023-02-01", drawdown_fen=100_000_000
    )
    assert error_details(_raises(stub.UpdateLoanBalance, early)).fields == ["as_of_date"]
    too_much = ppb.UpdateLoanBalanceRequest(
        request_id="y", name=name, as_of_date="2023-04-01", repayment_fen=700_000_000
    )
    assert error_details(_raises(stub.UpdateLoanBalance, too_much)).fields == ["repayment_fen"]
    stub.CloseLoan(ppb.CloseLoanRequest(request_id="close", name=name, close_date="2023-05-01"), timeout=30)
    before = stub.GetPortfolioReport(ppb.GetPortfolioReportRequest(lender=BANK, as_of_date="2023-02-15"))
    after = _report(stub)
    assert (before.totals.loans, after.totals.loans) == (6, 5)
    closed = stub.GetLoan(ppb.GetLoanRequest(name=name), timeout=30)
    assert closed.status == ppb.CLOSED and closed.outstanding_fen == 0


def test_recording_is_idempotent_and_checked(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer],
) -> None:
    stub, _ = book
    again = stub.RecordLoan(_loan(BANK, "L0", FIRMS[0], outstanding=1_000_000_000), timeout=30)
    assert again.name == f"{BANK}/loans/L0"
    duplicate = _raises(stub.RecordLoan, _loan(BANK, "L0", FIRMS[0], outstanding=1, request_id="new"))
    assert error_details(duplicate).code == grpc.StatusCode.ALREADY_EXISTS
    bad = _loan("banks/x", "L 9", "91110000600037341N", outstanding=-1, request_id="bad", currency="USD")
    assert set(error_details(_raises(stub.RecordLoan, bad)).fields) == {
        "lender", "loan_id", "enterprise", "outstanding_fen", "currency",
    }  # fmt: skip


def test_products_and_levels_are_the_contract_enums(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer], registry: Registry
) -> None:
    stub, scoring = book
    stub.RecordLoan(_loan(BANK, "R1", FIRMS[4], outstanding=1, product=spb.HIGH_CARBON_RETROFIT), timeout=30)
    assert stub.GetLoan(ppb.GetLoanRequest(name=f"{BANK}/loans/R1"), timeout=30).product == (
        spb.HIGH_CARBON_RETROFIT
    )
    lines = {line.loan: line for line in _report(stub).loans}
    assert lines[f"{BANK}/loans/R1"].product == spb.HIGH_CARBON_RETROFIT
    assert lines[f"{BANK}/loans/L0"].product == spb.GENERAL
    for i in range(len(FIRMS)):  # each line's level is the grade level of the profile it used
        line = lines[f"{BANK}/loans/L{i}"]
        profile = registry.stub.GetCarbonProfile(rpb.GetCarbonProfileRequest(name=line.profile), timeout=30)
        assert line.level == profile.grade.level != common_pb2.CARBON_LEVEL_UNSPECIFIED
    # A client built on the old contract sends product as a string (same number, another wire type):
    # the server reads no product, and without a decision to take it from that is INVALID_ARGUMENT.
    unset = _loan(BANK, "S1", FIRMS[0], outstanding=1, product=spb.PRODUCT_UNSPECIFIED)
    old = unset.SerializeToString() + b"\x2a\x07GENERAL"  # field 5, length-delimited
    with grpc.insecure_channel(scoring.address) as channel:
        record = channel.unary_unary("/tanxiao.portfolio.v1.PortfolioReporting/RecordLoan")
        with pytest.raises(grpc.RpcError) as caught:
            record(old, timeout=30)
    assert error_details(caught.value).fields == ["product"]


def test_implausible_amounts_are_refused_and_totals_stay_exact(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer],
) -> None:
    # A lender once recorded 1e308 CNY and the regulator's totals showed 0. Amounts are int64 fen now,
    # bounded by TANXIAO_MAX_LOAN_AMOUNT_FEN (default 10^13 fen = 1000亿元): one fen more is refused.
    stub, _ = book
    huge = _loan(OTHER, "H1", FIRMS[1], outstanding=0, committed_amount_fen=10**13 + 1, request_id="huge")
    assert error_details(_raises(stub.RecordLoan, huge)).fields == ["committed_amount_fen"]
    name = f"{BANK}/loans/L1"
    over = ppb.UpdateLoanBalanceRequest(
        request_id="o", name=name, as_of_date="2023-03-01", drawdown_fen=2**62
    )
    assert error_details(_raises(stub.UpdateLoanBalance, over)).fields == ["drawdown_fen"]
    report = stub.GetRegulatoryReport(ppb.GetRegulatoryReportRequest(as_of_date=AS_OF), timeout=60)
    # 6 loans x 10,000,000.00 yuan + 5,000,000.00 yuan = 6,500,000,000 fen, exactly
    assert report.totals.outstanding_fen == 6 * 1_000_000_000 + 500_000_000


def test_the_regulator_sees_lenders_and_regions_but_no_borrowers(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer],
) -> None:
    stub, _ = book
    report = stub.GetRegulatoryReport(ppb.GetRegulatoryReportRequest(as_of_date=AS_OF), timeout=60)
    assert report.scope == "regulator" and not report.loans and not report.top_emitters
    assert {t.lender for t in report.lenders} == {BANK, OTHER}
    assert report.min_cell_size == 3 and not report.totals_suppressed
    # anji-rcb lends to one borrower (< 3): suppressed; huzhou-bank then too (complementary), else
    # total - huzhou-bank would give anji-rcb's borrower away.
    assert all(t.suppressed and t.metrics.outstanding_fen == 0 for t in report.lenders)
    assert {t.label_zh for t in report.lenders} == {"湖州银行", "浙江安吉农村商业银行"}
    counties = next(b for b in report.breakdowns if b.dimension == ppb.COUNTY)
    # 3 borrowers in each county: shown, with names, and they add up to the total
    assert {(r.key, r.label_zh, r.suppressed) for r in counties.rows} == {
        ("330502", "湖州市吴兴区", False),
        ("330521", "湖州市德清县", False),
    }
    assert sum(r.metrics.outstanding_fen for r in counties.rows) == report.totals.outstanding_fen
    request = ppb.GetRegulatoryReportRequest(
        as_of_date=AS_OF, region_code_prefix="330502", group_by=[ppb.INDUSTRY_DIVISION]
    )
    small = stub.GetRegulatoryReport(request, timeout=60)
    # 吴兴区: borrowers 1, 3, 5 (3) -> shown; one division "28" with all three
    assert not small.totals_suppressed and [r.key for r in small.breakdowns[0].rows] == ["28"]


@pytest.mark.parametrize("fmt", ["CSV", "JSON", "PARQUET", "HTML", "XLSX", "PDF"])
def test_exports_carry_the_rpc_numbers(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer], fmt: str
) -> None:
    stub, _ = book
    report = _report(stub)
    request = ppb.ExportPortfolioReportRequest(
        lender=BANK, as_of_date=AS_OF, format=ppb.ExportFormat.Value(fmt)
    )
    chunks = list(stub.ExportPortfolioReport(request, timeout=60))
    data = b"".join(c.data for c in chunks)
    assert chunks[0].filename and chunks[0].content_type
    if fmt == "JSON":
        exported = json_format.Parse(data, ppb.PortfolioReport())
        assert exported.totals == report.totals
    elif fmt == "PARQUET":
        table = pd.read_parquet(io.BytesIO(data))
        totals = table[table["section"] == "totals"].iloc[0]
        assert totals["financed_tco2"] == pytest.approx(report.totals.financed_tco2)
        market = report.totals.financed_scope2_market_tco2
        assert totals["financed_scope2_market_tco2"] == market
        lines = table.loc[table["section"] == "loan", "financed_scope2_market_tco2"]
        assert lines.sum() == pytest.approx(market)
        assert totals["outstanding_fen"] == report.totals.outstanding_fen
    elif fmt == "CSV":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            totals = pd.read_csv(io.BytesIO(archive.read("totals.csv")), encoding="utf-8-sig").iloc[0]
            loans = pd.read_csv(io.BytesIO(archive.read("loans.csv")), encoding="utf-8-sig")
        assert totals["融资排放（tCO₂/年）"] == pytest.approx(report.totals.financed_tco2, abs=0.0005)
        assert round(totals["贷款余额（元）"] * 100) == report.totals.outstanding_fen
        market = "融资排放范围二·市场法（tCO₂/年）"
        assert totals[market] == pytest.approx(report.totals.financed_scope2_market_tco2, abs=0.0005)
        assert totals[market] > totals["融资排放范围二（tCO₂/年）"] > 0  # residual mix 0.5942 > 0.5153
        # the loan lines add up to the totals in the file too (each rounded to the kilogram)
        assert loans[market].sum() == pytest.approx(totals[market], abs=0.0005 * len(loans))
    elif fmt == "XLSX":
        sheet = load_workbook(io.BytesIO(data))["总体指标"]
        assert sheet.cell(1, 2).value == "贷款余额（元）"
        assert round(sheet.cell(2, 2).value * 100) == report.totals.outstanding_fen  # yuan, to the fen
        assert sheet.cell(1, 5).value == "融资排放范围二·市场法（tCO₂/年）"
        assert sheet.cell(2, 5).value == pytest.approx(report.totals.financed_scope2_market_tco2)
        assert sheet.cell(2, 6).value == pytest.approx(report.totals.financed_tco2)
        grades = load_workbook(io.BytesIO(data))["按碳效等级"]
        assert sum(grades.cell(r, 7).value for r in range(2, grades.max_row + 1)) == pytest.approx(
            report.totals.financed_scope2_market_tco2
        )  # the breakdown's market-based column reconciles with the totals
    elif fmt == "PDF":
        assert data.startswith(b"%PDF") and page_count(data) >= 2
    else:
        page = data.decode()
        assert page.count("<svg") >= 4 and "范围二·市场法（tCO₂/年）" in page
        # every numeric cell carries its exact value: the market-based total is the message's
        assert f'title="{report.totals.financed_scope2_market_tco2!r}"' in page


def test_cli_imports_a_book_and_writes_the_html_report(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer], tmp_path: Path, db_url: str
) -> None:
    _, scoring = book
    path = tmp_path / "book.csv"
    common = {"product": "GENERAL", "committed_amount_cny": 3e6, "outstanding_cny": 3e6, "currency": "CNY",
              "start_date": "2023-02-01", "maturity_date": "2025-02-01", "rate_bp": 330}  # fmt: skip
    pd.DataFrame(
        [
            {"lender": OTHER, "loan_id": "X2", "enterprise": f"enterprises/{FIRMS[0]}", **common},
            {"lender": OTHER, "loan_id": "X3", "enterprise": "enterprises/bad", **common},
        ]
    ).to_csv(path, index=False)
    result = CliRunner().invoke(app, ["import", "loans", str(path), "--database-url", db_url])
    assert result.exit_code == 0, result.output
    summary = json.loads(_json_in(result.stdout))
    assert (summary["recorded"], summary["rejected"]) == (1, 1)
    out = tmp_path / "report.html"
    args = [
        "report",
        "portfolio",
        "--lender",
        "anji-rcb",
        "--as-of",
        AS_OF,
        "-o",
        str(out),
        "--addr",
        scoring.address,
    ]
    # The CLI dials like every client: TLS unless plaintext is allowed (loopback only).
    result = CliRunner().invoke(app, args, env={"TANXIAO_ALLOW_PLAINTEXT": "true"})
    assert result.exit_code == 0, result.output
    assert "<html" in out.read_text("utf-8")[:300]


def _raises(call: object, request: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=30)  # type: ignore[operator]
    return caught.value


def test_the_supervisors_loan_level_view_is_paged_and_logged(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Authorization (the explicit "loan_level" grant) is tests/platform/test_authz_matrix.py's; here the
    # view itself: every lender's loan lines, paged, with a stated purpose that lands in the access log.
    stub, _ = book
    logged: list[tuple[str, dict[str, object]]] = []

    class Recorder:  # the servicer's access logger, in this process
        def info(self, event: str, **fields: object) -> None:
            logged.append((event, fields))

    monkeypatch.setattr(portfolio_servicer, "access_log", Recorder())
    missing = ppb.ListSupervisedLoansRequest(as_of_date=AS_OF)
    assert error_details(_raises(stub.ListSupervisedLoans, missing)).fields == ["purpose"]
    purpose = "2023Q2 on-site inspection"
    first = stub.ListSupervisedLoans(
        ppb.ListSupervisedLoansRequest(as_of_date=AS_OF, purpose=purpose, page_size=4), timeout=60
    )
    rest = stub.ListSupervisedLoans(
        ppb.ListSupervisedLoansRequest(
            as_of_date=AS_OF, purpose=purpose, page_size=4, page_token=first.next_page_token
        ),
        timeout=60,
    )
    names = [line.loan for line in [*first.loans, *rest.loans]]
    assert len(first.loans) == 4 and not rest.next_page_token
    assert names == sorted(names) and len(names) == 7  # 6 of huzhou-bank + 1 of anji-rcb
    assert {line.enterprise_name for line in first.loans} <= {f"湖州企业{i}" for i in range(6)}
    assert sum(line.outstanding_fen for line in [*first.loans, *rest.loans]) == 6_500_000_000
    assert [(event, f["purpose"], f["loans_returned"]) for event, f in logged] == [
        ("access.loan_level", purpose, 4),
        ("access.loan_level", purpose, 3),
    ]


def test_green_loan_statistics_for_the_lender_and_the_regulator(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer],
) -> None:
    # anji-rcb adds three retrofit loans (节能改造 1.5) of 2,000,000.00 yuan to FIRMS[0..2], started
    # 2023-02-01 (in the 2023 period), each saving 500 tCO2 and 200 tce a year on "catalog-2024.1";
    # its earlier loan X1 (5,000,000.00 yuan to FIRMS[5], 2023-01-15) stays unclassified.
    stub, _ = book
    green = {"green_category": "1.5", "co2_reduced_tco2_per_year": 500.0, "energy_saved_tce_per_year": 200.0,
             "benefit_factors": "catalog-2024.1", "start_date": "2023-02-01"}  # fmt: skip
    for i in range(3):
        stub.RecordLoan(_loan(OTHER, f"G{i}", FIRMS[i], outstanding=200_000_000, **green), timeout=30)
    bad = _loan(OTHER, "G9", FIRMS[3], outstanding=1, request_id="bad-green", green_category="9.9")
    assert error_details(_raises(stub.RecordLoan, bad)).fields == ["green_category"]
    request = ppb.GetGreenLoanStatisticsRequest(lender=OTHER, as_of_date=AS_OF)
    own = stub.GetGreenLoanStatistics(request, timeout=60)
    assert (own.scope, own.period_start, own.catalogue_version) == (OTHER, "2023-01-01", "2019")
    (row,) = own.rows
    assert (row.key, row.label_zh, row.loans, row.outstanding_fen) == ("1", "节能环保产业", 3, 600_000_000)
    assert (row.new_loans, row.new_amount_fen) == (3, 3 * 2_000_000_000)  # committed 20,000,000.00 each
    assert (row.co2_reduced_tco2_per_year, row.energy_saved_tce_per_year) == (1_500.0, 600.0)
    assert (own.unclassified.loans, own.unclassified.outstanding_fen) == (1, 500_000_000)
    regulator = stub.GetGreenLoanStatistics(
        ppb.GetGreenLoanStatisticsRequest(as_of_date=AS_OF, group_by=ppb.GREEN_LENDER), timeout=60
    )
    # one lender with green loans, 3 borrowers: shown; huzhou-bank's 6 loans are all unclassified
    assert regulator.scope == "regulator" and regulator.min_cell_size == 3
    assert [(r.key, r.label_zh, r.suppressed) for r in regulator.rows] == [
        (OTHER, "浙江安吉农村商业银行", False)
    ]
    assert regulator.unclassified.loans == 7 and regulator.totals.outstanding_fen == 600_000_000


def test_carbon_loan_statistics_cumulative_headline_over_grpc(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer],
) -> None:
    # anji-rcb: three 碳效贷 (LOW_CARBON_EXPANSION) to FIRMS[0..2], started 2023-02-01 with 10,000,000.00
    # yuan each (10^9 fen) at 320 bp; one draws 5,000,000.00 more on 2023-05-10. The 6 + 1 GENERAL
    # loans of the fixture are not 碳效贷. Disbursed: 3 x 10M + 5M = 35M = 0.35 亿元.
    # LPR 1Y on 2023-02-01: 365 bp (table value, unconfirmed) -> spread 320 - 365 = -45 bp.
    stub, _ = book
    fields = {"product": "LOW_CARBON_EXPANSION", "start_date": "2023-02-01", "rate_bp": 320}
    for i in range(3):
        stub.RecordLoan(_loan(OTHER, f"C{i}", FIRMS[i], outstanding=1_000_000_000, **fields), timeout=30)
    draw = ppb.UpdateLoanBalanceRequest(
        request_id="d1", name=f"{OTHER}/loans/C0", as_of_date="2023-05-10", drawdown_fen=500_000_000
    )
    stub.UpdateLoanBalance(draw, timeout=30)
    stats = stub.GetCarbonLoanStatistics(
        ppb.GetCarbonLoanStatisticsRequest(lender=OTHER, as_of_date=AS_OF), timeout=60
    )
    assert stats.headline_zh == "累计发放碳效贷 3 笔、0.35 亿元"
    t = stats.totals
    assert (t.loans, t.disbursed_fen, t.outstanding_fen) == (3, 3_500_000_000, 3_500_000_000)
    assert (t.weighted_rate_bp, t.spread_to_lpr_bp) == (pytest.approx(320.0), pytest.approx(-45.0))
    assert [
        (q.quarter, q.new_loans, q.disbursed_fen, q.cumulative_disbursed_fen) for q in stats.quarters
    ] == [
        ("2023Q1", 3, 3_000_000_000, 3_000_000_000),
        ("2023Q2", 0, 500_000_000, 3_500_000_000),
    ]
    regulator = stub.GetCarbonLoanStatistics(
        ppb.GetCarbonLoanStatisticsRequest(as_of_date=AS_OF, group_by=ppb.COUNTY), timeout=60
    )
    # FIRMS[0], [2] in 德清县 (2 borrowers < 3: suppressed), FIRMS[1] in 吴兴区 (1: suppressed)
    assert regulator.totals.disbursed_fen == 3_500_000_000 and not regulator.totals_suppressed
    # the trend: 2023Q2 is one borrower's drawdown; with 2023Q1 shown, total - Q1 would isolate it, so
    # both quarters are suppressed (labels kept, figures zero); the lender sees its own trend in full
    assert [(q.quarter, q.suppressed, q.disbursed_fen) for q in regulator.quarters] == [
        ("2023Q1", True, 0),
        ("2023Q2", True, 0),
    ]
    assert not any(q.suppressed for q in stats.quarters)
    assert {(g.key, g.suppressed, g.figures.loans) for g in regulator.groups} == {
        ("330521", True, 0),
        ("330502", True, 0),
    }
    bad = ppb.GetCarbonLoanStatisticsRequest(lender=OTHER, group_by=ppb.LEVEL)
    assert error_details(_raises(stub.GetCarbonLoanStatistics, bad)).fields == ["group_by"]


def test_facility_ledger_over_grpc_and_the_cli(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer],
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """anji-rcb lends 3,000,000.00 yuan (committed; 2,999,999.99 outstanding at the quarter's end) to
    FIRMS[4] for its waste-heat project (green catalogue 1.5), 2023-04-03 .. 2026-04-03 at 365 bp = the
    1-year LPR then (365, loan_rules/data/lpr.yaml): eligible. Refinanceable 60 % x 299,999,999 fen =
    179,999,999.4 -> 179,999,999 fen (floor).
    The project costs 1,200 万元 = 12,000,000.00 yuan, so the loan is 1/4 of it; verified 2023-05-15 at
    1,150 tCO2/yr -> 287.5 tCO2/yr attributable. The older X1 (GENERAL, unclassified) is not eligible."""
    from scoring_service.portfolio_servicer import PortfolioServicer
    from scoring_service.registry_client import RegistryClient
    from scoring_service.storage.decisions import DecisionStore
    from scoring_service.storage.loans import LoanRepository
    from tanxiao.platform.auth import Principal, current_principal

    stub, scoring = book
    commitment = registry.stub.RegisterCommitment(
        rpb.RegisterCommitmentRequest(
            parent=f"enterprises/{FIRMS[4]}", request_id="c-facility",
            commitment=rpb.Commitment(
                project_type=rpb.WASTE_HEAT, title="定型机余热回收", baseline_year=2022,
                target_savings_tce_per_year=800.0, target_savings_tco2_per_year=2_000.0,
                capex_fen=1_200_000_000,
                start_date="2023-01-01", verifier="中国质量认证中心",
                milestones=[rpb.Milestone(title="full", due_date="2024-12-31", target_fraction=1.0)],
            ),
        ),
        timeout=30,
    )  # fmt: skip
    registry.stub.RecordVerification(
        rpb.RecordVerificationRequest(
            name=commitment.name, request_id="v-facility",
            verification=rpb.Verification(
                verification_date="2023-05-15", verifier="中国质量认证中心", verified_savings_tco2=1_150.0,
                verified_savings_tce=460.0, passed=True,
            ),
        ),
        timeout=30,
    )  # fmt: skip
    stub.RecordLoan(
        _loan(OTHER, "H1", FIRMS[4], outstanding=299_999_999, committed_amount_fen=300_000_000,
              product="HIGH_CARBON_RETROFIT", green_category="1.5", commitment=commitment.name,
              start_date="2023-04-03", maturity_date="2026-04-03", rate_bp=365,
              co2_reduced_tco2_per_year=500.0, energy_saved_tce_per_year=200.0,
              benefit_factors="catalog-2024.1"),
        timeout=30,
    )  # fmt: skip
    bad = ppb.GetFacilityLedgerRequest(lender=OTHER, quarter="2023Q5")
    assert error_details(_raises(stub.GetFacilityLedger, bad)).fields == ["quarter"]
    future = ppb.GetFacilityLedgerRequest(lender=OTHER, quarter=f"{date.today().year + 1}Q1")
    assert error_details(_raises(stub.GetFacilityLedger, future)).fields == ["quarter"]
    own = stub.GetFacilityLedger(ppb.GetFacilityLedgerRequest(lender=OTHER, quarter="2023Q2"), timeout=60)
    assert (own.scope, own.quarter_start, own.quarter_end) == (OTHER, "2023-04-01", "2023-06-30")
    assert own.loan_level
    assert own.terms[0].confirmed == "unconfirmed" and own.terms[0].refinance_share == "0.60"
    lines = {line.loan.rsplit("/", 1)[1]: line for line in own.lines}
    h1, x1 = lines["H1"], lines["X1"]
    assert (h1.eligible, h1.lpr_bp, h1.lpr_tenor, h1.refinanceable_fen) == (True, 365, "1Y", 179_999_999)
    assert (h1.project_investment_fen, h1.project_share) == (1_200_000_000, 0.25)
    assert (h1.project_verified_tco2_per_year, h1.attributable_tco2_per_year) == (1_150.0, 287.5)
    assert h1.new_in_quarter and h1.category_label_zh == "节能改造" and h1.enterprise_name == "湖州企业4"
    # the project is not measured yet (no complete year since its start): the lender's figures at
    # origination, on the factor set it named
    assert (h1.co2_reduced_tco2_per_year, h1.energy_saved_tce_per_year, h1.benefit_basis) == (
        500.0, 200.0, "catalog-2024.1",
    )  # fmt: skip
    assert (x1.eligible, x1.reason_code, x1.new_in_quarter) == (False, "CATEGORY", False)
    assert (own.totals.loans, own.totals.eligible_loans, own.totals.refinanceable_fen) == (2, 1, 179_999_999)
    # the regulator: every lender, totals by category under disclosure control, no loan lines
    regulator = stub.GetFacilityLedger(ppb.GetFacilityLedgerRequest(quarter="2023Q2"), timeout=60)
    assert regulator.scope == "regulator" and not regulator.lines and not regulator.loan_level
    assert regulator.min_cell_size == 3 and regulator.totals.refinanceable_fen == 179_999_999
    # category 1 has one borrower (primary), unclassified goes with it (complementary)
    assert [(r.key, r.suppressed, r.loans) for r in regulator.categories] == [("", True, 0), ("1", True, 0)]
    # with the loan_level grant the regulator gets the lines, and the access log says so
    logged: list[tuple[str, dict[str, object]]] = []

    class Recorder:
        def info(self, event: str, **fields: object) -> None:
            logged.append((event, fields))

    monkeypatch.setattr(portfolio_servicer, "access_log", Recorder())
    servicer = PortfolioServicer(
        LoanRepository(registry.engine),
        RegistryClient(grpc.insecure_channel(registry.server.address), registry.settings),
        DecisionStore(registry.engine),
    )
    for grants, expected in ((frozenset(), 0), (frozenset({"loan_level"}), 8)):
        token = current_principal.set(Principal("rg", "regulator", "", grants))
        try:
            supervised = servicer.facility_ledger("", "2023Q2")
        finally:
            current_principal.reset(token)
        assert len(supervised.lines) == expected and supervised.loan_level == bool(expected)
    assert [(e, f["resource"], f["loans_returned"]) for e, f in logged] == [
        ("access.loan_level", "facility_ledger", 8)
    ]
    # every format through `tanxiao report facility`, the same numbers
    common = ["--quarter", "2023Q2", "--lender", "anji-rcb", "--addr", scoring.address]
    plaintext = {"TANXIAO_ALLOW_PLAINTEXT": "true"}
    files = {}
    for fmt in ("json", "csv", "xlsx", "pdf"):
        out = tmp_path / f"ledger.{fmt}"
        result = CliRunner().invoke(app, ["report", "facility", *common, "--format", fmt, "-o", str(out)],
                                    env=plaintext)  # fmt: skip
        assert result.exit_code == 0, result.output
        files[fmt] = out.read_bytes()
    exported = json_format.Parse(files["json"], ppb.FacilityLedger())
    assert exported.lines == own.lines and exported.totals == own.totals
    with zipfile.ZipFile(io.BytesIO(files["csv"])) as archive:
        ledger_csv = pd.read_csv(io.BytesIO(archive.read("ledger.csv")), encoding="utf-8-sig", dtype=str)
    assert ledger_csv["可申请再贷款（元）"].tolist() == ["1799999.99", "0.00"]
    sheet = load_workbook(io.BytesIO(files["xlsx"]))["逐笔台账"]
    headers = [c.value for c in sheet[1]]
    refinance = [sheet.cell(r, headers.index("可申请再贷款（元）") + 1).value for r in (2, 3)]
    assert round(sum(refinance) * 100) == own.totals.refinanceable_fen
    assert files["pdf"].startswith(b"%PDF") and page_count(files["pdf"]) >= 2
    # the regulator through the CLI: totals and categories only
    out = tmp_path / "regulator.json"
    result = CliRunner().invoke(app, ["report", "facility", "--quarter", "2023Q2", "--format", "json", "-o",
                                      str(out), "--addr", scoring.address], env=plaintext)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json_format.Parse(out.read_bytes(), ppb.FacilityLedger()).totals == regulator.totals


def test_cli_reports_green_and_carbon_loan_statistics(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer],
) -> None:
    stub, scoring = book
    stub.RecordLoan(
        _loan(OTHER, "G1", FIRMS[0], outstanding=100_000_000, product="HIGH_CARBON_RETROFIT",
              green_category="1.5", start_date="2023-03-01"),
        timeout=30,
    )  # fmt: skip
    common = ["--lender", "anji-rcb", "--as-of", AS_OF, "--addr", scoring.address]
    plaintext = {"TANXIAO_ALLOW_PLAINTEXT": "true"}  # loopback test servers
    result = CliRunner().invoke(app, ["report", "green", *common], env=plaintext)
    assert result.exit_code == 0, result.output
    green = json.loads(_json_in(result.stdout))
    assert (
        green["totals"]["outstanding_fen"] == "100000000" and green["rows"][0]["label_zh"] == "节能环保产业"
    )
    result = CliRunner().invoke(app, ["report", "carbon-loans", *common, "--by", "product"], env=plaintext)
    assert result.exit_code == 0, result.output
    carbon = json.loads(_json_in(result.stdout))
    assert carbon["headline_zh"] == "累计发放碳效贷 1 笔、0.01 亿元"  # 1,000,000.00 yuan


def _json_in(output: str) -> str:
    """The pretty-printed JSON object in a CLI's output (the in-process servers log lines around it)."""
    start = output.index('{\n  "')
    return output[start : output.index("\n}", start) + 2]


def test_a_regulator_naming_one_lender_still_gets_the_regulator_view(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer], registry: Registry
) -> None:
    """Disclosure control follows the caller, not the request: a regulator who names anji-rcb gets its
    book as aggregates under the minimum cell size and no loan lines (anji-rcb lends to one borrower:
    everything is withheld); anji-rcb's own staff get the same book whole."""
    from scoring_service.portfolio_servicer import PortfolioServicer
    from scoring_service.registry_client import RegistryClient
    from scoring_service.storage.decisions import DecisionStore
    from scoring_service.storage.loans import LoanRepository
    from tanxiao.platform.auth import Principal, current_principal

    servicer = PortfolioServicer(
        LoanRepository(registry.engine),
        RegistryClient(grpc.insecure_channel(registry.server.address), registry.settings),
        DecisionStore(registry.engine),
    )
    as_of = date.fromisoformat(AS_OF)
    views = {}
    for role, tenant in (("regulator", ""), ("lender", OTHER)):
        token = current_principal.set(Principal("p", role, tenant, frozenset()))
        try:
            report = servicer.report(OTHER, as_of, date(as_of.year - 1, 12, 31), ["COUNTY"], 5)
            green = servicer.GetGreenLoanStatistics(
                ppb.GetGreenLoanStatisticsRequest(lender=OTHER, as_of_date=AS_OF),
                None,  # type: ignore[arg-type]
            )
            carbon = servicer.GetCarbonLoanStatistics(
                ppb.GetCarbonLoanStatisticsRequest(lender=OTHER, as_of_date=AS_OF),
                None,  # type: ignore[arg-type]
            )
        finally:
            current_principal.reset(token)
        views[role] = (report, green, carbon)
    report, green, carbon = views["regulator"]
    assert report.scope == OTHER and report.min_cell_size == 3 and report.totals_suppressed
    assert not report.loans and not report.top_emitters
    assert green.min_cell_size == 3 and carbon.scope == OTHER
    own, own_green, _ = views["lender"]
    assert own.min_cell_size == 0 and not own.totals_suppressed and own.loans
    assert own_green.min_cell_size == 0


def test_an_unknown_dimension_number_is_invalid_argument_naming_group_by(
    book: tuple[portfolio_pb2_grpc.PortfolioReportingStub, RunningServer],
) -> None:
    """group_by is an open enum: a number the contract does not list arrives as sent (schemathesis sent
    25884292 over HTTP and got INTERNAL)."""
    stub, _ = book
    calls = [
        lambda: stub.GetRegulatoryReport(
            ppb.GetRegulatoryReportRequest(as_of_date=AS_OF, group_by=[25884292]), timeout=60
        ),
        lambda: stub.GetPortfolioReport(
            ppb.GetPortfolioReportRequest(lender=BANK, as_of_date=AS_OF, group_by=[ppb.COUNTY, 99]),
            timeout=60,
        ),
        lambda: list(
            stub.ExportPortfolioReport(
                ppb.ExportPortfolioReportRequest(
                    lender=BANK, as_of_date=AS_OF, format=ppb.CSV, group_by=[77]
                ),
                timeout=60,
            )
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as raised:
            call()
        details = error_details(raised.value)
        assert details.code == grpc.StatusCode.INVALID_ARGUMENT, details
        assert [field for field, _ in details.violations] == ["group_by"], details
