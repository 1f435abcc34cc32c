"""Who signs in: a bearer token checked against the same token store the services use.

The console only needs the role and tenant to lay out its navigation; every call still goes to the
services with the token, which decide what the user may see. With TANXIAO_AUTH_REQUIRED=false
(`make run`) the services check no token, so the console offers a development identity instead.

Single sign-on: docs/console.md describes putting the bank's OIDC proxy in front and mapping each
user to a tanxiao token; the console itself never sees passwords.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from tanxiao.platform.auth import CREDIT_OFFICER, LENDER, LENDER_TENANT, REGULATOR, TokenStore

CONSOLE_ROLES = (CREDIT_OFFICER, LENDER, REGULATOR)


@dataclass(frozen=True)
class Identity:
    role: str
    tenant: str
    subject: str
    token: str


class Identities:
    def __init__(self, engine: Engine | None, auth_required: bool) -> None:
        self.auth_required = auth_required
        self._store = TokenStore(engine) if engine is not None and auth_required else None

    def from_token(self, secret: str) -> Identity | None:
        """The identity of a token the store knows (any role; the services decide the rest)."""
        if self._store is None:
            return None
        principal = self._store.principal(secret.strip())
        if principal is None:
            return None
        return Identity(principal.role, principal.tenant, principal.token_id, secret.strip())

    def development(self, role: str, lender: str) -> Identity | None:
        """Development mode only: a role to lay the pages out for, without a token."""
        if self.auth_required or role not in CONSOLE_ROLES:
            return None
        tenant = ""
        if role in (LENDER, CREDIT_OFFICER):
            tenant = lender if lender.startswith("lenders/") else f"lenders/{lender}"
            if not LENDER_TENANT.match(tenant):
                return None
        return Identity(role, tenant, "development", "")
