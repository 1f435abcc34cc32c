"""Writing a batch of validated records set-based: classify each row against the stored current
revision of its key (new / identical / revision), store the new rows, retire the superseded ones.

PostgreSQL: the rows are COPYed (binary) into a temporary staging table; one statement classifies them
all (window functions over each key's rows in batch order, joined to the current revisions), and one
INSERT ... SELECT stores them. SQLite: the current revisions of the batch's keys are read by a join
with a temporary key table, rows are classified in pandas (``classify``) and inserted with one prepared
statement per chunk. Both give the same answer (tests/integration/test_record_merge.py).

The rules, whatever the database: against the content its key has just before it (the stored current
revision for the first row of a key in the batch, else the previous row of that key in the batch) a
row is DUPLICATE (same content hash: nothing stored) or the next revision (ACCEPTED when it is the
key's first, REVISED otherwise). Only the key's last new row of the batch is current; the previously
current row is retired (is_current false), never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection

from registry_service.storage import IN_LIST_CHUNK, chunked
from registry_service.storage.tables import enterprises, records

ACCEPTED, DUPLICATE, REVISED = "ACCEPTED", "DUPLICATE", "REVISED"
KEY = ["source", "external_id"]
INSERT_CHUNK = 20_000
SQLITE_CACHE_KIB = 131_072  # page cache of the ingest's connection while it writes (default is 2 MiB)

# Staged columns and their PostgreSQL types; ``ord`` is the frame's ``index`` (the row's position in
# the ingest, which orders same-key rows).
STAGED: dict[str, str] = {
    "ord": "int8",
    "uscc": "text",
    "period": "text",
    "category": "text",
    "source": "text",
    "external_id": "text",
    "quantity": "float8",
    "unit": "text",
    "canonical_quantity": "float8",
    "canonical_unit": "text",
    "content_hash": "text",
}
# Inserted columns taken from the staged rows, besides revision/is_current and the batch's constants.
_CONTENT = [c for c in STAGED if c != "ord"]


@dataclass(frozen=True)
class Merged:
    counts: Mapping[str, int]  # ACCEPTED / DUPLICATE / REVISED -> rows
    listed: pd.DataFrame  # index, status, revision: every row, or all but ACCEPTED ones
    touched: list[str]  # enterprises whose records changed (new rows, and the ones a correction left)


OpenBatch = Callable[[Mapping[str, int]], int]  # counts -> the ingest_batches id the rows belong to


def merge(
    conn: Connection,
    staged: pd.DataFrame,
    open_batch: OpenBatch,
    constants: Mapping[str, Any],
    *,
    include_accepted: bool,
) -> Merged:
    """Classify and store ``staged`` (columns STAGED) in the caller's transaction. ``constants`` are
    the batch's catalog_version and ingest_time; ``open_batch`` inserts the batch row given the counts."""
    lock_enterprises(conn, pd.unique(staged["uscc"]).tolist())
    if conn.dialect.name == "postgresql":
        return _merge_postgres(conn, staged, open_batch, constants, include_accepted)
    return _merge_sqlite(conn, staged, open_batch, constants, include_accepted)


def lock_enterprises(conn: Connection, usccs: list[str]) -> None:
    """What the dropped foreign key guaranteed, once per enterprise instead of once per row: every
    enterprise written for exists, and (PostgreSQL) cannot be deleted before this transaction ends."""
    found = 0
    for chunk in chunked(usccs, IN_LIST_CHUNK):
        query = sa.select(sa.func.count()).where(enterprises.c.uscc.in_(chunk))
        if conn.dialect.name == "postgresql":
            locked = (
                sa.select(enterprises.c.uscc)
                .where(enterprises.c.uscc.in_(chunk))
                .with_for_update(key_share=True)
            )
            query = sa.select(sa.func.count()).select_from(locked.subquery())
        found += int(conn.execute(query).scalar_one())
    if found != len(usccs):  # the ingest rejected unknown ones: only a concurrent deletion gets here
        raise RuntimeError(f"{len(usccs) - found} of the batch's enterprises vanished during the ingest")


# --- PostgreSQL ------------------------------------------------------------------------------------

_STAGE, _PLAN = "ingest_staged", "ingest_plan"
# Byte order ("C") for the per-key windows: the same groups, sorted without the locale's rules.
_KEY_ORDER = 'PARTITION BY s.source COLLATE "C", s.external_id COLLATE "C"'
_STATUS = f"""CASE WHEN NOT new THEN '{DUPLICATE}' WHEN revision = 1 THEN '{ACCEPTED}' ELSE '{REVISED}' END"""
_CURRENT = f"""
    LEFT JOIN records r ON r.source = s.source AND r.external_id = s.external_id AND r.is_current"""
# Every key once in the batch (the usual case): each row is judged against its stored current row.
_CLASSIFY_SINGLE = f"""
CREATE TEMPORARY TABLE {_PLAN} ON COMMIT DROP AS
WITH judged AS (
    SELECT s.*, r.id AS current_id, s.content_hash IS DISTINCT FROM r.content_hash AS new,
           coalesce(r.revision, 0) + (s.content_hash IS DISTINCT FROM r.content_hash)::int AS revision
    FROM {_STAGE} s {_CURRENT}
)
SELECT *, new AS is_current, {_STATUS} AS status FROM judged
"""
# Keys repeated in the batch: each row against the one before it (its key's rows in batch order).
_CLASSIFY_SEQUENCE = f"""
CREATE TEMPORARY TABLE {_PLAN} ON COMMIT DROP AS
WITH judged AS (
    SELECT s.*, r.id AS current_id, coalesce(r.revision, 0) AS base,
           s.content_hash IS DISTINCT FROM
               coalesce(lag(s.content_hash) OVER ({_KEY_ORDER} ORDER BY s.ord), r.content_hash) AS new
    FROM {_STAGE} s {_CURRENT}
), numbered AS (
    SELECT *, base + sum(new::int) OVER ({_KEY_ORDER.replace("s.", "")} ORDER BY ord) AS revision
    FROM judged s
)
SELECT *, new AND revision = max(revision) OVER ({_KEY_ORDER.replace("s.", "")}) AS is_current,
       {_STATUS} AS status
FROM numbered
"""
_RETIRE = f"""
WITH retired AS (
    UPDATE records r SET is_current = false FROM {_PLAN} p
    WHERE p.is_current AND p.current_id = r.id
    RETURNING r.uscc
)
SELECT DISTINCT uscc FROM retired
"""
_INSERT = f"""
INSERT INTO records ({", ".join(_CONTENT)}, revision, is_current, batch_id, catalog_version, ingest_time)
SELECT {", ".join(_CONTENT)}, revision, is_current, :batch_id, :catalog_version, :ingest_time
FROM {_PLAN} WHERE new ORDER BY ord
"""


def _merge_postgres(
    conn: Connection,
    staged: pd.DataFrame,
    open_batch: OpenBatch,
    constants: Mapping[str, Any],
    listed_all: bool,
) -> Merged:
    columns = ", ".join(f"{name} {kind}" for name, kind in STAGED.items())
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {_STAGE} ({columns}) ON COMMIT DROP")
    copy_rows(conn, _STAGE, staged)
    conn.exec_driver_sql(f"ANALYZE {_STAGE}")  # temporary tables are never auto-analysed: plan the join
    repeated = bool(staged.duplicated(KEY).any())
    conn.exec_driver_sql(_CLASSIFY_SEQUENCE if repeated else _CLASSIFY_SINGLE)
    counts = {
        str(s): int(n)
        for s, n in conn.exec_driver_sql(f"SELECT status, count(*) FROM {_PLAN} GROUP BY status")
    }
    batch_id = open_batch(counts)
    left = [
        str(u) for u in conn.exec_driver_sql(_RETIRE).scalars()
    ]  # before the insert: one current row per key
    conn.execute(sa.text(_INSERT), {"batch_id": batch_id, **constants})
    where = "" if listed_all else f"WHERE status <> '{ACCEPTED}'"
    listed = pd.DataFrame(
        conn.exec_driver_sql(f"SELECT ord, status, revision FROM {_PLAN} {where} ORDER BY ord").all(),
        columns=["index", "status", "revision"],
    )
    added = [str(u) for u in conn.exec_driver_sql(f"SELECT DISTINCT uscc FROM {_PLAN} WHERE new").scalars()]
    conn.exec_driver_sql(f"DROP TABLE {_PLAN}, {_STAGE}")  # a second ingest in the same transaction
    return Merged(counts, listed, [*added, *left])


def copy_rows(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    """Binary COPY FROM STDIN of ``frame`` (columns STAGED) on the connection's own psycopg connection,
    inside the current transaction. Errors are raised as SQLAlchemy would wrap them (retries rely on it)."""
    driver: Any = conn.connection.driver_connection
    statement = f"COPY {table} ({', '.join(STAGED)}) FROM STDIN (FORMAT BINARY)"
    kinds = {"int8": np.int64, "float8": np.float64, "text": object}
    columns = [
        frame["index" if c == "ord" else c].to_numpy(dtype=kinds[t]).tolist() for c, t in STAGED.items()
    ]
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(list(STAGED.values()))
            for row in zip(*columns, strict=True):
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc


# --- SQLite ----------------------------------------------------------------------------------------


def _merge_sqlite(
    conn: Connection,
    staged: pd.DataFrame,
    open_batch: OpenBatch,
    constants: Mapping[str, Any],
    listed_all: bool,
) -> Merged:
    plan = classify(staged, current_revisions(conn, staged))
    counts = {str(s): int(n) for s, n in plan["status"].value_counts().items()}
    batch_id = open_batch(counts)
    superseded = plan.loc[plan["supersedes"], "current_id"].astype(np.int64).unique().tolist()
    left: set[str] = set()  # a correction may move a record to another enterprise (account)
    for ids in chunked(superseded):  # before inserting: at most one current row per key, always
        conn.execute(records.update().where(records.c.id.in_(ids)).values(is_current=False))
        left.update(conn.execute(sa.select(records.c.uscc).where(records.c.id.in_(ids))).scalars())
    stored = plan[plan["status"] != DUPLICATE]
    with _page_cache(conn):
        _insert_sqlite(conn, stored, {"batch_id": batch_id, **constants})
    listed = plan if listed_all else plan[plan["status"] != ACCEPTED]
    return Merged(
        counts, listed[["index", "status", "revision"]], [*pd.unique(stored["uscc"]).tolist(), *left]
    )


def current_revisions(conn: Connection, staged: pd.DataFrame) -> pd.DataFrame:
    """The current stored row (id, revision, content_hash) of every key in ``staged``: one join with a
    temporary table of the keys (the predicate spelt as the partial index's, so SQLite uses it)."""
    keys = staged[KEY].drop_duplicates()
    raw: Any = conn.connection.driver_connection
    raw.execute("CREATE TEMPORARY TABLE IF NOT EXISTS ingest_keys (source TEXT, external_id TEXT)")
    try:
        pairs = zip(*(keys[c].to_numpy(dtype=object).tolist() for c in KEY), strict=True)
        raw.executemany("INSERT INTO ingest_keys VALUES (?, ?)", pairs)
        found = raw.execute(
            "SELECT r.source, r.external_id, r.id, r.revision, r.content_hash FROM ingest_keys k "
            "JOIN records r ON r.source = k.source AND r.external_id = k.external_id AND r.is_current = 1"
        ).fetchall()
    finally:
        raw.execute("DELETE FROM ingest_keys")
    return pd.DataFrame(found, columns=[*KEY, "current_id", "current_revision", "current_hash"])


def classify(staged: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Status and revision of each staged row, in row order, with same-key rows applied in sequence."""
    plan = staged.merge(current, on=KEY, how="left", sort=False)
    keys = [plan["source"], plan["external_id"]]
    previous = plan.groupby(keys, sort=False)["content_hash"].shift(1)
    previous = previous.where(previous.notna(), plan["current_hash"])
    new = (plan["content_hash"] != previous).to_numpy(dtype=bool)
    base = plan["current_revision"].fillna(0).to_numpy(dtype=np.int64)
    revision = base + pd.Series(new, index=plan.index).groupby(keys, sort=False).cumsum().to_numpy(np.int64)
    plan["revision"] = revision
    plan["status"] = np.where(~new, DUPLICATE, np.where(revision == 1, ACCEPTED, REVISED))
    last = pd.Series(np.where(new, revision, 0), index=plan.index).groupby(keys, sort=False).transform("max")
    plan["is_current"] = new & (revision == last.to_numpy())
    plan["supersedes"] = plan["is_current"] & plan["current_id"].notna()
    return plan


@contextmanager
def _page_cache(conn: Connection) -> Iterator[None]:
    """A larger SQLite page cache while one ingest writes (the default 2 MiB spills the indexes' pages
    to the WAL mid-transaction); the connection's own size is put back afterwards (it is pooled)."""
    raw: Any = conn.connection.driver_connection
    before = int(raw.execute("PRAGMA cache_size").fetchone()[0])
    raw.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size={before}")


def _insert_sqlite(conn: Connection, rows: pd.DataFrame, constants: Mapping[str, Any]) -> None:
    """One executemany per chunk of a prepared INSERT; values as plain Python values (SQLAlchemy's
    per-row parameter processing cost as much as the insert). The one value needing the dialect's
    conversion (the batch's ingest_time, a constant) is converted once."""
    fixed = {name: _bound(conn, name, value) for name, value in constants.items()}
    names = [*_CONTENT, "revision", "is_current", *fixed]
    statement = f"INSERT INTO records ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    raw: Any = conn.connection.driver_connection
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows.iloc[start : start + INSERT_CHUNK]
        columns = [_plain(chunk, name) for name in [*_CONTENT, "revision", "is_current"]]
        columns += [[value] * len(chunk) for value in fixed.values()]
        try:
            raw.executemany(statement, zip(*columns, strict=True))
        except conn.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc


_DTYPES: dict[str, Any] = {
    "revision": np.int64,
    "is_current": np.bool_,
    "quantity": np.float64,
    "canonical_quantity": np.float64,
}


def _plain(frame: pd.DataFrame, name: str) -> list[Any]:
    return frame[name].to_numpy(dtype=_DTYPES.get(name, object)).tolist()


def _bound(conn: Connection, name: str, value: Any) -> Any:
    """``value`` converted as SQLAlchemy would bind it to records.``name`` on this dialect."""
    processor = records.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return processor(value) if processor else value
