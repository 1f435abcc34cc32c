"""Carbon profiles over gRPC: the reference worked case end to end (ingest -> recompute -> grade),
incremental refresh after a correction, on-demand periods, benchmarks and their fallback, errors."""

from __future__ import annotations

import grpc
import pytest
from helpers import Registry, error_details, make_uscc

from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from tanxiao.common.v1 import common_pb2
from tanxiao.registry.v1 import registry_pb2 as pb

GRID, GAS, STATS = common_pb2.GRID_UTILITY, common_pb2.GAS_UTILITY, common_pb2.STATISTICS
REFERENCE = make_uscc(1)
PEERS = [make_uscc(i) for i in range(2, 6)]
LONER = make_uscc(9)  # the only enterprise of its industry class
# Four peers of 3,000 万元 each that bring the industry average to exactly 2.9 tCO2/万元 (REFERENCE.md):
# (6,234.1 + 4 x peer) / 15,000 = 2.9  ->  peer = 9,316.475 tCO2 = 18,079,710.85 kWh at 0.5153.
PEER_KWH = 9_316.475 / 0.5153 * 1000


def _monthly(uscc: str, category: str, total: float, source: int, unit: str = "") -> list[pb.Record]:
    return [
        pb.Record(
            uscc=uscc,
            period=f"2022-{m:02d}",
            category=category,
            quantity=total / 12,
            unit=unit,
            source=source,
            external_id=f"{uscc}-{category}-{m}",
        )
        for m in range(1, 13)
    ]


@pytest.fixture
def graded(registry: Registry) -> Registry:
    firms = [Enterprise(u, f"企业{u[-4:]}", "2822", "330502") for u in [REFERENCE, *PEERS]]
    firms.append(Enterprise(LONER, "孤独企业", "2823", "330521"))
    EnterpriseRepository(registry.engine).create_many(firms)
    rows = _monthly(REFERENCE, "ELECTRICITY", 10_000, GRID, "MWh") + _monthly(
        REFERENCE, "NATURAL_GAS", 50, GAS, "万m3"
    )
    rows += _monthly(REFERENCE, "INDUSTRIAL_ADDED_VALUE", 3_000, STATS)
    for uscc in [*PEERS, LONER]:
        rows += _monthly(uscc, "ELECTRICITY", PEER_KWH, GRID) + _monthly(
            uscc, "INDUSTRIAL_ADDED_VALUE", 3_000, STATS
        )
    registry.stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=rows[:150]), timeout=30)
    registry.stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=rows[150:]), timeout=30)
    summary = registry.stub.RecomputeBenchmarks(pb.RecomputeBenchmarksRequest(year=2022), timeout=60)
    assert (summary.enterprises, summary.graded, summary.ungraded) == (6, 6, 0)
    return registry


def _profile(registry: Registry, uscc: str, period: str) -> pb.CarbonProfile:
    return registry.stub.GetCarbonProfile(
        pb.GetCarbonProfileRequest(name=f"enterprises/{uscc}/profiles/{period}")
    )


def test_the_reference_case_is_high_carbon_grade_2(graded: Registry) -> None:
    profile = _profile(graded, REFERENCE, "2022")
    assert profile.scope2_gross_tco2 == pytest.approx(5_153.0)
    assert profile.scope1_tco2 == pytest.approx(1_081.1)
    assert profile.net_tco2 == pytest.approx(6_234.1)
    assert profile.energy_tce == pytest.approx(10_000_000 * 0.1229 / 1000 + 500_000 * 1.33 / 1000)
    assert profile.added_value_fen == 3_000_000_000  # 3,000 万元
    assert profile.carbon_intensity == pytest.approx(2.0780, abs=5e-5)
    assert profile.benchmark.average_intensity == pytest.approx(2.9)
    assert (profile.benchmark.industry_code, profile.benchmark.region_code) == ("2822", "330500")
    assert profile.benchmark.enterprise_count == 5 and list(profile.benchmark_fallback) == []
    assert profile.k_value == pytest.approx(0.7166, abs=5e-5)
    assert (profile.grade.grade, profile.grade.level, profile.grade.label_zh) == (
        2,
        common_pb2.HIGH_CARBON,
        "高碳2级",
    )
    assert profile.months_covered == 12 and profile.record_count == 36
    assert profile.data_quality.coverage == pytest.approx(1.0) and 1 <= profile.data_quality.pcaf_score <= 5
    assert profile.grade.grading_method.startswith("huzhou-2023@")


def test_a_thin_industry_falls_back_to_a_coarser_benchmark_and_says_so(graded: Registry) -> None:
    profile = _profile(graded, LONER, "2022")
    assert profile.benchmark.industry_code in ("282", "28") and profile.benchmark.enterprise_count >= 5
    assert profile.benchmark_fallback and "FALLBACK" in profile.benchmark_fallback[0]
    assert profile.grade.grade > 0


def test_a_correction_refreshes_the_profile_against_the_stored_benchmark(graded: Registry) -> None:
    before = _profile(graded, REFERENCE, "2022")
    correction = _monthly(REFERENCE, "NATURAL_GAS", 50, GAS, "万m3")[0]
    correction.quantity = 0.0  # January's gas invoice was wrong: no gas that month
    graded.stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=[correction]), timeout=30)
    after = _profile(graded, REFERENCE, "2022")
    assert after.scope1_tco2 == pytest.approx(1_081.1 * 11 / 12)
    assert after.inputs_fingerprint != before.inputs_fingerprint and after.record_count == 36
    assert after.benchmark.average_intensity == pytest.approx(2.9)  # benchmarks move only in batch
    assert after.compute_time.ToDatetime() > before.compute_time.ToDatetime()


def test_months_and_quarters_are_computed_on_demand_ungraded(graded: Registry) -> None:
    quarter = _profile(graded, REFERENCE, "2022-Q1")
    assert quarter.net_tco2 == pytest.approx(6_234.1 / 4) and quarter.months_covered == 3
    assert quarter.grade.grade == 0
    month = _profile(graded, REFERENCE, "2022-03")
    assert month.carbon_intensity == pytest.approx(2.0780, abs=5e-5)


def test_the_latest_rolling_window_is_stored_and_graded(graded: Registry) -> None:
    rolling = _profile(graded, REFERENCE, "R12-2022-12")
    assert rolling.net_tco2 == pytest.approx(6_234.1) and rolling.grade.grade == 2


def test_batch_get_keeps_request_order(graded: Registry) -> None:
    names = [f"enterprises/{u}/profiles/2022" for u in [PEERS[1], REFERENCE, PEERS[0]]]
    response = graded.stub.BatchGetCarbonProfiles(pb.BatchGetCarbonProfilesRequest(names=names))
    assert [p.name for p in response.profiles] == names


def test_list_benchmarks_filters_and_pages(graded: Registry) -> None:
    request = pb.ListBenchmarksRequest(year=2022, industry_code_prefix="2822", page_size=2)
    first = graded.stub.ListBenchmarks(request)
    second = graded.stub.ListBenchmarks(
        pb.ListBenchmarksRequest(
            year=2022, industry_code_prefix="2822", page_size=2, page_token=first.next_page_token
        )
    )
    seen = [(b.industry_code, b.region_code) for b in [*first.benchmarks, *second.benchmarks]]
    assert ("2822", "330502") in seen and ("2822", "330500") in seen and ("2822", "330000") in seen
    cities = graded.stub.ListBenchmarks(pb.ListBenchmarksRequest(year=2022, region_level=common_pb2.CITY))
    assert {b.region_level for b in cities.benchmarks} == {common_pb2.CITY}


@pytest.mark.parametrize(
    ("name", "code", "field"),
    [
        ("profiles/2022", grpc.StatusCode.INVALID_ARGUMENT, "name"),
        (f"enterprises/{REFERENCE}/profiles/2022-13", grpc.StatusCode.INVALID_ARGUMENT, "name"),
        (f"enterprises/{REFERENCE}/profiles/2099", grpc.StatusCode.INVALID_ARGUMENT, "name"),
        ("enterprises/91110000600037341N/profiles/2022", grpc.StatusCode.INVALID_ARGUMENT, "name"),
        (f"enterprises/{make_uscc(77)}/profiles/2022", grpc.StatusCode.NOT_FOUND, ""),
        (f"enterprises/{REFERENCE}/profiles/2019", grpc.StatusCode.NOT_FOUND, ""),
    ],
)
def test_bad_profile_names(graded: Registry, name: str, code: grpc.StatusCode, field: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        graded.stub.GetCarbonProfile(pb.GetCarbonProfileRequest(name=name))
    details = error_details(caught.value)
    assert details.code == code and details.message
    if field:
        assert details.fields == [field]


def test_batch_limits_and_bad_years(graded: Registry) -> None:
    too_many = pb.BatchGetCarbonProfilesRequest(names=[f"enterprises/{REFERENCE}/profiles/2022"] * 1001)
    with pytest.raises(grpc.RpcError) as caught:
        graded.stub.BatchGetCarbonProfiles(too_many)
    assert error_details(caught.value).fields == ["names"]
    with pytest.raises(grpc.RpcError) as caught:
        graded.stub.RecomputeBenchmarks(pb.RecomputeBenchmarksRequest(year=1999))
    assert error_details(caught.value).fields == ["year"]


def test_a_firm_with_only_added_value_records_answers_not_internal(graded: Registry) -> None:
    # Regression (pandas 3 string dtype in the peer-outlier statistics): GetCarbonProfile and
    # BatchGetCarbonProfiles of a new firm with no energy data answered INTERNAL. It is UNGRADED now.
    newcomer = make_uscc(20)
    EnterpriseRepository(graded.engine).create_many([Enterprise(newcomer, "新企业", "2822", "330502")])
    rows = _monthly(newcomer, "INDUSTRIAL_ADDED_VALUE", 3_000, STATS)
    graded.stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=rows), timeout=30)
    name = f"enterprises/{newcomer}/profiles/2022"
    profile = graded.stub.GetCarbonProfile(pb.GetCarbonProfileRequest(name=name))
    assert profile.energy_tce == 0.0 and profile.months_covered == 0
    assert (profile.grade.grade, profile.grade.label_zh, profile.ungraded_reason) == (
        0,
        "",
        pb.NO_ENERGY_DATA,
    )
    names = [name, f"enterprises/{REFERENCE}/profiles/2022"]
    batch = graded.stub.BatchGetCarbonProfiles(pb.BatchGetCarbonProfilesRequest(names=names))
    assert [p.name for p in batch.profiles] == names


def test_no_energy_and_half_year_firms_are_ungraded_and_stay_out_of_the_benchmark(graded: Registry) -> None:
    """Hand-worked: the reference industry average is (6,234.1 + 4 x 9,316.475) / 15,000 = 2.9. A firm
    with only added value (L = 0 on 3,000 万元) would pull it to 43,500 / 18,000 = 2.4167; one with 6
    months of the peers' electricity (4,658.2375 t on 3,000 万元, L = 1.5527, K = 0.535 -> grade 1)
    to (43,500 + 4,658.2375) / 18,000 = 2.6755 and regrade the reference firm. Neither may."""
    empty, half = make_uscc(21), make_uscc(22)
    EnterpriseRepository(graded.engine).create_many(
        [Enterprise(u, f"企业{u[-4:]}", "2822", "330502") for u in (empty, half)]
    )
    rows = _monthly(empty, "INDUSTRIAL_ADDED_VALUE", 3_000, STATS) + _monthly(
        half, "INDUSTRIAL_ADDED_VALUE", 3_000, STATS
    )
    rows += [r for r in _monthly(half, "ELECTRICITY", PEER_KWH, GRID) if r.period <= "2022-06"]
    graded.stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=rows), timeout=30)
    summary = graded.stub.RecomputeBenchmarks(pb.RecomputeBenchmarksRequest(year=2022), timeout=60)
    assert (summary.enterprises, summary.graded, summary.ungraded) == (8, 6, 2)
    h = _profile(graded, half, "2022")
    assert h.net_tco2 == pytest.approx(PEER_KWH / 2 / 1000 * 0.5153)
    assert (h.grade.grade, h.ungraded_reason, h.k_value, h.grade.level) == (
        0, pb.INCOMPLETE_ENERGY_DATA, 0.0, common_pb2.CARBON_LEVEL_UNSPECIFIED
    )  # fmt: skip
    assert (h.coverage.months_expected, h.coverage.months_with_energy, h.coverage.months_complete) == (
        12,
        6,
        6,
    )
    assert list(h.coverage.expected_categories) == ["ELECTRICITY"]
    assert [(g.category, list(g.missing_months)) for g in h.coverage.gaps] == [
        ("ELECTRICITY", [f"2022-{m:02d}" for m in range(7, 13)])
    ]
    assert _profile(graded, empty, "2022").ungraded_reason == pb.NO_ENERGY_DATA
    reference = _profile(graded, REFERENCE, "2022")
    assert (
        reference.benchmark.average_intensity == pytest.approx(2.9)
        and reference.benchmark.enterprise_count == 5
    )
    assert reference.grade.grade == 2 and reference.ungraded_reason == pb.UNGRADED_REASON_UNSPECIFIED
    assert reference.coverage.months_complete == 12 and not reference.coverage.gaps


def test_a_future_period_is_invalid_argument_naming_the_field(graded: Registry) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        _profile(graded, REFERENCE, "2031")
    details = error_details(caught.value)
    assert (details.code, details.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["name"])
    assert "2031" in details.message and "future" in details.message
    names = [f"enterprises/{REFERENCE}/profiles/2022", f"enterprises/{REFERENCE}/profiles/R12-2031-01"]
    with pytest.raises(grpc.RpcError) as caught:
        graded.stub.BatchGetCarbonProfiles(pb.BatchGetCarbonProfilesRequest(names=names))
    details = error_details(caught.value)
    assert (details.code, details.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["names[1]"])


def test_own_pv_with_export_is_counted_once_over_grpc(graded: Registry) -> None:
    """The PV vector of test_accounting over gRPC: 8,000 MWh bought, 2,000 MWh own PV consumed, 500 MWh
    exported, 500,000 m3 gas, 3,000 万元. Scope 2 = 8,000 x 0.5153 = 4,122.4 t; scope 1 = 1,081.1 t;
    net = 5,203.5 t (not 4,172.9: the PV is not netted a second time); L = 5,203.5 / 3,000 = 1.7345;
    K = 1.7345 / 2.9 = 0.5981 -> grade 1 against the stored benchmark."""
    pv = make_uscc(23)
    EnterpriseRepository(graded.engine).create_many([Enterprise(pv, "光伏企业", "2822", "330502")])
    rows = _monthly(pv, "ELECTRICITY", 8_000, GRID, "MWh") + _monthly(
        pv, "PV_SELF_GENERATION", 2_000, GRID, "MWh"
    )
    rows += _monthly(pv, "PV_EXPORT", 500, GRID, "MWh") + _monthly(pv, "NATURAL_GAS", 50, GAS, "万m3")
    rows += _monthly(pv, "INDUSTRIAL_ADDED_VALUE", 3_000, STATS)
    response = graded.stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=rows), timeout=30)
    assert response.accepted == 60
    profile = _profile(graded, pv, "2022")
    assert profile.scope2_gross_tco2 == pytest.approx(4_122.4)
    assert profile.scope1_tco2 == pytest.approx(1_081.1)
    assert profile.own_renewable_netting_tco2 == 0.0
    assert profile.net_tco2 == pytest.approx(5_203.5)
    e = profile.electricity
    assert (e.grid_purchased_kwh, e.pv_self_consumed_kwh, e.pv_export_kwh) == pytest.approx(
        (8_000_000, 2_000_000, 500_000)
    )
    assert (e.pv_generation_kwh, e.consumption_kwh) == pytest.approx((2_500_000, 10_000_000))
    assert profile.carbon_intensity == pytest.approx(1.7345)
    assert profile.k_value == pytest.approx(1.7345 / 2.9, abs=1e-4) and profile.grade.grade == 1


def test_the_profile_states_its_grid_factor(graded: Registry) -> None:
    profile = _profile(graded, REFERENCE, "2022")
    assert profile.grid_factor == pytest.approx(0.5153)  # kWh-weighted mean of 12 equal factors
    assert (profile.grid_factor_year, profile.grid_factor_fallback) == (2022, False)
    assert profile.grid_factor_source == "Zhejiang provincial 2022 (secondary source)"
    late = make_uscc(24)  # 2024: no Zhejiang factor after 2022 -> the 2022 one, said to be a fallback
    EnterpriseRepository(graded.engine).create_many([Enterprise(late, "晚来企业", "2822", "330502")])
    record = pb.Record(uscc=late, period="2024-02", category="ELECTRICITY", quantity=1_000_000, source=GRID,
                       external_id="late-1")  # fmt: skip
    graded.stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=[record]), timeout=30)
    month = _profile(graded, late, "2024-02")
    assert month.grid_factor == pytest.approx(0.5153)
    assert (month.grid_factor_year, month.grid_factor_fallback) == (2022, True)
    assert month.scope2_gross_tco2 == pytest.approx(1_000 * 0.5153)


def _flags(p: pb.BenchmarkProvenance) -> tuple[int, int, bool, bool, bool]:
    return (p.version, p.firm_count, p.includes_self, p.excludes_self, p.sensitive)


def test_benchmarks_are_published_versions_named_on_each_profile(graded: Registry) -> None:
    """Version 1 of 2022 (the fixture's recompute): 5 firms of 2822 in 330500, average 2.9. Reference:
    L = 6,234.1 / 3,000 = 2.0780; leave-one-out averages: without itself (4 x 9,316.475) / 12,000 =
    3.1055, without a peer (43,500 - 9,316.475) / 12,000 = 2.8486; K = 0.6691 .. 0.7295, grade 2 either
    way: in its benchmark and not sensitive.

    A late firm (5,203.5 t of grid electricity on 3,000 万元, L = 1.7345) is graded against version 1,
    which does not include it: K = 1.7345 / 2.9 = 0.5981 -> grade 1, flagged excludes_self; with it the
    average would be (43,500 + 5,203.5) / 18,000 = 2.7058 and K = 0.6410 -> grade 2: sensitive. Its
    ingest does not move the benchmark (the reference stays at K 0.7166, version 1).

    The next recompute publishes version 2 from 6 firms: average 2.7058; the late firm is in it (K 0.6410,
    grade 2) and still sensitive (without itself the average is 2.9 -> grade 1); the reference is at
    K = 2.0780 / 2.7058 = 0.7680, grade 2, not sensitive (extremes: without the late firm 2.9 -> 0.7166;
    without a peer (48,703.5 - 9,316.475) / 15,000 = 2.6258 -> 0.7914)."""
    reference = _profile(graded, REFERENCE, "2022")
    p = reference.benchmark_provenance
    assert _flags(p) == (1, 5, True, False, False)
    assert p.compute_time.seconds > 0
    late = make_uscc(24)
    EnterpriseRepository(graded.engine).create_many([Enterprise(late, "迟到企业", "2822", "330502")])
    rows = _monthly(late, "ELECTRICITY", 5_203.5 / 0.5153, GRID, "MWh")
    rows += _monthly(late, "INDUSTRIAL_ADDED_VALUE", 3_000, STATS)
    graded.stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=rows), timeout=30)
    before = _profile(graded, late, "2022")
    assert before.carbon_intensity == pytest.approx(1.7345)
    assert before.k_value == pytest.approx(1.7345 / 2.9) and before.grade.grade == 1
    p = before.benchmark_provenance
    assert _flags(p) == (1, 5, False, True, True)
    unchanged = _profile(graded, REFERENCE, "2022")
    assert unchanged.k_value == pytest.approx(0.7166, abs=5e-5)
    assert unchanged.benchmark_provenance.version == 1

    graded.stub.RecomputeBenchmarks(pb.RecomputeBenchmarksRequest(year=2022), timeout=60)
    after = _profile(graded, late, "2022")
    assert after.benchmark.average_intensity == pytest.approx(48_703.5 / 18_000)
    assert after.k_value == pytest.approx(1.7345 / (48_703.5 / 18_000)) and after.grade.grade == 2
    p = after.benchmark_provenance
    assert _flags(p) == (2, 6, True, False, True)
    reference = _profile(graded, REFERENCE, "2022")
    assert reference.k_value == pytest.approx(2.0780 / (48_703.5 / 18_000), abs=5e-5)
    p = reference.benchmark_provenance
    assert (p.version, p.includes_self, p.sensitive, reference.grade.grade) == (2, True, False, 2)
