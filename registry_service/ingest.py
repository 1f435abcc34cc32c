"""The record ingest pipeline: validate a frame at once, then store it set-based in one transaction.

Idempotency key of a record: (source, external_id). Against the *current* revision of its key a row
is a DUPLICATE (same content: nothing stored), a correction (REVISED: stored as revision n+1, the old
one kept with is_current false) or new (ACCEPTED, revision 1). Rows of one batch sharing a key are
applied in order. Validation happens when a chunk is added (outside any write lock); the database
work happens once, when the stream closes, in one transaction that is re-run from the staged rows if
a concurrent ingest of the same keys wins the race (the unique indexes make that race detectable).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import ARRAY, Connection, Engine
from sqlalchemy.sql.compiler import Compiled

from registry_service.account_ingest import AccountResolution
from registry_service.domain.catalog import Catalog, load_catalog
from registry_service.domain.records import INSTRUMENT_ID, RECORD_COLUMNS, content_hashes, validate_records
from registry_service.storage import IN_LIST_CHUNK, chunked, within
from registry_service.storage.accounts import AccountRepository
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.instruments import claim_instruments
from registry_service.storage.profile_changes import record_profile_change
from registry_service.storage.profiles import mark_dirty
from registry_service.storage.tables import ingest_batches, records
from tanxiao.errors import FieldViolation, ResourceExhausted
from tanxiao.platform.auth import Principal, current_principal
from tanxiao.platform.authz import record_scope_denial
from tanxiao.platform.config import Settings
from tanxiao.platform.metrics import record_ingest

ACCEPTED, DUPLICATE, REVISED, REJECTED = "ACCEPTED", "DUPLICATE", "REVISED", "REJECTED"
KEY = ["source", "external_id"]
INSERT_CHUNK = 20_000
_STAGED_COLUMNS = [
    "index",
    "uscc",
    "period",
    "category",
    "source",
    "external_id",
    "quantity",
    "unit",
    "canonical_quantity",
    "canonical_unit",
    "content_hash",
    INSTRUMENT_ID,
]


# Inserted columns and the dtype they are handed to the driver as.
_INSERT_COLUMNS: dict[str, type] = {
    "uscc": object,
    "period": object,
    "category": object,
    "source": object,
    "external_id": object,
    "revision": np.int64,
    "is_current": np.bool_,
    "quantity": np.float64,
    "unit": object,
    "canonical_quantity": np.float64,
    "canonical_unit": object,
    "content_hash": object,
}
_CURRENT_COLUMNS = (
    records.c.source,
    records.c.external_id,
    records.c.id,
    records.c.revision,
    records.c.content_hash,
)


@dataclass(frozen=True)
class RowResult:
    index: int
    status: str  # ACCEPTED | DUPLICATE | REVISED | REJECTED
    field: str = ""
    reason: str = ""
    reason_code: str = ""
    revision: int = 0


@dataclass
class IngestSummary:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    revised: int = 0
    rejected: int = 0
    results: list[RowResult] = field(default_factory=list)


class Ingestor:
    def __init__(
        self,
        engine: Engine,
        catalog: Catalog | None = None,
        *,
        settings: Settings | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.engine = engine
        self.catalog = catalog if catalog is not None else load_catalog()
        self.settings = settings if settings is not None else Settings()
        self.today = today
        self.enterprises = EnterpriseRepository(engine)
        self.accounts = AccountRepository(engine)  # ingest by utility account

    def ingest_frame(
        self,
        frame: pd.DataFrame,
        *,
        include_accepted: bool = False,
        limit: int | None = None,
        request_id: str | None = None,
        connection: Connection | None = None,
    ) -> IngestSummary:
        """Validate and store one frame (columns RECORD_COLUMNS) in one transaction."""
        with self.stream(
            include_accepted=include_accepted, limit=limit, request_id=request_id, connection=connection
        ) as stream:
            stream.add(frame)
        return stream.summary

    @contextmanager
    def stream(
        self,
        *,
        include_accepted: bool = False,
        limit: int | None = None,
        request_id: str | None = None,
        connection: Connection | None = None,
        guard: Callable[[], None] | None = None,
    ) -> Iterator[IngestStream]:
        """Chunks added inside the block are committed together when it exits normally; an exception
        (a cancelled client, a crash) leaves nothing stored. ``limit`` defaults to max_stream_records;
        ``guard`` runs after the writes, just before the commit, and aborts it by raising."""
        stream = IngestStream(self, include_accepted, limit or self.settings.max_stream_records)
        yield stream
        stream.commit(request_id=request_id, connection=connection, guard=guard)


class IngestStream:
    def __init__(self, ingestor: Ingestor, include_accepted: bool, limit: int) -> None:
        self._ingestor = ingestor
        self.include_accepted = include_accepted
        self._limit = limit
        self._staged: list[pd.DataFrame] = []
        self._rejected: list[RowResult] = []
        self._known_usccs: set[str] = set()
        self._accounts = AccountResolution(ingestor.accounts)
        self.received = 0
        self.summary = IngestSummary()

    def add(self, frame: pd.DataFrame) -> None:
        """Validate a chunk and stage its good rows; row indexes continue from the previous chunk."""
        if self.received + len(frame) > self._limit:
            raise ResourceExhausted(
                f"at most {self._limit} records per call",
                violations=[FieldViolation("records", f"at most {self._limit} records per call")],
            )
        frame = self._accounts.resolve(frame)  # utility account -> the USCC holding it that month
        checked = validate_records(
            frame,
            self._ingestor.catalog,
            today=self._ingestor.today(),
            first_index=self.received,
            max_scale=self._ingestor.settings.plausible_max_scale,
        )
        self.received += len(frame)
        self._accounts.reject(checked)  # before scoping: a resolved row is scoped like any other
        _reject_out_of_scope(checked, current_principal.get())
        self._reject_unknown_enterprises(checked)
        bad = checked["reject_code"] != ""
        self._rejected.extend(_rejections(checked[bad]))
        good = checked[~bad]
        if len(good):
            good = good.assign(content_hash=content_hashes(good))
            self._staged.append(good[_STAGED_COLUMNS])

    def commit(
        self,
        *,
        request_id: str | None = None,
        connection: Connection | None = None,
        guard: Callable[[], None] | None = None,
    ) -> None:
        staged = _concat(self._staged)
        catalog_version = str(self._ingestor.catalog.version)

        def work(conn: Connection) -> tuple[pd.DataFrame, list[RowResult]]:
            claimed = claim_instruments(conn, staged)  # re-run with the transaction: nothing kept
            taken = _claimed_elsewhere(staged[claimed])
            rejected = len(self._rejected) + len(taken)
            outcome = _store(conn, staged[~claimed], self.received, rejected, request_id, catalog_version)
            self._accounts.record(conn)
            if guard is not None:
                guard()
            return outcome, taken

        outcome, taken = within(self._ingestor.engine, connection, work)
        self._rejected.extend(taken)
        self.summary = self._summarise(outcome)
        self._staged.clear()
        s = self.summary
        record_ingest(s.accepted, s.duplicates, s.revised, s.rejected)  # after the commit: stored rows only

    def _reject_unknown_enterprises(self, checked: pd.DataFrame) -> None:
        valid = checked.loc[checked["reject_code"] == "", "uscc"]
        distinct = set(pd.unique(valid))
        unseen = distinct - self._known_usccs
        if unseen:
            self._known_usccs |= self._ingestor.enterprises.existing_usccs(unseen)
        # Only this chunk's own USCCs in the isin: the set of all seen grows with the stream.
        known_here = list(distinct & self._known_usccs)
        unknown = (checked["reject_code"] == "") & ~checked["uscc"].isin(known_here)
        if unknown.any():
            indexes = checked.loc[unknown, "index"].astype(str)
            checked.loc[unknown, "reject_code"] = "UNKNOWN_ENTERPRISE"
            checked.loc[unknown, "reject_field"] = "records[" + indexes + "].uscc"
            checked.loc[unknown, "reject_reason"] = (
                "enterprise " + checked.loc[unknown, "uscc"] + " is not registered"
            )

    def _summarise(self, outcome: pd.DataFrame) -> IngestSummary:
        counts = outcome["status"].value_counts()
        listed = outcome if self.include_accepted else outcome[outcome["status"] != ACCEPTED]
        stored = [
            RowResult(index=int(i), status=str(s), revision=int(r))
            for i, s, r in zip(listed["index"], listed["status"], listed["revision"], strict=True)
        ]
        return IngestSummary(
            received=self.received,
            accepted=int(counts.get(ACCEPTED, 0)),
            duplicates=int(counts.get(DUPLICATE, 0)),
            revised=int(counts.get(REVISED, 0)),
            rejected=len(self._rejected),
            results=sorted([*self._rejected, *stored], key=lambda r: r.index),
        )


def _rejections(bad: pd.DataFrame) -> list[RowResult]:
    return [
        RowResult(index=int(i), status=REJECTED, field=f, reason=r, reason_code=c)
        for i, f, r, c in zip(
            bad["index"], bad["reject_field"], bad["reject_reason"], bad["reject_code"], strict=True
        )
    ]


def _claimed_elsewhere(rows: pd.DataFrame) -> list[RowResult]:
    """Rows naming a contract or certificate another record already claimed. The reason never says
    who holds it: which firm bought which green power is that firm's data."""
    return [
        RowResult(
            index=int(i),
            status=REJECTED,
            field=f"records[{i}].{INSTRUMENT_ID}",
            reason=f"{INSTRUMENT_ID} {instrument!r} has already been claimed in the registry",
            reason_code="INSTRUMENT_ALREADY_CLAIMED",
        )
        for i, instrument in zip(rows["index"], rows[INSTRUMENT_ID], strict=True)
    ]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in _STAGED_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def _store(
    conn: Connection,
    staged: pd.DataFrame,
    received: int,
    rejected: int,
    request_id: str | None,
    catalog_version: str,
) -> pd.DataFrame:
    """Classify the staged rows against the stored current revisions and write them; returns
    index/status/revision per staged row. Re-runnable: reads everything it decides on."""
    plan = classify(staged, current_revisions(conn, staged))
    counts = plan["status"].value_counts()
    now = datetime.now(UTC)
    batch_id: int = conn.execute(
        ingest_batches.insert()
        .returning(ingest_batches.c.id)
        .values(
            request_id=request_id or None,
            received=received,
            accepted=int(counts.get(ACCEPTED, 0)),
            duplicates=int(counts.get(DUPLICATE, 0)),
            revised=int(counts.get(REVISED, 0)),
            rejected=rejected,
            ingest_time=now,
        )
    ).scalar_one()
    superseded = plan.loc[plan["supersedes"], "current_id"].astype(np.int64).unique().tolist()
    previous_usccs: set[str] = set()  # a correction may move a record to another enterprise (account)
    for ids in chunked(superseded):  # before inserting: at most one current row per key, always
        conn.execute(records.update().where(records.c.id.in_(ids)).values(is_current=False))
        previous_usccs.update(conn.execute(sa.select(records.c.uscc).where(records.c.id.in_(ids))).scalars())
    stored = plan[plan["status"] != DUPLICATE]
    _insert_records(conn, stored, batch_id, now, catalog_version)
    # Same transaction: no record without its mark; the enterprise a corrected record left is marked too.
    changed = [*pd.unique(stored["uscc"]).tolist(), *previous_usccs]
    mark_dirty(conn, changed)
    record_profile_change(conn, changed)  # last: subscribers' caches drop these enterprises' profiles
    return plan[["index", "status", "revision"]]


def current_revisions(conn: Connection, staged: pd.DataFrame) -> pd.DataFrame:
    """The current stored row (id, revision, content_hash) of every key in ``staged``, in bulk."""
    found: list[tuple[object, ...]] = []
    postgres = conn.dialect.name == "postgresql"
    for source, ids in staged.groupby("source", sort=True)["external_id"]:
        for chunk in chunked(pd.unique(ids).tolist(), 50_000 if postgres else IN_LIST_CHUNK):
            # PostgreSQL: one array parameter instead of thousands of bound values.
            matches = (
                records.c.external_id == sa.any_(sa.bindparam("ids", chunk, type_=ARRAY(sa.String)))
                if postgres
                else records.c.external_id.in_(chunk)
            )
            query = sa.select(*_CURRENT_COLUMNS).where(records.c.is_current, records.c.source == source)
            query = query.where(matches)
            found.extend(tuple(row) for row in conn.execute(query))
    return pd.DataFrame(found, columns=[*KEY, "current_id", "current_revision", "current_hash"])


def classify(staged: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Status and revision of each staged row, in row order, with same-key rows applied in sequence.

    A row duplicates the content its key has just before it (the stored current revision for the
    first row of a key in the batch); otherwise it is the next revision.
    """
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


def _insert_records(
    conn: Connection, rows: pd.DataFrame, batch_id: int, now: datetime, catalog_version: str
) -> None:
    """Set-based insert: COPY on PostgreSQL, else one executemany per chunk of the Core
    ``records.insert()`` compiled once. Values go to the driver as plain Python values: SQLAlchemy's
    per-row parameter processing cost as much as SQLite's insert itself, and the one value that
    needs a dialect conversion (the batch's ingest_time, a constant) is converted once."""
    constants = {"batch_id": batch_id, "ingest_time": now, "catalog_version": catalog_version}
    constants = _processed(conn, constants)
    names = [*_INSERT_COLUMNS, *constants]
    compiled = records.insert().compile(dialect=conn.dialect, column_keys=names)
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows.iloc[start : start + INSERT_CHUNK]
        columns = {name: chunk[name].to_numpy(dtype=kind).tolist() for name, kind in _INSERT_COLUMNS.items()}
        columns |= {name: [value] * len(chunk) for name, value in constants.items()}
        if conn.dialect.name == "postgresql":
            _copy(conn, names, columns)
        else:
            conn.exec_driver_sql(compiled.string, _driver_params(compiled, names, columns))


def _copy(conn: Connection, names: list[str], columns: dict[str, list[Any]]) -> None:
    """COPY FROM STDIN on the connection's own psycopg connection, inside the current transaction."""
    driver = conn.connection.driver_connection
    statement = f"COPY {records.name} ({', '.join(names)}) FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in zip(*(columns[name] for name in names), strict=True):
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy would wrap it: retry logic relies on it
        raise sa.exc.DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc


def _driver_params(compiled: Compiled, names: list[str], columns: dict[str, list[Any]]) -> list[Any]:
    """Rows as the driver's paramstyle wants them: tuples in placeholder order, or dicts by name."""
    if compiled.positional:  # type: ignore[attr-defined]
        order = compiled.positiontup or ()  # type: ignore[attr-defined]
        return list(zip(*(columns[name] for name in order), strict=True))
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _processed(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` converted as SQLAlchemy would bind them on this dialect (e.g. datetimes on SQLite)."""
    out = {}
    for name, value in values.items():
        processor = records.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        out[name] = processor(value) if processor else value
    return out


__all__ = [
    "ACCEPTED",
    "DUPLICATE",
    "RECORD_COLUMNS",
    "REJECTED",
    "REVISED",
    "IngestStream",
    "IngestSummary",
    "Ingestor",
    "RowResult",
]


def _reject_out_of_scope(checked: pd.DataFrame, principal: Principal | None) -> None:
    """Rows the calling data provider may not write (tanxiao.platform.authz.record_scope_denial) are
    REJECTED one by one with a PERMISSION_DENIED reason; the rest of the batch goes on. Judged once per
    distinct (source, category, uscc)."""
    if principal is None:
        return
    valid = checked["reject_code"] == ""
    keys = checked.loc[valid, ["source", "category", "uscc"]].drop_duplicates()
    denials = {
        (s, c, u): denial
        for s, c, u in keys.itertuples(index=False)
        if (denial := record_scope_denial(principal, str(s), str(c), str(u))) is not None
    }
    if not denials:
        return
    for position in np.flatnonzero(valid.to_numpy()):
        row = checked.iloc[position]
        denial = denials.get((row["source"], row["category"], row["uscc"]))
        if denial is not None:
            label = checked.index[position]
            checked.loc[label, "reject_code"] = denial.reason
            checked.loc[label, "reject_field"] = f"records[{row['index']}].{denial.field}"
            checked.loc[label, "reject_reason"] = denial.message
