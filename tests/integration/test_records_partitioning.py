"""records partitioned by period on PostgreSQL (revision 0016_pgpart), its key in record_keys (SQLite:
records' partial unique index since 0018_ingest8_sqlite_key): the migration moves existing rows (ids,
sequence, revisions kept) and back, rows land in their year's partition, the ingest creates a new
year's partition, period-bounded reads are pruned, and (source, external_id) stays one key across
periods and partitions, also under concurrent ingests."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from helpers import current_keys, make_uscc

from registry_service.domain.enterprise import Enterprise
from registry_service.ingest import Ingestor
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.record_partitions import existing_years
from registry_service.storage.tables import records
from tanxiao.errors import Conflict
from tanxiao.platform import db
from tanxiao.platform.db import make_engine

E1 = make_uscc(1)
NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    EnterpriseRepository(engine).create_many([Enterprise(E1, "甲化纤", "2825", "330502")])
    try:
        yield engine
    finally:
        engine.dispose()


def _frame(*rows: tuple[str, str, float]) -> pd.DataFrame:
    """Rows (external_id, period, quantity) of GRID_UTILITY electricity of E1."""
    return pd.DataFrame(
        [
            {"uscc": E1, "period": p, "category": "ELECTRICITY", "quantity": q, "unit": "",
             "source": "GRID_UTILITY", "external_id": x}
            for x, p, q in rows
        ]
    )  # fmt: skip


def _stored(engine: sa.Engine) -> list[tuple[int, str, str, int, bool]]:
    """(id, external_id, period, revision, is_current) of every stored row."""
    query = sa.select(
        records.c.id, records.c.external_id, records.c.period, records.c.revision, records.c.is_current
    )
    with engine.connect() as conn:
        return sorted((int(i), str(e), str(p), int(r), bool(c)) for i, e, p, r, c in conn.execute(query))


def _keys(engine: sa.Engine) -> dict[str, tuple[int, str, int]]:
    with engine.connect() as conn:
        found = conn.execute(current_keys(engine.dialect.name)).all()
    keys = {str(e): (int(i), str(p), int(r)) for e, i, p, r in found}
    assert len(keys) == len(found)  # one current revision a key
    return keys


def _consistent(engine: sa.Engine) -> None:
    """One current row per key, revisions 1..n, record_keys (PostgreSQL) naming the current one."""
    stored, keys = _stored(engine), _keys(engine)
    by_key: dict[str, list[tuple[int, str, int, bool]]] = {}
    for i, e, p, r, c in stored:
        by_key.setdefault(e, []).append((i, p, r, c))
    assert set(by_key) == set(keys)
    for key, rows in by_key.items():
        assert sorted(r for _, _, r, _ in rows) == list(range(1, len(rows) + 1)), key
        current = [(i, p, r) for i, p, r, c in rows if c]
        assert current == [keys[key]], key


def _partition_of(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, tableoid::regclass::text FROM records")
        return {int(i): str(t) for i, t in rows}


def test_a_correction_to_another_month_is_the_same_key(engine: sa.Engine) -> None:
    """An external id is one record whatever its period: moved to another year (another partition
    on PostgreSQL), it is a revision of the same key, and the old row is no longer current."""
    ingestor = Ingestor(engine)
    ingestor.ingest_frame(_frame(("k", "2024-12", 1.0), ("j", "2024-11", 2.0)))
    again = ingestor.ingest_frame(_frame(("k", "2025-01", 1.0), ("j", "2024-11", 2.0)), include_accepted=True)
    assert [(r.status, r.revision) for r in again.results] == [("REVISED", 2), ("DUPLICATE", 1)]
    third = ingestor.ingest_frame(_frame(("k", "2025-01", 1.0)), include_accepted=True)
    assert [(r.status, r.revision) for r in third.results] == [("DUPLICATE", 2)]
    stored = _stored(engine)
    assert [(e, p, r, c) for _, e, p, r, c in stored] == [
        ("k", "2024-12", 1, False),
        ("j", "2024-11", 1, True),
        ("k", "2025-01", 2, True),
    ]
    _consistent(engine)
    if engine.dialect.name == "postgresql":
        where = _partition_of(engine)
        assert sorted(where.values()) == ["records_y2024", "records_y2024", "records_y2025"]


@pytest.mark.postgres
def test_rows_land_in_their_years_partition_and_a_new_year_gets_one(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        EnterpriseRepository(engine).create_many([Enterprise(E1, "甲化纤", "2825", "330502")])
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS records_y2003")
            assert 2003 not in existing_years(conn)
        summary = Ingestor(engine).ingest_frame(_frame(("old", "2003-07", 5.0), ("new", "2026-01", 6.0)))
        assert summary.accepted == 2
        with engine.connect() as conn:
            assert 2003 in existing_years(conn)
            empty = conn.exec_driver_sql("SELECT count(*) FROM records_default").scalar_one()
        assert empty == 0
        ids = {e: i for i, e, *_ in _stored(engine)}
        where = _partition_of(engine)
        assert (where[ids["old"]], where[ids["new"]]) == ("records_y2003", "records_y2026")
        # Period-bounded reads of an enterprise touch one partition.
        with engine.connect() as conn:
            plan = "\n".join(
                conn.exec_driver_sql(
                    "EXPLAIN SELECT * FROM records WHERE uscc = %(u)s AND is_current"
                    " AND period BETWEEN '2026-01' AND '2026-12'",
                    {"u": E1},
                ).scalars()
            )
        assert "records_y2026" in plan
        assert "records_y2003" not in plan and "records_default" not in plan
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_concurrent_ingests_of_one_key_in_different_periods_keep_one_current_row(postgres_url: str) -> None:
    """Racing ingests of the same keys, each in another year (another partition): the key table makes
    one of them wait and re-run, so every key ends with one current row and revisions 1..n."""
    engine = make_engine(postgres_url, pool_size=8)
    try:
        EnterpriseRepository(engine).create_many([Enterprise(E1, "甲化纤", "2825", "330502")])
        keys = [f"race-{n}" for n in range(20)]
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def run(year: int) -> None:
            try:
                frame = _frame(*[(k, f"{year}-0{1 + n % 9}", float(year + n)) for n, k in enumerate(keys)])
                barrier.wait()
                Ingestor(engine).ingest_frame(frame)
            except Conflict:
                pass  # out of retries: a legitimate answer (ABORTED), nothing half-written
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(year,)) for year in (2021, 2022, 2023, 2024)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        _consistent(engine)
        assert {p for _, _, p, _, c in _stored(engine) if c} <= {
            f"{y}-0{m}" for y in range(2021, 2025) for m in range(1, 10)
        }
    finally:
        engine.dispose()


# --- revision 0016_pgpart on a populated database -----------------------------------------------------


def _seed_0015(url: str) -> None:
    db.upgrade(url, "0015_i17")
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine, only=["enterprises", "ingest_batches", "records"])
        t = meta.tables
        with engine.begin() as conn:
            conn.execute(
                t["enterprises"].insert(),
                [{"uscc": E1, "display_name": "甲化纤", "industry_code": "2825", "region_code": "330502",
                  "size_class": "ABOVE_DESIGNATED_SIZE", "create_time": NOW, "update_time": NOW}],
            )  # fmt: skip
            conn.execute(
                t["ingest_batches"].insert(),
                [{"id": 1, "received": 4, "accepted": 2, "duplicates": 0, "revised": 2, "rejected": 0,
                  "ingest_time": NOW}],
            )  # fmt: skip
            conn.execute(
                t["records"].insert(),
                [
                    _record(11, "m-1", "2021-03", 1, False, 1.0),
                    _record(12, "m-1", "2024-03", 2, True, 10.0),  # corrected into another year
                    _record(13, "m-2", "2024-04", 1, False, 2.0),
                    _record(14, "m-2", "2024-04", 2, True, 20.0),
                ],
            )
    finally:
        engine.dispose()


def _record(id_: int, key: str, period: str, revision: int, current: bool, quantity: float) -> dict[str, Any]:
    return {
        "id": id_, "uscc": E1, "period": period, "category": "ELECTRICITY", "source": "GRID_UTILITY",
        "external_id": key, "revision": revision, "is_current": current, "quantity": quantity, "unit": "",
        "canonical_quantity": quantity, "canonical_unit": "kWh", "catalog_version": "1",
        "content_hash": f"hash-{key}-{revision}", "batch_id": 1, "ingest_time": NOW,
    }  # fmt: skip


SEEDED = [
    (11, "m-1", "2021-03", 1, False),
    (12, "m-1", "2024-03", 2, True),
    (13, "m-2", "2024-04", 1, False),
    (14, "m-2", "2024-04", 2, True),
]


def test_0016_upgrades_a_populated_database_and_downgrades(empty_db_url: str) -> None:
    _seed_0015(empty_db_url)
    db.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        assert _stored(engine) == SEEDED  # ids, periods, revisions, current flags kept
        assert _keys(engine) == {"m-1": (12, "2024-03", 2), "m-2": (14, "2024-04", 2)}
        if engine.dialect.name == "postgresql":
            where = _partition_of(engine)
            assert [where[i] for i, *_ in SEEDED] == [
                "records_y2021",
                "records_y2024",
                "records_y2024",
                "records_y2024",
            ]
            with engine.connect() as conn:
                kind = conn.exec_driver_sql(
                    "SELECT relkind FROM pg_class WHERE relname = 'records'"
                ).scalar_one()
                years = existing_years(conn)
            assert kind == "p"
            key = sa.inspect(engine).get_pk_constraint("records")["constrained_columns"]
            assert key == ["uscc", "period", "category", "id"]
            assert set(range(2021, NOW.year + 2)) <= years
        summary = Ingestor(engine).ingest_frame(_frame(("m-1", "2024-03", 100.0)), include_accepted=True)
        assert [(r.status, r.revision) for r in summary.results] == [("REVISED", 3)]
        stored = _stored(engine)
        assert stored[:4] == [(11, "m-1", "2021-03", 1, False), (12, "m-1", "2024-03", 2, False), *SEEDED[2:]]
        assert stored[4][0] > 14 and stored[4][1:] == ("m-1", "2024-03", 3, True)  # the sequence went on
        _consistent(engine)
    finally:
        engine.dispose()
    command.downgrade(db.alembic_config(empty_db_url), "0015_i17")
    engine = make_engine(empty_db_url)
    try:
        inspector = sa.inspect(engine)
        assert "record_keys" not in inspector.get_table_names()
        assert "uq_records_current_key" in {i["name"] for i in inspector.get_indexes("records")}
        assert inspector.get_pk_constraint("records")["constrained_columns"] == ["id"]
        assert len(_stored(engine)) == 5
    finally:
        engine.dispose()
    db.upgrade(empty_db_url)  # and up again


def _record_keys(url: str) -> list[tuple[str, int, str, int, str]]:
    """record_keys as 0016_pgpart made it (before 0018 on SQLite): external_id, record_id, period,
    revision, content_hash."""
    rows = _query(
        url,
        "SELECT external_id, record_id, period, revision, content_hash FROM record_keys ORDER BY external_id",
    )
    return [(str(e), int(i), str(p), int(r), str(h)) for e, i, p, r, h in rows]


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one query on a database of its own engine (disposed after)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def test_0018_moves_sqlite_s_keys_into_a_partial_index_on_a_populated_database(empty_db_url: str) -> None:
    """0018_ingest8_sqlite_key on a database holding records: SQLite's record_keys becomes records'
    partial unique index of current keys (PostgreSQL unchanged); a replay is all duplicates, a
    correction the next revision, a second current row for a key is refused; the downgrade fills
    record_keys from the current rows again."""
    _seed_0015(empty_db_url)
    db.upgrade(empty_db_url, "0017_store4_leaf_index")
    keyed = _record_keys(empty_db_url)
    assert [row[:4] for row in keyed] == [("m-1", 12, "2024-03", 2), ("m-2", 14, "2024-04", 2)]
    db.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        sqlite = engine.dialect.name == "sqlite"
        assert ("record_keys" in sa.inspect(engine).get_table_names()) is not sqlite
        assert _stored(engine) == SEEDED
        assert _keys(engine) == {"m-1": (12, "2024-03", 2), "m-2": (14, "2024-04", 2)}
        ingestor = Ingestor(engine)
        summary = ingestor.ingest_frame(
            _frame(("m-1", "2024-03", 10.0), ("m-2", "2024-04", 21.0), ("m-3", "2024-05", 3.0)),
            include_accepted=True,
        )
        assert [(r.status, r.revision) for r in summary.results] == [
            ("REVISED", 3),  # the seeded hashes are not the ingest's: m-1's content counts as new
            ("REVISED", 3),
            ("ACCEPTED", 1),
        ]
        replay = ingestor.ingest_frame(
            _frame(("m-1", "2024-03", 10.0), ("m-2", "2024-04", 21.0), ("m-3", "2024-05", 3.0)),
            include_accepted=True,
        )
        assert [(r.status, r.revision) for r in replay.results] == [("DUPLICATE", 3)] * 2 + [("DUPLICATE", 1)]
        _consistent(engine)
        if sqlite:
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
                conn.execute(records.insert(), _record(99, "m-3", "2024-05", 2, True, 4.0))
    finally:
        engine.dispose()
    command.downgrade(db.alembic_config(empty_db_url), "0017_store4_leaf_index")
    keyed = _record_keys(empty_db_url)
    assert [row[0] for row in keyed] == ["m-1", "m-2", "m-3"]
    assert [row[3] for row in keyed] == [3, 3, 1]
    db.upgrade(empty_db_url)  # and up again


@pytest.mark.postgres
def test_concurrent_ingests_creating_one_new_year_both_land_in_it(postgres_url: str) -> None:
    """Two ingests bringing the same new year at once: one creates the partition, the other waits or
    is re-run, and no row goes to the default partition."""
    engine = make_engine(postgres_url, pool_size=8)
    try:
        EnterpriseRepository(engine).create_many([Enterprise(E1, "甲化纤", "2825", "330502")])
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS records_y2004")
        barrier = threading.Barrier(3)
        errors: list[BaseException] = []

        def run(n: int) -> None:
            try:
                frame = _frame(*[(f"y-{n}-{m}", f"2004-{m:02d}", float(m)) for m in range(1, 13)])
                barrier.wait()
                Ingestor(engine).ingest_frame(frame)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        where = _partition_of(engine)
        assert len(where) == 36 and set(where.values()) == {"records_y2004"}
        _consistent(engine)
    finally:
        engine.dispose()


def _all_record_keys(url: str) -> list[tuple[Any, ...]]:
    """Every record_keys row, every column, in key order (PostgreSQL)."""
    return _query(url, "SELECT * FROM record_keys ORDER BY source, external_id")


def _key_collations(url: str) -> dict[str, str | None]:
    """The collation of record_keys' key columns (None: the database's default)."""
    rows = _query(
        url,
        "SELECT column_name, collation_name FROM information_schema.columns"
        " WHERE table_name = 'record_keys' AND column_name IN ('source', 'external_id')",
    )
    return {str(name): collation for name, collation in rows}


def test_0020_record_keys_compare_bytewise_on_a_populated_database(empty_db_url: str) -> None:
    """0020_pg12_record_keys_c: on PostgreSQL record_keys' rows are kept as they were and its key
    columns take the "C" collation (SQLite has no record_keys: unchanged); the ingest still finds the
    keys (a correction is the next revision, a new key its first, a replay all duplicates); the
    downgrade puts the default collation back, rows kept."""
    url = empty_db_url
    postgres = url.startswith("postgresql")
    _seed_0015(url)
    db.upgrade(url, "0019_batch11_decision_state")
    before = _all_record_keys(url) if postgres else []
    if postgres:
        assert [row[1] for row in before] == ["m-1", "m-2"]
        assert _key_collations(url) == {"source": None, "external_id": None}
    db.upgrade(url)
    if postgres:
        assert _key_collations(url) == {"source": "C", "external_id": "C"}
        assert _all_record_keys(url) == before
    engine = make_engine(url)
    try:
        assert _stored(engine) == SEEDED
        ingestor = Ingestor(engine)
        rows = (("m-1", "2024-03", 10.0), ("m-2", "2024-04", 20.0), ("m-3", "2024-05", 3.0))
        first = ingestor.ingest_frame(_frame(*rows), include_accepted=True)
        assert [(r.status, r.revision) for r in first.results] == [
            ("REVISED", 3),
            ("REVISED", 3),
            ("ACCEPTED", 1),
        ]
        replay = ingestor.ingest_frame(_frame(*rows), include_accepted=True)
        assert [(r.status, r.revision) for r in replay.results] == [("DUPLICATE", 3)] * 2 + [("DUPLICATE", 1)]
        _consistent(engine)
    finally:
        engine.dispose()
    after = _all_record_keys(url) if postgres else []
    command.downgrade(db.alembic_config(url), "0019_batch11_decision_state")
    if postgres:
        assert _key_collations(url) == {"source": None, "external_id": None}
        assert _all_record_keys(url) == after
    db.upgrade(url)  # and up again
