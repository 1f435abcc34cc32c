"""Consent grants of enterprises to lenders: the table and its repository.

A grant names one enterprise, one lender, scopes (``CARBON_DATA``, ``FINANCIALS``) and an expiry; it
applies from its creation until it expires or is revoked. Grants are never updated otherwise, nor
deleted: revocation sets ``revoke_time``, so the history of who could see what stays answerable.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine

from registry_service.storage import utc
from registry_service.storage.tables import enterprises
from tanxiao.errors import NotFound, ValidationError
from tanxiao.platform.db import read_only, transaction
from tanxiao.platform.schema import new_metadata

SCOPES: tuple[str, ...] = ("CARBON_DATA", "FINANCIALS")
MAX_LIFETIME = timedelta(days=3 * 366)
MAX_LISTED = 1000

metadata = new_metadata()

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("lender", sa.String(80), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),  # e.g. ["CARBON_DATA"]
    sa.Column("reference", sa.String(100), nullable=False),
    sa.Column("granted_by", sa.String(32), nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoke_time", sa.DateTime(timezone=True), nullable=True),
    sa.Index(None, "uscc", "lender"),
)


@dataclass(frozen=True)
class Grant:
    id: str
    uscc: str
    lender: str
    scopes: frozenset[str]
    reference: str
    granted_by: str
    create_time: datetime
    expire_time: datetime
    revoke_time: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoke_time is None and self.create_time <= now < self.expire_time


class ConsentRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def grant(
        self, uscc: str, lender: str, scopes: frozenset[str], expire_time: datetime, reference: str, by: str
    ) -> Grant:
        now = datetime.now(UTC)
        if not now < expire_time <= now + MAX_LIFETIME:
            raise ValidationError.for_field("expire_time", "must be in the future and at most 3 years away")
        unknown = sorted(scopes - set(SCOPES))
        if not scopes or unknown:
            raise ValidationError.for_field("scopes", f"at least one of {', '.join(SCOPES)}")
        grant = Grant(secrets.token_hex(8), uscc, lender, scopes, reference, by, now, expire_time)
        with transaction(self.engine) as connection:
            known = connection.execute(
                sa.select(enterprises.c.uscc).where(enterprises.c.uscc == uscc)
            ).first()
            if known is None:
                raise NotFound(f"enterprise {uscc} not found", reason="ENTERPRISE_NOT_FOUND")
            connection.execute(consents.insert().values(**_row(grant)))
        return grant

    def revoke(self, uscc: str, grant_id: str) -> Grant:
        with transaction(self.engine) as connection:
            where = (consents.c.id == grant_id) & (consents.c.uscc == uscc)
            connection.execute(
                consents.update()
                .where(where, consents.c.revoke_time.is_(None))
                .values(revoke_time=datetime.now(UTC))
            )
            row = connection.execute(sa.select(consents).where(where)).first()
        if row is None:
            raise NotFound(f"consent {grant_id!r} of enterprise {uscc} not found", reason="CONSENT_NOT_FOUND")
        return _grant(row)

    def list(self, uscc: str, lender: str = "", include_inactive: bool = False) -> list[Grant]:
        query = sa.select(consents).where(consents.c.uscc == uscc)
        if lender:
            query = query.where(consents.c.lender == lender)
        with read_only(self.engine) as connection:
            rows = connection.execute(query.order_by(consents.c.create_time.desc()).limit(MAX_LISTED)).all()
        grants = [_grant(r) for r in rows]
        now = datetime.now(UTC)
        return grants if include_inactive else [g for g in grants if g.active(now)]

    def consenting(self, lender: str, scope: str) -> list[str]:
        """The USCCs of the enterprises with an active ``scope`` grant to ``lender``, in order."""
        now = datetime.now(UTC)
        query = sa.select(consents).where(consents.c.lender == lender, consents.c.revoke_time.is_(None))
        with read_only(self.engine) as connection:
            grants = [_grant(r) for r in connection.execute(query).all()]
        return sorted({g.uscc for g in grants if scope in g.scopes and g.active(now)})


def _row(grant: Grant) -> dict[str, object]:
    return {
        "id": grant.id,
        "uscc": grant.uscc,
        "lender": grant.lender,
        "scopes": sorted(grant.scopes),
        "reference": grant.reference,
        "granted_by": grant.granted_by,
        "create_time": grant.create_time,
        "expire_time": grant.expire_time,
        "revoke_time": grant.revoke_time,
    }


def _grant(row: sa.Row[tuple[object, ...]]) -> Grant:
    return Grant(
        id=row.id,
        uscc=row.uscc,
        lender=row.lender,
        scopes=frozenset(row.scopes or ()),
        reference=row.reference,
        granted_by=row.granted_by,
        create_time=utc(row.create_time),
        expire_time=utc(row.expire_time),
        revoke_time=utc(row.revoke_time) if row.revoke_time is not None else None,
    )
