"""Utility accounts, their holdings and the sightings of accounts ingest could not attribute."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from registry_service.domain.accounts import Holding, account_name
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
from registry_service.storage.tables import (
    enterprises,
    utility_account_holdings,
    utility_account_sightings,
    utility_accounts,
)
from tanxiao.errors import AlreadyExists, NotFound, ValidationError


@dataclass(frozen=True)
class StoredAccount:
    name: str
    kind: str
    number: str
    holdings: tuple[Holding, ...]
    create_time: datetime


@dataclass(frozen=True)
class AccountPage:
    accounts: list[StoredAccount]
    next_page_token: str


@dataclass(frozen=True)
class Sighting:
    account: str
    reason_code: str
    claimed_uscc: str
    holder_uscc: str
    first_period: str
    last_period: str
    row_count: int
    last_seen_time: datetime


class AccountRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self, kind: str, number: str, holdings: Sequence[Holding], *, connection: Connection | None = None
    ) -> StoredAccount:
        name = account_name(kind, number)

        def work(conn: Connection) -> StoredAccount:
            if conn.execute(
                sa.select(utility_accounts.c.name).where(utility_accounts.c.name == name)
            ).first():
                raise AlreadyExists(f"utility account {name} already exists", reason="UTILITY_ACCOUNT_EXISTS")
            _require_enterprises(conn, holdings, "utility_account.holdings")
            now = datetime.now(UTC)
            conn.execute(
                utility_accounts.insert().values(name=name, kind=kind, number=number, create_time=now)
            )
            _insert_holdings(conn, name, holdings)
            return StoredAccount(name, kind, number, _sorted(holdings), now)

        return within(self.engine, connection, work)

    def get(self, name: str, *, connection: Connection | None = None) -> StoredAccount:
        with reading(self.engine, connection) as conn:
            row = conn.execute(sa.select(utility_accounts).where(utility_accounts.c.name == name)).first()
            if row is None:
                raise NotFound(f"utility account {name} not found", reason="UTILITY_ACCOUNT_NOT_FOUND")
            holdings = self.holdings_of([name], connection=conn).get(name, ())
            return StoredAccount(row.name, row.kind, row.number, tuple(holdings), utc(row.create_time))

    def replace_holdings(self, name: str, holdings: Sequence[Holding], *, connection: Connection) -> None:
        _require_enterprises(connection, holdings, "to_enterprise")
        connection.execute(
            utility_account_holdings.delete().where(utility_account_holdings.c.account == name)
        )
        _insert_holdings(connection, name, holdings)

    def holdings_of(
        self, names: Iterable[str], *, connection: Connection | None = None
    ) -> dict[str, tuple[Holding, ...]]:
        """Holdings of each registered account among ``names`` (unregistered ones are absent)."""
        found: dict[str, list[Holding]] = {}
        with reading(self.engine, connection) as conn:
            for chunk in chunked(sorted(set(names))):
                registered = sa.select(utility_accounts.c.name).where(utility_accounts.c.name.in_(chunk))
                for (name,) in conn.execute(registered):
                    found.setdefault(name, [])
                h = utility_account_holdings.c
                query = sa.select(h.account, h.uscc, h.valid_from, h.valid_to).where(h.account.in_(chunk))
                for account, uscc, start, end in conn.execute(query):
                    found[account].append(Holding(uscc, start, end))
        return {name: _sorted(held) for name, held in found.items()}

    def list(self, *, page_size: int, page_token: str, uscc: str, kind: str) -> AccountPage:
        size = page_size_of(page_size)
        fingerprint = filter_fingerprint("utility_accounts", uscc, kind)
        after = decode_page_token(page_token, fingerprint, shape=(str,))
        a = utility_accounts.c
        query = sa.select(a.name).order_by(a.name).limit(size + 1)
        if kind:
            query = query.where(a.kind == kind)
        if uscc:
            held = sa.select(utility_account_holdings.c.account).where(
                utility_account_holdings.c.uscc == uscc
            )
            query = query.where(a.name.in_(held))
        if after:
            query = query.where(a.name > after[0])
        with reading(self.engine, None) as conn:
            rows = conn.execute(query.with_only_columns(a.name, a.kind, a.number, a.create_time)).all()
            holdings = self.holdings_of([r.name for r in rows[:size]], connection=conn)
        names = [r.name for r in rows]
        accounts = [
            StoredAccount(r.name, r.kind, r.number, holdings[r.name], utc(r.create_time)) for r in rows[:size]
        ]
        token = encode_page_token([names[size - 1]], fingerprint) if len(names) > size else ""
        return AccountPage(accounts, token)

    def ambiguous_candidates(self, kind: str) -> list[StoredAccount]:
        """Accounts held by more than one enterprise at some time (the caller checks for overlap)."""
        h = utility_account_holdings.c
        query = sa.select(h.account).group_by(h.account).having(sa.func.count(sa.distinct(h.uscc)) > 1)
        if kind:
            query = query.where(h.account.like(f"utilityAccounts/{kind}/%"))
        with reading(self.engine, None) as conn:
            names = sorted(row[0] for row in conn.execute(query))
            return [self.get(name, connection=conn) for name in names]

    def record_sightings(self, conn: Connection, rows: pd.DataFrame) -> None:
        """Append one sighting per (account, reason, claimed, holder) of ``rows`` (columns account,
        kind, reason_code, claimed_uscc, holder_uscc, period), in the ingest's transaction."""
        if rows.empty:
            return
        keys = ["account", "kind", "reason_code", "claimed_uscc", "holder_uscc"]
        grouped = rows.groupby(keys, sort=True)["period"].agg(["min", "max", "size"]).reset_index()
        now = datetime.now(UTC)
        conn.execute(
            utility_account_sightings.insert(),
            [
                {
                    **{k: str(getattr(row, k)) for k in keys},
                    "first_period": str(row.min),
                    "last_period": str(row.max),
                    "row_count": int(row.size),
                    "seen_time": now,
                }
                for row in grouped.itertuples(index=False)
            ],
        )

    def sightings(self, kind: str) -> list[Sighting]:
        s = utility_account_sightings.c
        keys = (s.account, s.reason_code, s.claimed_uscc, s.holder_uscc)
        query = (
            sa.select(
                *keys,
                sa.func.min(s.first_period),
                sa.func.max(s.last_period),
                sa.func.sum(s.row_count),
                sa.func.max(s.seen_time),
            )
            .group_by(*keys)
            .order_by(*keys)
        )
        if kind:
            query = query.where(s.kind == kind)
        with reading(self.engine, None) as conn:
            return [
                Sighting(a, r, c, h, str(first), str(last), int(count), utc(seen))
                for a, r, c, h, first, last, count, seen in conn.execute(query)
            ]


def _sorted(holdings: Iterable[Holding]) -> tuple[Holding, ...]:
    return tuple(sorted(holdings, key=lambda h: (h.valid_from, h.uscc)))


def _insert_holdings(conn: Connection, name: str, holdings: Sequence[Holding]) -> None:
    conn.execute(
        utility_account_holdings.insert(),
        [
            {"account": name, "uscc": h.uscc, "valid_from": h.valid_from, "valid_to": h.valid_to}
            for h in holdings
        ],
    )


def _require_enterprises(conn: Connection, holdings: Sequence[Holding], field: str) -> None:
    wanted = {h.uscc for h in holdings}
    known = {
        row[0] for row in conn.execute(sa.select(enterprises.c.uscc).where(enterprises.c.uscc.in_(wanted)))
    }
    for i, holding in enumerate(holdings):
        if holding.uscc not in known:
            path = f"{field}[{i}].enterprise" if field.endswith("holdings") else field
            raise ValidationError.for_field(
                path, f"enterprise {holding.uscc} is not registered", reason="UNKNOWN_ENTERPRISE"
            )


__all__ = ["AccountPage", "AccountRepository", "Sighting", "StoredAccount"]
