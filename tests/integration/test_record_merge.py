"""The set-based record merge, on SQLite and PostgreSQL: each row classified new / identical / revision
/ rejected as one row at a time would be, blocks merged one by one (PostgreSQL's pipelined writer) equal
to one merge of the whole batch, an aborted or failing pipeline leaving nothing half-written, and
revision 0015_i17 upgrading a populated 0013 database without losing a row."""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from helpers import current_keys, make_uscc

from registry_service import ingest, ingest_writer
from registry_service.domain.enterprise import Enterprise
from registry_service.ingest import Ingestor, IngestSummary
from registry_service.storage import record_merge
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.record_merge import INSERTED, key_codes
from registry_service.storage.tables import ingest_batches, records
from tanxiao.platform import db
from tanxiao.platform.db import make_engine

E1, E2 = make_uscc(1), make_uscc(2)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    EnterpriseRepository(engine).create_many(
        [Enterprise(E1, "甲化纤", "2825", "330502"), Enterprise(E2, "乙纺织", "1710", "330503")]
    )
    try:
        yield engine
    finally:
        engine.dispose()


def _frame(*rows: tuple[str, float] | tuple[str, float, str]) -> pd.DataFrame:
    """Rows (external_id, quantity[, uscc]) of GRID_UTILITY electricity for 2024-03."""
    return pd.DataFrame(
        [
            {
                "uscc": row[2] if len(row) > 2 else E1,
                "period": "2024-03",
                "category": "ELECTRICITY",
                "quantity": row[1],
                "unit": "",
                "source": "GRID_UTILITY",
                "external_id": row[0],
            }
            for row in rows
        ]
    )


def _statuses(summary: IngestSummary) -> list[tuple[int, str, int]]:
    return [(r.index, r.status, r.revision) for r in summary.results]


def _stored(engine: sa.Engine) -> list[tuple[str, int, bool, float]]:
    query = sa.select(records.c.external_id, records.c.revision, records.c.is_current, records.c.quantity)
    with engine.connect() as conn:
        return sorted((str(e), int(r), bool(c), float(q)) for e, r, c, q in conn.execute(query))


def _batches(engine: sa.Engine) -> list[tuple[int, int, int, int, int]]:
    columns = [ingest_batches.c[c] for c in ("received", "accepted", "duplicates", "revised", "rejected")]
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(*columns).order_by(ingest_batches.c.id))]


def test_each_row_is_classified_new_identical_revision_or_rejected(engine: sa.Engine) -> None:
    ingestor = Ingestor(engine)
    first = ingestor.ingest_frame(_frame(("a", 1.0), ("b", 2.0), ("c", 3.0)))
    assert (first.accepted, first.duplicates, first.revised, first.rejected) == (3, 0, 0, 0)
    second = ingestor.ingest_frame(
        _frame(("a", 1.0), ("b", 20.0), ("d", 4.0), ("e", -1.0), ("c", 30.0), ("c", 300.0), ("c", 300.0)),
        include_accepted=True,
    )
    assert _statuses(second) == [
        (0, "DUPLICATE", 1),  # same content: nothing stored
        (1, "REVISED", 2),  # a correction: revision 2, revision 1 kept
        (2, "ACCEPTED", 1),
        (3, "REJECTED", 0),
        (4, "REVISED", 2),  # one key corrected twice in a batch: in order,
        (5, "REVISED", 3),
        (6, "DUPLICATE", 3),  # and a replay of the last one within the batch
    ]
    assert second.results[3].reason_code == "NEGATIVE_QUANTITY"
    assert second.results[3].field == "records[3].quantity"
    assert (second.accepted, second.duplicates, second.revised, second.rejected) == (1, 2, 3, 1)
    assert _stored(engine) == [
        ("a", 1, True, 1.0),
        ("b", 1, False, 2.0),
        ("b", 2, True, 20.0),
        ("c", 1, False, 3.0),
        ("c", 2, False, 30.0),
        ("c", 3, True, 300.0),
        ("d", 1, True, 4.0),
    ]
    assert _batches(engine) == [(3, 3, 0, 0, 0), (7, 1, 2, 3, 1)]


def test_blocks_merged_one_by_one_equal_one_merge(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 2 rows (on PostgreSQL each written by the pipelined writer as it comes): a key's rows
    in different blocks are applied in order, exactly as in one merge of the whole stream."""
    monkeypatch.setattr(ingest, "VALIDATE_BLOCK", 2)
    chunks = [
        _frame(("a", 1.0), ("b", 2.0)),
        _frame(("a", 1.0), ("a", 10.0)),
        _frame(("b", 2.0), ("x", 5.0, make_uscc(99))),
        _frame(("a", 100.0), ("c", 3.0)),
    ]
    with Ingestor(engine).stream(include_accepted=True) as stream:
        for chunk in chunks:
            stream.add(chunk)
    summary = stream.summary
    assert _statuses(summary) == [
        (0, "ACCEPTED", 1),
        (1, "ACCEPTED", 1),
        (2, "DUPLICATE", 1),
        (3, "REVISED", 2),
        (4, "DUPLICATE", 1),
        (5, "REJECTED", 0),  # unregistered enterprise
        (6, "REVISED", 3),
        (7, "ACCEPTED", 1),
    ]
    assert summary.results[5].reason_code == "UNKNOWN_ENTERPRISE"
    assert _stored(engine) == [
        ("a", 1, False, 1.0),
        ("a", 2, False, 10.0),
        ("a", 3, True, 100.0),
        ("b", 1, True, 2.0),
        ("c", 1, True, 3.0),
    ]
    assert _batches(engine) == [(8, 3, 2, 2, 1)]


def test_an_aborted_stream_stores_nothing_even_after_blocks_were_written(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "VALIDATE_BLOCK", 2)
    with pytest.raises(RuntimeError), Ingestor(engine).stream() as stream:
        stream.add(_frame(("a", 1.0), ("b", 2.0)))
        stream.add(_frame(("c", 3.0), ("d", 4.0)))
        raise RuntimeError("the client went away")
    assert _stored(engine) == [] and _batches(engine) == []


def test_a_pipeline_failing_mid_stream_is_rerun_whole(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database error in the pipelined writer (a lost race, a dropped connection) costs a re-run of
    the whole batch in a fresh transaction, never a half-written batch or a wrong answer."""
    monkeypatch.setattr(ingest, "VALIDATE_BLOCK", 2)
    real_merge = ingest_writer.merge
    failed: list[str] = []

    def flaky_merge(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "ingest-writer" and not failed:
            failed.append("once")
            raise sa.exc.OperationalError("COPY records", {}, Exception("server closed the connection"))
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(ingest_writer, "merge", flaky_merge)
    ingestor = Ingestor(engine)
    ingestor.ingest_frame(_frame(("a", 1.0)))
    with ingestor.stream() as stream:
        stream.add(_frame(("a", 1.0), ("b", 2.0)))
        stream.add(_frame(("a", 10.0), ("c", 3.0)))
    assert failed == (["once"] if engine.dialect.name == "postgresql" else [])
    assert (stream.summary.accepted, stream.summary.duplicates, stream.summary.revised) == (2, 1, 1)
    assert _stored(engine) == [
        ("a", 1, False, 1.0),
        ("a", 2, True, 10.0),
        ("b", 1, True, 2.0),
        ("c", 1, True, 3.0),
    ]
    assert _batches(engine) == [(1, 1, 0, 0, 0), (4, 2, 1, 1, 0)]


# --- revision 0015_i17 on a populated database --------------------------------------------------------

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def _seed_0013(url: str) -> None:
    db.upgrade(url, "0013_i12")
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine, only=["enterprises", "ingest_batches", "records"])
        t = meta.tables
        with engine.begin() as conn:
            conn.execute(
                t["enterprises"].insert(),
                [
                    {c.name: _filler(c) for c in t["enterprises"].columns if not c.nullable}
                    | {"uscc": E1, "display_name": "甲化纤", "industry_code": "2825", "region_code": "330502"}
                ],
            )
            conn.execute(
                t["ingest_batches"].insert(),
                [{"id": 1, "received": 2, "accepted": 1, "duplicates": 0, "revised": 1, "rejected": 0,
                  "ingest_time": NOW}],
            )  # fmt: skip
            conn.execute(t["records"].insert(), [_record(1, 1, False, 1.0), _record(2, 2, True, 10.0)])
    finally:
        engine.dispose()


def _filler(column: sa.Column[Any]) -> Any:
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 0
    if isinstance(kind, sa.Float | sa.Numeric):
        return 0.0
    if isinstance(kind, sa.DateTime):
        return NOW
    return "x"


def _record(id_: int, revision: int, current: bool, quantity: float) -> dict[str, Any]:
    return {
        "id": id_,
        "uscc": E1,
        "period": "2024-03",
        "category": "ELECTRICITY",
        "source": "GRID_UTILITY",
        "external_id": "m-1",
        "revision": revision,
        "is_current": current,
        "quantity": quantity,
        "unit": "",
        "canonical_quantity": quantity,
        "canonical_unit": "kWh",
        "catalog_version": "1",
        "content_hash": f"hash-{revision}",
        "batch_id": 1,
        "ingest_time": NOW,
    }


def _shape(url: str) -> tuple[list[Any], set[str], str]:
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        keys = inspector.get_foreign_keys("records")
        indexes = {i["name"] for i in inspector.get_indexes("records")}
        indexes |= {u["name"] for u in inspector.get_unique_constraints("records") if u["name"]}
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                query = "SELECT sql FROM sqlite_master WHERE name = 'uq_records_current_key'"
            else:
                query = "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_records_current_key'"
            partial = str(conn.exec_driver_sql(query).scalar_one()).upper()
        return keys, indexes, partial
    finally:
        engine.dispose()


def test_0015_upgrades_a_populated_database_and_ingest_goes_on(empty_db_url: str) -> None:
    _seed_0013(empty_db_url)
    db.upgrade(empty_db_url, "0015_i17")
    keys, indexes, partial = _shape(empty_db_url)
    assert keys == []
    assert "ix_records_batch_id" not in indexes and "uq_records_source_external_id_revision" not in indexes
    assert {"uq_records_current_key", "ix_records_uscc_period_category"} <= indexes
    assert "UNIQUE" in partial and "WHERE" in partial and "IS_CURRENT" in partial
    db.upgrade(empty_db_url)  # 0016_pgpart: the key's uniqueness moves to record_keys
    engine = make_engine(empty_db_url)
    try:
        assert _stored(engine) == [("m-1", 1, False, 1.0), ("m-1", 2, True, 10.0)]
        summary = Ingestor(engine).ingest_frame(_frame(("m-1", 100.0)), include_accepted=True)
        assert _statuses(summary) == [(0, "REVISED", 3)]
        assert _stored(engine)[-1] == ("m-1", 3, True, 100.0)
        assert [row[1:3] for row in _stored(engine)] == [(1, False), (2, False), (3, True)]
    finally:
        engine.dispose()
    command.downgrade(db.alembic_config(empty_db_url), "0013_i12")
    keys, indexes, _ = _shape(empty_db_url)
    assert {k["referred_table"] for k in keys} == {"enterprises", "ingest_batches"}
    assert {"ix_records_batch_id", "uq_records_source_external_id_revision"} <= indexes


def test_a_frame_with_a_gapped_index_is_numbered_by_position(engine: sa.Engine) -> None:
    """A caller's filtered slice (index labels 1, 3, 4) is ingested like a fresh frame: records are
    numbered by position and every row is stored (the steps align on the index)."""
    sliced = _frame(("a", 1.0), ("b", -2.0), ("c", 3.0), ("d", -4.0), ("e", 5.0)).iloc[[0, 2, 4]]
    sliced.index = [1, 3, 4]
    summary = Ingestor(engine).ingest_frame(sliced, include_accepted=True)
    assert _statuses(summary) == [(0, "ACCEPTED", 1), (1, "ACCEPTED", 1), (2, "ACCEPTED", 1)]
    assert _stored(engine) == [("a", 1, True, 1.0), ("c", 1, True, 3.0), ("e", 1, True, 5.0)]


def test_a_stored_key_last_in_a_batch_of_new_ones_rolls_the_all_new_attempt_back(engine: sa.Engine) -> None:
    """Both dialects first try a batch as new keys only (record_keys rows inserted at once; SQLite:
    records rows, under its partial unique index of current keys): a stored key found on the batch's
    last row undoes the rows inserted before it, and the batch is merged the ordinary way: each key
    once current, record_keys (PostgreSQL) naming its current revision."""
    ingestor = Ingestor(engine)
    ingestor.ingest_frame(_frame(("x", 1.0)))
    summary = ingestor.ingest_frame(_frame(("n1", 2.0), ("n2", 3.0), ("x", 10.0)), include_accepted=True)
    assert _statuses(summary) == [(0, "ACCEPTED", 1), (1, "ACCEPTED", 1), (2, "REVISED", 2)]
    assert _stored(engine) == [
        ("n1", 1, True, 2.0),
        ("n2", 1, True, 3.0),
        ("x", 1, False, 1.0),
        ("x", 2, True, 10.0),
    ]
    keyed = current_keys(engine.dialect.name).subquery()
    query = sa.select(keyed.c.external_id, keyed.c.revision).order_by(keyed.c.external_id)
    with engine.connect() as conn:
        assert [tuple(row) for row in conn.execute(query)] == [("n1", 1), ("n2", 1), ("x", 2)]


def test_one_external_id_under_two_sources_is_two_keys() -> None:
    """key_codes: rows numbered by key in order of first appearance; distinct external ids are the
    row numbers themselves."""
    frame = pd.DataFrame({"source": ["A", "B", "A", "A"], "external_id": ["x", "x", "y", "x"]})
    assert key_codes(frame).tolist() == [0, 1, 2, 0]
    assert key_codes(frame.iloc[1:3]).tolist() == [0, 1]


def test_a_new_batch_repeating_a_key_is_staged_with_one_current_row(engine: sa.Engine) -> None:
    """The all-new path (SQLite: records by executemany; PostgreSQL: column-wise binary COPY, and
    record_keys) stores every column as given: a key sent twice in one new batch is revision 1 and 2,
    only the second current, and the key names it; the batch's constants are on every row."""
    ingestor = Ingestor(engine)
    summary = ingestor.ingest_frame(
        _frame(("k", 1.5), ("m", -0.0), ("k", 2.25), ("it's", 1e-300)), include_accepted=True
    )
    assert _statuses(summary) == [
        (0, "ACCEPTED", 1),
        (1, "ACCEPTED", 1),
        (2, "REVISED", 2),
        (3, "ACCEPTED", 1),
    ]
    assert _stored(engine) == [
        ("it's", 1, True, 1e-300),
        ("k", 1, False, 1.5),
        ("k", 2, True, 2.25),
        ("m", 1, True, 0.0),
    ]
    columns = [
        records.c[c]
        for c in ("id", "external_id", "batch_id", "catalog_version", "ingest_time", "canonical_quantity")
    ]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*columns).order_by(records.c.id)).all()
        keyed = current_keys(engine.dialect.name).subquery()
        keys = dict(conn.execute(sa.select(keyed.c.external_id, keyed.c.record_id)).all())
        batch = conn.execute(sa.select(ingest_batches.c.id, ingest_batches.c.ingest_time)).one()
    assert {(r.batch_id, r.catalog_version) for r in rows} == {(batch.id, str(ingestor.catalog.version))}
    assert {r.ingest_time.replace(tzinfo=None) for r in rows} == {batch.ingest_time.replace(tzinfo=None)}
    assert [r.canonical_quantity for r in rows] == [1.5, 0.0, 2.25, 1e-300]  # the unit is the canonical one
    assert keys == {"k": rows[2].id, "m": rows[1].id, "it's": rows[3].id}
    if engine.dialect.name == "postgresql":  # SQLite stores a REAL -0.0 as the integer 0, whatever the path
        assert math.copysign(1.0, rows[1].canonical_quantity) == -1.0


def test_a_new_batch_repeating_keys_within_itself_is_merged_as_before(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's all-new attempt takes every row as its own key (no grouping of the keys): a key sent
    again in the same new batch, with the same content (DUPLICATE) or another (REVISED), makes the
    partial unique index refuse the attempt, and the ordinary merge judges the batch (the keys looked
    up once). Statuses, revisions and rows are what one merge with the keys grouped gives."""
    looked_up: list[int] = []
    lookup = record_merge.current_revisions

    def counted(conn: Any, staged: pd.DataFrame, group: Any = None) -> pd.DataFrame:
        looked_up.append(len(staged))
        return lookup(conn, staged, group)

    monkeypatch.setattr(record_merge, "current_revisions", counted)
    summary = Ingestor(engine).ingest_frame(
        _frame(("a", 1.0), ("b", 2.0), ("a", 1.0), ("c", 3.0), ("b", 5.0)), include_accepted=True
    )
    assert _statuses(summary) == [
        (0, "ACCEPTED", 1),
        (1, "ACCEPTED", 1),
        (2, "DUPLICATE", 1),
        (3, "ACCEPTED", 1),
        (4, "REVISED", 2),
    ]
    assert _stored(engine) == [
        ("a", 1, True, 1.0),
        ("b", 1, False, 2.0),
        ("b", 2, True, 5.0),
        ("c", 1, True, 3.0),
    ]
    assert _batches(engine) == [(5, 3, 1, 1, 0)]
    assert looked_up == ([5] if engine.dialect.name == "sqlite" else [])  # PostgreSQL groups first


def test_a_new_batch_written_in_chunks_keys_each_chunk_s_current_rows(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's all-new path writes chunk by chunk, a chunk's shared revision and is_current as
    literals: chunks of two, the first all new (shared values), the second repeating a key across
    the boundary (values differ), the last one row; every key names its current row
    once (PostgreSQL: in record_keys)."""
    monkeypatch.setattr(record_merge, "INSERT_CHUNK", 2)
    summary = Ingestor(engine).ingest_frame(
        _frame(("a", 1.0), ("b", 2.0), ("c", 3.0), ("a", 4.0), ("d", 5.0)), include_accepted=True
    )
    assert _statuses(summary) == [
        (0, "ACCEPTED", 1),
        (1, "ACCEPTED", 1),
        (2, "ACCEPTED", 1),
        (3, "REVISED", 2),
        (4, "ACCEPTED", 1),
    ]
    assert _stored(engine) == [
        ("a", 1, False, 1.0),
        ("a", 2, True, 4.0),
        ("b", 1, True, 2.0),
        ("c", 1, True, 3.0),
        ("d", 1, True, 5.0),
    ]
    current = sa.select(records.c.external_id, records.c.id, records.c.revision).where(records.c.is_current)
    key = current_keys(engine.dialect.name).subquery()
    keyed = sa.select(key.c.external_id, key.c.record_id, key.c.revision)
    with engine.connect() as conn:
        assert sorted(map(tuple, conn.execute(keyed))) == sorted(map(tuple, conn.execute(current)))


@pytest.mark.postgres
def test_binary_copy_payload_reads_back_as_row_by_row_copy(postgres_url: str) -> None:
    """The column-wise binary COPY tuples are what psycopg's write_row sends for the same values:
    quotes, commas, newlines, backslashes and non-ASCII text, extreme and negative-zero doubles, wide
    integers, booleans and the batch constants."""
    n = 500
    texts = pd.Series((['a"b', "", "x,y\nz", "é中\\t", "k\r"] * n)[:n], dtype="str")
    doubles = [0.0, -0.0, 1e21, 5e-324, 1.7976931348623157e308, 0.1, 123456789.125] * n
    frame = pd.DataFrame(
        {
            **{name: texts for name in ("uscc", "period", "category", "source", "unit", "canonical_unit")},
            "external_id": pd.Series([f"e{i}" for i in range(n)], dtype=object),
            "quantity": doubles[:n],
            "canonical_quantity": [-d for d in doubles[:n]],
            "content_hash": pd.Series(["f" * 64] * n, dtype=object),
            "revision": [2**31 - 1, 1] * (n // 2),
            "is_current": [True, False] * (n // 2),
            "id": [2**62, -5] * (n // 2),
        }
    )
    constants = {
        "batch_id": 123456789012,
        "catalog_version": "v1'x",
        "ingest_time": dt.datetime(2026, 12, 1, 4, 30, 1, 123456, tzinfo=dt.UTC),
    }
    columns = ", ".join(f"{name} {kind}" for name, kind in INSERTED.items())
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE by_row ({columns}); CREATE TEMPORARY TABLE by_column ({columns})"
            )
            driver: Any = conn.connection.driver_connection
            statement = f"COPY by_row ({', '.join(INSERTED)}) FROM STDIN (FORMAT BINARY)"
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                copy.set_types(list(INSERTED.values()))
                values = [[constants[c]] * n if c in constants else frame[c].tolist() for c in INSERTED]
                for row in zip(*values, strict=True):
                    copy.write_row(row)
            record_merge._copy_frame(conn, "by_column", INSERTED, frame, constants)
            each = "SELECT *, float8send(quantity), float8send(canonical_quantity) FROM {}"
            compare = f"SELECT count(*) FROM ({each} EXCEPT ALL {each}) AS s"
            assert conn.exec_driver_sql("SELECT count(*) FROM by_column").scalar_one() == n
            assert conn.exec_driver_sql(compare.format("by_row", "by_column")).scalar_one() == 0
            assert conn.exec_driver_sql(compare.format("by_column", "by_row")).scalar_one() == 0
    finally:
        engine.dispose()


def _typed_rows(engine: sa.Engine, table: sa.Table = records) -> list[tuple[Any, ...]]:
    """Every row's written columns but the batch's constants, with each value's SQLite type."""
    names = ["id", "external_id", "category", "source", "quantity", "unit", "canonical_quantity"]
    names += ["canonical_unit", "revision", "is_current", "content_hash"]
    columns = [table.c[name] for name in names]
    if engine.dialect.name == "sqlite":
        columns += [sa.func.typeof(table.c[name]) for name in names]
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(*columns).order_by(table.c.id))]


def test_a_chunk_s_values_bound_or_spelt_in_the_statement_are_stored_alike(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite binds only what varies in a chunk: a column with one value is a literal, canonical_quantity
    equal to quantity names quantity's parameter, canonical_unit and source (when the category gives
    it) are a CASE on the category, and a new batch's ids are SQLite's own (the largest plus one).
    Chunks of three spelling each case or not (units sent and converted, -0.0, several categories, one
    category from two sources, a non-ASCII unit, a quote in a key), then a
    correction batch (the ordinary path, ids bound): every row as the same rows inserted one by one,
    values bound, store them (a reference table on the same connection), types included; ids follow
    on."""
    monkeypatch.setattr(record_merge, "INSERT_CHUNK", 3)

    def frame(*rows: tuple[str, str, float, str] | tuple[str, str, float, str, str]) -> pd.DataFrame:
        sources = {"ELECTRICITY": "GRID_UTILITY", "NATURAL_GAS": "GAS_UTILITY", "REVENUE": "TAX"}
        return pd.DataFrame(
            [
                {"uscc": E1, "period": "2024-03", "category": r[1], "quantity": r[2], "unit": r[3]}
                | {"source": r[4] if len(r) > 4 else sources[r[1]], "external_id": r[0]}
                for r in rows
            ]
        )

    first = frame(
        ("u1", "ELECTRICITY", 1.5, ""),
        ("u2", "ELECTRICITY", 2.0, "MWh"),
        ("u3", "NATURAL_GAS", 3.25, ""),
        ("u4", "ELECTRICITY", 4.0, ""),
        ("u5", "ELECTRICITY", 5.0, "kWh", "SELF_REPORTED"),
        ("u6", "ELECTRICITY", -0.0, ""),
        ("u7", "NATURAL_GAS", 7.0, ""),
        ("u8", "REVENUE", 8.0, ""),
        ("it's", "ELECTRICITY", 9.0, ""),
        ("u10", "ELECTRICITY", 10.0, "万kWh"),
    )
    second = frame(
        ("u2", "ELECTRICITY", 3.0, "MWh"), ("u11", "REVENUE", 11.0, ""), ("u12", "NATURAL_GAS", 0.5, "")
    )
    ingestor = Ingestor(engine)
    assert ingestor.ingest_frame(first).accepted == 10
    outcome = ingestor.ingest_frame(second)
    assert (outcome.accepted, outcome.revised, outcome.rejected) == (2, 1, 0)
    stored = _typed_rows(engine)
    ids = [row[0] for row in stored]
    if engine.dialect.name == "sqlite":  # PostgreSQL's sequence keeps what the rolled-back attempt drew
        assert ids == list(range(1, 14))

    # The reference: the same rows checked as the ingest checks them, inserted one by one with every
    # value bound, into a table made like records.
    checked = [
        ingest.check_block(f, ingestor.catalog, today=dt.date(2026, 1, 1), first_index=0, max_scale=1e9)
        for f in (first, second)
    ]
    columns = (sa.Column(c.name, c.type, primary_key=c.primary_key) for c in records.columns)
    reference = sa.Table("records_reference", sa.MetaData(), *columns)
    with engine.begin() as conn:
        reference.create(conn)
        rows = [
            {**row, "id": id_, "revision": 2 if row["external_id"] == "u2" and n else 1, "is_current": True}
            for id_, (n, row) in zip(
                ids, ((n, r) for n, c in enumerate(checked) for r in c.to_dict("records")), strict=True
            )
        ]
        for row in rows:
            row.update(batch_id=1, catalog_version="x", ingest_time=dt.datetime(2026, 1, 1))
            if row["external_id"] == "u2" and row["revision"] == 1:
                row["is_current"] = False
            conn.execute(reference.insert().values({c.name: row[c.name] for c in reference.columns}))
    assert _typed_rows(engine, reference) == stored
