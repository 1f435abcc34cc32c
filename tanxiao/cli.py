"""The `tanxiao` command: database, imports, demo data and the services.

Settings come from TANXIAO_* environment variables (docs/configuration.md); --database-url overrides
TANXIAO_DATABASE_URL for one command.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tanxiao.platform.config import Settings, markdown_table
from tanxiao.platform.db import safe_url
from tanxiao.platform.logging import configure_logging
from tanxiao.platform.tls import secure_channel

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


def _token_metadata(token: str | None) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")] if token else []


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


@import_app.command("records")
def import_records(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet with uscc, period, category, quantity, ...")],
    rejects: Annotated[Path | None, typer.Option(help="Rejects file (default FILE.rejects.csv)")] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per chunk (one transaction each)")] = 50_000,
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
        with _progress() as progress:
            task = progress.add_task(
                f"import {file.name}", total=count_rows(file) if file.is_file() else None
            )
            summary = run_import(
                Ingestor(engine, settings=settings),
                file,
                rejects_path=rejects,
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
    file: Annotated[Path, typer.Argument(help="CSV or Parquet: lender, loan_id, enterprise, product, ...")],
    rejects: Annotated[Path | None, typer.Option(help="Rejects file (default FILE.rejects.csv)")] = None,
    chunk_rows: Annotated[int, typer.Option(min=1)] = 10_000,
    database_url: DatabaseUrl = None,
) -> None:
    """Import a lender's existing loan book; loans already recorded are skipped."""
    from scoring_service.loan_import import import_loans as run_import

    settings = _settings(database_url)
    try:
        summary = run_import(settings, file, rejects_path=rejects, chunk_rows=chunk_rows)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))


report_app = typer.Typer(no_args_is_help=True, help="Portfolio reports (from the scoring service)")
app.add_typer(report_app, name="report")


@report_app.command("portfolio")
def report_portfolio(
    lender: Annotated[
        str | None, typer.Option(help="lenders/{id} (or just the id); omit with --regulator")
    ] = None,
    regulator: Annotated[bool, typer.Option(help="The regulator view across lenders")] = False,
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD (default today)")] = "",
    format: Annotated[
        str,
        typer.Option("--format", help="csv (a zip, one file per section), parquet, json, html, xlsx or pdf"),
    ] = "html",
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write")] = Path("portfolio.html"),
    language: Annotated[
        str, typer.Option("--language", help="zh or en (html, pdf, xlsx, csv headers)")
    ] = "zh",
    addr: Annotated[
        str | None, typer.Option(help="Scoring service address (default TANXIAO_SCORING_ADDR)")
    ] = None,
    token: Token = None,
) -> None:
    """Write a portfolio report (the lender's, or the regulator's): CSV, Parquet, JSON, HTML, xlsx or PDF."""
    import grpc

    from tanxiao.portfolio.v1 import portfolio_pb2, portfolio_pb2_grpc

    if not regulator and not lender:
        raise typer.BadParameter("give --lender or --regulator", param_hint="--lender")
    name = "" if regulator else (lender if lender and lender.startswith("lenders/") else f"lenders/{lender}")
    request = portfolio_pb2.ExportPortfolioReportRequest(
        lender=name,
        as_of_date=as_of,
        format=portfolio_pb2.ExportFormat.Value(format.upper()),
        regulatory=regulator,
        language=language,
    )
    settings = _settings()
    with secure_channel(addr or settings.scoring_addr, settings) as channel, output.open("wb") as handle:
        try:
            for chunk in portfolio_pb2_grpc.PortfolioReportingStub(channel).ExportPortfolioReport(
                request, timeout=120, metadata=_token_metadata(token)
            ):
                handle.write(chunk.data)
        except grpc.RpcError as exc:
            console.print(f"[red]error:[/red] {exc.code().name}: {exc.details()}")  # type: ignore[attr-defined]
            raise typer.Exit(1) from exc
    console.print(f"wrote {output}")


def _statistics_call(method: str, request: object, addr: str | None, token: str | None) -> str:
    """Call a PortfolioReporting statistics RPC; the answer as JSON text (int64 fen as strings)."""
    import grpc
    from google.protobuf import json_format

    from tanxiao.portfolio.v1 import portfolio_pb2_grpc

    metadata = (("authorization", f"Bearer {token}"),) if token else None
    settings = _settings()
    # dials like every client: TLS unless plaintext is allowed (loopback only)
    with secure_channel(addr or settings.scoring_addr, settings) as channel:
        try:
            answer = getattr(portfolio_pb2_grpc.PortfolioReportingStub(channel), method)(
                request, timeout=120, metadata=metadata
            )
        except grpc.RpcError as exc:
            console.print(f"[red]error:[/red] {exc.code().name}: {exc.details()}")  # type: ignore[attr-defined]
            raise typer.Exit(1) from exc
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
    addr: Annotated[str | None, typer.Option(help="Scoring service address")] = None,
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
    addr: Annotated[str | None, typer.Option(help="Scoring service address")] = None,
    token: Token = None,
) -> None:
    """碳效贷 cumulative statistics with the headline panel and the quarterly trend, as JSON."""
    from tanxiao.portfolio.v1 import portfolio_pb2

    request = portfolio_pb2.GetCarbonLoanStatisticsRequest(
        lender=_lender_name(lender), as_of_date=as_of,
        group_by=portfolio_pb2.Dimension.Value(by.upper()) if by else 0,
    )  # fmt: skip
    typer.echo(_statistics_call("GetCarbonLoanStatistics", request, addr, token))


@app.command("demo-data")
def demo_data(
    enterprises: Annotated[int, typer.Option(min=1, max=100_000)] = 60,
    seed: int = 2026,
    if_empty: Annotated[bool, typer.Option(help="Do nothing when enterprises exist")] = False,
    export: Annotated[Path | None, typer.Option(help="Also write the records (bad rows too) to CSV")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Load synthetic enterprises, monthly records (seasonality, retrofits, bad rows), their graded
    profiles, retrofit commitments and a demo loan book of two lenders."""
    from registry_service.demo_loader import load_demo
    from scoring_service.demo_book import load_demo_book
    from tanxiao.platform.db import make_engine

    settings = _settings(database_url)
    report = load_demo(settings, enterprises=enterprises, seed=seed, if_empty=if_empty, export=export)
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        report["loans_recorded"] = load_demo_book(engine, seed=seed)
    finally:
        engine.dispose()
    typer.echo(json.dumps(report, ensure_ascii=False))


@app.command("serve")
def serve(
    service: Annotated[str, typer.Argument(help="registry, scoring or all")] = "all",
    database_url: DatabaseUrl = None,
) -> None:
    """Run services in the foreground until SIGTERM or Ctrl-C (graceful shutdown)."""
    from tanxiao.serve import run

    if service not in ("registry", "scoring", "all"):
        raise typer.BadParameter("must be registry, scoring or all", param_hint="SERVICE")
    run(_settings(database_url), service)


@app.command("explain")
def explain(
    decision: Annotated[str, typer.Argument(help="decisions/{id} (or just the id)")],
    html: Annotated[Path | None, typer.Option(help="Write the self-contained HTML page here")] = None,
    lang: Annotated[str, typer.Option(help="zh or en")] = "zh",
    addr: Annotated[
        str | None, typer.Option(help="Scoring service address (default TANXIAO_SCORING_ADDR)")
    ] = None,
    token: Token = None,
) -> None:
    """Print why a decision has its terms (from the scoring service), optionally writing the HTML page."""
    import grpc

    from tanxiao.scoring.v1 import scoring_pb2, scoring_pb2_grpc

    if lang not in ("zh", "en"):
        raise typer.BadParameter("must be zh or en", param_hint="--lang")
    settings = _settings()
    name = decision if decision.startswith("decisions/") else f"decisions/{decision}"
    with secure_channel(addr or settings.scoring_addr, settings) as channel:
        try:
            response = scoring_pb2_grpc.LoanScoringStub(channel).ExplainDecision(
                scoring_pb2.ExplainDecisionRequest(name=name), timeout=30, metadata=_token_metadata(token)
            )
        except grpc.RpcError as exc:
            console.print(f"[red]error:[/red] {exc.code().name}: {exc.details()}")  # type: ignore[attr-defined]
            raise typer.Exit(1) from exc
    typer.echo(response.text_zh if lang == "zh" else response.text_en)
    if html is not None:
        html.write_text(response.html_zh if lang == "zh" else response.html_en, encoding="utf-8")
        console.print(f"wrote {html}")


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


@app.command("config")
def config() -> None:
    """Print the TANXIAO_* settings with their defaults, as a Markdown table."""
    typer.echo(markdown_table())


token_app = typer.Typer(no_args_is_help=True, help="API tokens (stored hashed; the secret is shown once)")
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: Annotated[
        str, typer.Option(help="data_provider, lender, credit_officer, regulator, service or admin")
    ],
    tenant: Annotated[str, typer.Option(help="lenders/{id}, a DataSource name, or empty")] = "",
    grant: Annotated[
        list[str] | None, typer.Option(help="Extra grants (regulator: enterprise_data, loan_level)")
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
