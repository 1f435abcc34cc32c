"""Enterprise consent, as the scoring service applies it (registry consent.proto, docs/security.md).

A lender (a caller authenticated with a ``lender`` token) may quote an enterprise only under an active
``CARBON_DATA`` grant of that enterprise to that lender; without one the quote is refused before any
registry data is fetched (PERMISSION_DENIED, reason CONSENT_REQUIRED, naming the enterprise and the
lender). A lender or credit officer sees an explanation's profile snapshot only under an active
``CARBON_DATA`` grant (else only the profile's name, period and grade, which the decision itself
states) and the enterprise's financials (revenue, equity, debt) only under ``FINANCIALS``.
Callers without a lender tenant (admin; development without authentication) are not restricted.
Grants are read from the registry on every check, so a revocation applies to the next call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from scoring_service.registry_client import _translated
from tanxiao.errors import PermissionDenied
from tanxiao.platform.auth import CREDIT_OFFICER, LENDER, current_principal
from tanxiao.platform.config import Settings
from tanxiao.registry.v1 import consent_pb2, consent_pb2_grpc, registry_pb2

CARBON_DATA = "CARBON_DATA"
FINANCIALS = "FINANCIALS"
T = TypeVar("T")


def restricted_lender() -> str:
    """The lender whose consents bind the current call ("" when the caller is not a lender's)."""
    principal = current_principal.get()
    if principal is None or principal.role not in (LENDER, CREDIT_OFFICER):
        return ""
    return principal.tenant


class ConsentChecker:
    def __init__(self, channel: grpc.Channel, settings: Settings) -> None:
        self.stub = consent_pb2_grpc.ConsentsStub(channel)
        self.deadline = settings.registry_deadline_seconds
        self.metadata = (
            [("authorization", f"Bearer {settings.service_token}")] if settings.service_token else []
        )

    def scopes(self, enterprise: str, lender: str) -> frozenset[str]:
        """The scopes of the active grants of ``enterprise`` to ``lender``."""
        request = consent_pb2.ListConsentsRequest(parent=enterprise, lender=lender)
        response = self._call(
            "ListConsents",
            lambda: self.stub.ListConsents(request, timeout=self.deadline, metadata=self.metadata),
        )
        return frozenset(consent_pb2.ConsentScope.Name(s) for c in response.consents for s in c.scopes)

    def require_carbon_data(self, enterprise: str, lender: str, field: str = "enterprise") -> None:
        if CARBON_DATA not in self.scopes(enterprise, lender):
            raise PermissionDenied(
                f"{enterprise} has not granted {lender} consent to use its carbon data (scope CARBON_DATA);"
                " the enterprise (or the registry operator on its behalf) must record a grant first",
                reason="CONSENT_REQUIRED",
                metadata={"field": field, "enterprise": enterprise, "lender": lender},
            )

    def limit_profile(self, profile: registry_pb2.CarbonProfile, lender: str) -> None:
        """Strip from ``profile`` (in place) what the lender's current grants do not cover."""
        enterprise = f"enterprises/{profile.uscc}" if profile.uscc else ""
        if not enterprise:
            return
        scopes = self.scopes(enterprise, lender)
        if CARBON_DATA not in scopes:
            kept = registry_pb2.CarbonProfile(name=profile.name, uscc=profile.uscc, period=profile.period)
            kept.grade.CopyFrom(profile.grade)
            profile.CopyFrom(kept)
        if FINANCIALS not in scopes:
            profile.ClearField("financials")

    def _call(self, method: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except grpc.RpcError as exc:
            raise _translated(method, exc) from exc


def check_quotes(checker: ConsentChecker | None, quotes: list[Any]) -> None:
    """Refuse the first quote (parsed: ``.enterprise``, ``.lender``) without a CARBON_DATA grant."""
    lender = restricted_lender()
    if checker is None or not lender:
        return
    for index, quote in enumerate(quotes):
        field = "enterprise" if len(quotes) == 1 else f"requests[{index}].quote.enterprise"
        checker.require_carbon_data(quote.enterprise, quote.lender, field)
