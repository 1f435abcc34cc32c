"""Reading stored records: every source and revision, flagged ``current`` and ``effective``.

``effective`` marks the current rows a carbon profile uses: per (uscc, period, category) the rows of
the source that wins the configured precedence (registry_service.domain.precedence). Precedence is
applied when reading, never when writing, so a less authoritative source is kept, not overwritten.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from registry_service.domain.precedence import Precedence, effective_mask, load_precedence
from registry_service.storage import (
    chunked,
    decode_page_token,
    encode_page_token,
    filter_fingerprint,
    page_size_of,
    reading,
    utc,
)
from registry_service.storage.tables import records
from tanxiao.platform.db import read_only

RECORD_FRAME_COLUMNS = (
    "id",
    "uscc",
    "period",
    "category",
    "source",
    "external_id",
    "revision",
    "is_current",
    "quantity",
    "unit",
    "canonical_quantity",
    "canonical_unit",
    "catalog_version",
    "ingest_time",
)
_SELECT = [records.c[name] for name in RECORD_FRAME_COLUMNS]
_GROUP = ["uscc", "period", "category"]


@dataclass(frozen=True)
class RecordPage:
    rows: pd.DataFrame  # RECORD_FRAME_COLUMNS + effective
    next_page_token: str


class RecordRepository:
    def __init__(self, engine: Engine, precedence: Precedence | None = None) -> None:
        self.engine = engine
        self.precedence = precedence if precedence is not None else load_precedence()

    def records_for(
        self,
        usccs: str | Collection[str],
        period_from: str = "",
        period_to: str = "",
        *,
        include_history: bool = True,
        connection: Connection | None = None,
    ) -> pd.DataFrame:
        """All records of the enterprises in [period_from, period_to] ("YYYY-MM", empty = open), with
        ``effective`` set by source precedence; superseded revisions too unless include_history=False."""
        wanted = [usccs] if isinstance(usccs, str) else sorted(usccs)
        conditions = _period_range(period_from, period_to)
        if not include_history:
            conditions.append(records.c.is_current)
        with reading(self.engine, connection) as conn:
            parts = [
                _frame(conn, sa.select(*_SELECT).where(records.c.uscc.in_(chunk), *conditions))
                for chunk in chunked(wanted)
            ]
        frame = pd.concat(parts, ignore_index=True) if parts else _frame_of([])
        return self.mark_effective(frame).sort_values([*_GROUP, "source", "external_id", "revision"])

    def page(
        self,
        uscc: str,
        *,
        period: str = "",
        category: str = "",
        include_history: bool = False,
        page_size: int = 0,
        page_token: str = "",
    ) -> RecordPage:
        """One page of an enterprise's records in (period, category, id) order (ListRecords)."""
        size = page_size_of(page_size)
        fingerprint = filter_fingerprint("records", uscc, period, category, include_history)
        after = decode_page_token(page_token, fingerprint, shape=(str, str, int))
        conditions = [records.c.uscc == uscc, *_exact(period, category)]
        query = sa.select(*_SELECT).where(*conditions)
        if not include_history:
            query = query.where(records.c.is_current)
        if after:
            position = sa.tuple_(records.c.period, records.c.category, records.c.id)
            query = query.where(position > sa.tuple_(*(sa.literal(v) for v in after)))
        query = query.order_by(records.c.period, records.c.category, records.c.id).limit(size + 1)
        with read_only(self.engine) as conn:
            rows = _frame(conn, query)
            page = rows.iloc[:size]
            page = self._with_effective(conn, uscc, page, category)
        token = ""
        if len(rows) > size:
            last = page.iloc[-1]
            token = encode_page_token([last["period"], last["category"], int(last["id"])], fingerprint)
        return RecordPage(page, token)

    def mark_effective(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with ``effective``: the current rows the profile uses (superseded revisions never)."""
        if frame.empty:
            return frame.assign(effective=pd.Series(dtype=bool))
        return frame.assign(effective=effective_mask(frame, self.precedence).to_numpy(dtype=bool))

    def _with_effective(self, conn: Connection, uscc: str, page: pd.DataFrame, category: str) -> pd.DataFrame:
        """Effective flags of a page, judged against all current rows of the page's groups."""
        if page.empty:
            return page.assign(effective=pd.Series(dtype=bool))
        groups = sa.select(*_SELECT).where(
            records.c.uscc == uscc,
            records.c.is_current,
            records.c.period.between(page["period"].min(), page["period"].max()),
            *_exact("", category),
        )
        effective_ids = set(self.mark_effective(_frame(conn, groups)).query("effective")["id"])
        return page.assign(effective=page["id"].isin(effective_ids))


def _period_range(period_from: str, period_to: str) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if period_from:
        conditions.append(records.c.period >= period_from)
    if period_to:
        conditions.append(records.c.period <= period_to)
    return conditions


def _exact(period: str, category: str) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if period:
        conditions.append(records.c.period == period)
    if category:
        conditions.append(records.c.category == category)
    return conditions


def _frame(conn: Connection, query: sa.Select[Any]) -> pd.DataFrame:
    return _frame_of(conn.execute(query).all())


def _frame_of(rows: Sequence[sa.Row[Any]] | Sequence[tuple[object, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(RECORD_FRAME_COLUMNS))
    frame["is_current"] = frame["is_current"].astype(bool)
    frame["ingest_time"] = [utc(t) for t in frame["ingest_time"]]
    return frame
