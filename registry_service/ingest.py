"""The record ingest pipeline: validate a frame at once, then store it set-based in one transaction.

Idempotency key of a record: (source, external_id). Against the *current* revision of its key a row
is a DUPLICATE (same content: nothing stored), a correction (REVISED: stored as revision n+1, the old
one kept with is_current false) or new (ACCEPTED, revision 1). Rows of one batch sharing a key are
applied in order. Validation happens as chunks are added, in blocks (outside any write lock). The
database work (registry_service.ingest_writer, storage.record_merge) is one transaction: on SQLite run
when the stream closes; on PostgreSQL (and on SQLite when worker processes check the chunks,
registry_service.ingest_workers) opened with the first block and fed block by block while the stream
runs. Either way it is re-run whole from the staged rows if a concurrent ingest of the same keys
wins the race (the partial unique current-key index makes that race detectable).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from registry_service.account_ingest import AccountResolution
from registry_service.domain.catalog import Catalog, load_catalog
from registry_service.domain.records import (
    INSTRUMENT_ID,
    RECORD_COLUMNS,
    content_hashes,
    text_array,
    validate_records,
)
from registry_service.ingest_writer import SQLITE_IDLE_WAIT, BatchWriter, Closing, PipelinedWriter, Written
from registry_service.storage import within
from registry_service.storage.accounts import AccountRepository
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.record_merge import ACCEPTED, DUPLICATE, REVISED, Merged, classify
from tanxiao.errors import FieldViolation, ResourceExhausted
from tanxiao.platform.auth import Principal, current_principal
from tanxiao.platform.authz import record_scope_denial
from tanxiao.platform.config import Settings
from tanxiao.platform.metrics import record_ingest

REJECTED = "REJECTED"
VALIDATE_BLOCK = 50_000  # rows validated together (IngestStream.add)
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
        write_while_streaming: bool = False,
    ) -> Iterator[IngestStream]:
        """Chunks added inside the block are committed together when it exits normally; an exception
        (a cancelled client, a crash) leaves nothing stored. ``limit`` defaults to max_stream_records;
        ``guard`` runs after the writes, just before the commit, and aborts it by raising.
        ``write_while_streaming``: on SQLite too, write the blocks as they come (the chunks are checked
        by worker processes, registry_service.ingest_workers), not all when the stream closes."""
        stream = IngestStream(
            self, include_accepted, limit or self.settings.max_stream_records, request_id, connection
        )
        stream.write_while_streaming = write_while_streaming
        try:
            yield stream
        except BaseException:
            stream.abort()
            raise
        stream.commit(guard=guard)


class IngestStream:
    def __init__(
        self,
        ingestor: Ingestor,
        include_accepted: bool,
        limit: int,
        request_id: str | None = None,
        connection: Connection | None = None,
    ) -> None:
        self._ingestor = ingestor
        self.include_accepted = include_accepted
        self._limit = limit
        self._request_id = request_id
        self._connection = connection
        self._pipeline: PipelinedWriter | None = None  # PostgreSQL: blocks written while the stream runs
        self._staged: list[pd.DataFrame] = []
        self._rejected: list[RowResult] = []
        self._known_usccs: set[str] = set()
        self._accounts = AccountResolution(ingestor.accounts)
        self._pending: list[pd.DataFrame] = []  # chunks taken but not validated yet
        self._pending_rows = 0
        self.received = 0  # rows validated so far
        self.summary = IngestSummary()
        self.write_while_streaming = False  # SQLite: blocks written as they come (Ingestor.stream)

    def today(self) -> date:
        return self._ingestor.today()

    def add(self, frame: pd.DataFrame) -> None:
        """Take a chunk; row indexes continue from the previous chunk. Chunks are validated and staged
        in blocks of about VALIDATE_BLOCK rows (the rest when the stream closes): per call, pandas'
        fixed costs made a stream of 5,000-record chunks cost twice what one large frame does."""
        if self.received + self._pending_rows + len(frame) > self._limit:
            raise ResourceExhausted(
                f"at most {self._limit} records per call",
                violations=[FieldViolation("records", f"at most {self._limit} records per call")],
            )
        missing = [c for c in RECORD_COLUMNS if c not in frame.columns]
        if missing:  # said at once, not when the block is validated
            raise ValueError(f"record frame lacks columns {missing}")
        self._pending.append(frame)
        self._pending_rows += len(frame)
        if self._pending_rows >= VALIDATE_BLOCK:
            self._validate_pending()

    def flush(self) -> None:
        """Validate and stage the chunks taken so far now, not when a block is full."""
        self._validate_pending()

    def add_checked(self, checked: pd.DataFrame) -> None:
        """Take a chunk checked elsewhere (``check_block`` with first_index 0, in a worker process): its
        rows are numbered after the rows taken so far, then it goes on as a chunk validated here."""
        self._validate_pending()
        if self.received + len(checked) > self._limit:
            raise ResourceExhausted(
                f"at most {self._limit} records per call",
                violations=[FieldViolation("records", f"at most {self._limit} records per call")],
            )
        if self.received:
            checked["index"] += self.received
            bad = checked["reject_code"].to_numpy() != ""
            if bad.any():  # the field paths name the row: renumber them too
                rows = checked.loc[bad, "index"].astype(str)
                fields = checked.loc[bad, "reject_field"].str.split("].", n=1, regex=False).str[1]
                checked.loc[bad, "reject_field"] = "records[" + rows + "]." + fields
        self._take(checked)

    def _validate_pending(self) -> None:
        if not self._pending:
            return
        pending, self._pending, self._pending_rows = self._pending, [], 0
        # Row positions, not the caller's index labels, number the records (a filtered slice's index
        # has gaps, and the steps below align on the index)
        frame = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
        if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0 or frame.index.step != 1:
            frame = frame.reset_index(drop=True)
        frame = self._accounts.resolve(frame)  # utility account -> the USCC holding it that month
        checked = check_block(
            frame,
            self._ingestor.catalog,
            today=self._ingestor.today(),
            first_index=self.received,
            max_scale=self._ingestor.settings.plausible_max_scale,
        )
        self._take(checked)

    def _take(self, checked: pd.DataFrame) -> None:
        """The checks that need the database or the caller, then the good rows staged (and piped)."""
        self.received += len(checked)
        self._accounts.reject(checked)  # before scoping: a resolved row is scoped like any other
        _reject_out_of_scope(checked, current_principal.get())
        self._reject_unknown_enterprises(checked)
        bad = checked["reject_code"] != ""
        self._rejected.extend(_rejections(checked[bad]))
        good = checked[~bad]
        if len(good):
            good = good[_STAGED_COLUMNS]
            self._staged.append(good)
            self._pipe(good)

    def _pipe(self, block: pd.DataFrame) -> None:
        """On PostgreSQL, or SQLite when ``write_while_streaming`` (and in a transaction of our own), hand
        the block to the pipelined writer."""
        engine = self._ingestor.engine
        postgres = engine.dialect.name == "postgresql"
        if self._connection is not None or not (postgres or self.write_while_streaming):
            return
        if self._pipeline is None:
            catalog_version = str(self._ingestor.catalog.version)
            self._pipeline = PipelinedWriter(
                engine,
                self._request_id,
                catalog_version,
                self.include_accepted,
                idle_wait=None if postgres else SQLITE_IDLE_WAIT,
            )
        self._pipeline.submit(block)

    def abort(self) -> None:
        if self._pipeline is not None:
            self._pipeline.abort()
            self._pipeline = None

    def commit(self, *, guard: Callable[[], None] | None = None) -> None:
        """Write what is staged (or finish the pipelined write) and commit; ``guard`` runs last."""
        try:
            self._validate_pending()
        except BaseException:
            self.abort()  # the writer thread must not wait for blocks that will never come
            raise
        closing = Closing(self.received, len(self._rejected), self._accounts.record, guard)
        written = self._pipeline.finish(closing) if self._pipeline is not None else None
        self._pipeline = None
        if written is None:  # no pipeline, or it gave up: the whole batch in one (retried) transaction
            staged = _concat(self._staged)
            catalog_version = str(self._ingestor.catalog.version)

            def work(conn: Connection) -> Written:
                writer = BatchWriter(conn, self._request_id, catalog_version, self.include_accepted)
                writer.write(staged)
                return writer.close(closing)

            written = within(self._ingestor.engine, self._connection, work)
        self._rejected.extend(
            RowResult(
                index=r.index, status=REJECTED, field=r.field, reason=r.reason, reason_code=r.reason_code
            )
            for r in written.taken
        )
        self.summary = self._summarise(written.merged)
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

    def _summarise(self, outcome: Merged) -> IngestSummary:
        counts, listed = outcome.counts, outcome.listed
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


def check_block(
    frame: pd.DataFrame, catalog: Catalog, *, today: date, first_index: int, max_scale: float
) -> pd.DataFrame:
    """``validate_records``' frame with ``content_hash``: each valid row's hash, missing on rejected rows
    (pandas' default text dtype, which assigning the object array gave too, built by Arrow without
    pandas checking every value). Pure: runs in an ingest worker too."""
    checked = validate_records(frame, catalog, today=today, first_index=first_index, max_scale=max_scale)
    valid = (checked["reject_code"] == "").to_numpy()
    hashes = np.full(len(checked), None, dtype=object)
    if valid.all():
        hashes[:] = content_hashes(checked)
    elif valid.any():
        hashes[valid] = content_hashes(checked[valid])
    checked["content_hash"] = text_array(hashes)
    return checked


def _rejections(bad: pd.DataFrame) -> list[RowResult]:
    return [
        RowResult(index=int(i), status=REJECTED, field=f, reason=r, reason_code=c)
        for i, f, r, c in zip(
            bad["index"], bad["reject_field"], bad["reject_reason"], bad["reject_code"], strict=True
        )
    ]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in _STAGED_COLUMNS})
    return pd.concat(frames, ignore_index=True)


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
    "check_block",
    "classify",
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
