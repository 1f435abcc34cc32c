"""Enterprises and their annual financials in the database."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, event

from registry_service.domain.enterprise import AMOUNTS, AnnualFinancials, Enterprise, apply_update
from registry_service.storage import (
    chunked,
    decode_page_token,
    encode_page_token,
    filter_fingerprint,
    page_size_of,
    reading,
    utc,
    within,
)
from registry_service.storage.profile_changes import record_profile_change
from registry_service.storage.tables import enterprise_financials, enterprises
from tanxiao.errors import AlreadyExists, NotFound, ValidationError
from tanxiao.platform.db import read_only

_FINANCIAL_FIELDS = (*AMOUNTS, "listed")  # columns named as the domain fields; money in fen


@dataclass(frozen=True)
class EnterprisePage:
    enterprises: list[Enterprise]
    next_page_token: str
    total_size: int


class EnterpriseRepository:
    MAX_BUILT = 10_000  # enterprises whose last read rows are kept with what they were built into

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._get_one = _RawRead(engine, _GET_WITH_FINANCIALS)
        # GetEnterprise's rows as read -> the (immutable) Enterprise built from them: the read runs on
        # every call, only converting the same values again is skipped (it was half of the servicer's
        # instructions, docs/benchmarks.md). Keyed by every value of every row, so a changed enterprise
        # or year of financials is a new key; at most MAX_BUILT kept.
        self._built: dict[Any, Enterprise] = {}

    def create(self, enterprise: Enterprise, *, connection: Connection | None = None) -> Enterprise:
        """Store a new (validated, normalised) enterprise; ALREADY_EXISTS if its USCC is registered."""

        def work(conn: Connection) -> Enterprise:
            if self.existing_usccs({enterprise.uscc}, connection=conn):
                raise _already_exists(enterprise.uscc)
            now = datetime.now(UTC)
            stored = _with_times(enterprise, now, now)
            _insert(conn, [stored])
            return stored

        return within(self.engine, connection, work)

    def create_many(self, items: Iterable[Enterprise], *, if_missing: bool = True) -> int:
        """Bulk insert (demo data, imports); returns how many were created. Existing USCCs are skipped
        when ``if_missing``, else the whole call is ALREADY_EXISTS and nothing is stored."""
        batch = list({e.uscc: e for e in items}.values())

        def work(conn: Connection) -> int:
            existing = self.existing_usccs({e.uscc for e in batch}, connection=conn)
            if existing and not if_missing:
                raise _already_exists(min(existing))
            now = datetime.now(UTC)
            fresh = [_with_times(e, now, now) for e in batch if e.uscc not in existing]
            _insert(conn, fresh)
            return len(fresh)

        return within(self.engine, None, work)

    def get(self, uscc: str, *, connection: Connection | None = None) -> Enterprise:
        """One statement (the enterprise joined with its financials, built once at import): the
        GetEnterprise path, so no per-call statement building, IN-list expansion or second query.
        Without a caller's transaction, on a pooled DBAPI connection (``_RawRead``), and the rows read
        are built into an Enterprise once while they stay the same (``_built``)."""
        if connection is not None:
            rows = connection.execute(_GET_WITH_FINANCIALS, {"uscc": uscc}).mappings().all()
            return _enterprise_of(uscc, rows)
        raw = self._get_one.fetch({"uscc": uscc})
        try:
            key: Any = tuple(raw)  # the rows as the database gave them: every column of the answer
            found = self._built.get(key)
        except TypeError:  # a value that cannot be hashed (no column of these tables has one): unkept
            key = found = None
        if found is not None:
            return found
        built = _enterprise_of(uscc, self._get_one.convert(raw))
        if key is not None:
            if len(self._built) >= self.MAX_BUILT:
                self._built.clear()  # more enterprises read than kept: start over, still correct
            self._built[key] = built
        return built

    def list(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        industry_code_prefix: str = "",
        region_code_prefix: str = "",
        only: Sequence[str] | None = None,
    ) -> EnterprisePage:
        """Enterprises in USCC order, keyset-paginated; the token is bound to the prefix filters.
        ``only``: restricted to these USCCs (a credit officer sees the enterprises that consented)."""
        size = page_size_of(page_size)
        _check_prefix("industry_code_prefix", industry_code_prefix, 4)
        _check_prefix("region_code_prefix", region_code_prefix, 6)
        scope = () if only is None else ("consented",)  # not the list: a grant between pages keeps the token
        fingerprint = filter_fingerprint("enterprises", industry_code_prefix, region_code_prefix, *scope)
        after = decode_page_token(page_token, fingerprint, shape=(str,))
        conditions = _prefix_conditions(industry_code_prefix, region_code_prefix)
        if only is not None:
            conditions.append(enterprises.c.uscc.in_(list(only)))
        query = sa.select(enterprises).where(*conditions).order_by(enterprises.c.uscc).limit(size + 1)
        if after:
            query = query.where(enterprises.c.uscc > str(after[0]))
        with read_only(self.engine) as conn:
            rows = conn.execute(query).mappings().all()
            total = conn.execute(sa.select(sa.func.count()).select_from(enterprises).where(*conditions))
            total_size = int(total.scalar_one())
            page = rows[:size]
            money = _financials(conn, [r["uscc"] for r in page])
        items = [_to_enterprise(r, money.get(r["uscc"], ())) for r in page]
        token = encode_page_token([items[-1].uscc], fingerprint) if len(rows) > size else ""
        return EnterprisePage(items, token, total_size)

    def update(
        self,
        uscc: str,
        patch: Enterprise,
        paths: Collection[str],
        *,
        connection: Connection | None = None,
    ) -> Enterprise:
        """Apply the masked fields of ``patch`` (already validated) to the stored enterprise."""

        def work(conn: Connection) -> Enterprise:
            current = self.get(uscc, connection=conn)
            updated = _with_times(apply_update(current, patch, paths), current.create_time, datetime.now(UTC))
            values = {name: getattr(updated, name) for name in paths if name != "financials"}
            values["update_time"] = updated.update_time
            conn.execute(enterprises.update().where(enterprises.c.uscc == uscc).values(**values))
            if "financials" in paths and patch.financials:
                years = [f.year for f in patch.financials]
                conn.execute(
                    enterprise_financials.delete().where(
                        enterprise_financials.c.uscc == uscc, enterprise_financials.c.year.in_(years)
                    )
                )
                conn.execute(enterprise_financials.insert(), _financial_rows(uscc, patch.financials))
            record_profile_change(conn, [uscc])  # profiles carry the industry, region and financials
            return updated

        return within(self.engine, connection, work)

    def existing_usccs(self, usccs: Collection[str], *, connection: Connection | None = None) -> set[str]:
        """The registered subset of ``usccs``, looked up in bulk."""

        def work(conn: Connection) -> set[str]:
            found: set[str] = set()
            for chunk in chunked(sorted(usccs)):
                query = sa.select(enterprises.c.uscc).where(enterprises.c.uscc.in_(chunk))
                found.update(conn.execute(query).scalars())
            return found

        with reading(self.engine, connection) as conn:
            return work(conn)


def _already_exists(uscc: str) -> AlreadyExists:
    return AlreadyExists(
        f"enterprises/{uscc} already exists", reason="ENTERPRISE_ALREADY_EXISTS", metadata={"uscc": uscc}
    )


def _check_prefix(field: str, prefix: str, max_length: int) -> None:
    if prefix and not (prefix.isdigit() and len(prefix) <= max_length):
        raise ValidationError.for_field(field, f"must be up to {max_length} digits")


def _prefix_conditions(industry_prefix: str, region_prefix: str) -> list[sa.ColumnElement[bool]]:
    # Prefixes are digits only (checked), so LIKE needs no escaping.
    conditions: list[sa.ColumnElement[bool]] = []
    if industry_prefix:
        conditions.append(enterprises.c.industry_code.like(industry_prefix + "%"))
    if region_prefix:
        conditions.append(enterprises.c.region_code.like(region_prefix + "%"))
    return conditions


def _with_times(enterprise: Enterprise, created: datetime | None, updated: datetime) -> Enterprise:
    return replace(enterprise, create_time=created, update_time=updated)


def _insert(conn: Connection, items: Sequence[Enterprise]) -> None:
    if not items:
        return
    conn.execute(
        enterprises.insert(),
        [
            {
                "uscc": e.uscc,
                "display_name": e.display_name,
                "industry_code": e.industry_code,
                "region_code": e.region_code,
                "size_class": e.size_class,
                "create_time": e.create_time,
                "update_time": e.update_time,
            }
            for e in items
        ],
    )
    money = [row for e in items for row in _financial_rows(e.uscc, e.financials)]
    if money:
        conn.execute(enterprise_financials.insert(), money)


def _financial_rows(uscc: str, financials: Iterable[AnnualFinancials]) -> list[dict[str, Any]]:
    return [
        {"uscc": uscc, "year": f.year, **{name: getattr(f, name) for name in _FINANCIAL_FIELDS}}
        for f in financials
    ]


def _financials(conn: Connection, usccs: Sequence[str]) -> dict[str, tuple[AnnualFinancials, ...]]:
    by_uscc: dict[str, list[AnnualFinancials]] = {}
    for chunk in chunked(usccs):
        query = (
            sa.select(enterprise_financials)
            .where(enterprise_financials.c.uscc.in_(chunk))
            .order_by(enterprise_financials.c.uscc, enterprise_financials.c.year)
        )
        for row in conn.execute(query).mappings():
            values = {name: row[name] for name in _FINANCIAL_FIELDS}
            by_uscc.setdefault(row["uscc"], []).append(_annual(values, row["year"]))
    return {uscc: tuple(items) for uscc, items in by_uscc.items()}


def _enterprise_of(uscc: str, rows: Sequence[Mapping[Any, Any]]) -> Enterprise:
    """The enterprise of GetEnterprise's statement's rows (one per year of financials, or one without);
    NOT_FOUND when there are none."""
    if not rows:
        raise NotFound(
            f"enterprises/{uscc} not found", reason="ENTERPRISE_NOT_FOUND", metadata={"uscc": uscc}
        )
    financials = tuple(
        _annual({name: row[f"f_{name}"] for name in _FINANCIAL_FIELDS}, row["f_year"])
        for row in rows
        if row["f_year"] is not None
    )
    return _to_enterprise(rows[0], financials)


def _annual(values: dict[str, Any], year: int) -> AnnualFinancials:
    return AnnualFinancials(year=year, **values)


# GetEnterprise's statement: the enterprise and its financials (columns prefixed f_), oldest year first.
_GET_WITH_FINANCIALS = (
    sa.select(
        enterprises,
        *(c.label(f"f_{c.name}") for c in enterprise_financials.c if c.name != "uscc"),
    )
    .select_from(
        enterprises.outerjoin(enterprise_financials, enterprise_financials.c.uscc == enterprises.c.uscc)
    )
    .where(enterprises.c.uscc == sa.bindparam("uscc"))
    .order_by(enterprise_financials.c.year)
)


class _RawRead:
    """One read-only statement run on a DBAPI connection: compiled once for the engine's dialect, the
    rows converted by the columns' own SQLAlchemy result processors (UTC times, booleans), but none of a
    Connection's per-call work (events, transaction objects, compiled-cache look-up, Result objects):
    that was two thirds of a GetEnterprise (profile in docs/benchmarks.md). One statement is its own
    snapshot.

    PostgreSQL: a pooled connection per call (pre-pinged; the pool's reset on return ends the
    transaction the driver opened). A SQLite file: connections of this read's own (``_SqliteReaders``),
    since a lone SELECT on them runs in autocommit (``isolation_level = None``, tanxiao.platform.db) and
    leaves nothing to reset, and the pool's checkout and return were a fifth of the call."""

    def __init__(self, engine: Engine, statement: sa.Select[Any]) -> None:
        self.engine = engine
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.positional = tuple(compiled.positiontup or ()) if compiled.positional else None
        self.keys = tuple(str(column.key) for column in statement.selected_columns)
        self.processors = tuple(
            column.type.dialect_impl(engine.dialect).result_processor(engine.dialect, None)
            for column in statement.selected_columns
        )
        self.readers = _SqliteReaders(engine) if _SqliteReaders.fit(engine) else None

    def __call__(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.convert(self.fetch(params))

    def fetch(self, params: dict[str, Any]) -> list[Any]:
        """The rows as the driver gives them (tuples of the columns' stored values)."""
        bound: Any = params if self.positional is None else tuple(params[k] for k in self.positional)
        return self._fetch(bound) if self.readers is None else self.readers.fetch(self.sql, bound)

    def convert(self, rows: list[Any]) -> list[dict[str, Any]]:
        """Driver rows as dicts of the columns' Python values (their result processors applied)."""
        keys, processors = self.keys, self.processors
        return [
            {
                key: (value if process is None else process(value))
                for key, process, value in zip(keys, processors, row, strict=True)
            }
            for row in rows
        ]

    def _fetch(self, bound: Any) -> list[Any]:
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql, bound)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool (which rolls back)


class _SqliteReaders:
    """Read-only DBAPI connections to one SQLite file, taken out of the engine's pool once (``detach``:
    opened by the pool, so with its PRAGMAs, then the pool's no more) and reused by whichever thread
    reads next: at most as many as reads ran at once, ``MAX_IDLE`` kept idle. Only statements that read
    run on them, each in autocommit, fetched to the end (its read snapshot ends with it); a connection
    whose statement failed is closed, not reused. ``engine.dispose()`` (a stopping server, a restore)
    closes them as it closes the pool's: the idle ones at once, those reading when they finish. A forked
    child starts with none (a SQLite connection must not cross a fork; the parent's are left to it)."""

    MAX_IDLE = 16

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.idle: list[Any] = []
        self.generation = 0  # one more at every dispose: a connection of an earlier one is closed
        _READERS.add(self)
        event.listen(engine, "engine_disposed", _on_dispose(weakref.ref(self)))

    @staticmethod
    def fit(engine: Engine) -> bool:
        """A SQLite file behind a QueuePool (a memory database lives in its one pooled connection)."""
        database = engine.url.database or ""
        return (
            engine.dialect.name == "sqlite"
            and isinstance(engine.pool, sa.pool.QueuePool)
            and database not in ("", ":memory:")
            and "mode=memory" not in database
        )

    def fetch(self, sql: str, bound: Any) -> list[Any]:
        generation = self.generation
        try:
            connection = self.idle.pop()  # atomic under the interpreter lock: one thread gets each
        except IndexError:
            connection = self._open()
        try:
            cursor = connection.execute(sql, bound)
            rows: list[Any] = cursor.fetchall()
        except BaseException:
            connection.close()
            raise
        idle = self.idle
        if generation == self.generation and len(idle) < self.MAX_IDLE:
            idle.append(connection)
        else:
            connection.close()
        return rows

    def close_idle(self) -> None:
        self.generation += 1
        idle, self.idle = self.idle, []
        for connection in idle:
            connection.close()

    def _open(self) -> Any:
        pooled = self.engine.raw_connection()
        pooled.detach()  # the pool opens the next one anew; this one is ours
        connection = pooled.dbapi_connection
        assert connection is not None
        return connection

    def forget_in_child(self) -> None:
        _ABANDONED.extend(self.idle)  # kept open and untouched: closing one could disturb the parent's
        self.idle = []


def _on_dispose(readers: weakref.ref[_SqliteReaders]) -> Callable[[Engine], None]:
    """The engine's dispose listener; by weak reference, not keeping the readers alive."""

    def disposed(_engine: Engine) -> None:
        found = readers()
        if found is not None:
            found.close_idle()

    return disposed


_READERS: weakref.WeakSet[_SqliteReaders] = weakref.WeakSet()
_ABANDONED: list[Any] = []


def _forget_readers_in_child() -> None:
    for readers in list(_READERS):
        readers.forget_in_child()


os.register_at_fork(after_in_child=_forget_readers_in_child)


def _to_enterprise(row: Mapping[Any, Any], financials: tuple[AnnualFinancials, ...]) -> Enterprise:
    return Enterprise(
        uscc=row["uscc"],
        display_name=row["display_name"],
        industry_code=row["industry_code"],
        region_code=row["region_code"],
        size_class=row["size_class"],
        financials=financials,
        create_time=utc(row["create_time"]),
        update_time=utc(row["update_time"]),
    )
