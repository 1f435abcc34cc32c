"""Registry persistence: SQLAlchemy Core tables and set-based repositories.

Repositories take an optional ``connection`` so that a caller (request-id idempotency, a larger unit of
work) can run them inside its own transaction; without one they open their own, retried on a lost race.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from tanxiao.errors import ValidationError
from tanxiao.platform.db import read_only
from tanxiao.platform.idempotency import run_in_transaction

T = TypeVar("T")
# Keys per IN (...) list: well under SQLite's 32,766 bound parameters and PostgreSQL's 65,535.
IN_LIST_CHUNK = 5_000
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


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


def page_size_of(requested: int, field: str = "page_size") -> int:
    """AIP-158: 0 means the default, larger than the maximum is coerced down, negative is an error."""
    if requested < 0:
        raise ValidationError.for_field(field, "must be >= 0")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def filter_fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:16]


def encode_page_token(after: Sequence[Any], fingerprint: str) -> str:
    """Opaque token: the keyset position plus the fingerprint of the filters it belongs to."""
    raw = json.dumps({"a": list(after), "f": fingerprint}, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(
    token: str, fingerprint: str, field: str = "page_token", shape: Sequence[type] | None = None
) -> list[Any] | None:
    """The keyset position of ``token`` (None for the first page); INVALID_ARGUMENT if foreign or reused.

    The fingerprint is not secret (anyone can compute it), so a forged token may carry any JSON: with
    ``shape`` (the types of the position's values, e.g. ``(str, str, int)``) the position must match it."""
    if not token:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, token_fingerprint = payload["a"], payload["f"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ValidationError.for_field(field, "not a page token from this API") from None
    if token_fingerprint != fingerprint or not isinstance(after, list):
        raise ValidationError.for_field(
            field,
            "was issued for a different filter; page with the same filters",
            reason="PAGE_TOKEN_MISMATCH",
        )
    if shape is not None and not _fits(after, shape):
        raise ValidationError.for_field(field, "not a page token from this API")
    return after


def _fits(after: list[Any], shape: Sequence[type]) -> bool:
    """Each value of the right type (bool is not an int here), strings of sane length, ints in 64 bits."""
    if len(after) != len(shape):
        return False
    for value, kind in zip(after, shape, strict=True):
        if type(value) is not kind:
            return False
        if kind is int and not -(2**63) <= value < 2**63:
            return False
        if kind is str and (len(value) > 512 or "\x00" in value):
            return False
    return True
