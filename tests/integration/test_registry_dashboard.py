"""The regional registry dashboard over gRPC, on hand-built data whose numbers are worked by hand.

Two registries serve the same database: ``open_`` with a minimum cell size of 1 (no suppression: the
hand-worked figures) and ``guarded`` as deployed (tokens, TANXIAO_MIN_CELL_SIZE 3). Profiles come from
the real pipeline: records ingested over gRPC, benchmarks and grades recomputed (huzhou-2023 method).

The data (industry 2822 涤纶纤维制造, added value 3,000 万元 a year each, grid electricity at the catalog's
Zhejiang factor; helpers.graded_year_records):

- 2022: A, B, C (330502 吴兴区), P, Q, R (330503 南浔区), D (330521 德清县) at L = 1.0 tCO2/万元; X (330502)
  and Y (330523 安吉县) the same electricity (3,000 tCO2) plus 4,000 t of raw coal (4,000,000 kg x 1.9003
  kgCO2/kg = 7,601.2 tCO2): L = 10,601.2 / 3,000 = 3.53373; G (330502) reports six months only:
  UNGRADED. Benchmark = (7 x 3,000 + 2 x 10,601.2) / 27,000 = 1.56305: K = 0.6398 (grade 2) for the
  seven, 2.2608 (grade 5) for X and Y.
- 2023: A, B, C, F (new), G, P, Q, R at 1.0, D at 2.0, X and Y absent. Benchmark = (8 x 3,000 + 6,000) /
  27,000 = 1.1111 (every firm's L scales with the year's grid factor alike): K = 0.9 (grade 3) for the
  eight, 1.8 (grade 4) for D.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from helpers import DEVELOPMENT, error_details, graded_year_records, make_uscc
from sqlalchemy.engine import make_url

from registry_service import dashboard_rpcs
from registry_service.app import start_registry
from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from tanxiao.common.v1 import common_pb2
from tanxiao.platform.auth import LOAN_LEVEL, create_token
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine, upgrade
from tanxiao.platform.server import RunningServer
from tanxiao.registry.v1 import dashboard_pb2 as db
from tanxiao.registry.v1 import dashboard_pb2_grpc, registry_pb2_grpc
from tanxiao.registry.v1 import registry_pb2 as pb

TANXIAO = str(Path(sys.executable).with_name("tanxiao"))
A, B, C, D, X, G, F, P, Q, R, Y = (
    make_uscc(i, region)
    for i, region in enumerate(
        [
            "330502",
            "330502",
            "330502",
            "330521",
            "330502",
            "330502",
            "330502",
            "330503",
            "330503",
            "330503",
            "330523",
        ],
        1,
    )
)
COUNTY_OF = {
    A: "330502",
    B: "330502",
    C: "330502",
    D: "330521",
    X: "330502",
    G: "330502",
    F: "330502",
    P: "330503",
    Q: "330503",
    R: "330503",
    Y: "330523",
}
COAL_KG = 4_000_000.0
AS_OF = "2025-06-30"


@dataclass
class Env:
    open_: dashboard_pb2_grpc.RegistryDashboardStub  # min cell size 1, no tokens
    registry: registry_pb2_grpc.CarbonRegistryStub  # the open server's registry
    guarded: dashboard_pb2_grpc.RegistryDashboardStub  # min cell size 3, tokens required
    guarded_addr: str
    engine: sa.Engine
    tokens: dict[str, str]

    def bearer(self, who: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.tokens[who]}"),)


def _serve(url: str, **extra: str) -> tuple[RunningServer, grpc.Channel]:
    settings = Settings.from_env(
        {"TANXIAO_DATABASE_URL": url, "TANXIAO_MAX_WORKERS": "4", **DEVELOPMENT, **extra}
    )
    running = start_registry(settings, "127.0.0.1:0")
    channel = grpc.insecure_channel(running.address)
    grpc.channel_ready_future(channel).result(timeout=10)
    return running, channel


def _year(uscc: str, year: int, intensity: float = 1.0, months: int = 12) -> list[pb.EnergyRecord]:
    return [r for r in graded_year_records(uscc, intensity, year) if int(r.period[5:]) <= months]


def _commitment(start: str, due: str, tco2: float, title: str) -> pb.Commitment:
    return pb.Commitment(
        project_type=pb.WASTE_HEAT,
        title=title,
        baseline_year=2022,
        target_savings_tce_per_year=tco2 / 2.5,
        target_savings_tco2_per_year=tco2,
        capex_fen=5_000_000_000,
        start_date=start,
        verifier="中国质量认证中心",
        milestones=[pb.Milestone(title="full savings", due_date=due, target_fraction=1.0)],
    )


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for this module's read-only tests, built once (ingest, recompute, commitments
    take half a minute): a copy of the SQLite template, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("dashboard") / "tanxiao.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server_url = make_url(request.getfixturevalue("postgres_database"))
    name = f"tanxiao_dashboard_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="module")
def env(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    db_url, tmp_path = module_db_url, tmp_path_factory.mktemp("dashboard-access")
    open_server, open_channel = _serve(db_url, TANXIAO_MIN_CELL_SIZE="1")
    guarded_server, guarded_channel = _serve(
        db_url,
        TANXIAO_AUTH_REQUIRED="true",
        TANXIAO_MIN_CELL_SIZE="3",
        TANXIAO_TOKEN_CACHE_SECONDS="0",
        TANXIAO_ACCESS_LOG_DIR=str(tmp_path / "access"),
    )
    engine = make_engine(db_url)
    try:
        EnterpriseRepository(engine).create_many(
            [
                Enterprise(u, f"企业{name}", "2822", COUNTY_OF[u])
                for name, u in zip("ABCDXGFPQRY", COUNTY_OF, strict=True)
            ]
        )
        registry = registry_pb2_grpc.CarbonRegistryStub(open_channel)
        rows = [r for u in (A, B, C, D, X, Y, P, Q, R) for r in _year(u, 2022)] + _year(G, 2022, months=6)
        rows += [
            pb.EnergyRecord(
                uscc=uscc,
                period=f"2022-{m:02d}",
                category="RAW_COAL",
                quantity=COAL_KG / 12 / 1000,
                unit="t",
                source=common_pb2.SELF_REPORTED,
                external_id=f"coal-{uscc}-{m}",
            )
            for uscc in (X, Y)
            for m in range(1, 13)
        ]
        rows += [r for u in (A, B, C, F, G, P, Q, R) for r in _year(u, 2023)] + _year(D, 2023, 2.0)
        for start in range(0, len(rows), 150):
            registry.BatchIngestRecords(
                pb.BatchIngestRecordsRequest(records=rows[start : start + 150]), timeout=60
            )
        for year in (2022, 2023):
            registry.RecomputeBenchmarks(pb.RecomputeBenchmarksRequest(year=year), timeout=120)
        plans = [
            (X, "2023-01-01", "2024-12-31", 2_000.0, ("2025-03-01", True, 1_800.0)),
            (A, "2023-06-01", "2025-03-31", 500.0, None),
            (D, "2024-01-01", "2026-06-30", 300.0, None),
            (B, "2023-01-01", "2024-06-30", 400.0, ("2025-01-10", False, 100.0)),
        ]
        for uscc, start, due, tco2, check in plans:
            made = registry.RegisterCommitment(
                pb.RegisterCommitmentRequest(
                    parent=f"enterprises/{uscc}", commitment=_commitment(start, due, tco2, "余热回收")
                ),
                timeout=30,
            )
            if check is not None:
                day, passed, savings = check
                verification = pb.Verification(
                    verification_date=day,
                    verifier="中国质量认证中心",
                    passed=passed,
                    verified_savings_tco2=savings,
                    verified_savings_tce=savings / 2.5,
                )
                registry.RecordVerification(
                    pb.RecordVerificationRequest(name=made.name, verification=verification)
                )
        tokens = {
            "regulator": create_token(engine, "regulator", "")[0],
            "supervisor": create_token(engine, "regulator", "", (LOAN_LEVEL,))[0],
            "lender": create_token(engine, "lender", "lenders/huzhou-bank")[0],
        }
        yield Env(
            dashboard_pb2_grpc.RegistryDashboardStub(open_channel),
            registry,
            dashboard_pb2_grpc.RegistryDashboardStub(guarded_channel),
            guarded_server.address,
            engine,
            tokens,
        )
    finally:
        open_channel.close()
        guarded_channel.close()
        open_server.stop(None)
        guarded_server.stop(None)
        engine.dispose()


def _grades(row: db.GradeDistributionRow) -> dict[int, int]:
    return {c.grade: c.enterprises for c in row.grades if c.enterprises}


def test_the_distribution_is_the_hand_worked_one_and_reconciles_with_the_profiles(env: Env) -> None:
    answer = env.open_.GetGradeDistribution(
        db.GetGradeDistributionRequest(from_year=2022, to_year=2023), timeout=60
    )
    got = {(r.year, r.county_code, r.industry_division): (r.enterprises, _grades(r)) for r in answer.rows}
    assert got == {
        (2022, "330502", "28"): (5, {0: 1, 2: 3, 5: 1}),  # G ungraded, A B C, X
        (2022, "330503", "28"): (3, {2: 3}),
        (2022, "330521", "28"): (1, {2: 1}),
        (2022, "330523", "28"): (1, {5: 1}),  # Y
        (2023, "330502", "28"): (5, {3: 5}),  # A B C F G
        (2023, "330503", "28"): (3, {3: 3}),
        (2023, "330521", "28"): (1, {4: 1}),  # D at twice the intensity
    }
    first = answer.rows[0]
    assert (first.county_name_zh, first.county_name_en) == ("湖州市吴兴区", "Wuxing District, Huzhou")
    assert (first.industry_name_zh, first.industry_name_en)[0] == "化学纤维制造业"
    assert not any(r.suppressed or any(c.suppressed for c in r.grades) for r in answer.rows)
    # The year totals are the profile list's: every enterprise's yearly profile, read one by one.
    for total in answer.year_totals:
        names = [f"enterprises/{u}/profiles/{total.year}" for u in COUNTY_OF]
        profiles = env.registry.BatchGetCarbonProfiles(
            pb.BatchGetCarbonProfilesRequest(names=names, allow_missing=True), timeout=60
        ).profiles
        assert total.enterprises == len(profiles) == {2022: 10, 2023: 9}[total.year]
        assert _grades(total) == dict(Counter(p.grade.grade for p in profiles))
        assert sum(c.enterprises for c in total.grades) == total.enterprises


def test_the_migration_matrix_rows_sum_to_the_firms_of_the_from_year(env: Env) -> None:
    answer = env.open_.GetGradeMigration(
        db.GetGradeMigrationRequest(from_year=2022, to_year=2023), timeout=60
    )
    cells = {(c.from_grade, "none" if c.no_profile else c.to_grade): c.enterprises for c in answer.cells}
    assert cells == {(0, 3): 1, (2, 3): 6, (2, 4): 1, (5, "none"): 2}  # G; A B C P Q R; D; X Y: no 2023
    assert {r.from_grade: r.enterprises for r in answer.rows} == {0: 1, 2: 7, 5: 2}
    for row in answer.rows:
        assert sum(c.enterprises for c in answer.cells if c.from_grade == row.from_grade) == row.enterprises
    assert answer.enterprises == 10 and not answer.withheld


def test_the_grade_five_list_names_the_largest_source_worked_by_hand(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged: list[tuple[str, dict[str, object]]] = []

    class Recorder:  # the servicer's access logger, in this process
        def info(self, event: str, **fields: object) -> None:
            logged.append((event, fields))

    monkeypatch.setattr(dashboard_rpcs, "access_log", Recorder())
    purpose = "2022 碳诊断 targets"
    supervisor = env.bearer("supervisor")
    request = db.ListGradeFiveEnterprisesRequest(year=2022, purpose=purpose, page_size=1)
    answer = env.guarded.ListGradeFiveEnterprises(request, metadata=supervisor, timeout=60)
    assert [e.enterprise for e in answer.enterprises] == [f"enterprises/{X}"] and answer.total_size == 2
    request.page_token = answer.next_page_token  # by county: 吴兴区 (X) before 安吉县 (Y)
    rest = env.guarded.ListGradeFiveEnterprises(request, metadata=supervisor, timeout=60)
    assert [e.enterprise for e in rest.enterprises] == [f"enterprises/{Y}"] and not rest.next_page_token
    assert rest.enterprises[0].county_name_en == "Anji County, Huzhou"
    x = answer.enterprises[0]
    electricity = 3_000.0  # L = 1.0 on 3,000 万元 of grid electricity (helpers.graded_year_records)
    coal = COAL_KG * 1.9003 / 1000  # 7,601.2 tCO2
    assert (x.display_name, x.county_name_zh, x.industry_code) == ("企业X", "湖州市吴兴区", "2822")
    assert (x.largest_source_category, x.largest_source_name_zh) == ("RAW_COAL", "原煤")
    assert x.largest_source_tco2 == pytest.approx(coal)
    assert x.largest_source_share == pytest.approx(coal / (coal + electricity))  # 0.7170
    assert x.carbon_intensity == pytest.approx((coal + electricity) / 3_000, abs=1e-4)
    benchmark = (7 * 3_000 + 2 * (coal + electricity)) / 27_000
    assert x.benchmark_intensity == pytest.approx(benchmark, abs=1e-4)
    assert x.k_value == pytest.approx((coal + electricity) / 3_000 / benchmark, abs=1e-3)
    entry = {
        "resource": "grade5",
        "token_id": logged[0][1]["token_id"],
        "purpose": purpose,
        "year": 2022,
        "region_prefix": "",
        "industry_prefix": "",
        "enterprises_returned": 1,
    }
    assert logged == [("access.loan_level", entry)] * 2 and entry["token_id"]
    missing = db.ListGradeFiveEnterprisesRequest(year=2022)
    with pytest.raises(grpc.RpcError) as refused:
        env.guarded.ListGradeFiveEnterprises(missing, metadata=env.bearer("supervisor"), timeout=30)
    assert error_details(refused.value).fields == ["purpose"]


def test_the_pipeline_pledged_verified_overdue_by_hand(env: Env) -> None:
    answer = env.open_.GetSavingsPipeline(
        db.GetSavingsPipelineRequest(as_of_date=AS_OF, group_by=db.DASHBOARD_COUNTY), timeout=60
    )
    t = answer.totals
    # X verified (1,800 of its 2,000); A overdue (due 2025-03-31, never verified); B overdue (its only
    # verification failed); D pledged, due 2026.
    assert (t.pledged_commitments, t.pledged_tco2_per_year, t.enterprises) == (4, 3_200.0, 4)
    assert (t.verified_commitments, t.verified_tco2_per_year) == (1, 1_800.0)
    assert (t.overdue_commitments, t.overdue_tco2_per_year) == (2, 900.0)
    rows = {r.key: r for r in answer.rows}
    assert set(rows) == {"330502", "330521"} and rows["330521"].name_zh == "湖州市德清县"
    wuxing = rows["330502"].figures
    assert (wuxing.pledged_tco2_per_year, wuxing.verified_tco2_per_year, wuxing.overdue_tco2_per_year) == (
        2_900.0,
        1_800.0,
        900.0,
    )
    assert rows["330521"].figures.pledged_tco2_per_year == 300.0
    earlier = env.open_.GetSavingsPipeline(db.GetSavingsPipelineRequest(as_of_date="2024-12-31"), timeout=60)
    # Before X's verification and A's due date: only B (due 2024-06-30) and X (due 2024-12-31) overdue.
    assert (earlier.totals.verified_commitments, earlier.totals.overdue_commitments) == (0, 2)
    assert earlier.totals.overdue_tco2_per_year == 2_400.0


def test_small_cells_are_suppressed_and_marked_not_zero(env: Env) -> None:
    regulator = env.bearer("regulator")
    answer = env.guarded.GetGradeDistribution(
        db.GetGradeDistributionRequest(from_year=2022, group_by=[db.DASHBOARD_COUNTY]),
        metadata=regulator,
        timeout=60,
    )
    assert answer.min_cell_size == 3
    rows = {r.county_code: r for r in answer.rows}
    # 德清县 (D) and 安吉县 (Y) hold one enterprise each: suppressed; together 2 < 3, so 南浔区 (3) is hidden
    # with them, and the year's total minus 吴兴区 gives none away. 吴兴区's total (5) shows; its grade
    # cells G (1) and X (1) are below 3, and A B C are hidden with them (complementary).
    assert rows["330521"].suppressed and rows["330523"].suppressed and rows["330503"].suppressed
    assert rows["330521"].enterprises == 0 and all(
        c.suppressed for c in rows["330521"].grades if c.grade == 2
    )
    wuxing = rows["330502"]
    assert not wuxing.suppressed and wuxing.enterprises == 5
    assert {c.grade for c in wuxing.grades if c.suppressed} == {0, 2, 5}
    assert all(c.enterprises == 0 for c in wuxing.grades)
    (total,) = answer.year_totals
    # The year's grade totals: UNGRADED (G) and grade 5 (X, Y) hold 3 together; grade 2's 7 shows.
    assert total.enterprises == 10 and not total.suppressed
    assert {c.grade for c in total.grades if c.suppressed} == {0, 5}
    assert {c.grade: c.enterprises for c in total.grades if c.enterprises} == {2: 7}
    migration = env.guarded.GetGradeMigration(
        db.GetGradeMigrationRequest(from_year=2022, to_year=2023), metadata=regulator, timeout=60
    )
    # Rows: UNGRADED (G) and grade 5 (X, Y) are hidden; grade 2's 7 shows, but its cells (6 to grade 3,
    # D alone to grade 4) are hidden: D's cell is small and a row cannot hide one cell alone.
    assert migration.enterprises == 10 and all(c.suppressed and c.enterprises == 0 for c in migration.cells)
    assert [(r.from_grade, r.enterprises, r.suppressed) for r in migration.rows] == [
        (0, 0, True),
        (2, 7, False),
        (5, 0, True),
    ]
    pipeline = env.guarded.GetSavingsPipeline(
        db.GetSavingsPipelineRequest(as_of_date=AS_OF), metadata=regulator
    )
    assert pipeline.totals.pledged_tco2_per_year == 3_200.0  # 4 enterprises: shown
    assert pipeline.verified_suppressed and pipeline.totals.verified_tco2_per_year == 0  # X alone
    assert pipeline.overdue_suppressed and pipeline.totals.overdue_commitments == 0  # A and B: 2 < 3


def test_lenders_are_refused_regulators_allowed_names_need_the_grant(env: Env) -> None:
    request = db.GetGradeDistributionRequest(from_year=2022)
    for call, message in (
        (env.guarded.GetGradeDistribution, request),
        (env.guarded.GetSavingsPipeline, db.GetSavingsPipelineRequest()),
        (env.guarded.ListGradeFiveEnterprises, db.ListGradeFiveEnterprisesRequest(year=2022, purpose="x")),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            call(message, metadata=env.bearer("lender"), timeout=30)  # type: ignore[operator]
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert env.guarded.GetGradeDistribution(request, metadata=env.bearer("regulator"), timeout=60).year_totals
    with pytest.raises(grpc.RpcError) as refused:
        env.guarded.ListGradeFiveEnterprises(
            db.ListGradeFiveEnterprisesRequest(year=2022, purpose="x"),
            metadata=env.bearer("regulator"),
            timeout=30,
        )
    assert error_details(refused.value).reason == "GRANT_REQUIRED"


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (db.GetGradeDistributionRequest(), ["from_year"]),
        (db.GetGradeDistributionRequest(from_year=2023, to_year=2022), ["to_year"]),
        (db.GetGradeDistributionRequest(from_year=2022, region_code_prefix="33x"), ["region_code_prefix"]),
        (db.GetGradeDistributionRequest(from_year=2022, group_by=[db.DASHBOARD_COUNTY] * 2), ["group_by"]),
    ],
)
def test_bad_requests_name_the_field(env: Env, request_: Any, fields: list[str]) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        env.open_.GetGradeDistribution(request_, timeout=30)
    details = error_details(refused.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT and details.fields == fields


@pytest.mark.slow
@pytest.mark.heavy  # four CLI processes: ~30 s on a shared machine
def test_the_cli_writes_each_format_with_the_same_numbers(env: Env, tmp_path: Path) -> None:
    shell = {**os.environ, "TANXIAO_ALLOW_PLAINTEXT": "true", "TANXIAO_TOKEN": env.tokens["regulator"]}
    base = ["report", "dashboard", "pipeline", "--as-of", AS_OF, "--addr", env.guarded_addr]

    def run(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = {"TANXIAO_TOKEN": token} if token else {}
        return subprocess.run(
            [TANXIAO, *base, *args], env={**shell, **extra}, capture_output=True, text=True, timeout=120
        )

    as_json = run("--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    totals = json.loads(as_json.stdout)["totals"]
    assert totals["pledged_tco2_per_year"] == 3_200.0 and json.loads(as_json.stdout)["verified_suppressed"]
    as_csv = run("--format", "csv", "--language", "en")
    (total_row,) = list(csv.DictReader(io.StringIO(as_csv.stdout.lstrip("\ufeff"))))
    assert total_row["Name"] == "Total" and float(total_row["Pledged savings (tCO₂/yr)"]) == 3_200.0
    assert total_row["Verified savings (tCO₂/yr)"] == ""  # suppressed: blank, and named
    assert "Verified commitments" in total_row["Suppressed (below minimum cell size)"]
    book = tmp_path / "pipeline.xlsx"
    assert run("--format", "xlsx", "-o", str(book)).returncode == 0
    from openpyxl import load_workbook

    sheet = load_workbook(book).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("承诺节碳量（tCO₂/年）") + 1)
    assert cell.value == 3_200 and cell.data_type == "n"
    assert sheet.cell(row=2, column=header.index("已核验节碳量（tCO₂/年）") + 1).value is None
    refused = run("--format", "json", token=env.tokens["lender"])
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.returncode == 1 and len(lines) == 1 and "PERMISSION_DENIED" in lines[0]


def test_health_and_reflection_know_the_dashboard(env: Env) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    with grpc.insecure_channel(env.guarded_addr) as channel:  # both are public: no token
        assert dashboard_rpcs.SERVICE in ProtoReflectionDescriptorDatabase(channel).get_services()
        health = health_pb2_grpc.HealthStub(channel)
        answer = health.Check(health_pb2.HealthCheckRequest(service=dashboard_rpcs.SERVICE), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.slow
def test_the_cli_table_names_counties_and_marks_suppressed_cells(env: Env) -> None:
    shell = {**os.environ, "TANXIAO_ALLOW_PLAINTEXT": "true", "TANXIAO_TOKEN": env.tokens["regulator"]}
    command = ["report", "dashboard", "grades", "--year", "2022", "--by", "county", "--language", "en"]
    done = subprocess.run(
        [TANXIAO, *command, "--addr", env.guarded_addr],
        env=shell,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    wuxing = next(line for line in lines if "330502" in line)
    deqing = next(line for line in lines if "330521" in line)
    assert "Wuxing District" in wuxing and " 5 " in wuxing  # its total shows, its grades do not
    assert "—" in deqing and "*" in deqing  # the whole row suppressed: a dash, never 0
