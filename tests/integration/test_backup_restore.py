"""The backup and restore procedure of docs/operations.md, on the real PostgreSQL: the signed head of
the decision log exported beside a pg_dump (custom format) of a database the services wrote,
pg_restore into a new database, `tanxiao audit verify --against` that head on the restore (the real
CLI), and the services working on the restored copy (a retried quote answered from its stored
decision, a new one appended to the log)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from helpers import DEVELOPMENT, graded_year_records, make_uscc
from sqlalchemy.engine import make_url

from registry_service.app import start_registry
from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from scoring_service.app import start_scoring
from tanxiao.platform import db
from tanxiao.platform.config import Settings
from tanxiao.registry.v1 import registry_pb2 as rpb
from tanxiao.registry.v1 import registry_pb2_grpc
from tanxiao.scoring.v1 import scoring_pb2 as spb
from tanxiao.scoring.v1 import scoring_pb2_grpc

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
TANXIAO = str(Path(sys.executable).with_name("tanxiao"))
FIRMS = [make_uscc(710 + i) for i in range(3)]


def libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump / pg_restore take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def databases(postgres_database: str) -> Iterator[tuple[str, str]]:
    """A migrated source database and an empty target, both dropped at the end."""
    server = make_url(postgres_database)
    names = [f"tanxiao_backup_{uuid.uuid4().hex[:8]}", f"tanxiao_restore_{uuid.uuid4().hex[:8]}"]
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    source, target = (server.set(database=n).render_as_string(hide_password=False) for n in names)
    try:
        db.upgrade(source)
        yield source, target
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _settings(url: str, key: Path) -> Settings:
    env = {"TANXIAO_DATABASE_URL": url, "TANXIAO_LOG_SIGNING_KEY_FILE": str(key), "TANXIAO_MAX_WORKERS": "4"}
    return Settings.from_env({**env, **DEVELOPMENT})


def _quote(uscc: str, request_id: str) -> spb.QuoteLoanTermsRequest:
    return spb.QuoteLoanTermsRequest(
        request_id=request_id,
        lender="lenders/huzhou-bank",
        enterprise=f"enterprises/{uscc}",
        product=spb.GENERAL,
        requested_amount_fen=500_000_000,  # 5M yuan in fen
        tenor_months=36,
        profile_period="2022",
    )


def _with_services(url: str, key: Path, work: object) -> object:
    """Run ``work(registry_stub, scoring_stub)`` against both services on ``url``."""
    settings = _settings(url, key)
    registry = start_registry(settings, "127.0.0.1:0")
    scoring = start_scoring(settings, "127.0.0.1:0", registry_addr=registry.address)
    try:
        with grpc.insecure_channel(registry.address) as rc, grpc.insecure_channel(scoring.address) as sc:
            return work(registry_pb2_grpc.CarbonRegistryStub(rc), scoring_pb2_grpc.LoanScoringStub(sc))  # type: ignore[operator]
    finally:
        scoring.stop(None)
        registry.stop(None)


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            tables = sa.inspect(connection).get_table_names()
            return {
                t: int(connection.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one()) for t in tables
            }
    finally:
        engine.dispose()


def _cli(url: str, key: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TANXIAO_DATABASE_URL": url, "TANXIAO_LOG_SIGNING_KEY_FILE": str(key)}
    return subprocess.run([TANXIAO, *args], env=env, capture_output=True, text=True, timeout=120)


def test_a_pg_dump_restores_to_a_database_that_verifies_and_serves(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.fail("pg_dump / pg_restore not installed (Debian: postgresql-client)")
    source, target = databases
    engine = sa.create_engine(source)
    EnterpriseRepository(engine).create_many(
        [Enterprise(u, f"湖州备份{i}厂", "2822", "330502") for i, u in enumerate(FIRMS)]
    )
    engine.dispose()

    def write(
        registry: registry_pb2_grpc.CarbonRegistryStub, scoring: scoring_pb2_grpc.LoanScoringStub
    ) -> list[str]:
        rows = [r for i, u in enumerate(FIRMS) for r in graded_year_records(u, 0.5 + i)]
        registry.BatchIngestRecords(rpb.BatchIngestRecordsRequest(records=rows), timeout=60)
        registry.RecomputeBenchmarks(rpb.RecomputeBenchmarksRequest(year=2022), timeout=120)
        return [scoring.QuoteLoanTerms(_quote(u, f"b-{u}"), timeout=60).name for u in FIRMS]

    key = tmp_path / "log_signing_key.pem"
    decision_ids = _with_services(source, key, write)
    # With the backup: integrate what is pending and export the signed head (the anchor a witness keeps).
    assert _cli(source, key, "log", "sequence").returncode == 0
    head = tmp_path / "head.json"
    assert _cli(source, key, "log", "head", "--out", str(head)).returncode == 0
    before = _cli(source, key, "audit", "verify")
    assert before.returncode == 0 and before.stdout.startswith("audit verify: OK"), before.stdout

    # The procedure: a consistent custom-format dump, restored without owners into an empty database.
    dump = tmp_path / "tanxiao.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", libpq(source)], check=True, timeout=300)
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq(target)}", str(dump)],
        check=True,
        timeout=300,
    )

    after = _cli(target, key, "audit", "verify", "--against", str(head))
    assert after.returncode == 0, after.stdout + after.stderr
    assert "extends the saved head of size 3" in after.stdout  # the 3 decisions, under the kept head
    assert _cli(target, key, "audit", "verify").stdout == before.stdout  # same log, same head
    counts = _counts(source)
    assert _counts(target) == counts and counts["log_decisions"] == 3 and counts["records"] == 72

    def serve_restored(
        registry: registry_pb2_grpc.CarbonRegistryStub, scoring: scoring_pb2_grpc.LoanScoringStub
    ) -> tuple[str, str]:
        retried = scoring.QuoteLoanTerms(_quote(FIRMS[0], f"b-{FIRMS[0]}"), timeout=60).name
        fresh = scoring.QuoteLoanTerms(_quote(FIRMS[1], "after-restore"), timeout=60).name
        return retried, fresh

    retried, fresh = _with_services(target, key, serve_restored)  # type: ignore[misc]
    assert retried == decision_ids[0] and fresh not in decision_ids  # idempotency survived the restore
    assert _cli(target, key, "log", "sequence").returncode == 0
    final = _cli(target, key, "audit", "verify", "--against", str(head))
    assert final.returncode == 0 and "extends the saved head of size 3" in final.stdout, final.stdout
    assert _counts(target)["log_decisions"] == 4
