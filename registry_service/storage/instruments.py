"""Registry-wide claims of green-power contracts and green certificates (instrument_claims).

A contract or certificate id is held by the first record key (uscc, period, category) that claims
it; a row of another key naming the same id is rejected. The claim is written *before* it is read
back, in the ingest's transaction: on PostgreSQL a concurrent claim of the same id waits on the
primary key until the first commits, so two batches can never both win one certificate.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from registry_service.domain.records import INSTRUMENT_ID
from registry_service.storage import IN_LIST_CHUNK, chunked
from registry_service.storage.tables import instrument_claims

OWNER = ["uscc", "period", "category"]


def claim_instruments(conn: Connection, staged: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Claim the instrument ids of ``staged`` (rows in batch order); True for each row whose id is
    held by another record key (an earlier row of the batch, or a stored claim)."""
    if INSTRUMENT_ID not in staged.columns:
        return np.zeros(len(staged), dtype=bool)
    given = staged[staged[INSTRUMENT_ID] != ""]
    if given.empty:
        return np.zeros(len(staged), dtype=bool)
    first = given.drop_duplicates(INSTRUMENT_ID, keep="first")  # in the batch, the earlier row wins
    now = datetime.now(UTC)
    rows = [
        {"instrument_id": i, "uscc": u, "period": p, "category": c, "claim_time": now}
        for i, u, p, c in first[[INSTRUMENT_ID, *OWNER]].itertuples(index=False)
    ]
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(instrument_claims)
    for chunk in chunked(rows, IN_LIST_CHUNK):
        conn.execute(insert.on_conflict_do_nothing(index_elements=["instrument_id"]), chunk)
    holders = _holders(conn, first[INSTRUMENT_ID].tolist())
    held = holders.reindex(staged[INSTRUMENT_ID].to_numpy())
    mine = (held[OWNER].to_numpy() == staged[OWNER].to_numpy()).all(axis=1)
    return ((staged[INSTRUMENT_ID] != "").to_numpy() & ~mine).astype(bool)


def _holders(conn: Connection, ids: list[str]) -> pd.DataFrame:
    found: list[tuple[object, ...]] = []
    columns = [instrument_claims.c.instrument_id, *(instrument_claims.c[c] for c in OWNER)]
    for chunk in chunked(ids, IN_LIST_CHUNK):
        query = sa.select(*columns).where(instrument_claims.c.instrument_id.in_(chunk))
        found.extend(tuple(row) for row in conn.execute(query))
    return pd.DataFrame(found, columns=[INSTRUMENT_ID, *OWNER]).set_index(INSTRUMENT_ID)
