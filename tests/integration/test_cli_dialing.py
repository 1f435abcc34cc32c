"""The CLI as its users run it: real `tanxiao` processes against real servers, plaintext (as `make run`)
and mutual TLS + tokens (as a bank deploys). Every failure is one line naming what to change."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import DEVELOPMENT

from tanxiao.console.views import has_reviews

pytestmark = pytest.mark.slow
TANXIAO = str(Path(sys.executable).with_name("tanxiao"))


def _tanxiao(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TANXIAO, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _ok(env: dict[str, str], *args: str) -> str:
    done = _tanxiao(env, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The whole of stderr, which must be exactly one line starting with "error:"."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@dataclass
class Deployment:
    env: dict[str, str]  # what a user of the CLI has in their shell
    scoring: str
    uscc: str
    token: str = ""
    reviewers: dict[str, str] = field(default_factory=dict)


def _wait_ready(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"server exited: {process.wait()}")
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("event") == "tanxiao.ready":
            return dict(entry["services"])
    raise AssertionError("not ready in time")


def _demo_uscc(url: str) -> str:
    """An enterprise in huzhou-bank's demo book (graded, so a quote is priced)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(sa.text("SELECT uscc FROM carbon_profiles ORDER BY uscc LIMIT 1")).scalar_one()
            )
    finally:
        engine.dispose()


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[str], dict[str, str]]:
    listen = {"TANXIAO_REGISTRY_LISTEN": "127.0.0.1:0", "TANXIAO_SCORING_LISTEN": "127.0.0.1:0"}
    process = subprocess.Popen(
        [TANXIAO, "serve", "all", "--no-console"], env={**env, **listen}, stderr=subprocess.PIPE, text=True
    )
    return process, _wait_ready(process)


@pytest.fixture(scope="module")
def plaintext(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    url = f"sqlite:///{tmp_path_factory.mktemp('plain') / 'tanxiao.db'}"
    base = {**os.environ, "TANXIAO_DATABASE_URL": url, "TANXIAO_LOG_FORMAT": "json"}
    server_env = {**base, **DEVELOPMENT}
    _ok(server_env, "db", "upgrade")
    _ok(server_env, "demo-data", "--enterprises", "8")
    process, services = _serve(server_env)
    try:
        # The user's second terminal: no TANXIAO_ALLOW_PLAINTEXT, as a newcomer has it.
        client = {
            **base,
            "TANXIAO_SCORING_ADDR": services["scoring"],
            "TANXIAO_REGISTRY_ADDR": services["registry"],
        }
        yield Deployment(client, services["scoring"], _demo_uscc(url))
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture(scope="module")
def mutual_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("mtls")
    url = f"sqlite:///{directory / 'tanxiao.db'}"
    base = {**os.environ, "TANXIAO_DATABASE_URL": url, "TANXIAO_LOG_FORMAT": "json"}
    _ok(base, "db", "upgrade")
    certs = dict(line.split("=", 1) for line in _ok(base, "dev-certs", str(directory / "certs")).splitlines())
    env = {**base, **certs}
    service = _ok(env, "token", "create", "--role", "service").splitlines()[-1]
    lender = _ok(env, "token", "create", "--role", "lender", "--tenant", "lenders/huzhou-bank").splitlines()[
        -1
    ]
    admin = _ok(env, "token", "create", "--role", "admin").splitlines()[-1]
    reviewers = {}
    if has_reviews():  # the officer and the second approver of the underwriting contract
        for role in ("credit_officer", "approver"):
            made = _ok(env, "token", "create", "--role", role, "--tenant", "lenders/huzhou-bank")
            reviewers[role] = made.splitlines()[-1]
    _ok(env, "demo-data", "--enterprises", "8")
    process, services = _serve({**env, "TANXIAO_SERVICE_TOKEN": service})
    try:
        client = {
            **env,
            "TANXIAO_SCORING_ADDR": services["scoring"],
            "TANXIAO_REGISTRY_ADDR": services["registry"],
        }
        uscc = _demo_uscc(url)
        # the registry operator records the enterprise's consent, as a lender's quote needs it
        _ok(
            {**client, "TANXIAO_TOKEN": admin},
            "consent",
            "grant",
            "--enterprise",
            uscc,
            "--lender",
            "huzhou-bank",
        )
        yield Deployment(client, services["scoring"], uscc, lender, reviewers)
    finally:
        process.terminate()
        process.wait(30)


def _quote_args(uscc: str, request_id: str) -> list[str]:
    return ["quote", "--lender", "huzhou-bank", "--enterprise", uscc, "--amount", "5000000",
            "--base-rate-bp", "300", "--tenor", "36", "--request-id", request_id]  # fmt: skip


# --- make run: plaintext on loopback ------------------------------------------------------------


def test_a_tls_client_against_make_run_names_the_setting_in_one_line(plaintext: Deployment) -> None:
    done = _tanxiao(plaintext.env, *_quote_args(plaintext.uscc, "mismatch-1"))
    assert done.returncode == 1
    line = _one_line_error(done)
    assert "serves plaintext" in line and "TANXIAO_ALLOW_PLAINTEXT=true" in line
    assert "WRONG_VERSION_NUMBER" not in done.stderr


def test_quote_explain_and_report_work_with_the_plaintext_setting(
    plaintext: Deployment, tmp_path: Path
) -> None:
    env = {**plaintext.env, **DEVELOPMENT}
    done = _tanxiao(env, *_quote_args(plaintext.uscc, "plain-1"))
    assert done.returncode == 0, done.stderr
    decision = done.stdout.strip()
    assert decision.startswith("decisions/")
    assert done.stderr.startswith(("rate ", "declined ("))  # the terms, or why not, in one line
    # The same request id again is the same decision (idempotent), as a retrying user expects.
    assert _ok(env, *_quote_args(plaintext.uscc, "plain-1")) == decision
    explained = _ok(env, "explain", decision, "--lang", "en")
    assert plaintext.uscc in explained
    as_json = json.loads(_ok(env, *_quote_args(plaintext.uscc, "plain-1"), "--json"))
    assert as_json["name"] == decision and as_json["lender"] == "lenders/huzhou-bank"
    report = tmp_path / "book.csv.zip"
    _ok(env, "report", "portfolio", "--lender", "huzhou-bank", "--format", "csv", "-o", str(report))
    with zipfile.ZipFile(report) as sections:  # CSV: one rounded file per section, zipped
        loans = [n for n in sections.namelist() if "loan" in n]
        assert loans, sections.namelist()
        rows = list(csv.reader(io.StringIO(sections.read(loans[0]).decode("utf-8-sig"))))
    assert len(rows) > 1  # the demo book belongs to huzhou-bank: never an empty report


def test_report_format_is_a_fixed_choice(plaintext: Deployment, tmp_path: Path) -> None:
    env = {**plaintext.env, **DEVELOPMENT}
    done = _tanxiao(env, "report", "portfolio", "--lender", "huzhou-bank", "--format", "docx")
    assert done.returncode == 2
    assert "docx" in done.stderr and "xlsx" in done.stderr and "pdf" in done.stderr
    assert "Traceback" not in done.stderr
    for fmt in ("xlsx", "pdf"):
        out = tmp_path / f"book.{fmt}"
        done = _tanxiao(
            env, "report", "portfolio", "--lender", "huzhou-bank", "--format", fmt, "-o", str(out)
        )
        if done.returncode == 0:  # the scoring service renders it: a real workbook / PDF
            magic = b"PK\x03\x04" if fmt == "xlsx" else b"%PDF"
            assert out.read_bytes().startswith(magic)
        else:
            assert fmt in _one_line_error(done) and not out.exists()


def test_nothing_listening_is_one_line(plaintext: Deployment) -> None:
    env = {**plaintext.env, **DEVELOPMENT, "TANXIAO_SCORING_ADDR": "127.0.0.1:9"}
    done = _tanxiao(env, "explain", "decisions/x")
    assert done.returncode == 1
    assert "nothing answers at 127.0.0.1:9" in _one_line_error(done)


# --- a bank's deployment: mutual TLS and tokens ---------------------------------------------------


def test_quote_explain_and_report_over_mutual_tls_with_a_token(
    mutual_tls: Deployment, tmp_path: Path
) -> None:
    env = {**mutual_tls.env, "TANXIAO_TOKEN": mutual_tls.token}
    decision = _ok(env, *_quote_args(mutual_tls.uscc, "mtls-1"))
    assert decision.startswith("decisions/")
    assert mutual_tls.uscc in _ok(env, "explain", decision, "--lang", "en")
    report = tmp_path / "book.json"
    _ok(env, "report", "portfolio", "--lender", "huzhou-bank", "--format", "json", "-o", str(report))
    assert json.loads(report.read_text("utf-8"))  # the report dialled TLS and sent the token


def _last_ended_quarter() -> tuple[str, str]:
    """("2026Q3", "2026-09-30") for a day in 2026Q4."""
    from datetime import date, timedelta

    today = date.today()
    end = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1) - timedelta(days=1)
    return f"{end.year}Q{(end.month - 1) // 3 + 1}", end.isoformat()


@pytest.mark.heavy
def test_a_regulator_gets_every_report_in_every_format_from_the_demo_data(
    mutual_tls: Deployment, tmp_path: Path
) -> None:
    """Done-when of the reports issue, as a regulator runs it: `tanxiao report` with a regulator token over
    mutual TLS against the demo data; the formats agree with each other and with the lenders' reports.
    The 8-enterprise demo has no grade 1-2 firm and no registered commitment (all its loans are working
    capital), so each lender first imports three PV loans (碳效贷, green catalogue 3.2) as a bank
    brings its existing book: `tanxiao import loans`."""
    import pandas as pd
    from google.protobuf import json_format
    from openpyxl import load_workbook

    from scoring_service.portfolio.pdf import page_count
    from tanxiao.portfolio.v1 import portfolio_pb2 as ppb

    base = mutual_tls.env

    def token(*args: str) -> str:
        return _ok(base, "token", "create", *args).splitlines()[-1]

    tokens = {
        "regulator": token("--role", "regulator"),
        "supervisor": token("--role", "regulator", "--grant", "loan_level"),
        "anji-rcb": token("--role", "lender", "--tenant", "lenders/anji-rcb"),
        "huzhou-bank": mutual_tls.token,
    }
    env = {**base, "TANXIAO_TOKEN": tokens["regulator"]}
    quarter, as_of = _last_ended_quarter()
    engine = sa.create_engine(base["TANXIAO_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT DISTINCT uscc FROM carbon_profiles ORDER BY uscc")
            usccs = list(conn.execute(query).scalars())
    finally:
        engine.dispose()
    book = tmp_path / "green-book.csv"
    with book.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        header = ["lender", "loan_id", "enterprise", "product", "committed_amount_cny", "outstanding_cny",
                  "start_date", "maturity_date", "rate_bp", "green_category"]  # fmt: skip
        writer.writerow(header)
        year = int(as_of[:4])
        for n in range(6):
            writer.writerow([("lenders/huzhou-bank", "lenders/anji-rcb")[n % 2], f"PV-{n}",
                             f"enterprises/{usccs[n]}", "LOW_CARBON_EXPANSION", "3000000.00", "2500000.01",
                             f"{year}-0{1 + n}-15", f"{year + 3}-0{1 + n}-15", 300, "3.2"])  # fmt: skip
    imported = _ok(base, "import", "loans", str(book))
    assert json.loads(imported[imported.index("{") :])["recorded"] == 6
    files: dict[str, bytes] = {}
    for fmt in ("csv", "parquet", "json", "html", "xlsx", "pdf"):
        out = tmp_path / f"regulator.{fmt}"
        _ok(env, "report", "portfolio", "--regulator", "--as-of", as_of, "--format", fmt, "-o", str(out))
        files[fmt] = out.read_bytes()
    regulator = json_format.Parse(files["json"], ppb.PortfolioReport())
    assert regulator.scope == "regulator" and not regulator.loans and regulator.totals.loans > 0
    own = {}
    for lender in ("huzhou-bank", "anji-rcb"):
        out = tmp_path / f"{lender}.json"
        _ok({**base, "TANXIAO_TOKEN": tokens[lender]}, "report", "portfolio", "--lender", lender,
            "--as-of", as_of, "--format", "json", "-o", str(out))  # fmt: skip
        own[lender] = json_format.Parse(out.read_bytes(), ppb.PortfolioReport())
    # the lenders' own reports add up to the regulator's totals
    t = regulator.totals
    assert sum(r.totals.loans for r in own.values()) == t.loans
    assert sum(r.totals.outstanding_fen for r in own.values()) == t.outstanding_fen
    assert sum(r.totals.financed_tco2 for r in own.values()) == pytest.approx(t.financed_tco2)
    assert sum(r.totals.financed_scope2_market_tco2 for r in own.values()) == pytest.approx(
        t.financed_scope2_market_tco2
    )
    # every format carries the message's numbers
    with zipfile.ZipFile(io.BytesIO(files["csv"])) as archive:
        assert "loans.csv" not in archive.namelist()  # no borrower rows in the regulator view
        totals = next(csv.DictReader(io.StringIO(archive.read("totals.csv").decode("utf-8-sig"))))
    assert round(float(totals["贷款余额（元）"]) * 100) == t.outstanding_fen
    assert float(totals["融资排放（tCO₂/年）"]) == pytest.approx(t.financed_tco2, abs=0.0005)
    market = float(totals["融资排放范围二·市场法（tCO₂/年）"])
    assert market == pytest.approx(t.financed_scope2_market_tco2, abs=0.0005)
    sheet = load_workbook(io.BytesIO(files["xlsx"]))["总体指标"]
    outstanding = sheet.cell(2, 2).value
    assert isinstance(outstanding, int | float) and round(outstanding * 100) == t.outstanding_fen  # a number
    table = pd.read_parquet(io.BytesIO(files["parquet"]))
    assert int(table.loc[table["section"] == "totals", "outstanding_fen"].iloc[0]) == t.outstanding_fen
    assert f'title="{t.outstanding_fen} fen"' in files["html"].decode()
    assert files["pdf"].startswith(b"%PDF") and page_count(files["pdf"]) >= 1
    # green-loan and 碳效贷 statistics (JSON), reconciled with the lenders'
    green = json.loads(_ok(env, "report", "green", "--as-of", as_of))
    carbon = json.loads(_ok(env, "report", "carbon-loans", "--as-of", as_of))

    def lender_json(command: str, lender: str) -> dict[str, Any]:
        done = _ok({**base, "TANXIAO_TOKEN": tokens[lender]}, "report", command, "--lender", lender,
                   "--as-of", as_of)  # fmt: skip
        return dict(json.loads(done))

    own_green = [lender_json("green", x) for x in ("huzhou-bank", "anji-rcb")]
    own_carbon = [lender_json("carbon-loans", x) for x in ("huzhou-bank", "anji-rcb")]
    assert green["totals"].get("loans", 0) == sum(g["totals"].get("loans", 0) for g in own_green) > 0
    disbursed = sum(int(c["totals"]["disbursed_fen"]) for c in own_carbon)
    assert int(carbon["totals"]["disbursed_fen"]) == disbursed
    assert carbon["headline_zh"].startswith("累计发放碳效贷")
    # the facility ledger in every format: totals only for a regulator, loan lines under the grant
    ledgers: dict[str, bytes] = {}
    for fmt in ("csv", "xlsx", "pdf", "json"):
        out = tmp_path / f"facility.{fmt}"
        _ok(env, "report", "facility", "--quarter", quarter, "--format", fmt, "-o", str(out))
        ledgers[fmt] = out.read_bytes()
    ledger = json_format.Parse(ledgers["json"], ppb.FacilityLedger())
    assert ledger.scope == "regulator" and not ledger.lines and ledger.totals.loans == t.loans
    assert ledgers["pdf"].startswith(b"%PDF")
    summary = load_workbook(io.BytesIO(ledgers["xlsx"]))["按用途汇总"]
    assert round(summary.cell(2, 4).value * 100) == ledger.totals.outstanding_fen
    with zipfile.ZipFile(io.BytesIO(ledgers["csv"])) as archive:
        assert "ledger.csv" not in archive.namelist()
    out = tmp_path / "supervised.json"
    _ok({**env, "TANXIAO_TOKEN": tokens["supervisor"]}, "report", "facility", "--quarter", quarter,
        "--format", "json", "-o", str(out))  # fmt: skip
    supervised = json_format.Parse(out.read_bytes(), ppb.FacilityLedger())
    assert len(supervised.lines) == t.loans and supervised.loan_level
    assert sum(line.refinanceable_fen for line in supervised.lines) == supervised.totals.refinanceable_fen
    # the six PV loans at 300 bp = the 1-year LPR (loan_rules/data/lpr.yaml): eligible, 60 % of 2,500,000.01
    # yuan = 1,500,000.006 -> 1,500,000.00 yuan each (floor); the regulator's totals say the same
    assert sum(line.eligible for line in supervised.lines) == 6
    assert supervised.totals.refinanceable_fen == ledger.totals.refinanceable_fen == 6 * 150_000_000


def test_without_a_token_the_error_says_how_to_give_one(mutual_tls: Deployment) -> None:
    done = _tanxiao(mutual_tls.env, "report", "portfolio", "--lender", "huzhou-bank", "--format", "json",
                    "-o", os.devnull)  # fmt: skip
    assert done.returncode == 1
    line = _one_line_error(done)
    assert "UNAUTHENTICATED" in line and "TANXIAO_TOKEN" in line


def test_a_plaintext_client_against_tls_names_the_ca_setting(mutual_tls: Deployment) -> None:
    env = {**mutual_tls.env, "TANXIAO_TOKEN": mutual_tls.token, "TANXIAO_ALLOW_PLAINTEXT": "true",
           "TANXIAO_TLS_CA_FILE": "", "TANXIAO_TLS_CLIENT_CERT_FILE": "",
           "TANXIAO_TLS_CLIENT_KEY_FILE": ""}  # fmt: skip
    done = _tanxiao(env, *_quote_args(mutual_tls.uscc, "mtls-plain"))
    assert done.returncode == 1
    line = _one_line_error(done)
    assert "serves TLS" in line and "TANXIAO_TLS_CA_FILE" in line


def test_without_a_client_certificate_the_error_names_it(mutual_tls: Deployment) -> None:
    env = {**mutual_tls.env, "TANXIAO_TOKEN": mutual_tls.token, "TANXIAO_TLS_CLIENT_CERT_FILE": "",
           "TANXIAO_TLS_CLIENT_KEY_FILE": ""}  # fmt: skip
    done = _tanxiao(env, "explain", "decisions/x")
    assert done.returncode == 1
    assert "TANXIAO_TLS_CLIENT_CERT_FILE" in _one_line_error(done)


# --- no server needed ----------------------------------------------------------------------------


def test_serve_refuses_an_unmigrated_database_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, **DEVELOPMENT, "TANXIAO_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
           "TANXIAO_REGISTRY_LISTEN": "127.0.0.1:0", "TANXIAO_SCORING_LISTEN": "127.0.0.1:0"}  # fmt: skip
    done = _tanxiao(env, "serve", "all", timeout=60)
    assert done.returncode == 2
    line = _one_line_error(done)
    assert "tanxiao db upgrade" in line and "no schema" in line


def test_version_and_effective_config(tmp_path: Path) -> None:
    from importlib.metadata import version

    env = {**os.environ, "TANXIAO_SCORING_ADDR": "10.1.2.3:443", "TANXIAO_SERVICE_TOKEN": "tx_secret_value",
           "TANXIAO_DATABASE_URL": "postgresql+psycopg://bank:hunter2@db/tanxiao"}  # fmt: skip
    assert _ok(env, "--version") == f"tanxiao {version('tanxiao')}"
    table = _ok(env, "config", "--effective")
    rows = {line.split("|")[1].strip(" `"): line for line in table.splitlines()[2:]}
    assert "`10.1.2.3:443`" in rows["TANXIAO_SCORING_ADDR"] and "environment" in rows["TANXIAO_SCORING_ADDR"]
    assert "`127.0.0.1:50051`" in rows["TANXIAO_REGISTRY_ADDR"] and "default" in rows["TANXIAO_REGISTRY_ADDR"]
    assert "tx_secret_value" not in table and "(set, hidden)" in rows["TANXIAO_SERVICE_TOKEN"]
    assert "hunter2" not in table and "bank:***@db" in rows["TANXIAO_DATABASE_URL"]


def test_registry_reads_replace_grpcurl(plaintext: Deployment) -> None:
    env = {**plaintext.env, **DEVELOPMENT}
    listed = _ok(env, "registry", "enterprises", "--page-size", "3").splitlines()
    assert len(listed) == 3 and all(len(line.split("\t")) == 4 for line in listed)
    uscc = listed[0].split("\t")[0]
    shown = _ok(env, "registry", "enterprise", uscc, "--period", "2025")
    decoder = json.JSONDecoder()
    enterprise, end = decoder.raw_decode(shown)
    profile, _ = decoder.raw_decode(shown[end:].lstrip())
    assert enterprise["uscc"] == uscc and profile["name"] == f"enterprises/{uscc}/profiles/2025"
    catalog = json.loads(_ok(env, "registry", "categories"))
    assert any(c["code"] == "ELECTRICITY" for c in catalog["categories"])


@pytest.mark.skipif(not has_reviews(), reason="the review RPCs arrive with the underwriting contract")
def test_a_review_with_four_eyes_from_the_cli(mutual_tls: Deployment) -> None:
    lender = {**mutual_tls.env, "TANXIAO_TOKEN": mutual_tls.token}
    officer = {**mutual_tls.env, "TANXIAO_TOKEN": mutual_tls.reviewers["credit_officer"]}
    approver = {**mutual_tls.env, "TANXIAO_TOKEN": mutual_tls.reviewers["approver"]}
    # 80,000,000 yuan without the bank's own limit: the quote goes to manual review
    decision = _ok(lender, "quote", "--lender", "huzhou-bank", "--enterprise", mutual_tls.uscc,
                   "--amount", "80000000", "--request-id", "review-1")  # fmt: skip
    queue = _ok(officer, "decisions", "list", "--lender", "huzhou-bank", "--queue")
    assert any(line.startswith(decision + "\tIN_REVIEW") for line in queue.splitlines()), queue
    # above the policy's four-eyes amount (20,000,000 yuan): the override waits for a second officer
    overridden = _ok(officer, "review", decision, "override", "--lender", "huzhou-bank",
                     "--limit", "30000000", "--rate-bp", "350", "--reason", "TERMS_ADJUSTED",
                     "--text", "capacity reviewed", "--request-id", "review-1-override")  # fmt: skip
    assert overridden.endswith("IN_REVIEW; override waits for a second officer (confirm)")
    himself = _tanxiao(officer, "review", decision, "confirm", "--lender", "huzhou-bank",
                       "--reason", "POLICY_EXCEPTION")  # fmt: skip
    assert himself.returncode == 1 and "PERMISSION_DENIED" in _one_line_error(himself)
    confirmed = _ok(approver, "review", decision, "confirm", "--lender", "huzhou-bank",
                    "--reason", "POLICY_EXCEPTION", "--request-id", "review-1-confirm")  # fmt: skip
    assert confirmed == f"{decision}\tOVERRIDDEN"
    listed = _ok(officer, "decisions", "list", "--lender", "huzhou-bank", "--state", "overridden")
    assert any(line.startswith(decision + "\tOVERRIDDEN") for line in listed.splitlines())


def test_serve_all_starts_the_console_and_prints_its_url(tmp_path: Path) -> None:
    import socket
    import urllib.request

    url = f"sqlite:///{tmp_path / 'tanxiao.db'}"
    env = {**os.environ, **DEVELOPMENT, "TANXIAO_DATABASE_URL": url, "TANXIAO_LOG_FORMAT": "json"}
    _ok(env, "db", "upgrade")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env |= {"TANXIAO_REGISTRY_LISTEN": "127.0.0.1:0", "TANXIAO_SCORING_LISTEN": "127.0.0.1:0",
            "TANXIAO_CONSOLE_LISTEN": f"127.0.0.1:{port}"}  # fmt: skip
    process = subprocess.Popen([TANXIAO, "serve", "all"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        deadline, printed = time.monotonic() + 90, ""
        while time.monotonic() < deadline and not printed:
            line = process.stderr.readline()
            if not line:
                raise AssertionError(f"server exited: {process.wait()}")
            printed = line.strip() if line.startswith("web console: ") else ""
        assert printed == f"web console: http://127.0.0.1:{port}/"
        _wait_ready(process)  # the gRPC services follow; SIGTERM is handled from then on
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200 and response.read() == b"ok"
    finally:
        process.terminate()
        assert process.wait(30) == 0  # SIGTERM stops the services and the console gracefully
