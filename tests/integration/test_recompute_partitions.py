"""RecomputeBenchmarks split by industry division across worker processes stores exactly what the
one in-process pass stores: every profile (figures, grade, K, quality, trend, details), every
benchmark and every benchmark member; and a worker that fails leaves nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from helpers import make_uscc

from registry_service import profile_service, recompute_partitions
from registry_service.domain.catalog import load_catalog
from registry_service.domain.enterprise import AnnualFinancials, Enterprise
from registry_service.ingest import Ingestor
from registry_service.profile_service import ProfileService
from registry_service.recompute_partitions import Partition, buckets, pieces, worker_pieces
from registry_service.storage import profiles as store
from registry_service.storage.arrow_reads import arrow_reader, sqlite_file
from registry_service.storage.catalog import ensure_catalog
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.tables import benchmark_members, benchmarks, carbon_profiles
from tanxiao.platform.db import make_engine

# Several divisions (28 twice, at two 4-digit classes), a 2-digit code, and uneven sizes.
INDUSTRIES = ["2822", "2823", "1713", "3011", "3484", "21", "2822", "3011"]
REGIONS = ["330502", "330503", "330521", "330522", "330523"]
MONTHS = [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)] + ["2025-01", "2025-02"]
SOURCES = {
    "ELECTRICITY": "GRID_UTILITY",
    "NATURAL_GAS": "GAS_UTILITY",
    "INDUSTRIAL_ADDED_VALUE": "STATISTICS",
}


def _firms(count: int) -> list[Enterprise]:
    firms = []
    for i in range(count):
        region = REGIONS[i % len(REGIONS)]
        av = (500 + (i * 7919) % 4000) * 1_000_000
        financials = (AnnualFinancials(2024, av, av * 4, av * 3, av * 2),) if i % 3 == 0 else ()
        firms.append(
            Enterprise(make_uscc(1000 + i, region), f"企业{i:04d}", INDUSTRIES[i % len(INDUSTRIES)], region,
                       financials=financials)
        )  # fmt: skip
    return firms


def _records(firms: list[Enterprise]) -> pd.DataFrame:
    rng = np.random.default_rng(17)
    rows: list[dict[str, Any]] = []
    for i, firm in enumerate(firms):
        scale = rng.lognormal(0.0, 0.7)
        for category, source in SOURCES.items():
            if category == "NATURAL_GAS" and i % 4 == 1:
                continue
            for month in MONTHS:
                if i % 11 == 3 and month in ("2024-05", "2024-06"):  # gaps: incomplete, ungraded
                    continue
                if i % 9 == 0 and month > "2024-08":  # stopped reporting: stale, no 2025 window
                    continue
                base = {"ELECTRICITY": 150_000.0, "NATURAL_GAS": 9_000.0, "INDUSTRIAL_ADDED_VALUE": 300.0}
                quantity = round(base[category] * scale * rng.normal(1.0, 0.05), 3)
                if i % 13 == 5 and month == "2024-07" and category == "ELECTRICITY":
                    quantity *= 6  # a spike month
                rows.append(_row(firm.uscc, month, category, quantity, source))
                if i % 7 == 2 and category == "ELECTRICITY":  # a second source that disagrees
                    rows.append(_row(firm.uscc, month, category, quantity * 1.3, "SELF_REPORTED"))
                if i % 10 == 1 and category == "ELECTRICITY" and month.endswith(("-02", "-09")):
                    rows.append(_row(firm.uscc, month, category, quantity / 3, source, "-b"))  # 2 bills
    return pd.DataFrame(rows)


def _revisions(records: pd.DataFrame) -> pd.DataFrame:
    """Later revisions of some electricity and gas records (same external ids, new quantities)."""
    firms = sorted(set(records["uscc"]))
    revised = records[
        records["uscc"].isin(firms[3::8])
        & records["category"].isin(["ELECTRICITY", "NATURAL_GAS"])
        & (records["period"] >= "2024-03")
    ]
    return revised.assign(quantity=(revised["quantity"] * 1.07).round(3)).reset_index(drop=True)


def _row(
    uscc: str, month: str, category: str, quantity: float, source: str, suffix: str = ""
) -> dict[str, Any]:
    external = f"{source}-{uscc}-{category}-{month}{suffix}"
    return {"uscc": uscc, "period": month, "category": category, "quantity": quantity, "unit": "",
            "source": source, "external_id": external}  # fmt: skip


@pytest.fixture
def loaded(db_url: str) -> str:
    return _load(db_url)


@pytest.fixture
def loaded_sqlite(sqlite_url: str) -> str:
    """As ``loaded``, on SQLite only: for what only a SQLite file does (ADBC's reads)."""
    return _load(sqlite_url)


def _load(db_url: str) -> str:
    engine = make_engine(db_url)
    catalog = load_catalog()
    ensure_catalog(engine, catalog)
    firms = _firms(160)
    EnterpriseRepository(engine).create_many(firms)
    frame = _records(firms)
    summary = Ingestor(engine, catalog).ingest_frame(frame, limit=10**6)
    assert summary.accepted > 0
    revised = Ingestor(engine, catalog).ingest_frame(_revisions(frame), limit=10**6)
    assert revised.revised > 100
    ProfileService(engine, catalog, workers=1).recompute_year(2023)  # stored benchmarks of the year before
    engine.dispose()
    return db_url


def _stored(engine: sa.Engine) -> dict[str, Any]:
    """The stored results, without what differs between two recomputes by design (compute times and
    the published version number)."""
    with engine.connect() as conn:
        profiles = {}
        for row in conn.execute(sa.select(carbon_profiles)).mappings():
            row = dict(row)
            row.pop("compute_time")
            details = row.pop("details")
            details = json.loads(details) if isinstance(details, str) else details
            details["benchmark"].pop("computed_at")
            details["benchmark"].pop("version")
            profiles[(row["uscc"], row["period"])] = {**row, "details": details}
        cells = {}
        for row in conn.execute(sa.select(benchmarks).where(benchmarks.c.year == 2024)).mappings():
            row = dict(row)
            row.pop("compute_time"), row.pop("version")
            cells[(row["industry_code"], row["region_code"])] = row
        latest = sa.select(sa.func.max(benchmark_members.c.version)).where(benchmark_members.c.year == 2024)
        members = conn.execute(
            sa.select(benchmark_members.c.uscc).where(
                benchmark_members.c.year == 2024, benchmark_members.c.version == latest.scalar_subquery()
            )
        ).scalars()
        return {"profiles": profiles, "benchmarks": cells, "members": sorted(members)}


def test_workers_store_what_one_process_stores(loaded: str) -> None:
    engine = make_engine(loaded)
    catalog = load_catalog()
    try:
        one = ProfileService(engine, catalog, workers=1).recompute_year(2024)
        alone = _stored(engine)
        three = ProfileService(engine, catalog, workers=3, min_parallel_enterprises=0).recompute_year(2024)
        split = _stored(engine)
    finally:
        engine.dispose()
    assert one.graded > 50 and one.ungraded > 5 and one.benchmarks > 20
    assert (three.profiles, three.benchmarks, three.graded, three.grade_counts) == (
        one.profiles, one.benchmarks, one.graded, one.grade_counts,
    )  # fmt: skip
    assert alone["members"] == split["members"] and len(alone["members"]) > 50
    assert alone["benchmarks"] == split["benchmarks"]
    assert alone["profiles"].keys() == split["profiles"].keys()
    assert any(period == "2023" for _, period in alone["profiles"])  # other years' profiles stay
    several = [p for p in alone["profiles"].values() if "MULTIPLE_RECORDS" in str(p["details"]["quality"])]
    assert several  # two bills of one source were added up, in both runs
    flagged = [p for p in alone["profiles"].values() if p["details"]["quality"]["flags"]]
    assert len(flagged) > 20  # quality flags travel from the workers too
    for key, profile in alone["profiles"].items():
        assert profile == split["profiles"][key], key


def test_a_failing_worker_leaves_nothing_written(
    loaded: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = make_engine(loaded)
    with engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(carbon_profiles)).scalar_one()
        versions = conn.execute(sa.select(sa.func.count()).select_from(benchmarks)).scalar_one()
    calls: list[int] = []

    def broken(url: str, *rest: Any) -> Partition:  # a worker finds no tables (on PostgreSQL this
        calls.append(1)  # process's share is read through its engine and written before it fails)
        return Partition(f"sqlite:///{tmp_path}/empty.db", *rest)

    monkeypatch.setattr(profile_service, "Partition", broken)
    service = ProfileService(engine, load_catalog(), workers=2, min_parallel_enterprises=0)
    try:
        with pytest.raises(sa.exc.OperationalError):
            service.recompute_year(2024)
        with engine.connect() as conn:
            assert (
                conn.execute(sa.select(sa.func.count()).select_from(carbon_profiles)).scalar_one() == before
            )
            assert conn.execute(sa.select(sa.func.count()).select_from(benchmarks)).scalar_one() == versions
    finally:
        engine.dispose()
    assert len(calls) == 2


def test_divisions_are_dealt_largest_first_to_the_lightest_share() -> None:
    sizes = {"28": 50, "30": 30, "17": 25, "21": 10, "34": 5}
    assert buckets(sizes, 2) == [("21", "28"), ("17", "30", "34")]
    assert buckets(sizes, 1) == [("17", "21", "28", "30", "34")]
    assert len(buckets({"28": 1}, 4)) == 1


def test_a_workers_divisions_make_a_heavy_piece_and_a_light_one_of_about_a_quarter() -> None:
    assert pieces({"17": 10, "21": 10, "22": 10, "28": 10}) == [("21", "22", "28"), ("17",)]
    assert pieces({"28": 50, "30": 30, "17": 25, "21": 10, "34": 5}) == [("17", "28", "30"), ("21", "34")]
    assert pieces({"28": 1, "30": 100}) == [("30",), ("28",)]  # at least one division in each
    assert pieces({"28": 7}) == [("28",)] and pieces({}) == []


def test_a_workers_share_is_dealt_into_pieces_heaviest_first(loaded: str) -> None:
    engine = make_engine(loaded)
    service = ProfileService(engine, load_catalog())
    try:
        with engine.connect() as conn:
            sizes = store.division_sizes(conn)
        shares = buckets(sizes, 2)
        rules = ("2024-01", 2024, None, service.catalog, service.method, service.precedence, None)
        partitions = [Partition(loaded, divisions, *rules, pd.DataFrame()) for divisions in shares]
        dealt = worker_pieces(engine, partitions)
    finally:
        engine.dispose()
    assert len(dealt) == 4 and all(p.quality is not None for p in dealt)  # resolved for the workers
    weights = [sum(sizes[d] for d in p.divisions) for p in dealt]
    assert weights == sorted(weights, reverse=True)  # the lightest is built, and written, last
    for share in shares:  # each share's divisions are dealt into two of the pieces, none lost
        mine = [p.divisions for p in dealt if set(p.divisions) <= set(share)]
        assert len(mine) == 2 and sorted(d for divisions in mine for d in divisions) == sorted(share)


def test_a_partitions_read_has_the_tie_breaks_where_a_key_has_several_current_records(loaded: str) -> None:
    """load_records' ties_only: external_id and ingest_time as the full read has them on every row of
    a key with several current records (a second source, two bills), missing on every other row."""
    engine = make_engine(loaded)
    try:
        with engine.connect() as conn:
            full = store.load_records(conn, None, "2023-01", divisions=["28", "30"])
            lean = store.load_records(conn, None, "2023-01", divisions=["28", "30"], ties_only=True)
    finally:
        engine.dispose()
    assert list(lean.columns) == list(full.columns) and len(lean) == len(full)
    current = full[full["is_current"]]
    several = current.groupby(["uscc", "period", "category"])["id"].transform("size") > 1
    tied = full.index.isin(current.index[several.to_numpy()])
    assert 0 < tied.sum() < len(full)
    pd.testing.assert_frame_equal(lean.drop(columns=["external_id", "ingest_time"]),
                                  full.drop(columns=["external_id", "ingest_time"]))  # fmt: skip
    assert lean.loc[tied, "external_id"].tolist() == full.loc[tied, "external_id"].tolist()
    assert (lean.loc[tied, "ingest_time"] == full.loc[tied, "ingest_time"]).all()
    assert lean.loc[~tied, "external_id"].isna().all() and lean.loc[~tied, "ingest_time"].isna().all()


def test_a_workers_arrow_read_equals_the_engines_read(loaded_sqlite: str) -> None:
    """A worker on SQLite reads through ADBC's driver (arrow_reads): the records' and enterprises'
    frames are those of the engine's read, types included, lean (tie-breaks) and full."""
    loaded = loaded_sqlite
    path = sqlite_file(loaded)
    assert path is not None  # ADBC's driver is a dependency: a SQLite file is read through it
    divisions = ["28", "30", "21"]
    engine = make_engine(loaded)
    try:
        with engine.connect() as conn:
            expected = [
                store.load_records(conn, None, "2023-01", divisions=divisions, ties_only=True),
                store.load_records(conn, None, "2023-01", divisions=divisions),
                store.load_records(conn, None, "2030-01", divisions=divisions),  # no rows
                *store.load_enterprises(conn, None, divisions=divisions),
            ]
    finally:
        engine.dispose()
    with arrow_reader(path) as reader:
        found = [
            store.load_records(reader, None, "2023-01", divisions=divisions, ties_only=True),
            store.load_records(reader, None, "2023-01", divisions=divisions),
            store.load_records(reader, None, "2030-01", divisions=divisions),
            *store.load_enterprises(reader, None, divisions=divisions),
        ]
    assert len(expected[0]) > 1000 and expected[0]["external_id"].notna().sum() > 0  # with ties
    assert len(expected[2]) == 0 and len(expected[4]) > 0  # and annual financials
    for mine, theirs in zip(found, expected, strict=True):
        pd.testing.assert_frame_equal(mine, theirs)


def test_on_sqlite_the_workers_build_every_share_and_this_process_only_writes(
    loaded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ADBC's reads in the workers this process builds no share (on PostgreSQL it builds one)."""
    built: list[int] = []
    original = recompute_partitions.share_of

    def counted(*args: Any) -> Any:
        built.append(1)
        return original(*args)

    monkeypatch.setattr(recompute_partitions, "share_of", counted)
    engine = make_engine(loaded)
    service = ProfileService(engine, load_catalog(), workers=2, min_parallel_enterprises=0)
    try:
        summary = service.recompute_year(2024)
    finally:
        engine.dispose()
    assert summary.profiles > 0
    assert len(built) == (0 if sqlite_file(loaded) else 1)


def test_sqlite_file_names_only_sqlite_files() -> None:
    assert sqlite_file("sqlite:////var/tanxiao.db") == "/var/tanxiao.db"
    assert sqlite_file("sqlite://") is None and sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql+psycopg://postgres@127.0.0.1:5432/tanxiao") is None


def test_a_recompute_reads_its_trend_window_back_from_the_last_month_with_records(loaded: str) -> None:
    """A recompute's records start TREND_YEARS_BEFORE before its year, or before the year of the last
    current record when the records end earlier: what the last month gives, asked first only whether
    any current record reaches the year."""
    engine = make_engine(loaded)
    try:
        with engine.connect() as conn:
            assert store.last_record_month(conn) == "2025-02"
            for year, expected in ((2023, 2023), (2024, 2024), (2025, 2025), (2026, 2025), (2031, 2025)):
                assert store.has_current_records_from(conn, f"{year}-01") is (year <= 2025)
                assert profile_service._trend_year(conn, year) == expected
            conn.execute(sa.text("UPDATE records SET is_current = false WHERE period >= '2025-01'"))
            assert profile_service._trend_year(conn, 2025) == 2024  # not current: not counted
            conn.execute(sa.text("DELETE FROM records"))
            assert profile_service._trend_year(conn, 2025) == 2025  # no records at all
            conn.rollback()
    finally:
        engine.dispose()
