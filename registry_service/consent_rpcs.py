"""The Consents service: record, revoke and list enterprise consent grants (consent.proto)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine

from registry_service.consent_store import ConsentRepository, Grant
from registry_service.convert import enterprise_name, parse_enterprise_name
from tanxiao.errors import ValidationError
from tanxiao.platform.auth import LENDER_TENANT, current_principal
from tanxiao.platform.server import ServiceBinding
from tanxiao.registry.v1 import consent_pb2, consent_pb2_grpc

SERVICE = "tanxiao.registry.v1.Consents"
_CONSENT_NAME = re.compile(r"^(enterprises/[^/]+)/consents/([0-9a-f]{16})$")
MAX_REFERENCE = 100


def _lender(value: str, field: str = "lender") -> str:
    if not LENDER_TENANT.match(value.strip()):
        raise ValidationError.for_field(field, "must be lenders/{id}")
    return value.strip()


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def consent_to_proto(grant: Grant) -> consent_pb2.Consent:
    out = consent_pb2.Consent(
        name=f"{enterprise_name(grant.uscc)}/consents/{grant.id}",
        enterprise=enterprise_name(grant.uscc),
        lender=grant.lender,
        scopes=[consent_pb2.ConsentScope.Value(s) for s in sorted(grant.scopes)],
        expire_time=_timestamp(grant.expire_time),
        create_time=_timestamp(grant.create_time),
        granted_by=grant.granted_by,
        reference=grant.reference,
    )
    if grant.revoke_time is not None:
        out.revoke_time.CopyFrom(_timestamp(grant.revoke_time))
    return out


class ConsentsServicer(consent_pb2_grpc.ConsentsServicer):
    def __init__(self, engine: Engine) -> None:
        self.repository = ConsentRepository(engine)

    def GrantConsent(
        self, request: consent_pb2.GrantConsentRequest, context: grpc.ServicerContext
    ) -> consent_pb2.Consent:
        uscc = parse_enterprise_name(request.enterprise, "enterprise")
        lender = _lender(request.lender)
        if len(request.reference) > MAX_REFERENCE:
            raise ValidationError.for_field("reference", f"at most {MAX_REFERENCE} characters")
        scopes = frozenset(consent_pb2.ConsentScope.Name(s) for s in request.scopes if s in (1, 2))
        if len(scopes) != len(set(request.scopes)):
            raise ValidationError.for_field("scopes", "CARBON_DATA and/or FINANCIALS")
        if not request.HasField("expire_time"):
            raise ValidationError.for_field("expire_time", "required: when the grant stops applying")
        try:
            expire = request.expire_time.ToDatetime(tzinfo=UTC)
        except (ValueError, OverflowError):
            raise ValidationError.for_field("expire_time", "not a valid time") from None
        principal = current_principal.get()
        by = principal.token_id if principal is not None else ""
        return consent_to_proto(self.repository.grant(uscc, lender, scopes, expire, request.reference, by))

    def RevokeConsent(
        self, request: consent_pb2.RevokeConsentRequest, context: grpc.ServicerContext
    ) -> consent_pb2.Consent:
        match = _CONSENT_NAME.fullmatch(request.name.strip())
        if match is None:
            raise ValidationError.for_field("name", "must be enterprises/{uscc}/consents/{id}")
        uscc = parse_enterprise_name(match.group(1), "name")
        return consent_to_proto(self.repository.revoke(uscc, match.group(2)))

    def ListConsents(
        self, request: consent_pb2.ListConsentsRequest, context: grpc.ServicerContext
    ) -> consent_pb2.ListConsentsResponse:
        uscc = parse_enterprise_name(request.parent, "parent")
        lender = _lender(request.lender) if request.lender else ""
        grants = self.repository.list(uscc, lender, request.include_inactive)
        return consent_pb2.ListConsentsResponse(consents=[consent_to_proto(g) for g in grants])


def create_consent_binding(engine: Engine) -> ServiceBinding:
    return ServiceBinding(SERVICE, ConsentsServicer(engine), consent_pb2_grpc.add_ConsentsServicer_to_server)
