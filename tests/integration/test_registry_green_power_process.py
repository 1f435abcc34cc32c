"""Green power and certificates claimed once, both scope 2 methods, and a cement firm's clinker
process emissions, over gRPC against a real registry (the vectors of
tests/unit/test_scope2_methods_process.py)."""

from __future__ import annotations

import pytest
from helpers import Registry, make_uscc

from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from tanxiao.common.v1 import common_pb2
from tanxiao.registry.v1 import registry_pb2 as pb

GRID, STATS, SELF = common_pb2.GRID_UTILITY, common_pb2.STATISTICS, common_pb2.SELF_REPORTED
GREEN, OTHER, CEMENT = make_uscc(31), make_uscc(32), make_uscc(33)


def _record(
    uscc: str, period: str, category: str, quantity: float, source: int, **extra: str
) -> pb.EnergyRecord:
    key = f"{uscc}-{category}-{period}-{extra.get('instrument_id', '')}"
    return pb.EnergyRecord(uscc=uscc, period=period, category=category, quantity=quantity, source=source,
                     external_id=key, **extra)  # fmt: skip


def _year(
    uscc: str, year: int, category: str, monthly: float, source: int, unit: str = ""
) -> list[pb.EnergyRecord]:
    rows = [_record(uscc, f"{year}-{m:02d}", category, monthly, source) for m in range(1, 13)]
    for row in rows:
        row.unit = unit
    return rows


def _profile(registry: Registry, uscc: str, period: str) -> pb.CarbonProfile:
    return registry.stub.GetCarbonProfile(
        pb.GetCarbonProfileRequest(name=f"enterprises/{uscc}/profiles/{period}")
    )


def _ingest(registry: Registry, rows: list[pb.EnergyRecord]) -> pb.IngestRecordsResponse:
    return registry.stub.BatchIngestRecords(pb.BatchIngestRecordsRequest(records=rows), timeout=30)


def test_a_certificate_is_claimed_once_and_the_profile_shows_both_scope2_methods(registry: Registry) -> None:
    """Huzhou 2023 (grid factor Zhejiang 2022 0.5153, residual mix national 2023 0.6096): 12,000 MWh
    bought, 12 green-power contracts of 250 MWh, one GEC lot of 1,000 certificates, 3,000 万元.
    Location-based scope 2 = 12,000 x 0.5153 = 6,183.6 t, green power netted 3,000 x 0.5153 = 1,545.9 t,
    net = 4,637.7 t (the grade's, Huzhou). Market-based = (12,000 - 3,000 - 1,000) x 0.6096 = 4,876.8 t.
    Another firm claiming the same GEC is rejected on that row (its other rows are kept) and is not
    told who holds it; the holder resending its own record is a duplicate, not a second claim."""
    EnterpriseRepository(registry.engine).create_many(
        [Enterprise(GREEN, "绿电企业", "2825", "330502"), Enterprise(OTHER, "他家企业", "2825", "330502")]
    )
    rows = _year(GREEN, 2023, "ELECTRICITY", 1_000, GRID, "MWh") + _year(
        GREEN, 2023, "INDUSTRIAL_ADDED_VALUE", 250, STATS
    )
    contracts = [(f"2023-{m:02d}", f"GP-ZJ-2023-{m:02d}") for m in range(1, 13)]
    rows += [_record(GREEN, p, "GREEN_POWER_PURCHASE", 250_000, GRID, instrument_id=c) for p, c in contracts]
    gec = _record(
        GREEN, "2023-06", "GREEN_CERTIFICATE", 1_000, SELF, instrument_id="GEC-1", unit="certificate"
    )
    first = _ingest(registry, [*rows, gec])
    assert (first.accepted, first.rejected) == (37, 0)

    second = _ingest(registry, [
        _record(OTHER, "2023-07", "GREEN_CERTIFICATE", 1e3, SELF, instrument_id="GEC-1", unit="certificate"),
        _record(OTHER, "2023-07", "ELECTRICITY", 500_000, GRID),
        _record(OTHER, "2023-07", "GREEN_POWER_PURCHASE", 100_000, GRID),  # no contract id
        _record(OTHER, "2023-08", "GREEN_POWER_PURCHASE", 100_000, GRID, instrument_id="GP-NEW-1"),
        # the same contract later in the same batch, for another firm:
        _record(GREEN, "2023-08", "GREEN_POWER_PURCHASE", 100_000, GRID, instrument_id="GP-NEW-1"),
    ])  # fmt: skip
    assert (second.accepted, second.rejected) == (2, 3)
    results = {r.index: r for r in second.results}
    claimed = results[0]
    assert (claimed.status, claimed.reason_code, claimed.field) == (
        pb.REJECTED, "INSTRUMENT_ALREADY_CLAIMED", "records[0].instrument_id",
    )  # fmt: skip
    assert GREEN not in claimed.reason and "绿电企业" not in claimed.reason  # the claimant is not disclosed
    assert (results[2].reason_code, results[2].field) == ("MISSING_INSTRUMENT_ID", "records[2].instrument_id")
    assert (results[4].reason_code, results[4].field) == (
        "INSTRUMENT_ALREADY_CLAIMED",
        "records[4].instrument_id",
    )
    again = _ingest(registry, [gec])  # the holder's own record again: a replay, not a claim
    assert (again.duplicates, again.rejected) == (1, 0)

    profile = _profile(registry, GREEN, "2023")
    s2 = profile.scope2
    assert s2.location_tco2 == pytest.approx(12_000 * 0.5153) == pytest.approx(6_183.6)
    assert profile.scope2_gross_tco2 == pytest.approx(6_183.6)
    assert profile.green_power_netting_tco2 == pytest.approx(3_000 * 0.5153)
    assert profile.net_tco2 == pytest.approx(6_183.6 - 1_545.9)  # location-based: the grade's method
    assert (s2.instrument_kwh, s2.instrument_covered_kwh) == pytest.approx((4_000_000, 4_000_000))
    assert s2.market_tco2 == pytest.approx((12_000 - 3_000 - 1_000) * 0.6096) == pytest.approx(4_876.8)
    assert s2.residual_mix_factor == pytest.approx(0.6096) and "unconfirmed" in s2.residual_mix_source
    assert s2.graded_method == "location"
    assert profile.carbon_intensity == pytest.approx(4_637.7 / 3_000)


def test_a_cement_firm_reports_clinker_process_emissions_in_scope1(registry: Registry) -> None:
    """Huzhou 2022 (0.5153): 12,000 MWh, 12,000 t raw coal, 120,000 t clinker, 12,000 万元.
    scope 2 = 6,183.6 t; coal 12,000 t x 1.9003 = 22,803.6 t; clinker 120,000 t x 0.52 = 62,400 t;
    scope 1 = 85,203.6 t, gross = 91,387.2 t; the Huzhou grade is energy only: net = 22,803.6 + 6,183.6
    = 28,987.2 t, L = 28,987.2 / 12,000 = 2.4156."""
    EnterpriseRepository(registry.engine).create_many([Enterprise(CEMENT, "水泥企业", "3011", "330502")])
    rows = _year(CEMENT, 2022, "ELECTRICITY", 1_000, GRID, "MWh") + _year(
        CEMENT, 2022, "RAW_COAL", 1_000, STATS, "t"
    )
    rows += _year(CEMENT, 2022, "CEMENT_CLINKER", 10_000, STATS) + _year(
        CEMENT, 2022, "INDUSTRIAL_ADDED_VALUE", 1_000, STATS
    )
    assert _ingest(registry, rows).accepted == 48
    profile = _profile(registry, CEMENT, "2022")
    assert profile.process_tco2 == pytest.approx(120_000 * 0.52) == pytest.approx(62_400)
    assert profile.scope1_tco2 == pytest.approx(22_803.6 + 62_400)
    assert profile.gross_tco2 == pytest.approx(91_387.2)
    assert profile.net_tco2 == pytest.approx(28_987.2) and not profile.graded_includes_process
    assert profile.carbon_intensity == pytest.approx(28_987.2 / 12_000)
    assert profile.energy_tce == pytest.approx(1_474.8 + 8_571.6)  # calcination is not energy
    categories = registry.stub.ListDataCategories(pb.ListDataCategoriesRequest(), timeout=10)
    clinker = next(c for c in categories.categories if c.code == "CEMENT_CLINKER")
    assert (
        clinker.kind == pb.PROCESS_EMISSIONS
        and clinker.kgco2_per_unit == 520
        and "IPCC 2006" in clinker.source
    )
