"""Bearer tokens and the principals they stand for.

A token is a random secret ``tx_{token_id}_{32 url-safe characters}`` handed out once by
``create_token`` (``tanxiao token create``). Only its sha256 is stored (``api_tokens.token_hash``): the
database never holds a usable secret, and 192 random bits make a plain hash as good as a slow one.
Each token maps to one role, one tenant and optional grants; what they allow is decided in
``tanxiao.platform.authz`` alone.

Roles and tenants:

- ``data_provider``: tenant is a DataSource name (e.g. ``GRID_UTILITY``), the only source it may ingest.
- ``lender`` and ``credit_officer``: tenant is ``lenders/{id}``.
- ``regulator``, ``service`` (the scoring service calling the registry) and ``admin``: tenant ``""``.

The interceptor sets ``current_principal`` for the duration of each authenticated call.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from tanxiao.platform.db import read_only, transaction
from tanxiao.platform.schema import new_metadata

# The registry's naming convention (registry_service/storage/tables.py), so 0005 can name constraints.

metadata = new_metadata()

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_id", sa.String(32), primary_key=True),
    # sha256 hex of the whole secret; never the secret itself.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("tenant", sa.String(128), nullable=False),
    sa.Column("grants", sa.JSON, nullable=False),  # e.g. ["enterprise_data"]
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoke_time", sa.DateTime(timezone=True), nullable=True),
    # Every token expires (0008): a leaked secret is not good forever.
    sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
)

DATA_PROVIDER = "data_provider"
LENDER = "lender"
CREDIT_OFFICER = "credit_officer"
APPROVER = "approver"  # a lender's second approver (four eyes) of review actions
REGULATOR = "regulator"
SERVICE = "service"
ADMIN = "admin"
ROLES: tuple[str, ...] = (DATA_PROVIDER, LENDER, CREDIT_OFFICER, APPROVER, REGULATOR, SERVICE, ADMIN)

# A regulator's access to enterprise-level registry data (profiles, enterprises, records, commitments).
ENTERPRISE_DATA = "enterprise_data"
# The supervising regulator's loan-level view (ListSupervisedLoans) and the named grade-5 list of the
# registry dashboard (ListGradeFiveEnterprises): borrowers and enterprises without disclosure control.
LOAN_LEVEL = "loan_level"
GRANTS: tuple[str, ...] = (ENTERPRISE_DATA, LOAN_LEVEL)
# A SELF_REPORTED or THIRD_PARTY_VERIFIED data provider reports only for the enterprises named on its
# token, one grant "enterprise:<USCC>" each (tanxiao.platform.authz.record_scope_denial).
ENTERPRISE_GRANT_PREFIX = "enterprise:"
ENTERPRISE_SCOPED_SOURCES: tuple[str, ...] = ("SELF_REPORTED", "THIRD_PARTY_VERIFIED")


def is_enterprise_grant(grant: str) -> bool:
    code = grant.removeprefix(ENTERPRISE_GRANT_PREFIX)
    return grant.startswith(ENTERPRISE_GRANT_PREFIX) and len(code) == 18 and code.isalnum() and code.isupper()


def granted_enterprises(principal: Principal) -> frozenset[str]:
    """The USCCs an enterprise-scoped data provider may report for."""
    return frozenset(
        g.removeprefix(ENTERPRISE_GRANT_PREFIX) for g in principal.grants if is_enterprise_grant(g)
    )


LENDER_TENANT = re.compile(r"^lenders/[a-z0-9][a-z0-9-]{0,62}$")  # as scoring_service/inputs.py
# tanxiao.common.v1.DataSource names but UNSPECIFIED (tests/platform/test_authz_matrix.py keeps it in step).
DATA_SOURCES: tuple[str, ...] = (
    "GRID_UTILITY",
    "GAS_UTILITY",
    "STATISTICS",
    "TAX",
    "SELF_REPORTED",
    "THIRD_PARTY_VERIFIED",
)
TOKEN_PREFIX = "tx_"
_SECRET = re.compile(r"^tx_([0-9a-f]{16})_([A-Za-z0-9_-]{32})$")
MAX_DESCRIPTION = 200
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=366)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id (safe to log), its role, tenant and grants."""

    token_id: str
    role: str
    tenant: str
    grants: frozenset[str] = field(default_factory=frozenset)
    expire_time: datetime | None = None  # None only for principals made in code (tests)

    def expired(self, now: datetime | None = None) -> bool:
        return self.expire_time is not None and self.expire_time <= (now or datetime.now(UTC))

    def has_grant(self, grant: str) -> bool:
        return grant in self.grants

    def log_fields(self) -> dict[str, str]:
        """What identifies the caller in a log line (never the secret)."""
        return {"token_id": self.token_id, "role": self.role, "tenant": self.tenant}


current_principal: ContextVar[Principal | None] = ContextVar("tanxiao_current_principal", default=None)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def token_id_of(secret: str) -> str | None:
    """The token id a well-formed secret names (safe to log), else None."""
    match = _SECRET.match(secret)
    return match.group(1) if match else None


def validate(role: str, tenant: str, grants: Iterable[str] = ()) -> frozenset[str]:
    """Raise ValueError naming the bad field unless role, tenant and grants fit together."""
    if role not in ROLES:
        raise ValueError(f"role: must be one of {', '.join(ROLES)}; got {role!r}")
    if role in (LENDER, CREDIT_OFFICER, APPROVER):
        if not LENDER_TENANT.match(tenant):
            raise ValueError(f"tenant: a {role} token's tenant must be lenders/{{id}}; got {tenant!r}")
    elif role == DATA_PROVIDER:
        if tenant not in DATA_SOURCES:
            raise ValueError(
                f"tenant: a data_provider token's tenant must be a data source ({', '.join(DATA_SOURCES)});"
                f" got {tenant!r}"
            )
    elif tenant != "":
        raise ValueError(f"tenant: a {role} token has no tenant (empty); got {tenant!r}")
    granted = frozenset(grants)
    enterprise_grants = {g for g in granted if is_enterprise_grant(g)}
    if enterprise_grants and not (role == DATA_PROVIDER and tenant in ENTERPRISE_SCOPED_SOURCES):
        raise ValueError(
            f"grants: enterprise grants are for {'/'.join(ENTERPRISE_SCOPED_SOURCES)} data providers"
        )
    granted_other = granted - enterprise_grants
    unknown = sorted(granted_other - set(GRANTS))
    if unknown:
        raise ValueError(
            f"grants: unknown {', '.join(unknown)}; known: {', '.join(GRANTS)}"
            f" and {ENTERPRISE_GRANT_PREFIX}<USCC>"
        )
    if granted_other and role != REGULATOR:
        raise ValueError(f"grants: only regulator tokens take grants; got {sorted(granted)} for {role}")
    return granted


def create_token(
    engine: Engine,
    role: str,
    tenant: str,
    grants: Iterable[str] = (),
    description: str = "",
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> tuple[str, Principal]:
    """Store a new token and return its secret (shown once, never stored) and its principal. The token
    expires after ``lifetime`` (at most MAX_LIFETIME)."""
    granted = validate(role, tenant, grants)
    if len(description) > MAX_DESCRIPTION:
        raise ValueError(f"description: at most {MAX_DESCRIPTION} characters")
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise ValueError(f"lifetime: more than 0 and at most {MAX_LIFETIME.days} days")
    now = datetime.now(UTC)
    token_id = secrets.token_hex(8)
    secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(24)}"
    assert _SECRET.match(secret), "token format drifted from its parser"
    with transaction(engine) as connection:
        connection.execute(
            api_tokens.insert().values(
                token_id=token_id,
                token_hash=token_hash(secret),
                role=role,
                tenant=tenant,
                grants=sorted(granted),
                description=description,
                create_time=now,
                revoke_time=None,
                expire_time=now + lifetime,
            )
        )
    return secret, Principal(token_id, role, tenant, granted, now + lifetime)


def revoke_token(engine: Engine, token_id: str) -> bool:
    """Revoke a token; False when there is no such (unrevoked) token. Servers notice within their
    cache TTL."""
    with transaction(engine) as connection:
        result = connection.execute(
            api_tokens.update()
            .where(api_tokens.c.token_id == token_id, api_tokens.c.revoke_time.is_(None))
            .values(revoke_time=datetime.now(UTC))
        )
    return bool(result.rowcount)


def list_tokens(engine: Engine) -> list[dict[str, Any]]:
    """Every token's metadata (no hashes), oldest first."""
    columns = [c for c in api_tokens.c if c.name != "token_hash"]
    with read_only(engine) as connection:
        rows = connection.execute(sa.select(*columns).order_by(api_tokens.c.create_time)).mappings()
        return [dict(row) for row in rows]


class TokenStore:
    """Resolves a presented secret to its principal (None for unknown, malformed, revoked or expired
    tokens).

    Results are cached for ``ttl_seconds`` (keyed by the secret's hash), so a revocation takes effect
    within that time and a flood of calls costs one query per token per TTL. Expiry is checked on every
    use, cached or not.
    """

    def __init__(self, engine: Engine, *, ttl_seconds: float = 10.0, max_entries: int = 10_000) -> None:
        self.engine = engine
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def principal(self, secret: str) -> Principal | None:
        token_id = token_id_of(secret)
        if token_id is None:
            return None
        digest = token_hash(secret)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            found = cached[1]
        else:
            found = self._load(token_id, digest)
            with self._lock:
                if len(self._cache) >= self.max_entries:
                    self._cache.clear()
                self._cache[digest] = (now + self.ttl_seconds, found)
        return None if found is None or found.expired() else found

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def _load(self, token_id: str, digest: str) -> Principal | None:
        with read_only(self.engine) as connection:
            row = connection.execute(
                sa.select(
                    api_tokens.c.token_hash,
                    api_tokens.c.role,
                    api_tokens.c.tenant,
                    api_tokens.c.grants,
                    api_tokens.c.revoke_time,
                    api_tokens.c.expire_time,
                ).where(api_tokens.c.token_id == token_id)
            ).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoke_time is not None:
            return None
        expire_time = row.expire_time
        if expire_time is not None and expire_time.tzinfo is None:  # SQLite returns naive UTC
            expire_time = expire_time.replace(tzinfo=UTC)
        return Principal(token_id, row.role, row.tenant, frozenset(row.grants or ()), expire_time)
