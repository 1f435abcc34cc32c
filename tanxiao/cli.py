"""The `tanxiao` command: database, imports, demo data and the services.

Settings come from TANXIAO_* environment variables (docs/configuration.md); --database-url overrides
TANXIAO_DATABASE_URL for one command.
"""

from __future__ import annotations

import os

# gRPC's C core logs failed TLS handshakes at INFO on stderr; the CLI says what went wrong in one line.
# Set before anything imports grpc (the platform modules do).
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import json
import logging
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tanxiao.platform.config import PREFIX, Settings, markdown_table
from tanxiao.platform.db import safe_url
from tanxiao.platform.logging import configure_logging

if TYPE_CHECKING:
    import grpc

    from tanxiao.client import Dialer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="tanxiao carbon-efficiency suite")
db_app = typer.Typer(no_args_is_help=True, help="Database schema (Alembic migrations)")
import_app = typer.Typer(no_args_is_help=True, help="Import data files (CSV or Parquet)")
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="Overrides TANXIAO_DATABASE_URL for this command")
]


Token = Annotated[str | None, typer.Option(envvar="TANXIAO_TOKEN", help="Bearer token (or TANXIAO_TOKEN)")]


Addr = Annotated[str | None, typer.Option(help="Service address (default TANXIAO_SCORING_ADDR)")]
Encoding = Annotated[
    str | None,
    typer.Option(help="CSV text encoding (default: UTF-8 if valid, else GB18030, which covers GBK)"),
]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"tanxiao {version('tanxiao')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    """tanxiao carbon-efficiency suite"""


def _fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _dialer(settings: Settings, token: str | None) -> Dialer:
    """The one client factory: the TANXIAO_TLS_* settings the servers use, and the caller's token."""
    from tanxiao.client import Dialer

    return Dialer(settings, token)


@contextmanager
def _service_call(dialer: Dialer, service: str, addr: str | None) -> Iterator[grpc.Channel]:
    """A channel to ``service`` ("scoring" or "registry"); any failure becomes one line (the setting to
    change, or the service's status and message) and exit code 1 (2 for a configuration error)."""
    import grpc

    from tanxiao.client import describe_error
    from tanxiao.platform.tls import ConfigError

    target = addr or getattr(dialer.settings, f"{service}_addr")
    try:
        with getattr(dialer, service)(target) as channel:
            yield channel
    except ConfigError as exc:
        _fail(str(exc), 2)
    except grpc.RpcError as exc:
        _fail(describe_error(exc, target, dialer.settings))


def _scoring_call(dialer: Dialer, addr: str | None) -> AbstractContextManager[grpc.Channel]:
    return _service_call(dialer, "scoring", addr)


def _settings(database_url: str | None = None) -> Settings:
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    settings = replace(settings, database_url=database_url) if database_url else settings
    configure_logging(settings.log_level, settings.log_format)
    return settings


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None, revision: str = "head") -> None:
    """Migrate the database to the latest schema (creates it when empty)."""
    from tanxiao.platform.db import upgrade

    settings = _settings(database_url)
    upgrade(settings.database_url, revision)
    console.print(f"database at {revision}: {safe_url(settings.database_url)}")


@db_app.command("current")
def db_current(database_url: DatabaseUrl = None) -> None:
    """Print the schema revision the database is at."""
    from tanxiao.platform.db import current_revision, make_engine

    engine = make_engine(_settings(database_url).database_url)
    try:
        typer.echo(current_revision(engine) or "(empty)")
    finally:
        engine.dispose()


@db_app.command("check")
def db_check(database_url: DatabaseUrl = None) -> None:
    """Report stored values the ingest now rejects: non-finite quantities (e.g. 1e308 MWh stored as
    Infinity kWh) and quantities above the plausible maximum. Exit code 1 when any is found."""
    from registry_service.storage.checks import check_stored_values
    from tanxiao.platform.db import make_engine

    settings = _settings(database_url)
    engine = make_engine(settings.database_url)
    try:
        bad = check_stored_values(engine, max_scale=settings.plausible_max_scale)
    finally:
        engine.dispose()
    for row in bad:
        typer.echo(f"{row.problem}\t{row.table}\t{row.key}\t{row.column}={row.value}")
    typer.echo(f"{len(bad)} stored value(s) out of range")
    if bad:
        raise typer.Exit(1)


@import_app.command("records")
def import_records(
    file: Annotated[
        Path, typer.Argument(help="CSV (UTF-8 or GB18030/GBK), .xlsx or Parquet: uscc, period, category, ...")
    ],
    rejects: Annotated[Path | None, typer.Option(help="Rejects file (default FILE.rejects.csv)")] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per chunk (one transaction each)")] = 50_000,
    encoding: Encoding = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Import monthly records; re-running a file stores nothing twice."""
    from registry_service.importer import ImportFileError, count_rows
    from registry_service.importer import import_records as run_import
    from registry_service.ingest import Ingestor
    from tanxiao.platform.db import make_engine

    settings = _settings(database_url)
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        with _progress() as progress, _importable(file, encoding) as readable:
            task = progress.add_task(
                f"import {file.name}", total=count_rows(readable) if readable.is_file() else None
            )
            summary = run_import(
                Ingestor(engine, settings=settings),
                readable,
                rejects_path=rejects or _rejects_of(file),
                chunk_rows=chunk_rows,
                progress=lambda rows: progress.advance(task, rows),
            )
    except ImportFileError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    typer.echo(json.dumps(asdict(summary), ensure_ascii=False, indent=2))
    if summary.rejected:
        console.print(f"{summary.rejected} rows rejected, see {summary.rejects_file}")


@import_app.command("loans")
def import_loans(
    file: Annotated[
        Path, typer.Argument(help="CSV (UTF-8 or GB18030/GBK), .xlsx or Parquet: lender, loan_id, ...")
    ],
    rejects: Annotated[Path | None, typer.Option(help="Rejects file (default FILE.rejects.csv)")] = None,
    chunk_rows: Annotated[int, typer.Option(min=1)] = 10_000,
    encoding: Encoding = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Import a lender's existing loan book; loans already recorded are skipped."""
    from scoring_service.loan_import import import_loans as run_import

    settings = _settings(database_url)
    try:
        with _importable(file, encoding) as readable:
            summary = run_import(
                settings, readable, rejects_path=rejects or _rejects_of(file), chunk_rows=chunk_rows
            )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))


@contextmanager
def _importable(file: Path, encoding: str | None) -> Iterator[Path]:
    """``file`` as the importers read it (UTF-8 CSV or Parquet), converted in a temporary directory
    from GB18030/GBK or .xlsx; InputFileError (a ValueError) names --encoding when decoding fails."""
    from tanxiao.input_files import InputFileError, as_importable

    with tempfile.TemporaryDirectory(prefix="tanxiao-import-") as workdir:
        try:
            readable = as_importable(file, Path(workdir), encoding)
        except InputFileError as exc:
            _fail(str(exc), 2)
        if readable.path != file:
            console.print(f"read {file.name} as {readable.encoding}")
        yield readable.path


def _rejects_of(file: Path) -> Path:
    return file.with_name(f"{file.name}.rejects.csv")


report_app = typer.Typer(
    no_args_is_help=True, help="Portfolio reports (scoring service) and the regional dashboard (registry)"
)
app.add_typer(report_app, name="report")


class ReportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    json = "json"
    html = "html"
    xlsx = "xlsx"
    pdf = "pdf"


@report_app.command("portfolio")
def report_portfolio(
    lender: Annotated[
        str | None, typer.Option(help="lenders/{id} (or just the id); omit with --regulator")
    ] = None,
    regulator: Annotated[bool, typer.Option(help="The regulator view across lenders")] = False,
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD (default today)")] = "",
    format: Annotated[
        ReportFormat,
        typer.Option(
            "--format",
            case_sensitive=False,
            help="csv (a zip, one file per section), parquet, json, html, xlsx or pdf",
        ),
    ] = ReportFormat.html,
    language: Annotated[
        str, typer.Option("--language", help="zh or en (html, pdf, xlsx, csv headers)")
    ] = "zh",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default portfolio.FORMAT)")
    ] = None,
    addr: Addr = None,
    token: Token = None,
) -> None:
    """Write a portfolio report (the lender's, or the regulator's) as CSV, Parquet, JSON, HTML, xlsx or
    PDF, dialling with the TANXIAO_TLS_* settings and the token like every command."""
    from tanxiao.portfolio.v1 import portfolio_pb2, portfolio_pb2_grpc

    if not regulator and not lender:
        raise typer.BadParameter("give --lender or --regulator", param_hint="--lender")
    value = portfolio_pb2.ExportFormat.DESCRIPTOR.values_by_name.get(format.value.upper())
    if value is None:
        _fail(f"--format {format.value}: this scoring service contract has no {format.value} export yet", 2)
    name = "" if regulator else (lender if lender and lender.startswith("lenders/") else f"lenders/{lender}")
    request = portfolio_pb2.ExportPortfolioReportRequest(
        lender=name, as_of_date=as_of, format=value.number, regulatory=regulator, language=language
    )
    suffix = "csv.zip" if format is ReportFormat.csv else format.value  # CSV: one file per section, zipped
    output = output or Path(f"portfolio.{suffix}")
    data = bytearray()
    with _scoring_call(_dialer(_settings(), token), addr) as channel:
        for chunk in portfolio_pb2_grpc.PortfolioReportingStub(channel).ExportPortfolioReport(
            request, timeout=120
        ):
            data += chunk.data
    output.write_bytes(bytes(data))  # only a complete report is written: no half files on errors
    console.print(f"wrote {output}")


def _statistics_call(method: str, request: object, addr: str | None, token: str | None) -> str:
    """Call a PortfolioReporting statistics RPC through the one client factory; the answer as JSON text
    (int64 fen as strings)."""
    from google.protobuf import json_format

    from tanxiao.portfolio.v1 import portfolio_pb2_grpc

    with _scoring_call(_dialer(_settings(), token), addr) as channel:
        answer = getattr(portfolio_pb2_grpc.PortfolioReportingStub(channel), method)(request, timeout=120)
    text: str = json_format.MessageToJson(answer, preserving_proto_field_name=True, ensure_ascii=False)
    return text


def _lender_name(lender: str | None) -> str:
    return "" if not lender else (lender if lender.startswith("lenders/") else f"lenders/{lender}")


@report_app.command("green")
def report_green(
    lender: Annotated[
        str | None, typer.Option(help="lenders/{id} (or the id); omit for the regulator view")
    ] = None,
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD (default today)")] = "",
    period_start: Annotated[str, typer.Option(help="New loans from (default 1 January)")] = "",
    by: Annotated[str, typer.Option(help="category, industry_division, county or lender")] = "category",
    addr: Addr = None,
    token: Token = None,
) -> None:
    """Green-loan statistics by use of proceeds (green catalogue), as JSON."""
    from tanxiao.portfolio.v1 import portfolio_pb2

    request = portfolio_pb2.GetGreenLoanStatisticsRequest(
        lender=_lender_name(lender), as_of_date=as_of, period_start=period_start,
        group_by=portfolio_pb2.GreenDimension.Value(f"GREEN_{by.upper()}"),
    )  # fmt: skip
    typer.echo(_statistics_call("GetGreenLoanStatistics", request, addr, token))


@report_app.command("carbon-loans")
def report_carbon_loans(
    lender: Annotated[
        str | None, typer.Option(help="lenders/{id} (or the id); omit for the regulator view")
    ] = None,
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD (default today)")] = "",
    by: Annotated[str, typer.Option(help="grade, product, county, industry_division or lender")] = "",
    addr: Addr = None,
    token: Token = None,
) -> None:
    """碳效贷 cumulative statistics with the headline panel and the quarterly trend, as JSON."""
    from tanxiao.portfolio.v1 import portfolio_pb2

    request = portfolio_pb2.GetCarbonLoanStatisticsRequest(
        lender=_lender_name(lender), as_of_date=as_of,
        group_by=portfolio_pb2.Dimension.Value(by.upper()) if by else 0,
    )  # fmt: skip
    typer.echo(_statistics_call("GetCarbonLoanStatistics", request, addr, token))


class DashboardView(StrEnum):
    grades = "grades"
    migration = "migration"
    grade5 = "grade5"
    pipeline = "pipeline"


class TableFormat(StrEnum):
    table = "table"
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


_DASHBOARD_BY = {"county": "DASHBOARD_COUNTY", "industry": "DASHBOARD_INDUSTRY_DIVISION"}


@report_app.command("dashboard")
def report_dashboard(
    view: Annotated[DashboardView, typer.Argument(help="grades, migration, grade5 or pipeline")],
    year: Annotated[int, typer.Option(help="grades: first year; migration: from-year; grade5: the year")] = 0,
    to_year: Annotated[int, typer.Option(help="grades: last year (default --year); migration: to-year")] = 0,
    by: Annotated[
        str, typer.Option(help="grades: county, industry or county,industry; pipeline: county or industry")
    ] = "",
    region: Annotated[str, typer.Option(help="GB/T 2260 region code prefix, e.g. 3305")] = "",
    industry: Annotated[str, typer.Option(help="GB/T 4754 industry code prefix, e.g. 28")] = "",
    as_of: Annotated[str, typer.Option("--as-of", help="pipeline: YYYY-MM-DD (default today)")] = "",
    purpose: Annotated[str, typer.Option(help="grade5: the supervisory purpose (logged)")] = "",
    format: Annotated[
        TableFormat, typer.Option("--format", case_sensitive=False, help="table, csv, xlsx or json")
    ] = TableFormat.table,
    language: Annotated[str, typer.Option("--language", help="zh or en (headers and names)")] = "zh",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout for table/csv/json)")
    ] = None,
    addr: Annotated[str | None, typer.Option(help="Registry address (default TANXIAO_REGISTRY_ADDR)")] = None,
    token: Token = None,
) -> None:
    """The regional registry dashboard (a regulator's view): grade distribution by county x industry x
    year, grade migration between two years, the grade-5 list with each firm's largest energy source
    (needs the loan_level grant) or the commitments' savings pipeline. Small cells are suppressed."""
    from tanxiao import dashboard_tables as tables
    from tanxiao.registry.v1 import dashboard_pb2 as pb
    from tanxiao.registry.v1 import dashboard_pb2_grpc

    if language not in ("zh", "en"):
        raise typer.BadParameter("zh or en", param_hint="--language")
    if format is TableFormat.xlsx and output is None:
        raise typer.BadParameter("xlsx needs -o FILE", param_hint="--output")
    dimensions = [d.strip() for d in by.split(",") if d.strip()]
    unknown = [d for d in dimensions if d not in _DASHBOARD_BY]
    if unknown or (view is DashboardView.pipeline and len(dimensions) > 1):
        raise typer.BadParameter("county and/or industry (pipeline: one)", param_hint="--by")
    groups = [pb.DashboardDimension.Value(_DASHBOARD_BY[d]) for d in dimensions]
    with _service_call(_dialer(_settings(), token), "registry", addr) as channel:
        stub = dashboard_pb2_grpc.RegistryDashboardStub(channel)
        answer: Any
        if view is DashboardView.grades:
            answer = stub.GetGradeDistribution(
                pb.GetGradeDistributionRequest(
                    from_year=year,
                    to_year=to_year,
                    region_code_prefix=region,
                    industry_code_prefix=industry,
                    group_by=groups,
                ),
                timeout=120,
            )
            table = tables.grades_table(answer, language)
        elif view is DashboardView.migration:
            answer = stub.GetGradeMigration(
                pb.GetGradeMigrationRequest(
                    from_year=year, to_year=to_year, region_code_prefix=region, industry_code_prefix=industry
                ),
                timeout=120,
            )
            table = tables.migration_table(answer, language)
        elif view is DashboardView.grade5:
            answer = pb.ListGradeFiveEnterprisesResponse()
            page_token = ""
            while True:
                page = stub.ListGradeFiveEnterprises(
                    pb.ListGradeFiveEnterprisesRequest(
                        year=year,
                        region_code_prefix=region,
                        industry_code_prefix=industry,
                        purpose=purpose,
                        page_size=1000,
                        page_token=page_token,
                    ),
                    timeout=120,
                )
                answer.enterprises.extend(page.enterprises)
                answer.total_size = page.total_size
                page_token = page.next_page_token
                if not page_token:
                    break
            table = tables.grade5_table(list(answer.enterprises), language)
        else:
            answer = stub.GetSavingsPipeline(
                pb.GetSavingsPipelineRequest(
                    as_of_date=as_of,
                    group_by=groups[0] if groups else 0,
                    region_code_prefix=region,
                    industry_code_prefix=industry,
                ),
                timeout=120,
            )
            table = tables.pipeline_table(answer, language)  # fmt: skip
    if format is TableFormat.table:
        _print_table(table, output)
        return
    data = {
        TableFormat.csv: lambda: tables.to_csv(table),
        TableFormat.xlsx: lambda: tables.to_xlsx(table),
        TableFormat.json: lambda: tables.to_json(answer),
    }[format]()
    if output is None:
        typer.echo(data.decode("utf-8-sig"), nl=False)
        return
    output.write_bytes(data)
    console.print(f"wrote {output}")


def _print_table(table: Any, output: Path | None) -> None:
    """A dashboard table on the terminal (or as text in ``output``); suppressed figures show as "—"."""
    from rich.table import Table as RichTable

    shown = RichTable(title=table.title)
    for name, kind in table.columns:
        shown.add_column(name, justify="left" if kind == "text" else "right")
    for row in table.rows:
        cells = []
        for value, (_, kind) in zip(row, table.columns, strict=True):
            if value is None:
                cells.append("—")
            elif kind == "ratio":
                cells.append(f"{value:.1%}")
            elif isinstance(value, float):
                cells.append(f"{value:,.3f}")
            else:
                cells.append(str(value))
        shown.add_row(*cells)
    if output is None:
        Console(width=200).print(shown)
        return
    with output.open("w", encoding="utf-8") as handle:
        Console(file=handle, width=200).print(shown)


class LedgerFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    pdf = "pdf"
    json = "json"


@report_app.command("facility")
def report_facility(
    quarter: Annotated[str, typer.Option(help="A quarter that has ended, YYYYQn (e.g. 2026Q3)")],
    lender: Annotated[
        str | None, typer.Option(help="lenders/{id} (or the id); omit for every lender (regulators)")
    ] = None,
    format: Annotated[
        LedgerFormat,
        typer.Option(
            "--format", case_sensitive=False, help="csv (a zip, one file per section), xlsx, pdf or json"
        ),
    ] = LedgerFormat.xlsx,
    language: Annotated[str, typer.Option("--language", help="zh or en")] = "zh",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default the server's file name)")
    ] = None,
    addr: Addr = None,
    token: Token = None,
) -> None:
    """Write the carbon emission reduction facility (碳减排支持工具) ledger of a quarter, loan by loan
    (ExportFacilityLedger): a lender's own, or for a regulator every lender's (loan lines only with the
    loan_level grant; otherwise totals by use of proceeds under disclosure control)."""
    from tanxiao.portfolio.v1 import portfolio_pb2, portfolio_pb2_grpc

    request = portfolio_pb2.ExportFacilityLedgerRequest(
        lender=_lender_name(lender), quarter=quarter, language=language,
        format=portfolio_pb2.ExportFormat.Value(format.value.upper()),
    )  # fmt: skip
    data, filename = bytearray(), ""
    with _scoring_call(_dialer(_settings(), token), addr) as channel:
        for chunk in portfolio_pb2_grpc.PortfolioReportingStub(channel).ExportFacilityLedger(
            request, timeout=120
        ):
            data += chunk.data
            filename = filename or chunk.filename
    output = output or Path(filename or f"facility.{format.value}")
    output.write_bytes(bytes(data))  # only a complete file is written
    console.print(f"wrote {output}")


@app.command("demo-data")
def demo_data(
    enterprises: Annotated[int, typer.Option(min=1, max=100_000)] = 60,
    seed: int = 2026,
    if_empty: Annotated[bool, typer.Option(help="Do nothing when enterprises exist")] = False,
    export: Annotated[Path | None, typer.Option(help="Also write the records (bad rows too) to CSV")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Load synthetic enterprises, monthly records (seasonality, retrofits, bad rows), their graded
    profiles, retrofit commitments, a demo loan book of two lenders and each borrower's consent to its
    lender."""
    from registry_service.demo_loader import demo_book_inputs, grant_demo_consents, load_demo
    from scoring_service.demo_book import demo_borrowers, demo_year, load_demo_book
    from tanxiao.platform.db import make_engine

    settings = _settings(database_url)
    report = load_demo(settings, enterprises=enterprises, seed=seed, if_empty=if_empty, export=export)
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        # The CLI composes both services (one database in development): the registry's demo data goes to
        # the loan book as arguments, so that scoring never imports the registry's tables.
        grades, retrofits = demo_book_inputs(engine, demo_year())
        report["loans_recorded"] = load_demo_book(engine, grades, retrofits, seed=seed)
        report["consents_granted"] = grant_demo_consents(engine, demo_borrowers(engine))
    finally:
        engine.dispose()
    typer.echo(json.dumps(report, ensure_ascii=False))


@app.command("serve")
def serve(
    service: Annotated[str, typer.Argument(help="registry, scoring, console or all")] = "all",
    web_console: Annotated[
        bool, typer.Option("--console/--no-console", help="With all: also serve the web console")
    ] = True,
    database_url: DatabaseUrl = None,
) -> None:
    """Run services in the foreground until SIGTERM or Ctrl-C (graceful shutdown)."""
    from tanxiao.console.server import run_console, start_console
    from tanxiao.platform.tls import ConfigError
    from tanxiao.serve import run

    if service not in ("registry", "scoring", "console", "all"):
        raise typer.BadParameter("must be registry, scoring, console or all", param_hint="SERVICE")
    settings = _settings(database_url)
    try:
        if service == "console":
            run_console(settings)
            return
        _require_migrated(settings)
        running = start_console(settings) if service == "all" and web_console else None
        if running is not None:
            console.print(f"web console: {running.url}", highlight=False)
        try:
            run(settings, service)
        finally:
            if running is not None:
                running.stop()
    except ConfigError as exc:
        _fail(str(exc), 2)


def _require_migrated(settings: Settings) -> None:
    """Refuse, in one line, a database that is not at the newest schema revision."""
    problem = _schema_problem(settings.database_url)
    if problem:
        _fail(f"{problem}: run `tanxiao db upgrade` first ({safe_url(settings.database_url)})", 2)


registry_app = typer.Typer(no_args_is_help=True, help="Read the carbon registry (what grpcurl did)")
app.add_typer(registry_app, name="registry")
RegistryAddr = Annotated[str | None, typer.Option(help="Registry address (default TANXIAO_REGISTRY_ADDR)")]


def _registry_call(dialer: Dialer, addr: str | None) -> AbstractContextManager[grpc.Channel]:
    return _service_call(dialer, "registry", addr)


def _print_json(message: object) -> None:
    from google.protobuf import json_format

    typer.echo(json_format.MessageToJson(message, ensure_ascii=False))  # type: ignore[arg-type]


@registry_app.command("enterprises")
def registry_enterprises(
    industry: Annotated[str, typer.Option(help="GB/T 4754 code prefix, e.g. 28")] = "",
    region: Annotated[str, typer.Option(help="GB/T 2260 code prefix, e.g. 3305")] = "",
    page_size: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    page_token: str = "",
    addr: RegistryAddr = None,
    token: Token = None,
) -> None:
    """List enterprises (USCC, name, industry, county); the next page token goes to stderr."""
    from tanxiao.registry.v1 import registry_pb2, registry_pb2_grpc

    request = registry_pb2.ListEnterprisesRequest(
        page_size=page_size, page_token=page_token, industry_code_prefix=industry, region_code_prefix=region
    )
    with _registry_call(_dialer(_settings(), token), addr) as channel:
        page = registry_pb2_grpc.CarbonRegistryStub(channel).ListEnterprises(request, timeout=30)
    for e in page.enterprises:
        typer.echo(f"{e.uscc}\t{e.display_name}\t{e.industry_code}\t{e.region_code}")
    if page.next_page_token:
        console.print(f"next page: --page-token {page.next_page_token}", highlight=False, soft_wrap=True)


@registry_app.command("enterprise")
def registry_enterprise(
    uscc: Annotated[str, typer.Argument(help="The enterprise's USCC (or enterprises/{uscc})")],
    period: Annotated[str, typer.Option(help="Also print this profile (YYYY or R12-YYYY-MM)")] = "",
    addr: RegistryAddr = None,
    token: Token = None,
) -> None:
    """Print an enterprise (GetEnterprise) and, with --period, its carbon profile (GetCarbonProfile)."""
    from tanxiao.registry.v1 import registry_pb2, registry_pb2_grpc

    name = uscc if uscc.startswith("enterprises/") else f"enterprises/{uscc}"
    with _registry_call(_dialer(_settings(), token), addr) as channel:
        stub = registry_pb2_grpc.CarbonRegistryStub(channel)
        _print_json(stub.GetEnterprise(registry_pb2.GetEnterpriseRequest(name=name), timeout=30))
        if period:
            request = registry_pb2.GetCarbonProfileRequest(name=f"{name}/profiles/{period}")
            _print_json(stub.GetCarbonProfile(request, timeout=30))


@registry_app.command("categories")
def registry_categories(addr: RegistryAddr = None, token: Token = None) -> None:
    """Print the data-category catalog and grid factors (ListDataCategories) as JSON."""
    from tanxiao.registry.v1 import registry_pb2, registry_pb2_grpc

    with _registry_call(_dialer(_settings(), token), addr) as channel:
        stub = registry_pb2_grpc.CarbonRegistryStub(channel)
        _print_json(stub.ListDataCategories(registry_pb2.ListDataCategoriesRequest(), timeout=30))


consent_app = typer.Typer(no_args_is_help=True, help="Enterprises' consents to lenders (registry operator)")
app.add_typer(consent_app, name="consent")


class ConsentScopeName(StrEnum):
    carbon_data = "carbon-data"
    financials = "financials"


@consent_app.command("grant")
def consent_grant(
    enterprise: Annotated[str, typer.Option(help="enterprises/{uscc} (or just the USCC)")],
    lender: Annotated[str, typer.Option(help="lenders/{id} (or just the id)")],
    scope: Annotated[
        list[ConsentScopeName] | None, typer.Option(help="Repeatable; default carbon-data")
    ] = None,
    days: Annotated[float, typer.Option(min=0.01, help="Valid for this many days")] = 365.0,
    reference: Annotated[str, typer.Option(help="The signed consent form's reference")] = "",
    addr: RegistryAddr = None,
    token: Token = None,
) -> None:
    """Record an enterprise's consent for a lender (GrantConsent; an admin token)."""
    import datetime as dt

    from google.protobuf.timestamp_pb2 import Timestamp

    from tanxiao.registry.v1 import consent_pb2, consent_pb2_grpc

    expire = Timestamp()
    expire.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(days=days))
    scopes = [
        consent_pb2.ConsentScope.Value(s.value.upper().replace("-", "_"))
        for s in scope or [ConsentScopeName.carbon_data]
    ]
    request = consent_pb2.GrantConsentRequest(
        enterprise=enterprise if enterprise.startswith("enterprises/") else f"enterprises/{enterprise}",
        lender=lender if lender.startswith("lenders/") else f"lenders/{lender}",
        scopes=scopes, expire_time=expire, reference=reference,
    )  # fmt: skip
    with _registry_call(_dialer(_settings(), token), addr) as channel:
        granted = consent_pb2_grpc.ConsentsStub(channel).GrantConsent(request, timeout=30)
    typer.echo(granted.name)


@consent_app.command("list")
def consent_list(
    enterprise: Annotated[str, typer.Option(help="enterprises/{uscc} (or just the USCC)")],
    lender: Annotated[str, typer.Option(help="Only grants to this lender")] = "",
    addr: RegistryAddr = None,
    token: Token = None,
) -> None:
    """An enterprise's active consents (ListConsents) as JSON."""
    from tanxiao.registry.v1 import consent_pb2, consent_pb2_grpc

    request = consent_pb2.ListConsentsRequest(
        parent=enterprise if enterprise.startswith("enterprises/") else f"enterprises/{enterprise}",
        lender=(lender if lender.startswith("lenders/") else f"lenders/{lender}") if lender else "",
    )
    with _registry_call(_dialer(_settings(), token), addr) as channel:
        _print_json(consent_pb2_grpc.ConsentsStub(channel).ListConsents(request, timeout=30))


@consent_app.command("revoke")
def consent_revoke(
    name: Annotated[str, typer.Argument(help="The consent's name, as `consent grant` printed it")],
    addr: RegistryAddr = None,
    token: Token = None,
) -> None:
    """Revoke a consent (RevokeConsent); it stops applying at once."""
    from tanxiao.registry.v1 import consent_pb2, consent_pb2_grpc

    with _registry_call(_dialer(_settings(), token), addr) as channel:
        revoked = consent_pb2_grpc.ConsentsStub(channel).RevokeConsent(
            consent_pb2.RevokeConsentRequest(name=name), timeout=30
        )
    typer.echo(revoked.name)


@app.command("explain")
def explain(
    decision: Annotated[str, typer.Argument(help="decisions/{id} (or just the id)")],
    html: Annotated[Path | None, typer.Option(help="Write the self-contained HTML page here")] = None,
    lang: Annotated[str, typer.Option(help="zh or en")] = "zh",
    format: Annotated[
        str, typer.Option("--format", help="text (print it), html or pdf (an A4 PDF; with -o)")
    ] = "text",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File for --format html/pdf")] = None,
    addr: Addr = None,
    token: Token = None,
) -> None:
    """Print why a decision has its terms (from the scoring service), optionally writing the HTML page or
    an A4 PDF of it (`--format pdf -o file.pdf`)."""
    from tanxiao.scoring.v1 import scoring_pb2, scoring_pb2_grpc

    if lang not in ("zh", "en"):
        raise typer.BadParameter("must be zh or en", param_hint="--lang")
    if format not in ("text", "html", "pdf"):
        raise typer.BadParameter("must be text, html or pdf", param_hint="--format")
    if format != "text" and output is None:
        raise typer.BadParameter(f"--format {format} writes a file: give -o FILE", param_hint="--output")
    name = decision if decision.startswith("decisions/") else f"decisions/{decision}"
    request = scoring_pb2.ExplainDecisionRequest(name=name, pdf_language=lang if format == "pdf" else "")
    with _scoring_call(_dialer(_settings(), token), addr) as channel:
        response = scoring_pb2_grpc.LoanScoringStub(channel).ExplainDecision(request, timeout=60)
    page = response.html_zh if lang == "zh" else response.html_en
    if format == "text":
        typer.echo(response.text_zh if lang == "zh" else response.text_en)
    elif output is not None:
        if format == "pdf":
            output.write_bytes(response.pdf)
        else:
            output.write_text(page, encoding="utf-8")
        console.print(f"wrote {output}")
    if html is not None:
        html.write_text(page, encoding="utf-8")
        console.print(f"wrote {html}")


def _schema_problem(url: str) -> str | None:
    """Why the database at ``url`` cannot be served (empty, behind, or unknown revision), or None."""
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import SQLAlchemyError

    from tanxiao.platform.db import alembic_config, current_revision, make_engine

    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)  # no "Context impl" chatter
    engine = make_engine(url)
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        return f"cannot open the database ({type(exc).__name__})"
    finally:
        engine.dispose()
    if current is None:
        return "the database has no schema"
    if current not in heads:
        return f"the database schema is at revision {current}, not the newest ({', '.join(sorted(heads))})"
    return None


class Product(StrEnum):
    general = "general"
    low_carbon_expansion = "low-carbon-expansion"
    high_carbon_retrofit = "high-carbon-retrofit"


@app.command("quote")
def quote(
    lender: Annotated[str, typer.Option(help="lenders/{id} (or just the id), e.g. huzhou-bank")],
    enterprise: Annotated[str, typer.Option(help="enterprises/{uscc} (or just the USCC)")],
    amount: Annotated[str, typer.Option(help="Requested amount, yuan (e.g. 5000000 or 5000000.50)")],
    base_rate_bp: Annotated[
        float | None,
        typer.Option("--base-rate-bp", help="The lender's own base rate, bp (default: the LPR of the tenor)"),
    ] = None,
    bank_limit: Annotated[
        str | None, typer.Option(help="The lender's own credit limit for the borrower, yuan")
    ] = None,
    tenor: Annotated[int, typer.Option(min=1, max=360, help="Tenor, months")] = 36,
    product: Annotated[Product, typer.Option(case_sensitive=False)] = Product.general,
    commitment: Annotated[str, typer.Option(help="enterprises/{uscc}/commitments/{id} (retrofit)")] = "",
    period: Annotated[str, typer.Option(help="Profile period (YYYY); default the last full year")] = "",
    request_id: Annotated[
        str | None, typer.Option(help="Idempotency key (default a new one; reuse it to retry safely)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole decision as JSON")] = False,
    addr: Addr = None,
    token: Token = None,
) -> None:
    """Price a loan request (QuoteLoanTerms) and print the decision id, rate and limit."""
    from google.protobuf import json_format

    from tanxiao.scoring.v1 import scoring_pb2, scoring_pb2_grpc

    request = scoring_pb2.QuoteLoanTermsRequest(
        request_id=request_id or f"cli-{uuid.uuid4()}",
        lender=lender if lender.startswith("lenders/") else f"lenders/{lender}",
        enterprise=enterprise if enterprise.startswith("enterprises/") else f"enterprises/{enterprise}",
        product=scoring_pb2.Product.Value(product.value.upper().replace("-", "_")),
        tenor_months=tenor,
        commitment=commitment,
        profile_period=period,
    )
    _set_money(request, "requested_amount", amount, "--amount")
    if bank_limit is not None:
        _set_money(request, "bank_limit", bank_limit, "--bank-limit")
    if base_rate_bp is not None:
        request.base_rate_bp = base_rate_bp
    elif not request.DESCRIPTOR.fields_by_name["base_rate_bp"].has_presence:
        raise typer.BadParameter("this scoring contract needs a base rate", param_hint="--base-rate-bp")
    with _scoring_call(_dialer(_settings(), token), addr) as channel:
        decision = scoring_pb2_grpc.LoanScoringStub(channel).QuoteLoanTerms(request, timeout=30)
    if as_json:
        typer.echo(json_format.MessageToJson(decision, ensure_ascii=False))
        return
    typer.echo(decision.name)
    console.print(_decision_summary(decision), highlight=False, soft_wrap=True)


def _set_money(message: Any, base: str, yuan: str, option: str) -> None:
    """Sets ``{base}_fen`` (integer fen, exact from the decimal text) or, on an older contract,
    ``{base}_cny``; BadParameter naming the option for text that is not an amount."""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(yuan.replace(",", ""))
    except InvalidOperation as exc:
        raise typer.BadParameter(f"not an amount: {yuan!r}", param_hint=option) from exc
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise typer.BadParameter("a positive amount in yuan with at most 2 decimals", param_hint=option)
    fields = message.DESCRIPTOR.fields_by_name
    if f"{base}_fen" in fields:
        setattr(message, f"{base}_fen", int(value * 100))
    else:
        setattr(message, f"{base}_cny", float(value))


def _yuan(message: Any, base: str) -> str:
    fields = message.DESCRIPTOR.fields_by_name
    if f"{base}_fen" in fields:
        fen = int(getattr(message, f"{base}_fen"))
        return f"{fen // 100:,}.{fen % 100:02d}"
    return f"{getattr(message, f'{base}_cny'):,.2f}"


def _decision_summary(decision: object) -> str:
    d: Any = decision
    if not d.eligible:
        reasons = ", ".join(r.code for r in d.decline_reasons) or "-"
        return f"declined ({reasons}); request {d.request_id}"
    review = f"; manual review: {', '.join(d.review_reasons)}" if d.manual_review else ""
    return (
        f"rate {d.final_rate_bp / 100:.2f}% ({d.rate_adjustment_bp:+.0f} bp on {d.base_rate_bp:.0f} bp), "
        f"limit {_yuan(d, 'approved_limit')} yuan, grade {d.grade.label_en or d.grade.grade}{review}; "
        f"request {d.request_id}"
    )


decisions_app = typer.Typer(no_args_is_help=True, help="A lender's decisions and their review")
app.add_typer(decisions_app, name="decisions")


def _needs(method: str) -> None:
    from tanxiao.scoring.v1 import scoring_pb2

    if method not in scoring_pb2.DESCRIPTOR.services_by_name["LoanScoring"].methods_by_name:
        _fail(f"this scoring contract has no {method} yet (review arrives with the underwriting work)", 2)


class ReviewState(StrEnum):
    quoted = "quoted"
    in_review = "in-review"
    approved = "approved"
    declined = "declined"
    overridden = "overridden"
    booked = "booked"


@decisions_app.command("list")
def decisions_list(
    lender: Annotated[str, typer.Option(help="lenders/{id} (or just the id)")],
    state: Annotated[ReviewState | None, typer.Option(case_sensitive=False)] = None,
    queue: Annotated[bool, typer.Option(help="The review queue (waiting for a credit officer)")] = False,
    enterprise: Annotated[str, typer.Option(help="Only this enterprise's (USCC)")] = "",
    page_size: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    page_token: str = "",
    addr: Addr = None,
    token: Token = None,
) -> None:
    """List decisions (ListDecisions) or the review queue (ListReviewQueue): id, state, amount, rate."""
    _needs("ListDecisions")
    from tanxiao.scoring.v1 import scoring_pb2, scoring_pb2_grpc

    name = lender if lender.startswith("lenders/") else f"lenders/{lender}"
    with _scoring_call(_dialer(_settings(), token), addr) as channel:
        stub = scoring_pb2_grpc.LoanScoringStub(channel)
        if queue:
            page = stub.ListReviewQueue(
                scoring_pb2.ListReviewQueueRequest(lender=name, page_size=page_size, page_token=page_token),
                timeout=30,
            )
        else:
            request = scoring_pb2.ListDecisionsRequest(
                lender=name, page_size=page_size, page_token=page_token,
                enterprise=f"enterprises/{enterprise}" if enterprise else "",
            )  # fmt: skip
            if state is not None:
                request.state = scoring_pb2.DecisionState.Value(state.value.upper().replace("-", "_"))
            page = stub.ListDecisions(request, timeout=30)
    for d in page.decisions:
        state_name = scoring_pb2.DecisionState.Name(d.state)
        pending = " (override pending)" if d.override_pending else ""
        typer.echo(
            f"{d.name}\t{state_name}{pending}\t{d.enterprise.removeprefix('enterprises/')}\t"
            f"{_yuan(d, 'requested_amount')}\t{d.final_rate_bp / 100:.2f}%"
        )
    if page.next_page_token:
        console.print(f"next page: --page-token {page.next_page_token}", highlight=False, soft_wrap=True)


class ReviewVerb(StrEnum):
    submit = "submit"
    approve = "approve"
    decline = "decline"
    override = "override"
    confirm = "confirm"
    reject = "reject"
    book = "book"


_REVIEW_ACTIONS = {"submit": "SUBMIT_FOR_REVIEW", "approve": "APPROVE", "decline": "DECLINE",
                   "override": "OVERRIDE", "confirm": "CONFIRM_OVERRIDE", "reject": "REJECT_OVERRIDE",
                   "book": "BOOK"}  # fmt: skip


@app.command("review")
def review(
    decision: Annotated[str, typer.Argument(help="decisions/{id} (or just the id)")],
    action: Annotated[ReviewVerb, typer.Argument(case_sensitive=False, help="What to do")],
    lender: Annotated[str, typer.Option(help="The decision's lender, lenders/{id} (or just the id)")],
    reason: Annotated[str, typer.Option(help="Reason code, UPPER_SNAKE_CASE, e.g. CAPACITY_CONFIRMED")] = "",
    text: Annotated[str, typer.Option(help="Why, in words (required to decline or override)")] = "",
    limit: Annotated[str | None, typer.Option(help="override: the approved limit, yuan")] = None,
    rate_bp: Annotated[float | None, typer.Option("--rate-bp", help="override: the final rate, bp")] = None,
    request_id: Annotated[str | None, typer.Option(help="Idempotency key (default a new one)")] = None,
    addr: Addr = None,
    token: Token = None,
) -> None:
    """Approve, decline or override a decision under review (four eyes: an override outside the policy
    or above its amount waits for a second officer's `confirm`); prints the new state."""
    _needs("SubmitReviewAction")
    from tanxiao.scoring.v1 import scoring_pb2, scoring_pb2_grpc

    request = scoring_pb2.SubmitReviewActionRequest(
        request_id=request_id or f"cli-{uuid.uuid4()}",
        lender=lender if lender.startswith("lenders/") else f"lenders/{lender}",
        decision=decision if decision.startswith("decisions/") else f"decisions/{decision}",
        action=scoring_pb2.ReviewActionType.Value(_REVIEW_ACTIONS[action.value]),
        reason_code=reason,
        text=text,
    )
    if action == ReviewVerb.override:
        if limit is None or rate_bp is None:
            raise typer.BadParameter("override needs --limit and --rate-bp", param_hint="--limit")
        _set_money(request.override_terms, "approved_limit", limit, "--limit")
        request.override_terms.final_rate_bp = rate_bp
    with _scoring_call(_dialer(_settings(), token), addr) as channel:
        response = scoring_pb2_grpc.LoanScoringStub(channel).SubmitReviewAction(request, timeout=30)
    done = response.decision
    pending = "; override waits for a second officer (confirm)" if done.override_pending else ""
    typer.echo(f"{done.name}\t{scoring_pb2.DecisionState.Name(done.state)}{pending}")


audit_app = typer.Typer(no_args_is_help=True, help="Verify the decision log and prove decisions")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    against: Annotated[
        Path | None,
        typer.Option(help="A signed head saved earlier (`tanxiao log head`): the log must still extend it"),
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="PEM public key to trust for --against (default: the one in the file)")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Recompute the decision log (and the pre-0009 hash chain) from the stored entries and check every
    signed head; exit 1 if any entry was edited, deleted, inserted or reordered."""
    from scoring_service.audit import SavedHead, audit_main
    from tanxiao.translog import VerifyingKey

    saved = None
    if against is not None:
        try:
            key = VerifyingKey.from_pem(public_key.read_bytes()).raw if public_key else None
            saved = SavedHead.from_json(json.loads(against.read_text("utf-8")), key)
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--against") from exc
    raise typer.Exit(audit_main(_settings(database_url).database_url, saved))


@audit_app.command("prove")
def audit_prove(
    decision: Annotated[str, typer.Argument(help="decisions/{id} (or just the id)")],
    public_key: Annotated[
        Path | None, typer.Option(help="PEM public key to trust (default: the log's key for the head)")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print a decision's inclusion proof (JSON) and check it against the latest signed head."""
    from scoring_service.log_proofs import prove_decision

    decision_id = decision.removeprefix("decisions/")
    code, text = prove_decision(_settings(database_url).database_url, decision_id, public_key)
    typer.echo(text)
    raise typer.Exit(code)


log_app = typer.Typer(no_args_is_help=True, help="The decision log: signing key, signed heads, sequencer")
app.add_typer(log_app, name="log")


@log_app.command("keygen")
def log_keygen(
    out: Annotated[
        Path, typer.Option("-o", "--out", help="Private key file (mode 0600); .pub next to it")
    ] = Path("var/log_signing_key.pem"),
    force: Annotated[
        bool, typer.Option(help="Replace an existing key (rotation: keep the old .pub)")
    ] = False,
) -> None:
    """Generate the Ed25519 key that signs tree heads; print its key id."""
    from scoring_service.log_keys import write_key

    try:
        key = write_key(out, force=force)
    except FileExistsError as exc:
        console.print(f"[red]error:[/red] {out} exists (use --force to replace it)")
        raise typer.Exit(1) from exc
    console.print(f"wrote {out} and {out}.pub; set TANXIAO_LOG_SIGNING_KEY_FILE={out}")
    typer.echo(key.key_id)


@log_app.command("head")
def log_head(
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="Write the head here (default stdout)")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Export the latest signed tree head with its public key, as JSON, for a witness to keep (check it
    later with `tanxiao audit verify --against`)."""
    from scoring_service.log_proofs import export_head

    try:
        text = export_head(_settings(database_url).database_url)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")


@log_app.command("witness")
def log_witness(
    public_key: Annotated[Path, typer.Option(help="The log's public key (PEM) the witness trusts")],
    directory: Annotated[Path, typer.Option("--dir", help="Where the witness keeps heads")] = Path("witness"),
    addr: Annotated[
        str | None, typer.Option(help="Scoring service address (default TANXIAO_SCORING_ADDR)")
    ] = None,
    token: Token = None,
) -> None:
    """A witness's round, over gRPC only: fetch the latest signed head, check its signature and that it
    extends the newest head kept, and keep it (run it on a schedule; exit 1 when the log was rewritten)."""
    from scoring_service.log_proofs import witness
    from tanxiao.scoring.v1 import decision_log_pb2_grpc
    from tanxiao.translog import VerifyingKey

    raw = VerifyingKey.from_pem(public_key.read_bytes()).raw
    # the one client factory: TLS settings as the servers serve, the token on every call
    with _scoring_call(_dialer(_settings(), token), addr) as channel:
        code, message = witness(decision_log_pb2_grpc.DecisionLogStub(channel), raw, directory, [])
    typer.echo(message)
    raise typer.Exit(code)


@log_app.command("sequence")
def log_sequence(
    follow: Annotated[
        bool, typer.Option(help="Keep integrating every quarter merge delay until Ctrl-C")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Integrate pending log entries and sign a head (a standalone sequencer, e.g. with
    TANXIAO_LOG_SEQUENCER=false on the scoring replicas)."""
    import time

    from scoring_service.log_keys import load_signing_key
    from scoring_service.sequencer import Sequencer
    from tanxiao.platform.db import make_engine

    settings = _settings(database_url)
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    sequencer = Sequencer(
        engine, load_signing_key(settings.log_signing_key_file), batch_size=settings.log_batch_size
    )
    try:
        while True:
            integrated = sequencer.integrate()
            if not follow:
                typer.echo(f"integrated {integrated} entries")
                return
            time.sleep(settings.log_merge_delay_seconds / 4)
    except KeyboardInterrupt:
        return
    finally:
        engine.dispose()


SECRET_SETTINGS = frozenset({"service_token", "console_secret_key"})


@app.command("config")
def config(
    effective: Annotated[
        bool, typer.Option(help="The values in effect here (environment over defaults), secrets hidden")
    ] = False,
) -> None:
    """Print the TANXIAO_* settings with their defaults (or, with --effective, the values in effect)."""
    if not effective:
        typer.echo(markdown_table())
        return
    settings = _settings()
    rows = ["| variable | value | from |", "| --- | --- | --- |"]
    for f in fields(Settings):
        value = getattr(settings, f.name)
        source = "environment" if f"{PREFIX}{f.name.upper()}" in _environ() else "default"
        if f.name in SECRET_SETTINGS and value:
            shown = "(set, hidden)"
        elif f.name == "database_url":
            shown = safe_url(value)
        else:
            shown = str(value)
        rows.append(f"| `{PREFIX}{f.name.upper()}` | `{shown}` | {source} |")
    typer.echo("\n".join(rows))


def _environ() -> dict[str, str]:
    return dict(os.environ)


token_app = typer.Typer(no_args_is_help=True, help="API tokens (stored hashed; the secret is shown once)")
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: Annotated[
        str, typer.Option(help="data_provider, lender, credit_officer, regulator, service or admin")
    ],
    tenant: Annotated[str, typer.Option(help="lenders/{id}, a DataSource name, or empty")] = "",
    grant: Annotated[
        list[str] | None,
        typer.Option(
            help="Extra grants (regulator: enterprise_data, loan_level; SELF_REPORTED or THIRD_PARTY_VERIFIED"
            " provider: enterprise:<USCC>, one per enterprise)"
        ),
    ] = None,
    description: str = "",
    expires_in_days: Annotated[
        float, typer.Option(help="Lifetime in days (at most 366); it then stops working")
    ] = 90.0,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a token and print its secret (only now: it is stored hashed)."""
    from datetime import timedelta

    from tanxiao.platform.auth import create_token
    from tanxiao.platform.db import make_engine

    engine = make_engine(_settings(database_url).database_url)
    try:
        secret, principal = create_token(
            engine, role, tenant, tuple(grant or ()), description, timedelta(days=expires_in_days)
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    finally:
        engine.dispose()
    console.print(
        f"token {principal.token_id}: role {principal.role}, tenant {principal.tenant or '-'},"
        f" expires {principal.expire_time:%Y-%m-%d %H:%M} UTC"
    )
    typer.echo(secret)


@token_app.command("revoke")
def token_revoke(token_id: str, database_url: DatabaseUrl = None) -> None:
    """Revoke a token (servers stop accepting it within seconds)."""
    from tanxiao.platform.auth import revoke_token
    from tanxiao.platform.db import make_engine

    engine = make_engine(_settings(database_url).database_url)
    try:
        if not revoke_token(engine, token_id):
            raise typer.BadParameter(f"no active token {token_id}")
    finally:
        engine.dispose()
    console.print(f"revoked {token_id}")


CERTS = Path("var/certs")


@app.command("dev-certs")
def dev_certs(
    directory: Annotated[
        Path, typer.Argument(help="Where to write ca.crt, server.crt/key, client.crt/key")
    ] = Path("var/certs"),
    host: Annotated[list[str] | None, typer.Option(help="Server host names/IPs (repeatable)")] = None,
    force: Annotated[bool, typer.Option(help="Replace existing files")] = False,
) -> None:
    """A local CA and server/client certificates for testing TLS and mutual TLS (never for production)."""
    from tanxiao.platform.tls import generate_dev_certs

    try:
        certs = generate_dev_certs(directory, hosts=tuple(host or ("localhost", "127.0.0.1")), force=force)
    except FileExistsError as exc:
        console.print(f"[red]error:[/red] {exc} (use --force to replace)")
        raise typer.Exit(1) from exc
    typer.echo(
        f"TANXIAO_TLS_CERT_FILE={certs.server_cert}\nTANXIAO_TLS_KEY_FILE={certs.server_key}\n"
        f"TANXIAO_TLS_CLIENT_CA_FILE={certs.ca_cert}\nTANXIAO_TLS_CA_FILE={certs.ca_cert}\n"
        f"TANXIAO_TLS_CLIENT_CERT_FILE={certs.client_cert}\nTANXIAO_TLS_CLIENT_KEY_FILE={certs.client_key}"
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


if __name__ == "__main__":
    app()
