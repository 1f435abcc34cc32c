"""Retrofit commitments over gRPC: register, list with pagination, request-id idempotency, field
violations, NOT_FOUND, verifications, and progress measured from seeded yearly profiles (figures
computed by hand in each test)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from helpers import DEVELOPMENT, error_details, make_uscc

from registry_service.app import registry_engine
from registry_service.commitment_rpcs import CommitmentRpcs
from registry_service.domain.catalog import load_catalog
from registry_service.domain.deflators import load_deflator, packaged_deflator
from registry_service.servicer import SERVICE, CarbonRegistryServicer
from registry_service.storage.catalog import ensure_catalog
from registry_service.storage.tables import carbon_profiles, commitments, verifications
from tanxiao.platform.config import Settings
from tanxiao.platform.server import RunningServer, ServiceBinding, start_server
from tanxiao.registry.v1 import registry_pb2, registry_pb2_grpc

pb = registry_pb2
UNKNOWN_ID = "0123456789abcdef"


class _RecordingRefresh:
    """Records the refresh_profiles calls instead of recomputing (the profiles are seeded directly)."""

    refreshed: list[list[str]]

    def refresh_profiles(self, usccs: list[str]) -> None:
        self.refreshed.append(list(usccs))


# The status tests below are about milestones and bases, not prices: flat prices keep their added value
# at constant prices equal to the nominal one. Constant prices are tested in test_real_savings_over_grpc.
FLAT_PRICES = load_deflator(
    text="deflator_id: flat\nbase_year: 2020\nyears: {"
    + ", ".join(f"{y}: {{change_pct: 0, source: test}}" for y in range(2018, 2031))
    + "}"
)


def _servicer_class() -> type[CarbonRegistryServicer]:
    """The registry servicer with the commitment RPCs, whether or not servicer.py already mixes them in."""
    if issubclass(CarbonRegistryServicer, CommitmentRpcs):
        bases: tuple[type, ...] = (_RecordingRefresh, CarbonRegistryServicer)
    else:
        bases = (_RecordingRefresh, CommitmentRpcs, CarbonRegistryServicer)
    return type("_CommitmentServicer", bases, {})


@dataclass
class Env:
    stub: registry_pb2_grpc.CarbonRegistryStub
    engine: sa.Engine
    servicer: Any
    server: RunningServer


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    settings = Settings.from_env({"TANXIAO_DATABASE_URL": db_url, "TANXIAO_MAX_WORKERS": "4", **DEVELOPMENT})
    engine = registry_engine(settings)
    catalog = load_catalog()
    ensure_catalog(engine, catalog)
    servicer: Any = _servicer_class()(engine, settings, catalog)
    servicer.refreshed = []
    servicer.deflator = FLAT_PRICES
    if getattr(servicer, "engine", None) is None:
        servicer.engine = engine
    binding = ServiceBinding(SERVICE, servicer, registry_pb2_grpc.add_CarbonRegistryServicer_to_server)
    running = start_server("registry", [binding], "127.0.0.1:0", settings)
    channel = grpc.insecure_channel(running.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
        yield Env(registry_pb2_grpc.CarbonRegistryStub(channel), engine, servicer, running)
    finally:
        channel.close()
        running.stop(None)
        engine.dispose()


# --- seeding -------------------------------------------------------------------------------------


def _enterprise(env: Env, serial: int = 1) -> str:
    uscc = make_uscc(serial)
    env.stub.CreateEnterprise(
        pb.CreateEnterpriseRequest(
            enterprise=pb.Enterprise(
                uscc=uscc,
                display_name="湖州某某纺织有限公司",
                industry_code="1713",
                region_code="330502",
                size_class=pb.ABOVE_DESIGNATED_SIZE,
            )
        ),
        timeout=10,
    )
    return uscc


def _profile(
    env: Env,
    uscc: str,
    year: int,
    *,
    tco2: float,
    tce: float,
    added_value: float | None,
    months: int = 12,
    granularity: str = "year",
    period: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """A yearly carbon profile row with every NOT NULL column filled."""
    row = {
        "uscc": uscc,
        "period": period or str(year),
        "granularity": granularity,
        "year": year,
        "industry_code": "1713",
        "region_code": "330502",
        "months_covered": months,
        "months_expected": 12,
        "record_count": months * 2,
        "energy_tce": tce,
        "scope1_tco2": tco2 * 0.3,
        "scope2_gross_tco2": tco2 * 0.7,
        "green_power_netting_tco2": 0.0,
        "own_renewable_netting_tco2": 0.0,
        "gross_tco2": tco2,
        "net_tco2": tco2,
        "added_value_fen": None if added_value is None else round(added_value * 1_000_000),  # 万元 -> fen
        "carbon_intensity": tco2 / added_value if added_value else None,
        "energy_intensity": tce / added_value if added_value else None,
        "grade": 0,
        "level": "",
        "trend_direction": "",
        "details": details or {},
        "catalog_version": "test",
        "grading_method": "test",
        "inputs_fingerprint": "test",
        "compute_time": dt.datetime.now(dt.UTC),
    }
    with env.engine.begin() as conn:
        conn.execute(carbon_profiles.insert().values(**row))


def _baseline_2022(env: Env, uscc: str) -> None:
    # L_B = 10,000 tCO2 / 5,000 万元 = 2.0
    _profile(env, uscc, 2022, tco2=10_000.0, tce=4_000.0, added_value=5_000.0)


def _commitment(**overrides: Any) -> registry_pb2.Commitment:
    """Waste-heat recovery: 2,000 tCO2/yr and 800 tce/yr, half by the end of 2023, all by the end of 2024."""
    fields: dict[str, Any] = {
        "project_type": pb.WASTE_HEAT,
        "title": "定型机余热回收",
        "baseline_year": 2022,
        "target_savings_tce_per_year": 800.0,
        "target_savings_tco2_per_year": 2_000.0,
        "capex_fen": 1_200_000_000,
        "start_date": "2023-01-01",
        "milestones": [
            pb.Milestone(title="commissioning", due_date="2023-12-31", target_fraction=0.5),
            pb.Milestone(title="full savings", due_date="2024-12-31", target_fraction=1.0),
        ],
        "verifier": "中国质量认证中心",
    }
    return pb.Commitment(**{**fields, **overrides})


def _register(
    env: Env, uscc: str, commitment: registry_pb2.Commitment | None = None, request_id: str = ""
) -> Any:
    request = pb.RegisterCommitmentRequest(
        parent=f"enterprises/{uscc}", commitment=commitment or _commitment(), request_id=request_id
    )
    return env.stub.RegisterCommitment(request, timeout=10)


def _progress(env: Env, name: str, as_of: str) -> registry_pb2.CommitmentProgress:
    return env.stub.GetCommitmentProgress(
        pb.GetCommitmentProgressRequest(name=name, as_of_date=as_of), timeout=10
    )


def _verify(env: Env, name: str, request_id: str = "", **overrides: Any) -> registry_pb2.Commitment:
    fields: dict[str, Any] = {
        "verification_date": "2024-03-01",
        "verifier": "中国质量认证中心",
        "verified_savings_tco2": 1_150.0,
        "verified_savings_tce": 460.0,
        "passed": True,
        "note": "2023 年度节能量审核",
    }
    request = pb.RecordVerificationRequest(
        name=name, verification=pb.Verification(**{**fields, **overrides}), request_id=request_id
    )
    return env.stub.RecordVerification(request, timeout=10)


def _rpc_error(call: Any, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as excinfo:
        call(request, timeout=10)
    return excinfo.value


def _count(env: Env, table: sa.Table) -> int:
    with env.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


# --- register, list ------------------------------------------------------------------------------


def test_register_fills_the_baseline_from_the_yearly_profile_and_lists_it(env: Env) -> None:
    uscc = _enterprise(env)
    _baseline_2022(env, uscc)
    _profile(env, uscc, 2022, tco2=1.0, tce=1.0, added_value=1.0, granularity="month", period="2022-12")
    created = _register(env, uscc)
    prefix = f"enterprises/{uscc}/commitments/"
    assert created.name.startswith(prefix) and len(created.name) == len(prefix) + 16
    assert created.baseline_tco2 == 10_000.0 and created.baseline_intensity == 2.0  # the year, not the month
    assert created.project_type == pb.WASTE_HEAT and created.title == "定型机余热回收"
    assert [(m.title, m.due_date, m.target_fraction) for m in created.milestones] == [
        ("commissioning", "2023-12-31", 0.5),
        ("full savings", "2024-12-31", 1.0),
    ]
    assert created.create_time.seconds > 0 and not created.verifications
    assert env.servicer.refreshed == [[uscc]]  # profiles refreshed before the baseline is read
    listed = env.stub.ListCommitments(pb.ListCommitmentsRequest(parent=f"enterprises/{uscc}"), timeout=10)
    assert list(listed.commitments) == [created] and listed.next_page_token == ""


def test_register_without_a_complete_baseline_profile_leaves_the_baseline_empty(env: Env) -> None:
    uscc = _enterprise(env)
    _profile(env, uscc, 2022, tco2=7_000.0, tce=3_000.0, added_value=4_000.0, months=8)  # incomplete year
    created = _register(env, uscc)
    assert created.baseline_tco2 == 0.0 and created.baseline_intensity == 0.0
    with env.engine.connect() as conn:
        row = conn.execute(sa.select(commitments)).mappings().one()
    assert row["baseline_tco2"] is None and row["baseline_tce"] is None and row["baseline_intensity"] is None


def test_list_paginates_in_registration_order(env: Env) -> None:
    uscc, other = _enterprise(env, 1), _enterprise(env, 2)
    created = [_register(env, uscc, _commitment(title=f"项目 {i}")) for i in range(5)]
    _register(env, other)
    seen: list[registry_pb2.Commitment] = []
    token, pages = "", 0
    while True:
        request = pb.ListCommitmentsRequest(parent=f"enterprises/{uscc}", page_size=2, page_token=token)
        response = env.stub.ListCommitments(request, timeout=10)
        seen.extend(response.commitments)
        pages += 1
        token = response.next_page_token
        if not token:
            break
        assert len(response.commitments) == 2
    assert pages == 3 and seen == created
    # A token belongs to its parent; negative page sizes are rejected.
    first = env.stub.ListCommitments(pb.ListCommitmentsRequest(parent=f"enterprises/{uscc}", page_size=2))
    error = _rpc_error(
        env.stub.ListCommitments,
        pb.ListCommitmentsRequest(parent=f"enterprises/{other}", page_token=first.next_page_token),
    )
    details = error_details(error)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT and details.fields == ["page_token"]
    assert details.reason == "PAGE_TOKEN_MISMATCH"
    error = _rpc_error(
        env.stub.ListCommitments, pb.ListCommitmentsRequest(parent=f"enterprises/{uscc}", page_size=-1)
    )
    assert error_details(error).fields == ["page_size"]


def test_list_of_an_enterprise_without_commitments_is_empty(env: Env) -> None:
    uscc = _enterprise(env)
    response = env.stub.ListCommitments(pb.ListCommitmentsRequest(parent=f"enterprises/{uscc}"), timeout=10)
    assert not response.commitments and response.next_page_token == ""


# --- idempotency ---------------------------------------------------------------------------------


def test_register_with_a_request_id_is_idempotent(env: Env) -> None:
    uscc = _enterprise(env)
    first = _register(env, uscc, request_id="reg-1")
    again = _register(env, uscc, request_id="reg-1")
    assert again == first and _count(env, commitments) == 1
    error = _rpc_error(
        env.stub.RegisterCommitment,
        pb.RegisterCommitmentRequest(
            parent=f"enterprises/{uscc}", commitment=_commitment(title="另一个项目"), request_id="reg-1"
        ),
    )
    details = error_details(error)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT and details.reason == "REQUEST_ID_REUSED"
    assert _register(env, uscc).name != first.name  # no request id: a new commitment each time
    assert _count(env, commitments) == 2


def test_record_verification_with_a_request_id_is_idempotent(env: Env) -> None:
    uscc = _enterprise(env)
    created = _register(env, uscc)
    first = _verify(env, created.name, request_id="ver-1")
    again = _verify(env, created.name, request_id="ver-1")
    assert again == first and len(first.verifications) == 1 and _count(env, verifications) == 1
    assert len(_verify(env, created.name).verifications) == 2


# --- errors --------------------------------------------------------------------------------------


def test_invalid_commitment_names_every_bad_field(env: Env) -> None:
    uscc = _enterprise(env)
    bad = _commitment(
        project_type=pb.PROJECT_TYPE_UNSPECIFIED,
        target_savings_tce_per_year=0.0,
        capex_fen=-1,
        verifier=" ",
        milestones=[
            pb.Milestone(title="commissioning", due_date="2023-12-31", target_fraction=0.0),
            pb.Milestone(title="full savings", due_date="2023-06-30", target_fraction=1.0),
        ],
    )
    error = _rpc_error(
        env.stub.RegisterCommitment,
        pb.RegisterCommitmentRequest(parent=f"enterprises/{uscc}", commitment=bad),
    )
    details = error_details(error)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(details.fields) == {
        "commitment.project_type",
        "commitment.target_savings_tce_per_year",
        "commitment.capex_fen",
        "commitment.verifier",
        "commitment.milestones[0].target_fraction",
        "commitment.milestones[1].due_date",
    }
    assert _count(env, commitments) == 0


def test_malformed_dates_are_reported_without_knock_on_violations(env: Env) -> None:
    uscc = _enterprise(env)
    bad = _commitment(
        start_date="2023/01/01",
        milestones=[
            pb.Milestone(title="commissioning", due_date="2023-12-31", target_fraction=0.5),
            pb.Milestone(title="full savings", due_date="2024-02-30", target_fraction=1.0),
            pb.Milestone(title="", due_date="2025-06-30", target_fraction=1.0),
        ],
    )
    error = _rpc_error(
        env.stub.RegisterCommitment,
        pb.RegisterCommitmentRequest(parent=f"enterprises/{uscc}", commitment=bad),
    )
    assert error_details(error).fields == [
        "commitment.start_date",
        "commitment.milestones[1].due_date",
        "commitment.milestones[2].title",
    ]


def test_target_above_the_registered_baseline_is_rejected(env: Env) -> None:
    uscc = _enterprise(env)
    _baseline_2022(env, uscc)
    error = _rpc_error(
        env.stub.RegisterCommitment,
        pb.RegisterCommitmentRequest(
            parent=f"enterprises/{uscc}", commitment=_commitment(target_savings_tco2_per_year=12_000.0)
        ),
    )
    details = error_details(error)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.fields == ["commitment.target_savings_tco2_per_year"]


def test_register_on_an_unknown_enterprise_is_not_found(env: Env) -> None:
    error = _rpc_error(
        env.stub.RegisterCommitment,
        pb.RegisterCommitmentRequest(parent=f"enterprises/{make_uscc(9)}", commitment=_commitment()),
    )
    details = error_details(error)
    assert details.code == grpc.StatusCode.NOT_FOUND and details.reason == "ENTERPRISE_NOT_FOUND"
    error = _rpc_error(
        env.stub.ListCommitments, pb.ListCommitmentsRequest(parent=f"enterprises/{make_uscc(9)}")
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = _rpc_error(
        env.stub.RegisterCommitment,
        pb.RegisterCommitmentRequest(parent="enterprises/nope", commitment=_commitment()),
    )
    assert error_details(error).fields == ["parent"]


def test_unknown_commitment_is_not_found(env: Env) -> None:
    uscc, other = _enterprise(env, 1), _enterprise(env, 2)
    created = _register(env, uscc)
    commitment_id = created.name.rsplit("/", 1)[1]
    for name in (
        f"enterprises/{uscc}/commitments/{UNKNOWN_ID}",
        f"enterprises/{other}/commitments/{commitment_id}",
    ):
        error = _rpc_error(env.stub.GetCommitmentProgress, pb.GetCommitmentProgressRequest(name=name))
        details = error_details(error)
        assert details.code == grpc.StatusCode.NOT_FOUND and details.reason == "COMMITMENT_NOT_FOUND"
        with pytest.raises(grpc.RpcError) as excinfo:
            _verify(env, name)
        assert excinfo.value.code() == grpc.StatusCode.NOT_FOUND
    for name in (
        "",
        f"enterprises/{uscc}",
        f"enterprises/{uscc}/commitments/",
        f"enterprises/x/commitments/{UNKNOWN_ID}",
    ):
        error = _rpc_error(env.stub.GetCommitmentProgress, pb.GetCommitmentProgressRequest(name=name))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error_details(error).fields == ["name"]


@pytest.mark.parametrize("as_of", ["2024-13-01", "2024-6-1", "tomorrow", "20240601"])
def test_malformed_as_of_date_is_invalid_argument(env: Env, as_of: str) -> None:
    uscc = _enterprise(env)
    created = _register(env, uscc)
    error = _rpc_error(
        env.stub.GetCommitmentProgress, pb.GetCommitmentProgressRequest(name=created.name, as_of_date=as_of)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error_details(error).fields == ["as_of_date"]


def test_invalid_verification_names_its_fields(env: Env) -> None:
    uscc = _enterprise(env)
    created = _register(env, uscc)
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"verification_date": "2022-12-31"}, ["verification.verification_date"]),  # before the start
        ({"verification_date": future}, ["verification.verification_date"]),
        ({"verification_date": "2024-02-30"}, ["verification.verification_date"]),
        (
            {"verifier": "", "verified_savings_tco2": -1.0},
            ["verification.verifier", "verification.verified_savings_tco2"],
        ),
    ]
    for overrides, expected in cases:
        with pytest.raises(grpc.RpcError) as excinfo:
            _verify(env, created.name, **overrides)
        details = error_details(excinfo.value)
        assert details.code == grpc.StatusCode.INVALID_ARGUMENT and details.fields == expected, overrides
    assert _count(env, verifications) == 0


# --- progress ------------------------------------------------------------------------------------


def _expected_between(day: dt.date, start: tuple[dt.date, float], end: tuple[dt.date, float]) -> float:
    (d0, f0), (d1, f1) = start, end
    return f0 + (f1 - f0) * (day - d0).days / (d1 - d0).days


def test_on_track_uses_the_intensity_based_savings(env: Env) -> None:
    uscc = _enterprise(env)
    _baseline_2022(env, uscc)
    # 2023: output +20 %, emissions +8 %: absolute savings -800 tCO2, but at the baseline intensity
    # 2023 would have emitted 2.0 x 6,000 = 12,000, so (L_B - L_Y) x AV_Y = 12,000 - 10,800 = 1,200.
    _profile(env, uscc, 2023, tco2=10_800.0, tce=4_320.0, added_value=6_000.0)
    created = _register(env, uscc)
    env.servicer.refreshed.clear()
    progress = _progress(env, created.name, "2024-06-01")
    assert env.servicer.refreshed == [[uscc]]
    assert progress.name == created.name and progress.status == pb.ON_TRACK
    assert progress.measured_year == 2023
    assert progress.achieved_tco2_per_year == pytest.approx(1_200.0)
    assert progress.intensity_based_tco2_per_year == pytest.approx(1_200.0)
    assert progress.achieved_tce_per_year == pytest.approx(4_000.0 * 1.2 - 4_320.0)  # 480
    assert progress.achieved_ratio == pytest.approx(0.6)  # 1,200 / 2,000
    # Between the milestones (2023-12-31, 0.5) and (2024-12-31, 1.0) on 2024-06-01.
    expected = _expected_between(
        dt.date(2024, 6, 1), (dt.date(2023, 12, 31), 0.5), (dt.date(2024, 12, 31), 1.0)
    )
    assert progress.expected_ratio == pytest.approx(expected)
    commissioning, full = progress.milestones
    assert (commissioning.title, commissioning.due_date, commissioning.expected_fraction) == (
        "commissioning",
        "2023-12-31",
        0.5,
    )
    assert commissioning.HasField("met") and commissioning.met
    assert commissioning.achieved_fraction == pytest.approx(0.6)
    assert full.title == "full savings" and not full.HasField("met")  # not due yet
    assert progress.milestones_missed == 0
    assert not progress.verified and not progress.HasField("last_verification")


def test_missed_milestone(env: Env) -> None:
    uscc = _enterprise(env)
    _baseline_2022(env, uscc)
    _profile(env, uscc, 2023, tco2=9_600.0, tce=3_850.0, added_value=5_000.0)  # 400 saved: 20 % < 50 %
    created = _register(env, uscc)
    progress = _progress(env, created.name, "2024-06-01")
    assert progress.status == pb.MISSED and progress.milestones_missed == 1
    assert progress.achieved_tco2_per_year == pytest.approx(400.0)
    assert progress.achieved_tce_per_year == pytest.approx(150.0)
    assert progress.achieved_ratio == pytest.approx(0.2)
    assert progress.milestones[0].HasField("met") and not progress.milestones[0].met


def test_achieved(env: Env) -> None:
    uscc = _enterprise(env)
    _baseline_2022(env, uscc)
    _profile(env, uscc, 2023, tco2=8_800.0, tce=3_520.0, added_value=5_000.0)  # 1,200 saved
    _profile(env, uscc, 2024, tco2=7_900.0, tce=3_150.0, added_value=5_000.0)  # 2,100 saved: 105 %
    created = _register(env, uscc)
    progress = _progress(env, created.name, "2025-06-01")
    assert progress.status == pb.ACHIEVED and progress.measured_year == 2024
    assert progress.achieved_tco2_per_year == pytest.approx(2_100.0)
    assert progress.achieved_tce_per_year == pytest.approx(850.0)
    assert progress.achieved_ratio == pytest.approx(1.05)
    assert progress.expected_ratio == pytest.approx(1.0)  # flat after the last milestone
    assert [m.met for m in progress.milestones] == [True, True]
    assert progress.milestones[1].achieved_fraction == pytest.approx(1.05)


def test_at_risk_when_behind_the_milestone_curve(env: Env) -> None:
    uscc = _enterprise(env)
    _baseline_2022(env, uscc)
    _profile(env, uscc, 2023, tco2=9_800.0, tce=3_900.0, added_value=5_000.0)  # 200 saved: 10 %
    late = _commitment(
        milestones=[
            pb.Milestone(title="commissioning", due_date="2024-06-30", target_fraction=0.5),
            pb.Milestone(title="full savings", due_date="2025-06-30", target_fraction=1.0),
        ]
    )
    created = _register(env, uscc, late)
    progress = _progress(env, created.name, "2024-03-01")
    # The curve rises from 0 on 2023-01-01 to 0.5 on 2024-06-30 (546 days); averaged over the 365
    # days of 2023 it is 0.5 x 182 / 546 = 1/6, and 10 % < 1/6 x 0.9 = 15 %.
    assert progress.status == pb.AT_RISK and progress.milestones_missed == 0
    assert progress.achieved_ratio == pytest.approx(0.1)
    expected = _expected_between(dt.date(2024, 3, 1), (dt.date(2023, 1, 1), 0.0), (dt.date(2024, 6, 30), 0.5))
    assert progress.expected_ratio == pytest.approx(expected)
    assert not any(m.HasField("met") for m in progress.milestones)


def test_at_risk_when_the_milestone_year_has_no_complete_data(env: Env) -> None:
    uscc = _enterprise(env)
    _baseline_2022(env, uscc)
    _profile(env, uscc, 2023, tco2=8_800.0, tce=3_520.0, added_value=5_000.0)  # 60 %
    _profile(env, uscc, 2024, tco2=4_000.0, tce=1_600.0, added_value=5_000.0, months=9)  # incomplete: ignored
    created = _register(env, uscc)
    progress = _progress(env, created.name, "2025-06-01")  # 2024-12-31 + 120 days has passed
    assert progress.status == pb.AT_RISK and progress.measured_year == 2023
    assert progress.achieved_ratio == pytest.approx(0.6)
    assert progress.milestones[0].met and not progress.milestones[1].HasField("met")
    # Within the grace period for the 2024 data it is still on track.
    assert _progress(env, created.name, "2025-03-01").status == pb.ON_TRACK


def test_not_started_before_the_start_date(env: Env) -> None:
    uscc = _enterprise(env)
    _baseline_2022(env, uscc)
    created = _register(env, uscc, _commitment(start_date="2023-03-01"))
    progress = _progress(env, created.name, "2023-02-01")
    assert progress.status == pb.NOT_STARTED and progress.expected_ratio == 0.0
    assert progress.measured_year == 0 and progress.achieved_ratio == 0.0


def test_baseline_left_empty_is_taken_from_the_actuals_later(env: Env) -> None:
    uscc = _enterprise(env)
    created = _register(env, uscc)  # no profiles yet
    assert created.baseline_tco2 == 0.0
    _baseline_2022(env, uscc)
    _profile(env, uscc, 2023, tco2=8_800.0, tce=3_520.0, added_value=5_000.0)
    progress = _progress(env, created.name, "2024-06-01")
    assert progress.status == pb.ON_TRACK and progress.achieved_tco2_per_year == pytest.approx(1_200.0)


def test_empty_as_of_date_means_today(env: Env) -> None:
    uscc = _enterprise(env)
    _baseline_2022(env, uscc)
    created = _register(env, uscc, _commitment(start_date="2023-01-01"))
    progress = env.stub.GetCommitmentProgress(pb.GetCommitmentProgressRequest(name=created.name), timeout=10)
    assert progress.expected_ratio == pytest.approx(1.0)  # today is after the last milestone
    assert progress.status != pb.NOT_STARTED


# --- verifications -------------------------------------------------------------------------------


def test_verifications_are_recorded_and_reflected_in_progress(env: Env) -> None:
    uscc = _enterprise(env)
    _baseline_2022(env, uscc)
    _profile(env, uscc, 2023, tco2=8_800.0, tce=3_520.0, added_value=5_000.0)
    created = _register(env, uscc)
    passed = _verify(env, created.name)
    assert passed.name == created.name and passed.create_time == created.create_time
    (stored,) = passed.verifications
    assert (stored.verification_date, stored.verifier, stored.passed) == (
        "2024-03-01",
        "中国质量认证中心",
        True,
    )
    assert stored.verified_savings_tco2 == 1_150.0 and stored.note == "2023 年度节能量审核"

    before = _progress(env, created.name, "2024-02-01")
    assert not before.verified and not before.HasField("last_verification")
    after = _progress(env, created.name, "2024-06-01")
    assert after.verified and after.last_verification == stored

    failed = _verify(env, created.name, verification_date="2024-05-01", passed=False, note="计量表未校准")
    assert [v.verification_date for v in failed.verifications] == ["2024-03-01", "2024-05-01"]
    latest = _progress(env, created.name, "2024-06-01")
    assert not latest.verified and latest.last_verification == failed.verifications[1]
    assert _progress(env, created.name, "2024-04-01").verified  # as of then, the passed one was the latest

    listed = env.stub.ListCommitments(pb.ListCommitmentsRequest(parent=f"enterprises/{uscc}"), timeout=10)
    assert list(listed.commitments) == [failed]


def _grid(mwh: float, factor: float) -> dict[str, Any]:
    return {"grid_factor": factor, "electricity": {"grid_electricity_kwh": mwh * 1000}}


def test_real_savings_over_grpc(env: Env) -> None:
    """The packaged deflator (NBS PPI: 2023 = 2022 x (1 - 3.0 %)) and frozen grid factors.
    Baseline 2022: 10,000 t (10,000 MWh at 0.5153), 4,000 tce, 5,000 万元. 2023: 9,167 t with 9,000 MWh at
    0.4800; 3,800 tce; 4,850 万元 nominal. Frozen: 9,167 + 9,000 x (0.5153 - 0.4800) = 9,484.7 t; the grid
    made 317.7 t of the nominal 833 t. Constant prices: 4,850 x 112.5321 / 109.156137 = 4,850 / 0.97 =
    5,000 万元. Achieved = 10,000 x 5,000 / 5,000 - 9,484.7 = 515.3 t (nominal would be 10,000 x 4,850 /
    5,000 - 9,167 = 533 t); 515.3 / 2,000 = 0.25765 < 0.5 by 2023-12-31 -> MISSED. Intensity improvement
    1 - (9,484.7 / 5,000) / 2.0 = 0.05153."""
    env.servicer.deflator = packaged_deflator()
    uscc = _enterprise(env)
    _profile(env, uscc, 2022, tco2=10_000.0, tce=4_000.0, added_value=5_000.0, details=_grid(10_000, 0.5153))
    _profile(env, uscc, 2023, tco2=9_167.0, tce=3_800.0, added_value=4_850.0, details=_grid(9_000, 0.48))
    created = _register(env, uscc)
    progress = _progress(env, created.name, "2024-06-01")
    assert progress.measured_year == 2023 and progress.status == pb.MISSED
    assert progress.achieved_tco2_per_year == pytest.approx(515.3)
    assert progress.intensity_based_tco2_per_year == pytest.approx(515.3)
    assert progress.achieved_tce_per_year == pytest.approx(4_000.0 - 3_800.0)
    assert progress.achieved_ratio == pytest.approx(0.25765)
    s = progress.savings
    assert (s.year, s.baseline_grid_factor, s.year_grid_factor) == (2023, 0.5153, 0.48)
    assert (s.nominal_absolute_tco2, s.frozen_absolute_tco2, s.grid_factor_effect_tco2) == pytest.approx(
        (833.0, 515.3, 317.7)
    )
    assert s.added_value_nominal_fen == 4_850_000_000  # 4,850 万元
    assert s.added_value_constant_fen == 5_000_000_000
    assert s.intensity_improvement == pytest.approx(0.05153)
    assert s.deflator_source.startswith("cn-ppi-industrial") and "(unconfirmed)" in s.deflator_source
