"""PortfolioReporting over gRPC: the loan book (record, balance events, close) and the reports.

Reports join the book with the registry's profiles (scoring_service.portfolio_frames), compute the
figures in the pure scoring_service.portfolio.metrics, and convert at the edge. The regulator view
never carries enterprise-level rows (loan lines, top emitters).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import numpy as np
import pandas as pd
import structlog
from google.protobuf import json_format

from scoring_service.loan_book import (
    DEFAULT_MAX_AMOUNT_FEN,
    LENDER,
    loan_from_request,
    loan_to_proto,
    parse_loan_name,
)
from scoring_service.portfolio import cumulative, disclosure, facility, green, metrics
from scoring_service.portfolio.facility_sheets import export_ledger
from scoring_service.portfolio_export import chunks, export_report
from scoring_service.portfolio_frames import book_frame
from scoring_service.registry_client import RegistryClient
from scoring_service.storage.decisions import DecisionStore
from scoring_service.storage.loans import BALANCE, CLOSE, DRAWDOWN, REPAYMENT, LoanRepository
from tanxiao.common.v1 import common_pb2
from tanxiao.errors import FieldViolation, ValidationError
from tanxiao.locale import pair
from tanxiao.platform.auth import LOAN_LEVEL, current_principal
from tanxiao.platform.auth import REGULATOR as REGULATOR_ROLE
from tanxiao.platform.paging import decode_page_token, encode_page_token, filter_fingerprint, page_size_of
from tanxiao.portfolio.v1 import portfolio_pb2, portfolio_pb2_grpc
from tanxiao.scoring.v1 import scoring_pb2
from tanxiao.standards import lpr_source

SERVICE = "tanxiao.portfolio.v1.PortfolioReporting"
# Who read loan-level data under the supervisory grant: a separate logger, so deployments can route it
# to the append-only access log (docs/security.md).
access_log = structlog.get_logger("tanxiao.access")
LENDER_DIMENSIONS = ("GRADE", "LEVEL", "INDUSTRY_SECTION", "INDUSTRY_DIVISION", "COUNTY", "CITY", "PRODUCT")
REGULATOR_DIMENSIONS = ("LENDER", "CITY", "COUNTY", "INDUSTRY_SECTION", "INDUSTRY_DIVISION", "GRADE")
REGULATOR = "regulator"
CARBON_DIMENSIONS = ("GRADE", "PRODUCT", "COUNTY", "INDUSTRY_DIVISION", "LENDER")


class PortfolioServicer(portfolio_pb2_grpc.PortfolioReportingServicer):
    def __init__(
        self,
        loans: LoanRepository,
        registry: RegistryClient,
        decisions: DecisionStore,
        *,
        max_loan_amount_fen: int = DEFAULT_MAX_AMOUNT_FEN,
        min_cell_size: int = 3,
    ) -> None:
        self.loans = loans
        self.registry = registry
        self.decisions = decisions
        self.max_loan_amount_fen = max_loan_amount_fen
        self.min_cell_size = min_cell_size

    # --- the book ---------------------------------------------------------------------------------

    def RecordLoan(
        self, request: portfolio_pb2.RecordLoanRequest, context: grpc.ServicerContext
    ) -> portfolio_pb2.Loan:
        loan = loan_from_request(request, self.decisions, self.max_loan_amount_fen)
        return loan_to_proto(self.loans.record(loan, request.request_id.strip()))

    def UpdateLoanBalance(
        self, request: portfolio_pb2.UpdateLoanBalanceRequest, context: grpc.ServicerContext
    ) -> portfolio_pb2.Loan:
        lender, loan_id = parse_loan_name(request.name)
        which = request.WhichOneof("change")
        problems: list[FieldViolation] = []
        as_of = _date(request.as_of_date, "as_of_date", problems)
        if which is None:
            problems.append(FieldViolation("change", "one of drawdown_fen, repayment_fen, outstanding_fen"))
        else:
            amount = getattr(request, which)
            if (
                amount < 0
                or (amount == 0 and which != "outstanding_fen")
                or amount > self.max_loan_amount_fen
            ):
                problems.append(
                    FieldViolation(
                        which,
                        f"must be an amount in fen, > 0 (>= 0 for a balance), <= {self.max_loan_amount_fen}",
                    )
                )
        if problems:
            raise ValidationError.from_violations(problems)
        assert as_of is not None and which is not None
        kind = {"drawdown_fen": DRAWDOWN, "repayment_fen": REPAYMENT, "outstanding_fen": BALANCE}[which]
        updated = self.loans.balance_event(
            lender, loan_id, as_of, kind, getattr(request, which), request.request_id
        )
        return loan_to_proto(updated)

    def CloseLoan(
        self, request: portfolio_pb2.CloseLoanRequest, context: grpc.ServicerContext
    ) -> portfolio_pb2.Loan:
        lender, loan_id = parse_loan_name(request.name)
        problems: list[FieldViolation] = []
        close = _date(request.close_date, "close_date", problems)
        if problems:
            raise ValidationError.from_violations(problems)
        assert close is not None
        return loan_to_proto(self.loans.balance_event(lender, loan_id, close, CLOSE, 0, request.request_id))

    def GetLoan(
        self, request: portfolio_pb2.GetLoanRequest, context: grpc.ServicerContext
    ) -> portfolio_pb2.Loan:
        lender, loan_id = parse_loan_name(request.name)
        return loan_to_proto(self.loans.get(lender, loan_id))

    def ListLoans(
        self, request: portfolio_pb2.ListLoansRequest, context: grpc.ServicerContext
    ) -> portfolio_pb2.ListLoansResponse:
        if not LENDER.match(request.parent):
            raise ValidationError.for_field("parent", "must be lenders/{id}")
        items, token = self.loans.page(request.parent, request.page_size, request.page_token)
        return portfolio_pb2.ListLoansResponse(loans=[loan_to_proto(i) for i in items], next_page_token=token)

    # --- reports ----------------------------------------------------------------------------------

    def GetPortfolioReport(
        self, request: portfolio_pb2.GetPortfolioReportRequest, context: grpc.ServicerContext
    ) -> portfolio_pb2.PortfolioReport:
        if not LENDER.match(request.lender):
            raise ValidationError.for_field("lender", "must be lenders/{id}")
        if not 0 <= request.top_n <= 100:
            raise ValidationError.for_field("top_n", "must be 0 (default 10) to 100")
        as_of, compare = _dates(request.as_of_date, request.compare_date)
        dims = _dimensions(request.group_by, LENDER_DIMENSIONS, allow_lender=False)
        return self.report(request.lender, as_of, compare, dims, request.top_n or 10)

    def GetRegulatoryReport(
        self, request: portfolio_pb2.GetRegulatoryReportRequest, context: grpc.ServicerContext
    ) -> portfolio_pb2.PortfolioReport:
        prefix = request.region_code_prefix.strip()
        if prefix and not (prefix.isdigit() and len(prefix) <= 6):
            raise ValidationError.for_field("region_code_prefix", "must be up to six digits (GB/T 2260)")
        as_of, compare = _dates(request.as_of_date, request.compare_date)
        dims = _dimensions(request.group_by, REGULATOR_DIMENSIONS, allow_lender=True)
        return self.report(None, as_of, compare, dims, 0, region_prefix=prefix)

    def ExportPortfolioReport(
        self, request: portfolio_pb2.ExportPortfolioReportRequest, context: grpc.ServicerContext
    ) -> Iterator[portfolio_pb2.ExportChunk]:
        known = request.format in portfolio_pb2.ExportFormat.values()
        if request.format == portfolio_pb2.EXPORT_FORMAT_UNSPECIFIED or not known:
            raise ValidationError.for_field("format", "must be CSV, PARQUET, JSON, HTML, XLSX or PDF")
        language = request.language.strip() or "zh"
        if language not in ("zh", "en"):
            raise ValidationError.for_field("language", "must be zh or en")
        as_of, compare = _dates(request.as_of_date, request.compare_date)
        if request.regulatory:
            dims = _dimensions(request.group_by, REGULATOR_DIMENSIONS, allow_lender=True)
            report = self.report(None, as_of, compare, dims, 0)
        else:
            if not LENDER.match(request.lender):
                raise ValidationError.for_field("lender", "must be lenders/{id} (or regulatory = true)")
            report = self.report(
                request.lender, as_of, compare, _dimensions(request.group_by, LENDER_DIMENSIONS, False), 10
            )
        data, content_type, filename = export_report(
            report, portfolio_pb2.ExportFormat.Name(request.format), language
        )
        for index, piece in enumerate(chunks(data)):
            yield portfolio_pb2.ExportChunk(
                data=piece,
                content_type=content_type if index == 0 else "",
                filename=filename if index == 0 else "",
            )

    def ListSupervisedLoans(
        self, request: portfolio_pb2.ListSupervisedLoansRequest, context: grpc.ServicerContext
    ) -> portfolio_pb2.ListSupervisedLoansResponse:
        """Loan lines across lenders for a regulator holding the ``loan_level`` grant (authz checks the
        grant); each call is written to the access log with its purpose and what it returned."""
        problems: list[FieldViolation] = []
        purpose = request.purpose.strip()
        if not 1 <= len(purpose) <= 200:
            problems.append(FieldViolation("purpose", "state the supervisory purpose, 1-200 characters"))
        if request.lender and not LENDER.match(request.lender):
            problems.append(FieldViolation("lender", "must be lenders/{id}, or empty for every lender"))
        prefix = request.region_code_prefix.strip()
        if prefix and not (prefix.isdigit() and len(prefix) <= 6):
            problems.append(FieldViolation("region_code_prefix", "must be up to six digits (GB/T 2260)"))
        if problems:
            raise ValidationError.from_violations(problems)
        as_of, _ = _dates(request.as_of_date, "")
        size = page_size_of(request.page_size)
        fingerprint = filter_fingerprint("supervised", as_of.isoformat(), request.lender, prefix)
        after = decode_page_token(request.page_token, fingerprint)
        frame = book_frame(
            self.loans, self.registry, as_of, lender=request.lender or None, region_prefix=prefix
        )
        lines = metrics.compute_report(frame, dimensions=[], top_n=0).loans
        ordered = sorted(lines, key=lambda line: line.loan)
        if after:
            ordered = [line for line in ordered if line.loan > str(after[0])]
        page = ordered[:size]
        token = encode_page_token([page[-1].loan], fingerprint) if len(ordered) > size else ""
        principal = current_principal.get()
        access_log.info(
            "access.loan_level", resource="loans", token_id=principal.token_id if principal else "",
            purpose=purpose, as_of_date=as_of.isoformat(), lender=request.lender, region_prefix=prefix,
            loans_returned=len(page),
        )  # fmt: skip
        response = _to_proto(metrics.Report(totals=metrics.Metrics(), loans=tuple(page)))
        return portfolio_pb2.ListSupervisedLoansResponse(
            loans=response.loans, next_page_token=token, as_of_date=as_of.isoformat()
        )

    def GetGreenLoanStatistics(
        self, request: portfolio_pb2.GetGreenLoanStatisticsRequest, context: grpc.ServicerContext
    ) -> portfolio_pb2.GreenLoanStatistics:
        if request.lender and not LENDER.match(request.lender):
            raise ValidationError.for_field("lender", "must be lenders/{id}, or empty for the regulator view")
        regulator = _regulator_view(request.lender)
        as_of, _ = _dates(request.as_of_date, "")
        problems: list[FieldViolation] = []
        start = _date(request.period_start, "period_start", problems) if request.period_start else None
        if problems:
            raise ValidationError.from_violations(problems)
        start = start or date(as_of.year, 1, 1)
        if start > as_of:
            raise ValidationError.for_field("period_start", "must not be after as_of_date")
        dimension = request.group_by or portfolio_pb2.GREEN_CATEGORY
        if dimension not in portfolio_pb2.GreenDimension.values():
            raise ValidationError.for_field("group_by", "must be a GreenDimension")
        name = portfolio_pb2.GreenDimension.Name(dimension).removeprefix("GREEN_")
        frame = book_frame(self.loans, self.registry, as_of, lender=request.lender or None)
        stats = green.green_statistics(
            frame, dimension=name, period_start=start, as_of=as_of,
            min_cell_size=self.min_cell_size if regulator else 0,
        )  # fmt: skip
        return portfolio_pb2.GreenLoanStatistics(
            scope=request.lender or REGULATOR, as_of_date=as_of.isoformat(),
            period_start=start.isoformat(), group_by=dimension, totals=_green_row(stats.totals),
            unclassified=_green_row(stats.unclassified), rows=[_green_row(r) for r in stats.rows],
            catalogue_version=stats.catalogue_version, catalogue_source=stats.catalogue_source,
            min_cell_size=self.min_cell_size if regulator else 0,
        )  # fmt: skip

    def GetCarbonLoanStatistics(
        self, request: portfolio_pb2.GetCarbonLoanStatisticsRequest, context: grpc.ServicerContext
    ) -> portfolio_pb2.CarbonLoanStatistics:
        if request.lender and not LENDER.match(request.lender):
            raise ValidationError.for_field("lender", "must be lenders/{id}, or empty for the regulator view")
        known = request.group_by in portfolio_pb2.Dimension.values()
        dimension = portfolio_pb2.Dimension.Name(request.group_by) if request.group_by and known else ""
        if request.group_by and not known:
            raise ValidationError.for_field("group_by", f"must be one of {', '.join(CARBON_DIMENSIONS)}")
        if dimension and dimension not in CARBON_DIMENSIONS:
            raise ValidationError.for_field("group_by", f"must be one of {', '.join(CARBON_DIMENSIONS)}")
        regulator = _regulator_view(request.lender)
        as_of, _ = _dates(request.as_of_date, "")
        events = self.loans.disbursement_events(as_of, request.lender or None)
        book = self.loans.book(as_of, request.lender or None)
        outstanding = pd.Series(
            book["outstanding_fen"].to_numpy(),
            index=book["lender"] + "/loans/" + book["loan_id"],
            dtype="int64",
        )
        events = self._with_dimension(events, dimension, as_of)
        stats = cumulative.statistics(events, outstanding, as_of, group_by="group" if dimension else None)
        groups = []
        hidden: set[object] = set()
        if regulator and dimension:
            carbon = cumulative.disbursements(events, as_of)  # the borrowers behind each group's figures
            borrowers = {str(k): set(carbon.loc[carbon["group"] == k, "uscc"]) for k in set(carbon["group"])}
            hidden = disclosure.suppressed_keys(
                {g.key: borrowers.get(g.key, set()) for g in stats.groups}, self.min_cell_size
            )
        quarters = [portfolio_pb2.CarbonLoanQuarter(**dataclasses.asdict(q)) for q in stats.quarters]
        totals, withheld = _carbon_figures(stats.totals), False
        if regulator:  # the trend and the totals under disclosure control too
            carbon = cumulative.disbursements(events, as_of)
            labels = pd.Series([cumulative.quarter_of(d) for d in carbon["as_of_date"]], index=carbon.index)
            who = [set(carbon.loc[labels == q.quarter, "uscc"]) for q in quarters]
            quiet = disclosure.suppressed_periods(who, self.min_cell_size)
            withheld = 0 < carbon["uscc"].nunique() < self.min_cell_size
            if withheld:
                totals, quiet = portfolio_pb2.CarbonLoanFigures(), set(range(len(quarters)))
            quarters = [
                portfolio_pb2.CarbonLoanQuarter(quarter=q.quarter, suppressed=True) if n in quiet else q
                for n, q in enumerate(quarters)
            ]
        for g in stats.groups:
            zh, en = _group_label(dimension, g.key)
            figures = portfolio_pb2.CarbonLoanFigures() if g.key in hidden else _carbon_figures(g.figures)
            groups.append(
                portfolio_pb2.CarbonLoanGroup(
                    key=g.key, label_zh=zh, label_en=en, figures=figures, suppressed=g.key in hidden
                )
            )
        return portfolio_pb2.CarbonLoanStatistics(
            scope=request.lender or REGULATOR, as_of_date=as_of.isoformat(),
            totals=totals, groups=groups, quarters=quarters, totals_suppressed=withheld,
            headline_zh="" if withheld else stats.headline("zh"),
            headline_en="" if withheld else stats.headline("en"), group_by=request.group_by,
            min_cell_size=self.min_cell_size if regulator else 0, lpr_source=lpr_source(),
        )  # fmt: skip

    def GetFacilityLedger(
        self, request: portfolio_pb2.GetFacilityLedgerRequest, context: grpc.ServicerContext
    ) -> portfolio_pb2.FacilityLedger:
        return self.facility_ledger(request.lender, request.quarter)

    def ExportFacilityLedger(
        self, request: portfolio_pb2.ExportFacilityLedgerRequest, context: grpc.ServicerContext
    ) -> Iterator[portfolio_pb2.ExportChunk]:
        problems: list[FieldViolation] = []
        fmt = portfolio_pb2.ExportFormat.Name(request.format) if request.format in LEDGER_FORMATS else ""
        if not fmt:
            problems.append(FieldViolation("format", "must be CSV, XLSX, PDF or JSON"))
        language = request.language.strip() or "zh"
        if language not in ("zh", "en"):
            problems.append(FieldViolation("language", "must be zh or en"))
        if problems:
            raise ValidationError.from_violations(problems)
        ledger = self.facility_ledger(request.lender, request.quarter)
        data, content_type, filename = export_ledger(ledger, fmt, language)
        for index, piece in enumerate(chunks(data)):
            yield portfolio_pb2.ExportChunk(
                data=piece,
                content_type=content_type if index == 0 else "",
                filename=filename if index == 0 else "",
            )

    def facility_ledger(self, lender: str, quarter: str) -> portfolio_pb2.FacilityLedger:
        """The quarter's ledger. Loan lines for the lender's own book (a lender or credit officer, whose
        tenant authz checked; the admin; or an unauthenticated local server naming a lender) and for a
        regulator holding the loan_level grant (logged); otherwise totals by category only, under
        disclosure control."""
        problems: list[FieldViolation] = []
        if lender and not LENDER.match(lender):
            problems.append(FieldViolation("lender", "must be lenders/{id}, or empty for every lender"))
        start = end = None
        try:
            start, end = facility.quarter_bounds(quarter)
        except ValueError:
            problems.append(FieldViolation("quarter", "must be a quarter, YYYYQn (e.g. 2026Q3)"))
        if end is not None and (end >= date.today() or end < EARLIEST_DATE):
            problems.append(FieldViolation("quarter", "must be a quarter that has ended, from 1900"))
        if problems:
            raise ValidationError.from_violations(problems)
        assert start is not None and end is not None
        principal = current_principal.get()
        own_book = not _regulator_view(lender)
        granted = (
            principal is not None and principal.role == REGULATOR_ROLE and principal.has_grant(LOAN_LEVEL)
        )
        frame = book_frame(self.loans, self.registry, end, lender=lender or None)
        lines = facility.ledger(frame, end) if not frame.empty else []
        cell = 0 if own_book else self.min_cell_size
        totals, rows = facility.summary(frame, lines, min_cell_size=cell)
        ledger = portfolio_pb2.FacilityLedger(
            scope=lender or REGULATOR, quarter=quarter.strip().upper(), quarter_start=start.isoformat(),
            quarter_end=end.isoformat(), terms=[_facility_terms(t) for t in facility.all_terms()],
            totals=_ledger_row(totals), categories=[_ledger_row(r) for r in rows], min_cell_size=cell,
            lpr_source=lpr_source(), loan_level=own_book or granted,
        )  # fmt: skip
        ledger.generate_time.FromDatetime(datetime.now(UTC))
        if own_book or granted:
            by_loan = frame.set_index("loan")
            ledger.lines.extend(_ledger_line(line, by_loan.loc[line.loan], start) for line in lines)
        if granted and principal is not None:
            access_log.info(
                "access.loan_level", resource="facility_ledger", token_id=principal.token_id,
                purpose=f"facility ledger {ledger.quarter}", as_of_date=end.isoformat(), lender=lender,
                region_prefix="", loans_returned=len(ledger.lines),
            )  # fmt: skip
        return ledger

    def _with_dimension(self, events: pd.DataFrame, dimension: str, as_of: date) -> pd.DataFrame:
        """``events`` with a "group" column for ``dimension`` (registry data for county, industry, grade)."""
        if not dimension or events.empty:
            return events.assign(group="")
        if dimension in ("PRODUCT", "LENDER"):
            return events.assign(group=events[dimension.lower()])
        usccs = sorted(set(events["uscc"]))
        if dimension == "GRADE":
            year = str(as_of.year - 1)
            profiles = self.registry.available_profiles([(u, year) for u in usccs])
            grade = {u: str(profiles[(u, year)].grade.grade) if (u, year) in profiles else "0" for u in usccs}
            return events.assign(group=events["uscc"].map(grade))
        firms = self.registry.enterprises(usccs)
        codes = {
            u: (firms[u].region_code if dimension == "COUNTY" else firms[u].industry_code[:2])
            if u in firms
            else ""
            for u in usccs
        }
        return events.assign(group=events["uscc"].map(codes))

    def report(
        self,
        lender: str | None,
        as_of: date,
        compare: date,
        dimensions: Sequence[str],
        top_n: int,
        *,
        region_prefix: str = "",
    ) -> portfolio_pb2.PortfolioReport:
        now = book_frame(self.loans, self.registry, as_of, lender=lender, region_prefix=region_prefix)
        before = book_frame(self.loans, self.registry, compare, lender=lender, region_prefix=region_prefix)
        regulator = _regulator_view(lender or "")
        result = metrics.compute_report(
            now, dimensions=dimensions, top_n=top_n, earlier=before, include_loans=not regulator
        )
        withheld = False
        if regulator:  # disclosure control on every aggregate a regulator (or the public) sees
            result, withheld = disclosure.apply(result, now, min_cell_size=self.min_cell_size, earlier=before)
        report = _to_proto(result)
        if regulator:
            report.min_cell_size = self.min_cell_size
            report.totals_suppressed = withheld
        report.scope = lender or REGULATOR
        report.as_of_date, report.compare_date = as_of.isoformat(), compare.isoformat()
        report.profile_year = as_of.year - 1
        report.generate_time.FromDatetime(datetime.now(UTC))
        if regulator:
            del report.loans[:]
            del report.top_emitters[:]
        else:
            del report.lenders[:]
        return report


LEDGER_FORMATS = (portfolio_pb2.CSV, portfolio_pb2.XLSX, portfolio_pb2.PDF, portfolio_pb2.JSON)


def _facility_terms(terms: facility.FacilityTerms) -> portfolio_pb2.FacilityTerms:
    return portfolio_pb2.FacilityTerms(
        effective_date=terms.effective.isoformat(), refinance_share=str(terms.refinance_share),
        rate_bp=terms.rate_bp, rate_tolerance_bp=terms.rate_tolerance_bp,
        eligible_categories=list(terms.eligible_categories), confirmed=terms.confirmed,
        source=terms.source, version=terms.version,
    )  # fmt: skip


def _ledger_row(row: facility.LedgerRow) -> portfolio_pb2.FacilityLedgerRow:
    fields = dataclasses.asdict(row)
    if row.key == "total":
        zh, en = pair("report_label.total")
    elif row.key:
        zh, en = green.catalogue().names.get(row.key, (row.key, row.key))
    else:
        zh, en = pair("report_label.unclassified")
    return portfolio_pb2.FacilityLedgerRow(**fields, label_zh=zh, label_en=en)


def _ledger_line(
    line: facility.LedgerLine, loan: pd.Series, quarter_start: date
) -> portfolio_pb2.FacilityLedgerLine:
    category = str(loan["green_category"] or "")
    zh, en = green.catalogue().names.get(category, ("", "")) if category else ("", "")
    return portfolio_pb2.FacilityLedgerLine(
        loan=line.loan, lender=str(loan["lender"]), enterprise=f"enterprises/{loan['uscc']}",
        enterprise_name=str(loan["enterprise_name"]), green_category=category, category_label_zh=zh,
        category_label_en=en, start_date=loan["start_date"].isoformat(),
        maturity_date=loan["maturity_date"].isoformat(), lpr_tenor=line.lpr_tenor,
        rate_bp=float(loan["rate_bp"]), lpr_bp=line.lpr_bp or 0, eligible=line.eligible,
        reason_code=line.reason, reason_zh=line.reason_text("zh"), reason_en=line.reason_text("en"),
        committed_amount_fen=int(loan["committed_amount_fen"]), outstanding_fen=int(loan["outstanding_fen"]),
        refinanceable_fen=line.refinanceable_fen, commitment=str(loan["commitment"] or ""),
        project_investment_fen=int(loan["project_investment_fen"] or 0), project_share=line.project_share,
        project_verified_tco2_per_year=float(loan["verified_tco2_per_year"] or 0.0),
        attributable_tco2_per_year=line.attributable_tco2_per_year,
        new_in_quarter=loan["start_date"] >= quarter_start,
        terms_effective_date=line.terms_effective.isoformat() if line.terms_effective else "",
        co2_reduced_tco2_per_year=float(loan["co2_reduced_tco2_per_year"] or 0.0),
        energy_saved_tce_per_year=float(loan["energy_saved_tce_per_year"] or 0.0),
        benefit_basis=str(loan["benefit_factors"] or ""),
    )  # fmt: skip


def _carbon_figures(figures: cumulative.Figures) -> portfolio_pb2.CarbonLoanFigures:
    return portfolio_pb2.CarbonLoanFigures(**dataclasses.asdict(figures))


def _group_label(dimension: str, key: str) -> tuple[str, str]:
    return metrics.group_label(dimension, key)


def _regulator_view(lender: str) -> bool:
    """Whether an answer is the regulator's view, under disclosure control and without loan lines: no
    lender named (every lender's book), or a regulator asking about one lender (a lender's own book is
    only its own, and its own staff see it whole)."""
    principal = current_principal.get()
    return not lender or (principal is not None and principal.role == REGULATOR_ROLE)


def _green_row(row: green.GreenRow) -> portfolio_pb2.GreenRow:
    fields = dataclasses.asdict(row)
    fields.pop("borrowers")  # used for disclosure control, not published
    return portfolio_pb2.GreenRow(**fields)


def _to_proto(result: metrics.Report) -> portfolio_pb2.PortfolioReport:
    # The aggregates go through their dicts; the loan lines (100k of them) are built directly.
    raw = _finite(dataclasses.asdict(dataclasses.replace(result, loans=())))
    if raw.get("attribution") is None:
        raw.pop("attribution", None)
    report = json_format.ParseDict(raw, portfolio_pb2.PortfolioReport(), ignore_unknown_fields=True)
    report.loans.extend(_loan_lines_to_proto(result.loans))
    return report


_ENUMS = {"product": dict(scoring_pb2.Product.items()), "level": dict(common_pb2.CarbonLevel.items())}


def _loan_lines_to_proto(lines: Sequence[metrics.LoanLine]) -> list[portfolio_pb2.LoanLine]:
    """LoanLine messages column by column: enum numbers, and NaN as 0 (proto3 doubles have no
    'absent'), are worked out per column; one constructor call per loan is all that is left."""
    if not lines:
        return []
    columns = metrics.LoanLines.of_lines(lines).columns
    names = list(columns)
    values = []
    for name in names:
        column = pd.Series(columns[name])
        if name in _ENUMS:  # "" (no product, ungraded) is the enum's *_UNSPECIFIED
            column = column.map(_ENUMS[name]).fillna(0).astype(np.int64)
        elif name in metrics.LOAN_LINE_FLOATS:
            column = column.astype(float)
            column = column.where(np.isfinite(column), 0.0)
        values.append(column.tolist())
    return [portfolio_pb2.LoanLine(**dict(zip(names, row, strict=True))) for row in zip(*values, strict=True)]


def _finite(value: Any) -> Any:
    """NaN (a ratio of nothing) as 0 in the message; proto3 doubles have no 'absent'."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return 0.0
    return value


EARLIEST_DATE = date(1900, 1, 1)


def _date(text: str, field: str, problems: list[FieldViolation]) -> date | None:
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        problems.append(FieldViolation(field, "must be a date, YYYY-MM-DD"))
        return None
    if value > date.today():
        problems.append(FieldViolation(field, "must not be in the future"))
    if value < EARLIEST_DATE:  # 0001-01-01 minus a year overflowed (INTERNAL) before this bound
        problems.append(FieldViolation(field, f"must be {EARLIEST_DATE.isoformat()} or later"))
    return value


def _dates(as_of_text: str, compare_text: str) -> tuple[date, date]:
    problems: list[FieldViolation] = []
    as_of = _date(as_of_text, "as_of_date", problems) if as_of_text else date.today()
    compare = _date(compare_text, "compare_date", problems) if compare_text else None
    if problems:
        raise ValidationError.from_violations(problems)
    assert as_of is not None
    compare = compare or (as_of - timedelta(days=365))
    if compare >= as_of:
        raise ValidationError.for_field("compare_date", "must be before as_of_date")
    return as_of, compare


def _dimensions(requested: Sequence[int], default: Sequence[str], allow_lender: bool) -> list[str]:
    known = portfolio_pb2.Dimension.values()
    unknown = [str(d) for d in requested if d not in known]  # open enum: any number arrives as sent
    if unknown:
        raise ValidationError.for_field("group_by", f"unknown Dimension value(s): {', '.join(unknown)}")
    names = [portfolio_pb2.Dimension.Name(d) for d in requested] if requested else list(default)
    bad = [n for n in names if n == "DIMENSION_UNSPECIFIED" or (n == "LENDER" and not allow_lender)]
    if bad:
        raise ValidationError.for_field("group_by", f"not allowed here: {', '.join(bad)}")
    return names
