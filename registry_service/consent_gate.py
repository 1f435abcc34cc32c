"""Enterprise reads under consent: where the authorization table (tanxiao.platform.authz) lets a role
read an enterprise only under that enterprise's consent (``Access.consent``, e.g. a credit officer's
GetEnterprise), the registry, which holds the grants, checks them on every call.

A read is allowed when the enterprise has an active grant with the scope to the caller's tenant (its
lender); otherwise PERMISSION_DENIED, reason CONSENT_REQUIRED, before anything about the enterprise is
loaded (an unknown enterprise is refused alike, so existence does not leak). Callers whose rule asks no
consent (admin, the scoring service, a regulator with ``enterprise_data``, development without
authentication) pass untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine

from registry_service.consent_store import ConsentRepository
from registry_service.convert import enterprise_name
from tanxiao.errors import PermissionDenied
from tanxiao.platform import authz
from tanxiao.platform.auth import current_principal

SERVICE = "tanxiao.registry.v1.CarbonRegistry"


class ConsentGate:
    def __init__(self, engine: Engine) -> None:
        self.repository = ConsentRepository(engine)

    def visible(self, method: str) -> list[str] | None:
        """For a list ``method``: the enterprises the current caller may see under consent (those with
        an active grant of the rule's scope to its lender), or None when its rule asks no consent."""
        principal = current_principal.get()
        if principal is None:
            return None
        scope = authz.consent_required(f"/{SERVICE}/{method}", principal)
        if scope is None:
            return None
        return self.repository.consenting(principal.tenant, scope) if principal.tenant else []

    def require(self, method: str, usccs: Iterable[str]) -> None:
        """Refuse the call ``method`` (a CarbonRegistry method name) of the current caller unless every
        enterprise in ``usccs`` has granted the caller's lender the scope its rule asks for."""
        principal = current_principal.get()
        if principal is None:
            return
        full = f"/{SERVICE}/{method}"
        scope = authz.consent_required(full, principal)
        if scope is None:
            return
        now = datetime.now(UTC)
        for uscc in dict.fromkeys(usccs):
            grants = self.repository.list(uscc, principal.tenant) if principal.tenant else []
            if not any(scope in g.scopes and g.active(now) for g in grants):
                denial = authz.consent_denial(principal, enterprise_name(uscc), scope)
                raise PermissionDenied(
                    denial.message,
                    reason=denial.reason,
                    metadata={
                        "method": full,
                        "field": denial.field,
                        "enterprise": enterprise_name(uscc),
                        "lender": principal.tenant,
                        "scope": scope,
                    },
                )
