"""The yearly partitions of ``records`` on PostgreSQL (revision 0016_pgpart).

``records`` is partitioned by RANGE (period): ``records_y2024`` holds "2024-01" to "2024-12", and
``records_default`` whatever no year partition covers. The migration creates the years its data
holds through next year; the ingest creates the year of any period it is about to write that has
none (``ensure_years``), so the default partition stays empty in practice. Creating a partition
takes an ACCESS EXCLUSIVE lock on ``records`` until the ingest's transaction ends (readers of
records wait for that one ingest), once per new year. SQLite has a single unpartitioned table: the
functions here do nothing there. docs/operations.md says how to add, detach and archive partitions.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from tanxiao.platform.idempotency import is_retryable

PREFIX = "records_y"
DEFAULT = "records_default"


def partition_name(year: int) -> str:
    return f"{PREFIX}{year:04d}"


def create_year_sql(year: int) -> str:
    """DDL of ``year``'s partition (periods are "YYYY-MM" text, so the bounds are months)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(year)} PARTITION OF records "
        f"FOR VALUES FROM ('{year:04d}-01') TO ('{year + 1:04d}-01')"
    )


def existing_years(conn: Connection) -> set[int]:
    """Years that have a partition of their own."""
    names = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'records'::regclass"
    ).scalars()
    return {int(n[len(PREFIX) :]) for n in names if n.startswith(PREFIX) and n[len(PREFIX) :].isdigit()}


def ensure_years(conn: Connection, years: set[int], known: set[int]) -> None:
    """Create, in the caller's transaction, a partition for each of ``years`` not in ``known`` (the
    years seen to exist so far, updated here). A year the default partition already holds rows of
    cannot get one (PostgreSQL refuses): its rows keep going to the default partition, which
    docs/operations.md says how to split. Two ingests creating the same year at once: one fails
    with a retryable error (deadlock, duplicate name) and is re-run, and then finds the partition
    (rather than writing that year to the default partition). PostgreSQL only."""
    missing = years - known
    if not missing:
        return
    known |= existing_years(conn)
    for year in sorted(missing - known):
        savepoint = conn.begin_nested()  # a refusal must not abort the ingest's transaction
        try:
            conn.exec_driver_sql(create_year_sql(year))
        except sa.exc.DBAPIError as exc:
            savepoint.rollback()
            if is_retryable(exc):  # another ingest creating it too (deadlock, same name): re-run
                raise
            continue  # the default partition holds rows of the year: they keep going there
        savepoint.commit()
        known.add(year)


def years_of(periods: list[str]) -> set[int]:
    return {int(p[:4]) for p in periods}
