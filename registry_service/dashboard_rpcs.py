"""The RegistryDashboard service (dashboard.proto): regional views of the registry for regulators.

Each method validates the request, refreshes profiles whose records changed, reads frames
(registry_service.storage.dashboard), aggregates them in the pure registry_service.domain.dashboard
under disclosure control (TANXIAO_MIN_CELL_SIZE), and converts, naming counties and industry divisions
in zh and en (tanxiao.standards). The grade-5 list names enterprises: authz lets only a regulator with
the ``loan_level`` grant call it; each call states a purpose and is written to the access logger, as
ListSupervisedLoans is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import grpc
import pandas as pd
import structlog
from sqlalchemy import Engine

from registry_service.convert import enterprise_name
from registry_service.domain import dashboard
from registry_service.domain.catalog import Catalog
from registry_service.profile_service import ProfileService
from registry_service.storage import dashboard as store
from registry_service.storage import (
    decode_page_token,
    encode_page_token,
    filter_fingerprint,
    page_size_of,
)
from registry_service.storage.profiles import load_records
from tanxiao.errors import FieldViolation, ValidationError
from tanxiao.platform.auth import current_principal
from tanxiao.platform.db import read_only
from tanxiao.platform.server import ServiceBinding
from tanxiao.registry.v1 import dashboard_pb2, dashboard_pb2_grpc
from tanxiao.standards import division_name, region_name

SERVICE = "tanxiao.registry.v1.RegistryDashboard"
# Who read named enterprises under the supervisory grant (docs/security.md): the same logger as the
# portfolio's loan-level view, so deployments route both to the access log.
access_log = structlog.get_logger("tanxiao.access")
EARLIEST_YEAR = 2000
MAX_YEARS = 10
_DIMENSIONS: dict[int, str] = {
    dashboard_pb2.DASHBOARD_COUNTY: dashboard.COUNTY,
    dashboard_pb2.DASHBOARD_INDUSTRY_DIVISION: dashboard.DIVISION,
}


def _this_year() -> int:
    return datetime.now(UTC).year


def _year(value: int, field: str, problems: list[FieldViolation]) -> int:
    if not EARLIEST_YEAR <= value <= _this_year():
        problems.append(FieldViolation(field, f"must be a year from {EARLIEST_YEAR} to {_this_year()}"))
    return value


def _prefixes(region: str, industry: str, problems: list[FieldViolation]) -> tuple[str, str]:
    region, industry = region.strip(), industry.strip()
    if region and not (region.isdigit() and len(region) <= 6):
        problems.append(FieldViolation("region_code_prefix", "must be up to six digits (GB/T 2260)"))
    if industry and not (industry.isdigit() and len(industry) <= 4):
        problems.append(FieldViolation("industry_code_prefix", "must be up to four digits (GB/T 4754)"))
    return region, industry


def _raise(problems: list[FieldViolation]) -> None:
    if problems:
        raise ValidationError.from_violations(problems)


def _county(code: str) -> tuple[str, str, str]:
    if not code:
        return "", "", ""
    zh, en = region_name(code)
    return code, zh, en


def _division(code: str) -> tuple[str, str, str]:
    if not code:
        return "", "", ""
    names = division_name(code)
    return (code, *names) if names is not None else (code, code, code)


def _grade_row(row: dashboard.GradeRow) -> dashboard_pb2.GradeDistributionRow:
    county, county_zh, county_en = _county(row.county)
    division, division_zh, division_en = _division(row.division)
    return dashboard_pb2.GradeDistributionRow(
        year=row.year,
        county_code=county,
        county_name_zh=county_zh,
        county_name_en=county_en,
        industry_division=division,
        industry_name_zh=division_zh,
        industry_name_en=division_en,
        enterprises=row.enterprises,
        suppressed=row.suppressed,
        grades=[
            dashboard_pb2.GradeCount(
                grade=g, enterprises=row.grades.get(g, 0), suppressed=g in row.hidden_grades
            )
            for g in dashboard.GRADES
        ],
    )


def _figures(f: dashboard.PipelineFigures) -> dashboard_pb2.PipelineFigures:
    return dashboard_pb2.PipelineFigures(
        pledged_commitments=f.pledged,
        pledged_tco2_per_year=f.pledged_tco2,
        verified_commitments=f.verified,
        verified_tco2_per_year=f.verified_tco2,
        overdue_commitments=f.overdue,
        overdue_tco2_per_year=f.overdue_tco2,
        enterprises=f.enterprises,
    )


class RegistryDashboardServicer(dashboard_pb2_grpc.RegistryDashboardServicer):
    def __init__(self, engine: Engine, catalog: Catalog, *, min_cell_size: int = 3) -> None:
        self.engine = engine
        self.catalog = catalog
        self.min_cell_size = min_cell_size
        self.profiles = ProfileService(engine, catalog)

    def _fresh(self) -> None:
        """Profiles of enterprises with new records are recomputed before any dashboard reads them."""
        self.profiles.refresh_dirty()

    def GetGradeDistribution(
        self, request: dashboard_pb2.GetGradeDistributionRequest, context: grpc.ServicerContext
    ) -> dashboard_pb2.GradeDistribution:
        problems: list[FieldViolation] = []
        first = _year(request.from_year, "from_year", problems)
        last = _year(request.to_year, "to_year", problems) if request.to_year else first
        if not problems and not first <= last <= first + MAX_YEARS:
            problems.append(
                FieldViolation("to_year", f"must be from from_year to {MAX_YEARS} years after it")
            )
        region, industry = _prefixes(request.region_code_prefix, request.industry_code_prefix, problems)
        group_by = self._group_by(request.group_by, problems)
        _raise(problems)
        self._fresh()
        years = list(range(first, last + 1))
        with read_only(self.engine) as conn:
            frame = store.yearly_profiles(conn, years, region, industry)
        result = dashboard.grade_distribution(frame, years, group_by, self.min_cell_size)
        return dashboard_pb2.GradeDistribution(
            rows=[_grade_row(r) for r in result.rows],
            year_totals=[_grade_row(r) for r in result.year_totals],
            group_by=[number for number, name in _DIMENSIONS.items() if name in group_by],
            min_cell_size=self.min_cell_size,
            withheld_years=list(result.withheld_years),
        )

    @staticmethod
    def _group_by(requested: Sequence[int], problems: list[FieldViolation]) -> list[str]:
        if not requested:
            return [dashboard.COUNTY, dashboard.DIVISION]
        if any(d not in _DIMENSIONS for d in requested) or len(set(requested)) != len(requested):
            problems.append(
                FieldViolation("group_by", "DASHBOARD_COUNTY and/or DASHBOARD_INDUSTRY_DIVISION, once each")
            )
            return []
        return [_DIMENSIONS[d] for d in requested]

    def GetGradeMigration(
        self, request: dashboard_pb2.GetGradeMigrationRequest, context: grpc.ServicerContext
    ) -> dashboard_pb2.GradeMigration:
        problems: list[FieldViolation] = []
        first = _year(request.from_year, "from_year", problems)
        last = _year(request.to_year, "to_year", problems)
        if not problems and last <= first:
            problems.append(FieldViolation("to_year", "must be after from_year"))
        region, industry = _prefixes(request.region_code_prefix, request.industry_code_prefix, problems)
        _raise(problems)
        self._fresh()
        with read_only(self.engine) as conn:
            frame = store.yearly_profiles(conn, [first, last], region, industry)
        result = dashboard.grade_migration(frame, first, last, self.min_cell_size)
        return dashboard_pb2.GradeMigration(
            from_year=first,
            to_year=last,
            cells=[
                dashboard_pb2.GradeMigrationCell(
                    from_grade=c.from_grade,
                    to_grade=0 if c.to_grade == dashboard.NO_PROFILE else int(c.to_grade),
                    no_profile=c.to_grade == dashboard.NO_PROFILE,
                    enterprises=c.enterprises,
                    suppressed=c.suppressed,
                )
                for c in result.cells
            ],
            rows=[
                dashboard_pb2.GradeMigrationRow(from_grade=g, enterprises=n, suppressed=s)
                for g, n, s in result.rows
            ],
            enterprises=result.enterprises,
            min_cell_size=self.min_cell_size,
            withheld=result.withheld,
        )

    def ListGradeFiveEnterprises(
        self, request: dashboard_pb2.ListGradeFiveEnterprisesRequest, context: grpc.ServicerContext
    ) -> dashboard_pb2.ListGradeFiveEnterprisesResponse:
        problems: list[FieldViolation] = []
        year = _year(request.year, "year", problems)
        region, industry = _prefixes(request.region_code_prefix, request.industry_code_prefix, problems)
        purpose = request.purpose.strip()
        if not 1 <= len(purpose) <= 200:
            problems.append(FieldViolation("purpose", "state the supervisory purpose, 1-200 characters"))
        _raise(problems)
        size = page_size_of(request.page_size)
        fingerprint = filter_fingerprint("grade5", year, region, industry)
        after = decode_page_token(request.page_token, fingerprint, shape=(str, str))
        self._fresh()
        with read_only(self.engine) as conn:
            firms = store.grade_five(conn, year, region, industry, after=after, limit=size + 1)
            total = store.count_grade_five(conn, year, region, industry)
            page = firms.iloc[:size]
            usccs = page["uscc"].astype(str).tolist()
            records = load_records(conn, usccs, f"{year}-01", f"{year}-12") if usccs else pd.DataFrame()
            regions = store.regions_of(conn, usccs)
        effective = (
            dashboard.effective_records(records, self.profiles.precedence) if len(records) else records
        )
        sources = (
            dashboard.largest_sources(effective, regions, self.catalog).set_index("uscc")
            if len(effective)
            else pd.DataFrame(columns=["category", "tco2", "share"])
        )
        out = []
        for row in page.itertuples(index=False):
            county, county_zh, county_en = _county(str(row.region_code))
            _, division_zh, division_en = _division(str(row.industry_code))
            item = dashboard_pb2.GradeFiveEnterprise(
                enterprise=enterprise_name(str(row.uscc)),
                display_name=str(row.display_name),
                county_code=county,
                county_name_zh=county_zh,
                county_name_en=county_en,
                industry_code=str(row.industry_code),
                industry_name_zh=division_zh,
                industry_name_en=division_en,
                carbon_intensity=_number(row.carbon_intensity),
                benchmark_intensity=_number(row.benchmark_intensity),
                k_value=_number(row.k_value),
                gross_tco2=_number(row.gross_tco2),
            )
            if str(row.uscc) in sources.index:
                top = sources.loc[str(row.uscc)]
                category = self.catalog.category(str(top["category"]))
                item.largest_source_category = category.code
                item.largest_source_name_zh, item.largest_source_name_en = category.name_zh, category.name_en
                item.largest_source_tco2, item.largest_source_share = float(top["tco2"]), float(top["share"])
            out.append(item)
        token = ""
        if len(firms) > size:
            last = page.iloc[-1]
            token = encode_page_token([str(last["region_code"]), str(last["uscc"])], fingerprint)
        principal = current_principal.get()
        access_log.info(
            "access.loan_level",
            resource="grade5",
            token_id=principal.token_id if principal else "",
            purpose=purpose,
            year=year,
            region_prefix=region,
            industry_prefix=industry,
            enterprises_returned=len(out),
        )
        return dashboard_pb2.ListGradeFiveEnterprisesResponse(
            enterprises=out, next_page_token=token, total_size=total
        )

    def GetSavingsPipeline(
        self, request: dashboard_pb2.GetSavingsPipelineRequest, context: grpc.ServicerContext
    ) -> dashboard_pb2.SavingsPipeline:
        problems: list[FieldViolation] = []
        as_of = date.today()
        if request.as_of_date:
            try:
                as_of = date.fromisoformat(request.as_of_date.strip())
            except ValueError:
                problems.append(FieldViolation("as_of_date", "must be a date, YYYY-MM-DD"))
            else:
                if as_of > date.today() or as_of.year < EARLIEST_YEAR:
                    problems.append(FieldViolation("as_of_date", f"must be from {EARLIEST_YEAR} to today"))
        group_by = ""
        if request.group_by:
            if request.group_by not in _DIMENSIONS:
                problems.append(
                    FieldViolation("group_by", "DASHBOARD_COUNTY, DASHBOARD_INDUSTRY_DIVISION or unset")
                )
            else:
                group_by = _DIMENSIONS[request.group_by]
        region, industry = _prefixes(request.region_code_prefix, request.industry_code_prefix, problems)
        _raise(problems)
        with read_only(self.engine) as conn:
            commitments, checks = store.commitment_frames(conn, region, industry)
        states = dashboard.pipeline_states(commitments, checks, as_of)
        result = dashboard.savings_pipeline(states, group_by, self.min_cell_size)
        rows = []
        for row in result.rows:
            key, zh, en = _county(row.key) if group_by == dashboard.COUNTY else _division(row.key)
            rows.append(
                dashboard_pb2.PipelineRow(
                    key=key,
                    name_zh=zh,
                    name_en=en,
                    figures=_figures(row.figures),
                    suppressed=row.suppressed,
                    verified_suppressed=row.verified_suppressed,
                    overdue_suppressed=row.overdue_suppressed,
                )
            )
        return dashboard_pb2.SavingsPipeline(
            as_of_date=as_of.isoformat(),
            group_by=request.group_by,
            totals=_figures(result.totals),
            verified_suppressed=result.verified_suppressed,
            overdue_suppressed=result.overdue_suppressed,
            rows=rows,
            min_cell_size=self.min_cell_size,
            withheld=result.withheld,
        )


def _number(value: object) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def create_dashboard_binding(engine: Engine, catalog: Catalog, min_cell_size: int) -> ServiceBinding:
    servicer = RegistryDashboardServicer(engine, catalog, min_cell_size=min_cell_size)
    return ServiceBinding(SERVICE, servicer, dashboard_pb2_grpc.add_RegistryDashboardServicer_to_server)
