"""Writing a batch of validated records set-based: classify each row against the stored current
revision of its key (new / identical / revision), store the new rows, retire the superseded ones.

One pass whatever the size: the batch's distinct keys go into a temporary table (binary COPY on
PostgreSQL, one executemany on SQLite) and one join returns their current revisions; ``classify``
judges every row at once (pandas); one UPDATE per id chunk retires the superseded rows; the new rows
go in by binary COPY (PostgreSQL; its tuples built column-wise, storage.binary_copy) or, on SQLite,
one prepared INSERT per chunk. A key's current revision is its record_keys row on PostgreSQL (kept
by the ingest) and, on SQLite, its current records row (a partial unique index keeps one a key,
0018_ingest8_sqlite_key). Measured on PostgreSQL
15, 300k rows into the table as migrated (backend CPU): COPY 1.5 s, INSERT ... SELECT from a staging
table 2.3 s plus 0.7 s to stage and classify there, so the rows are classified here and COPYed once.

The rules: against the content its key has just before it (the stored current revision for the first
row of a key in the batch, else the previous row of that key in the batch) a row is DUPLICATE (same
content hash: nothing stored) or the next revision (ACCEPTED when it is the key's first, REVISED
otherwise). Only the key's last new row of the batch is current; the previously current row is
retired (is_current false), never overwritten.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import Connection

from registry_service.domain.records import TEXT
from registry_service.storage import IN_LIST_CHUNK, binary_copy, chunked
from registry_service.storage.record_partitions import ensure_years, years_of
from registry_service.storage.tables import enterprises, record_keys, records

ACCEPTED, DUPLICATE, REVISED = "ACCEPTED", "DUPLICATE", "REVISED"
KEY = ["source", "external_id"]
# Where a key's current row is: records' primary key on PostgreSQL is (uscc, period, category, id).
LOCATION = ["current_uscc", "current_period", "current_category"]
INSERT_CHUNK = 20_000
RETIRE_CHUNK = 50_000
# Page cache of the ingest's connection while it writes (SQLite's default is 2 MiB). A 1M-record batch
# dirties 92k pages, its two indexes 129 MB of them (dbstat): at 128 MiB the cache spilled index pages
# to the WAL mid-transaction and wrote them again when the next rows dirtied them (1M fresh records:
# 500k pwrite and 192k pread calls, a 0.8 GB WAL; at 512 MiB 283k and 100k, 0.39 GB). Memory is taken
# as pages are used; the size is put back after each merge, and the pages freed as the commit cleans
# them.
SQLITE_CACHE_KIB = 524_288
_KEYS = "ingest_keys"  # the temporary table of the batch's keys
CURRENT_KEY = "uq_records_current_key"  # SQLite: records' partial unique index (source, external_id)

# Inserted columns and their PostgreSQL types (binary COPY); the last three are the batch's constants.
INSERTED: dict[str, str] = {
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
    "revision": "int4",
    "is_current": "bool",
    "batch_id": "int8",
    "catalog_version": "text",
    "ingest_time": "timestamptz",
    "id": "int8",
}
# The record_keys row of each key given a new current revision.
KEY_COLUMNS: dict[str, str] = {
    "source": "text",
    "external_id": "text",
    "record_id": "int8",
    "uscc": "text",
    "period": "text",
    "category": "text",
    "revision": "int4",
    "content_hash": "text",
}
# The staged columns (SQLite): the inserted ones but the batch's constants.
STAGED = [name for name in INSERTED if name not in ("batch_id", "catalog_version", "ingest_time")]
_DTYPES: dict[str, Any] = {"float8": np.float64, "int4": np.int64, "int8": np.int64, "bool": np.bool_}


@dataclass(frozen=True)
class Merged:
    counts: Mapping[str, int]  # ACCEPTED / DUPLICATE / REVISED -> rows
    listed: pd.DataFrame  # index, status, revision: every row, or all but ACCEPTED ones
    touched: list[str]  # enterprises whose records changed (new rows, and the ones a correction left)


def merge(
    conn: Connection,
    staged: pd.DataFrame,
    batch_id: int,
    constants: Mapping[str, Any],
    *,
    include_accepted: bool,
    assume_new: bool = False,
) -> Merged:
    """Classify and store ``staged`` (index, the record columns, content_hash) in the caller's
    transaction, as rows of ingest batch ``batch_id``; ``constants`` are the batch's catalog_version
    and ingest_time. Blocks of one batch may be merged one after the other in the same transaction:
    each is judged against what the previous ones stored, which is what one merge of all would do.

    ``assume_new``: first try the block as if none of its keys were stored, i.e. insert their
    record_keys rows (SQLite: their records rows) straight away; if one was (record_keys' primary key,
    SQLite's partial unique index on records refuses it), that attempt is rolled back to a savepoint
    and the block is merged the ordinary way. A batch of new records so skips the lookup (a quarter
    of the database's work for them on PostgreSQL; on SQLite the keys' temporary table, the join and
    the classification's merge, ~1 µs a record)."""
    postgres = conn.dialect.name == "postgresql"
    with nullcontext() if postgres else _page_cache(conn):
        return _merge(conn, staged, batch_id, constants, include_accepted, assume_new)


def _merge(
    conn: Connection,
    staged: pd.DataFrame,
    batch_id: int,
    constants: Mapping[str, Any],
    include_accepted: bool,
    assume_new: bool,
) -> Merged:
    lock_enterprises(conn, pd.unique(staged["uscc"]).tolist())
    postgres = conn.dialect.name == "postgresql"
    constants = {"batch_id": batch_id, **constants}
    attempt = _all_new(conn, staged, constants) if assume_new else None
    if attempt is None:
        group = key_codes(staged)
        plan = classify(staged, current_revisions(conn, staged, group), group)
        stored = _numbered(conn, plan)
        if postgres:  # first: a lost race fails early (SQLite's index follows is_current by itself)
            _point_keys(conn, stored[stored["is_current"].to_numpy(dtype=bool)])
    else:
        plan, stored = attempt
    counts = {str(s): int(n) for s, n in plan["status"].value_counts().items()}
    left = _retire(conn, plan[plan["supersedes"]])
    if postgres:
        ensure_years(conn, years_of(pd.unique(stored["period"]).tolist()), set())
    if attempt is None or postgres:  # SQLite's all-new attempt stored the rows already
        _insert(conn, stored, constants)
    listed = plan if include_accepted else plan[plan["status"] != ACCEPTED]
    return Merged(
        counts, listed[["index", "status", "revision"]], [*pd.unique(stored["uscc"]).tolist(), *left]
    )


def _numbered(conn: Connection, plan: pd.DataFrame) -> pd.DataFrame:
    """The rows to store (all but duplicates), each with its new id."""
    stored = plan[plan["status"] != DUPLICATE]
    return stored.assign(id=_new_ids(conn, len(stored)))


def _all_new(
    conn: Connection, staged: pd.DataFrame, constants: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(plan, stored) of the block judged as if none of its keys were stored, their record_keys rows
    inserted (on SQLite their records rows, ``_store_staged``); None (nothing left written) when some
    key was. On SQLite the block is also taken to repeat no key (each row its own key, without
    grouping the keys: ``key_codes`` hashed every external id, ~410 instructions a record, 1 % of the
    writer's): a repeated one would be two current rows of one key, which the partial unique index
    refuses as it refuses a stored key, and the block is then merged the ordinary way, repeats
    grouped."""
    postgres = conn.dialect.name == "postgresql"
    group = key_codes(staged) if postgres else np.arange(len(staged), dtype=np.int64)
    nothing = pd.DataFrame(columns=[*KEY, "current_id", "current_revision", "current_hash", *LOCATION])
    plan = classify(staged, nothing, group)
    stored = _numbered(conn, plan)
    savepoint = conn.begin_nested()
    try:
        if not postgres:
            _store_staged(conn, stored, constants)
        else:
            _insert_keys(conn, stored[stored["is_current"].to_numpy(dtype=bool)])
    except sa.exc.DBAPIError as exc:
        savepoint.rollback()
        if _duplicate_key(exc):  # a key is stored: judge it against that
            return None
        raise
    savepoint.commit()
    return plan, stored


def _duplicate_key(exc: sa.exc.DBAPIError) -> bool:
    """A unique violation: PostgreSQL's SQLSTATE 23505; SQLite's IntegrityError (the ingest's records
    rows, with new ids and no NULLs, can break no other constraint than the current key's index)."""
    if getattr(exc.orig, "sqlstate", None) == "23505":
        return True
    return isinstance(exc, sa.exc.IntegrityError) and not hasattr(exc.orig, "sqlstate")


def combined(parts: list[Merged]) -> Merged:
    """The merges of a batch's blocks as one."""
    counts: dict[str, int] = {}
    for part in parts:
        for status, n in part.counts.items():
            counts[status] = counts.get(status, 0) + n
    listed = [p.listed for p in parts if len(p.listed)]
    frame = (
        pd.concat(listed, ignore_index=True)
        if listed
        else pd.DataFrame(columns=["index", "status", "revision"])
    )
    return Merged(counts, frame, [u for p in parts for u in p.touched])


def lock_enterprises(conn: Connection, usccs: list[str]) -> None:
    """What a foreign key guaranteed, once per enterprise instead of once per row: every enterprise
    written for exists, and (PostgreSQL) cannot be deleted before this transaction ends (SQLite's
    writer holds the database's write lock already)."""
    found = 0
    postgres = conn.dialect.name == "postgresql"
    for chunk in chunked(usccs, IN_LIST_CHUNK):
        present = sa.select(enterprises.c.uscc).where(enterprises.c.uscc.in_(chunk))
        if postgres:
            present = present.with_for_update(key_share=True)
        found += int(conn.execute(sa.select(sa.func.count()).select_from(present.subquery())).scalar_one())
    if found != len(usccs):  # the ingest rejected unknown ones: only a concurrent deletion gets here
        raise RuntimeError(f"{len(usccs) - found} of the batch's enterprises vanished during the ingest")


def key_codes(staged: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Each row's key as a number (0.. in order of first appearance): the batch's keys factorised once
    for both the lookup and the classification (each did it again: 300k text keys, twice). When the
    external ids alone are distinct, so are the keys, and the codes are the row numbers: checking that
    costs a third of grouping by both columns (the usual case, a batch without repeats)."""
    if staged["external_id"].is_unique:
        return np.arange(len(staged), dtype=np.int64)
    return staged.groupby(KEY, sort=False).ngroup().to_numpy(dtype=np.int64)


def current_revisions(
    conn: Connection, staged: pd.DataFrame, group: npt.NDArray[np.int64] | None = None
) -> pd.DataFrame:
    """The current stored revision (record id, revision, content_hash, where it is) of every key in
    ``staged``, by one join of a temporary table of the keys with record_keys on PostgreSQL (never the
    partitioned records), with records' current rows on SQLite (its partial unique index).
    ``group``: key_codes(staged), when known."""
    group = key_codes(staged) if group is None else group
    repeated = len(group) > 0 and int(group.max()) + 1 < len(group)
    keys = staged[KEY].iloc[np.unique(group, return_index=True)[1]] if repeated else staged[KEY]
    columns = [keys[c].to_numpy(dtype=object).tolist() for c in KEY]
    raw: Any = conn.connection.driver_connection
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        query = (
            "SELECT r.source, r.external_id, r.record_id, r.revision, r.content_hash,"
            " r.uscc, r.period, r.category"
            f" FROM {_KEYS} k "
            f"JOIN {record_keys.name} r ON r.source = k.source AND r.external_id = k.external_id"
        )
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {_KEYS} (source text, external_id text) ON COMMIT DROP")
        _copy(conn, _KEYS, {"source": "text", "external_id": "text"}, columns)
        conn.exec_driver_sql(f"ANALYZE {_KEYS}")  # temporary tables are never auto-analysed: plan the join
        found = conn.exec_driver_sql(query).all()
        conn.exec_driver_sql(f"DROP TABLE {_KEYS}")  # a second ingest in the same transaction
    else:
        query = (
            "SELECT r.source, r.external_id, r.id, r.revision, r.content_hash, r.uscc, r.period, r.category"
            f" FROM {_KEYS} k JOIN records r INDEXED BY {CURRENT_KEY}"
            " ON r.source = k.source AND r.external_id = k.external_id AND r.is_current = 1"
        )
        raw.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_KEYS} (source TEXT, external_id TEXT)")
        try:
            raw.executemany(f"INSERT INTO {_KEYS} VALUES (?, ?)", zip(*columns, strict=True))
            found = raw.execute(query).fetchall()
        finally:
            raw.execute(f"DELETE FROM {_KEYS}")
    return pd.DataFrame(found, columns=[*KEY, "current_id", "current_revision", "current_hash", *LOCATION])


def _retire(conn: Connection, superseded: pd.DataFrame) -> list[str]:
    """Mark superseded rows not current; returns their enterprises (a correction may move a record to
    another enterprise, by utility account). PostgreSQL: each row found by its primary key (uscc,
    period, category, id), which record_keys gave; SQLite: by id."""
    if superseded.empty:
        return []
    ids = superseded["current_id"].astype(np.int64).tolist()
    if conn.dialect.name != "postgresql":
        left: set[str] = set()
        for chunk in chunked(ids, IN_LIST_CHUNK):
            retired = records.update().where(records.c.id.in_(chunk)).values(is_current=False)
            left.update(conn.execute(retired.returning(records.c.uscc)).scalars())
        return sorted(left)
    where = {
        "ids": ids,
        **{
            name: superseded[f"current_{name}"].to_numpy(dtype=object).tolist()
            for name in ("uscc", "period", "category")
        },
    }
    for start in range(0, len(ids), RETIRE_CHUNK):
        # Arrays instead of tens of thousands of bound values.
        conn.exec_driver_sql(
            "UPDATE records r SET is_current = false FROM unnest(%(uscc)s::text[], %(period)s::text[],"
            " %(category)s::text[], %(ids)s::bigint[]) AS t(uscc, period, category, id)"
            " WHERE r.uscc = t.uscc AND r.period = t.period AND r.category = t.category AND r.id = t.id",
            {name: values[start : start + RETIRE_CHUNK] for name, values in where.items()},
        )
    return sorted(set(where["uscc"]))


def _new_ids(conn: Connection, n: int) -> npt.NDArray[np.int64]:
    """ids for ``n`` new records, given here because record_keys names them too. PostgreSQL: n values
    of records' sequence in one statement; they are the whole range min..max when no other session
    drew in between (nearly always), else they are fetched one by one. SQLite: after the largest id
    (its writer lock is held: the batch row was written first)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if conn.dialect.name != "postgresql":
        top = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(records.c.id), 0))).scalar_one())
        return np.arange(top + 1, top + 1 + n, dtype=np.int64)
    # The sequence named once: pg_get_serial_sequence() in the select list ran per row (1.1 s of
    # backend CPU per 300k ids, against 0.12 s).
    sequence = conn.exec_driver_sql("SELECT pg_get_serial_sequence('records', 'id')").scalar_one()
    draw = f"SELECT nextval('{sequence}') FROM generate_series(1, {int(n)})"
    low, high = conn.exec_driver_sql(f"SELECT min(v), max(v) FROM ({draw}) AS s(v)").one()
    if high - low + 1 == n:  # n distinct values in a range of n: exactly that range
        return np.arange(low, high + 1, dtype=np.int64)
    return np.asarray(conn.exec_driver_sql(draw).scalars().all(), dtype=np.int64)


def _point_keys(conn: Connection, current: pd.DataFrame) -> None:
    """PostgreSQL: record_keys to the keys' new current rows: new keys inserted (a concurrent ingest of
    the same new key makes one of the two fail on the primary key), known keys updated only from the
    revision this ingest read; a row that moved on meanwhile means a concurrent ingest won, and the
    ingest is re-run (serialization failure) on the winner's revisions."""
    known = current["current_id"].notna().to_numpy()
    _insert_keys(conn, current[~known])
    moved = current[known]
    if len(moved) and _moved_on(conn, moved):
        message = "a concurrent ingest changed the current revision of some of these records"
        # Raised by the server, so it is retried like any lost race.
        conn.exec_driver_sql(
            f"DO $$BEGIN RAISE EXCEPTION '{message}' USING ERRCODE = 'serialization_failure'; END$$"
        )


def _insert_keys(conn: Connection, fresh: pd.DataFrame) -> None:
    """record_keys rows of keys stored for the first time, by COPY (PostgreSQL)."""
    if not fresh.empty:
        _copy_frame(conn, record_keys.name, KEY_COLUMNS, fresh, {})


def _moved_on(conn: Connection, moved: pd.DataFrame) -> bool:
    """Update the known keys' record_keys rows from the revision read (PostgreSQL); True if some had
    moved on."""
    values = {
        "source": moved["source"].to_numpy(dtype=object).tolist(),
        "external_id": moved["external_id"].to_numpy(dtype=object).tolist(),
        "record_id": moved["id"].to_numpy(dtype=np.int64).tolist(),
        "uscc": moved["uscc"].to_numpy(dtype=object).tolist(),
        "period": moved["period"].to_numpy(dtype=object).tolist(),
        "category": moved["category"].to_numpy(dtype=object).tolist(),
        "revision": moved["revision"].to_numpy(dtype=np.int64).tolist(),
        "content_hash": moved["content_hash"].to_numpy(dtype=object).tolist(),
        "expected": moved["current_revision"].to_numpy(dtype=np.int64).tolist(),
    }
    statement = (
        f"UPDATE {record_keys.name} k SET record_id = t.record_id, uscc = t.uscc, period = t.period,"
        " category = t.category, revision = t.revision, content_hash = t.content_hash"
        " FROM unnest(%(source)s::text[], %(external_id)s::text[], %(record_id)s::bigint[],"
        " %(uscc)s::text[], %(period)s::text[], %(category)s::text[], %(revision)s::int[],"
        " %(content_hash)s::text[], %(expected)s::int[])"
        " AS t(source, external_id, record_id, uscc, period, category, revision, content_hash, expected)"
        " WHERE k.source = t.source AND k.external_id = t.external_id AND k.revision = t.expected"
    )
    updated = 0
    for start in range(0, len(moved), RETIRE_CHUNK):
        chunk = {name: column[start : start + RETIRE_CHUNK] for name, column in values.items()}
        updated += conn.exec_driver_sql(statement, chunk).rowcount
    return updated != len(moved)


def _sqlite_many(conn: Connection, statement: str, rows: Any) -> int:
    """executemany on the sqlite3 connection, errors wrapped as SQLAlchemy would; rows changed."""
    raw: Any = conn.connection.driver_connection
    try:
        return int(raw.executemany(statement, rows).rowcount)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc


def _insert(conn: Connection, rows: pd.DataFrame, constants: Mapping[str, Any]) -> None:
    if conn.dialect.name == "postgresql":
        _copy_frame(conn, records.name, INSERTED, rows, constants)
        return
    _insert_sqlite(conn, rows, constants)


def _copy(conn: Connection, table: str, types: Mapping[str, str], columns: list[list[Any]]) -> None:
    """Binary COPY FROM STDIN on the connection's own psycopg connection, inside the current
    transaction. Errors are raised as SQLAlchemy would wrap them (the retry logic relies on it)."""
    driver: Any = conn.connection.driver_connection
    statement = f"COPY {table} ({', '.join(types)}) FROM STDIN (FORMAT BINARY)"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(list(types.values()))
            for row in zip(*columns, strict=True):
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc


def _copy_frame(
    conn: Connection, table: str, types: Mapping[str, str], frame: pd.DataFrame, constants: Mapping[str, Any]
) -> None:
    """Binary COPY FROM STDIN of ``frame``'s columns named in ``types`` (record_keys.record_id is the
    rows' id; a name in ``constants`` is that value on every row), the tuples built column-wise
    (registry_service.storage.binary_copy), inside the current transaction. Errors are raised as
    SQLAlchemy would wrap them (the retry logic relies on it)."""
    values = {
        name: constants[name] if name in constants else _column(frame, name, kind)
        for name, kind in types.items()
    }
    data = binary_copy.payload(types, values, len(frame))
    driver: Any = conn.connection.driver_connection
    statement = f"COPY {table} ({', '.join(data.columns)}) FROM STDIN (FORMAT BINARY)"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(binary_copy.HEADER)
            copy.write(memoryview(data.data))
            copy.write(binary_copy.TRAILER)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc


def _column(frame: pd.DataFrame, name: str, kind: str) -> Any:
    column = frame["id" if name == "record_id" else name]
    dtype = _DTYPES.get(kind)
    return column if dtype is None else column.to_numpy(dtype=dtype)


_STATUS_TEXTS = pa.array([DUPLICATE, ACCEPTED, REVISED], type=pa.large_string())  # by classify's codes


def classify(
    staged: pd.DataFrame, current: pd.DataFrame, group: npt.NDArray[np.int64] | None = None
) -> pd.DataFrame:
    """Status and revision of each staged row, in row order, with same-key rows applied in sequence.
    ``group``: key_codes(staged), when known."""
    if current.empty:  # a fresh batch: nothing to join (the join alone cost as much as the rest)
        plan = staged.assign(current_id=np.nan, current_revision=np.nan, current_hash=None)
    else:
        plan = staged.merge(current, on=KEY, how="left", sort=False)
    if group is None:  # the left join keeps staged's rows and their order: staged's codes are plan's
        group = key_codes(staged)
    repeated = len(group) > 0 and int(group.max()) + 1 < len(group)
    if current.empty and not repeated:  # every row its key's first content: new (no hashes taken out)
        new = np.ones(len(plan), dtype=bool)
    else:
        current_hash = plan["current_hash"].to_numpy(dtype=object)
        if repeated:
            by_key = pd.Series(plan["content_hash"].to_numpy(dtype=object)).groupby(group, sort=False)
            previous = by_key.shift(1).to_numpy(dtype=object)
            previous = np.where(pd.isna(previous), current_hash, previous)
        else:
            previous = current_hash
        new = plan["content_hash"].to_numpy(dtype=object) != previous
    base = plan["current_revision"].fillna(0).to_numpy(dtype=np.int64)
    steps = pd.Series(new).groupby(group, sort=False).cumsum().to_numpy(np.int64) if repeated else new
    revision = base + steps
    plan["revision"] = revision
    # The texts taken by Arrow from their codes: assigning an array of the texts made pandas convert
    # each row's (0.06-0.1 µs a record).
    codes = np.where(~new, 0, np.where(revision == 1, 1, 2))
    plan["status"] = pd.arrays.ArrowStringArray(_STATUS_TEXTS.take(pa.array(codes)), dtype=TEXT)
    if repeated:
        last = pd.Series(np.where(new, revision, 0)).groupby(group, sort=False).transform("max").to_numpy()
        plan["is_current"] = new & (revision == last)
    else:
        plan["is_current"] = new
    plan["supersedes"] = plan["is_current"] & plan["current_id"].notna()
    return plan


def _store_staged(conn: Connection, stored: pd.DataFrame, constants: Mapping[str, Any]) -> None:
    """SQLite: ``stored``'s records rows, one executemany a chunk, each value bound once and only the
    values that vary (``_spelt``); their ids are left to SQLite, which gives a new row the largest
    rowid plus one, i.e. the ids ``_numbered`` drew (records.id is the rowid, without AUTOINCREMENT,
    and this writer holds the write lock). A stored key fails on records' partial unique index
    (source, external_id) WHERE is_current; the caller's savepoint then takes the rows written so
    far back. Before 0018_ingest8_sqlite_key each chunk's current keys were also copied into
    record_keys (~2.4 µs a record of the writer's time)."""
    _insert_sqlite(conn, stored, constants, [name for name in STAGED if name != "id"])


# Columns that, within one chunk, are often one value (a batch of new keys: revision 1, current; units
# sent canonical as ""): SQLite literals then, not bound row by row.
_UNIFORM = ("revision", "is_current", "unit", "canonical_unit")
# Columns the category may determine within a chunk: a CASE on the category's parameter then.
_BY_CATEGORY = ("canonical_unit", "source")
_CASE_LIMIT = 64  # most categories spelt in one CASE expression


def _spelt(chunk: pd.DataFrame, names: list[str], fixed: Mapping[str, str]) -> tuple[str, list[list[Any]]]:
    """SQLite's INSERT into records of ``names`` for ``chunk`` and the columns to bind, binding only
    what varies: each bound value costs sqlite3's binding (type checks, a copy of the text, SQLite's
    mutex) and a Python object, ~1,000 instructions a row for a text. ``fixed`` (the batch's
    constants) and columns with one value in the chunk are literals; canonical_quantity, when equal
    (bit for bit) to quantity, names quantity's parameter again; canonical_unit and source, when the
    category gives them within the chunk, are a CASE on the category's parameter. The stored values
    are the same either way."""
    literal = {**fixed}
    for name in _UNIFORM:
        if name in names and (value := _one_value(chunk[name])) is not None:
            literal[name] = value
    bound = [name for name in names if name not in literal]
    same = "canonical_quantity" in bound and _same_bits(chunk["quantity"], chunk["canonical_quantity"])
    by_category = {
        name: values
        for name in _BY_CATEGORY
        if name in bound and (values := _by_category(chunk, name)) is not None
    }
    derived = ({"canonical_quantity"} if same else set()) | set(by_category)
    bound = [name for name in bound if name not in derived]
    spelt = {name: f"?{i}" for i, name in enumerate(bound, 1)}
    if same:
        spelt["canonical_quantity"] = spelt["quantity"]
    for name, values in by_category.items():
        whens = " ".join(f"WHEN {_literal(c)} THEN {_literal(v)}" for c, v in values.items())
        spelt[name] = f"CASE {spelt['category']} {whens} END"
    spelt.update(literal)
    statement = f"INSERT INTO records ({', '.join(spelt)}) VALUES ({', '.join(spelt.values())})"
    columns = [_values(chunk[name], INSERTED[name], name in _FEW) for name in bound]
    return statement, columns


# Text columns with few distinct values in a chunk (a chunk holds tens of enterprises' months).
_FEW = frozenset({"uscc", "period", "category", "source", "unit", "canonical_unit"})


def _values(column: pd.Series, kind: str, few: bool) -> list[Any]:
    """The column as Python values to bind. A text column with few distinct values: each distinct text
    made a Python string once and repeated (not a new string a row)."""
    array = None
    if few:
        codes, uniques = pd.factorize(column)
        if len(uniques) * 2 <= len(column) and not (codes < 0).any():  # not many distinct, none missing
            array = uniques.to_numpy(dtype=object)[codes]
    if array is None:
        array = column.to_numpy(dtype=_DTYPES.get(kind, object))
    values: list[Any] = array.tolist()
    return values


def _one_value(column: pd.Series) -> str | None:
    """The column's one value in the chunk as a SQLite literal; None when it has several (or a text
    a literal cannot carry)."""
    values = pd.unique(column)
    if len(values) != 1:
        return None
    value = values[0]
    if isinstance(value, str):
        return None if "\x00" in value else _literal(value)
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return _literal(int(value))
    return None


def _same_bits(a: pd.Series, b: pd.Series) -> bool:
    """Equal as stored: bit for bit (-0.0 is not 0.0 here, NaN is NaN)."""
    left, right = a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64)
    return bool(np.array_equal(left.view(np.int64), right.view(np.int64)))


def _by_category(chunk: pd.DataFrame, name: str) -> dict[str, str] | None:
    """category -> the column's value when the category gives it in the chunk (canonical_unit always: the
    catalog has one a category; source when each category came from one source) and they are few and
    plain texts; None otherwise."""
    pairs = chunk[["category", name]].drop_duplicates()
    if len(pairs) > _CASE_LIMIT or not pairs["category"].is_unique:
        return None
    values = dict(zip(pairs["category"].tolist(), pairs[name].tolist(), strict=True))
    if not all(isinstance(t, str) and "\x00" not in t for t in (*values, *values.values())):
        return None
    return values


@contextmanager
def _page_cache(conn: Connection) -> Iterator[None]:
    """A larger SQLite page cache while one ingest merges (the default 2 MiB spills the indexes' pages,
    the current key's too, to the WAL mid-transaction); the connection's own size is put back afterwards
    (it is pooled)."""
    raw: Any = conn.connection.driver_connection
    schemas = ("main", "temp")  # temp: the lookup's table of keys (current_revisions)
    before = {schema: int(raw.execute(f"PRAGMA {schema}.cache_size").fetchone()[0]) for schema in schemas}
    for schema in schemas:
        raw.execute(f"PRAGMA {schema}.cache_size=-{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        for schema, size in before.items():
            raw.execute(f"PRAGMA {schema}.cache_size={size}")


def _insert_sqlite(
    conn: Connection, rows: pd.DataFrame, constants: Mapping[str, Any], names: Sequence[str] = tuple(INSERTED)
) -> None:
    """One executemany per chunk of a prepared INSERT of ``names`` (every inserted column, or without
    records.id for SQLite to number the rows: _store_staged); values as plain Python values
    (SQLAlchemy's per-row parameter processing cost as much as the insert), bound only where they vary
    (``_spelt``: the batch's constants, converted once as the dialect binds them, are literals)."""
    fixed = {name: _literal(_bound(conn, name, value)) for name, value in constants.items()}
    names = [name for name in names if name not in fixed]
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows.iloc[start : start + INSERT_CHUNK]
        statement, columns = _spelt(chunk, names, fixed)
        _sqlite_many(conn, statement, zip(*columns, strict=True))


def _literal(value: Any) -> str:
    """``value`` (an int or text, as bound) spelt as a SQLite literal."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQLite literal for {type(value).__name__}")


def _bound(conn: Connection, name: str, value: Any) -> Any:
    """``value`` converted as SQLAlchemy would bind it to records.``name`` on this dialect."""
    processor = records.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return processor(value) if processor else value
