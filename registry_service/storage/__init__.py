"""Registry persistence: SQLAlchemy Core tables and set-based repositories.

Repositories take an optional ``connection`` so that a caller (request-id idempotency, a larger unit of
work) can run them inside its own transaction; without one they open their own, retried on a lost race.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Connection, Engine

from tanxiao.platform.db import read_only
from tanxiao.platform.idempotency import run_in_transaction
from tanxiao.platform.paging import (  # noqa: F401 (re-exported: the registry's repositories use them)
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_page_token,
    encode_page_token,
    filter_fingerprint,
    page_size_of,
)

T = TypeVar("T")
# Keys per IN (...) list: well under SQLite's 32,766 bound parameters and PostgreSQL's 65,535.
IN_LIST_CHUNK = 5_000


def within(engine: Engine, connection: Connection | None, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in the caller's transaction if given, else in a fresh (retried) one."""
    if connection is not None:
        return work(connection)
    return run_in_transaction(engine, work)


@contextmanager
def reading(engine: Engine, connection: Connection | None) -> Iterator[Connection]:
    """The caller's connection, or a read-only transaction of our own."""
    if connection is not None:
        yield connection
        return
    with read_only(engine) as own:
        yield own


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def chunked(items: Iterable[T], size: int = IN_LIST_CHUNK) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


