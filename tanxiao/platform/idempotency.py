"""Request-id idempotency (AIP-155) written once for every service, and the bounded transaction retry.

A mutating RPC runs its work and records (method, request_id, request fingerprint, response) in the
SAME transaction, so a crash never leaves an effect without its key or a key without its effect. A
retry with the same id and the same request gets the stored response without acting again; the same
id with a different request is INVALID_ARGUMENT (REQUEST_ID_REUSED). An empty request_id opts out.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
import structlog
from google.protobuf.message import Message
from sqlalchemy import Connection, Engine

from tanxiao.errors import Conflict, ValidationError
from tanxiao.platform.db import HeldConnection, transaction, write_transaction

log = structlog.get_logger("tanxiao.db")
T = TypeVar("T")
M = TypeVar("M", bound=Message)

MAX_REQUEST_ID_LENGTH = 64
# Unique violation (a concurrent writer won the race), serialization failure, deadlock.
_RETRYABLE_SQLSTATES = frozenset({"23505", "40001", "40P01"})

metadata = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("method", sa.String(200), primary_key=True),
    sa.Column("request_id", sa.String(128), primary_key=True),
    sa.Column("request_fingerprint", sa.String(64), nullable=False),
    sa.Column("response", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def is_retryable(exc: sa.exc.DBAPIError) -> bool:
    """True for errors a concurrent transaction causes and a fresh attempt can resolve."""
    sqlstate = getattr(exc.orig, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return sqlstate in _RETRYABLE_SQLSTATES
    return "UNIQUE constraint failed" in str(exc.orig)  # sqlite3 has no SQLSTATE


def run_in_transaction(
    engine: Engine,
    work: Callable[[Connection], T],
    *,
    attempts: int = 5,
    held: HeldConnection | None = None,
) -> T:
    """Run ``work`` in one transaction, re-running it on a lost race; Conflict (ABORTED) when out of tries.

    ``work`` must be re-runnable: it reads what it needs inside the transaction it is given.
    ``held``: run on that kept connection (tanxiao.platform.db.HeldConnection); one whose connection
    turns out dead (what the pool's pre-ping would have caught) is run again at once on a new one.
    """
    for attempt in range(1, attempts + 1):
        try:
            with write_transaction(engine, held) as connection:
                return work(connection)
        except sa.exc.DBAPIError as exc:
            if held is not None and exc.connection_invalidated and attempt == 1:
                log.info("db.held_connection_replaced", error=str(exc.orig).splitlines()[0])
                continue
            if not is_retryable(exc):
                raise
            if attempt == attempts:
                raise Conflict(f"concurrent update still conflicting after {attempts} attempts") from exc
            log.info("db.transaction_retry", attempt=attempt, error=str(exc.orig).splitlines()[0])
            time.sleep(random.uniform(0.005, 0.02) * attempt)  # de-synchronise the competing writers
    raise AssertionError("unreachable")


def request_fingerprint(request: Message) -> str:
    """sha256 of the deterministic serialization of the request without its request_id."""
    copy = type(request)()
    copy.CopyFrom(request)
    if "request_id" in copy.DESCRIPTOR.fields_by_name:
        copy.ClearField("request_id")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


class IdempotencyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(
        self,
        method: str,
        request_id: str,
        request_message: Message,
        compute: Callable[[Connection], M],
        response_type: type[M],
    ) -> M:
        """The stored response of an earlier identical call, or ``compute`` run and recorded atomically."""
        if not request_id:
            return run_in_transaction(self.engine, compute)
        if len(request_id) > MAX_REQUEST_ID_LENGTH:
            raise ValidationError.for_field("request_id", f"at most {MAX_REQUEST_ID_LENGTH} characters")
        fingerprint = request_fingerprint(request_message)

        def once(connection: Connection) -> M:
            stored = self._lookup(connection, method, request_id)
            if stored is not None:
                return self._replay(stored, fingerprint, response_type)
            response = compute(connection)
            connection.execute(
                idempotency_keys.insert().values(
                    method=method,
                    request_id=request_id,
                    request_fingerprint=fingerprint,
                    response=response.SerializeToString(deterministic=True),
                    created_at=datetime.now(UTC),
                )
            )
            return response

        return run_in_transaction(self.engine, once)

    def purge(self, older_than: timedelta) -> int:
        """Forget keys older than ``older_than`` (a retry window, e.g. days); returns how many."""
        cutoff = datetime.now(UTC) - older_than
        with transaction(self.engine) as connection:
            stale = idempotency_keys.delete().where(idempotency_keys.c.created_at < cutoff)
            result = connection.execute(stale)
            return int(result.rowcount)

    @staticmethod
    def _lookup(connection: Connection, method: str, request_id: str) -> tuple[str, bytes] | None:
        """(request fingerprint, response bytes) stored for the key, if any."""
        query = sa.select(idempotency_keys.c.request_fingerprint, idempotency_keys.c.response).where(
            idempotency_keys.c.method == method, idempotency_keys.c.request_id == request_id
        )
        row = connection.execute(query).first()
        return None if row is None else (str(row[0]), bytes(row[1]))

    @staticmethod
    def _replay(stored: tuple[str, bytes], fingerprint: str, response_type: type[M]) -> M:
        stored_fingerprint, response_bytes = stored
        if stored_fingerprint != fingerprint:
            raise ValidationError.for_field(
                "request_id",
                "already used for a different request; use a new request_id for a new request",
                reason="REQUEST_ID_REUSED",
            )
        response: M = response_type()
        response.ParseFromString(response_bytes)
        return response
