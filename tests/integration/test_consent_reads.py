"""A lender's credit officer reads an enterprise (profile, history, commitments) only under the
enterprise's consent to that lender, over gRPC with real tokens: the authorization table declares it
(``Access.consent``), the registry enforces it (registry_service.consent_gate).

Before: enterprise reads were admin / service / regulator-with-enterprise_data only, so the console's
enterprise page answered a credit officer PERMISSION_DENIED (ROLE_NOT_ALLOWED) whatever the consent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from helpers import Registry, error_details, graded_year_records, make_uscc

from registry_service.app import start_registry
from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from tanxiao.platform import authz
from tanxiao.platform.auth import CREDIT_OFFICER, create_token
from tanxiao.platform.server import RunningServer
from tanxiao.registry.v1 import consent_pb2, consent_pb2_grpc, registry_pb2_grpc
from tanxiao.registry.v1 import registry_pb2 as rpb

FIRM = make_uscc(410)
ENTERPRISE = f"enterprises/{FIRM}"
OWN, OTHER = "lenders/huzhou-bank", "lenders/anji-rcb"

# Every registry read the table opens to a credit officer under consent, as a call on FIRM.
READS: dict[str, Callable[[registry_pb2_grpc.CarbonRegistryStub], Callable[..., Any]]] = {
    "GetEnterprise": lambda s: lambda **kw: s.GetEnterprise(rpb.GetEnterpriseRequest(name=ENTERPRISE), **kw),
    "GetCarbonProfile": lambda s: (
        lambda **kw: s.GetCarbonProfile(rpb.GetCarbonProfileRequest(name=f"{ENTERPRISE}/profiles/2022"), **kw)
    ),
    "BatchGetCarbonProfiles": lambda s: (
        lambda **kw: s.BatchGetCarbonProfiles(
            rpb.BatchGetCarbonProfilesRequest(
                names=[f"{ENTERPRISE}/profiles/2021", f"{ENTERPRISE}/profiles/2022"], allow_missing=True
            ),
            **kw,
        )
    ),
    "ListCommitments": lambda s: (
        lambda **kw: s.ListCommitments(rpb.ListCommitmentsRequest(parent=ENTERPRISE), **kw)
    ),
    # no commitment is registered: under consent the call reaches the lookup (NOT_FOUND)
    "GetCommitmentProgress": lambda s: (
        lambda **kw: s.GetCommitmentProgress(
            rpb.GetCommitmentProgressRequest(name=f"{ENTERPRISE}/commitments/1"), **kw
        )
    ),
}


@dataclass
class Secured:
    stub: registry_pb2_grpc.CarbonRegistryStub
    consents: consent_pb2_grpc.ConsentsStub
    tokens: dict[str, tuple[tuple[str, str], ...]]
    server: RunningServer


@pytest.fixture
def secured(registry: Registry) -> Iterator[Secured]:
    EnterpriseRepository(registry.engine).create_many([Enterprise(FIRM, "湖州印染", "1713", "330502")])
    registry.stub.BatchIngestRecords(
        rpb.BatchIngestRecordsRequest(records=graded_year_records(FIRM, 1.0)), timeout=30
    )

    def token(role: str, tenant: str = "", *grants: str) -> tuple[tuple[str, str], ...]:
        secret, _ = create_token(registry.engine, role, tenant, grants, description="consent reads")
        return (("authorization", f"Bearer {secret}"),)

    tokens = {
        "officer": token("credit_officer", OWN),
        "other_officer": token("credit_officer", OTHER),
        "lender": token("lender", OWN),
        "regulator": token("regulator"),
        "admin": token("admin"),
    }
    server = start_registry(
        replace(registry.settings, auth_required=True, token_cache_seconds=0.0), "127.0.0.1:0"
    )
    channel = grpc.insecure_channel(server.address)
    try:
        yield Secured(
            registry_pb2_grpc.CarbonRegistryStub(channel),
            consent_pb2_grpc.ConsentsStub(channel),
            tokens,
            server,
        )
    finally:
        channel.close()
        server.stop(None)


def _grant(secured: Secured, lender: str, scope: int) -> consent_pb2.Consent:
    expire = Timestamp()
    expire.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    request = consent_pb2.GrantConsentRequest(
        enterprise=ENTERPRISE, lender=lender, scopes=[scope], expire_time=expire, reference="授权书-7"
    )
    return secured.consents.GrantConsent(request, metadata=secured.tokens["admin"], timeout=10)


def _refused(secured: Secured, who: str, method: str) -> Any:
    with pytest.raises(grpc.RpcError) as caught:
        READS[method](secured.stub)(metadata=secured.tokens[who], timeout=30)
    return error_details(caught.value)


def _assert_consent_required(secured: Secured, who: str, lender: str) -> None:
    for method in READS:
        details = _refused(secured, who, method)
        assert (details.code, details.reason) == (grpc.StatusCode.PERMISSION_DENIED, "CONSENT_REQUIRED"), (
            method
        )
        assert (
            ENTERPRISE in details.message and lender in details.message and "CARBON_DATA" in details.message
        )
        assert details.metadata["enterprise"] == ENTERPRISE and details.metadata["lender"] == lender
        assert details.metadata["method"].endswith(f"/{method}") and details.metadata["field"] == "enterprise"


def test_every_read_the_table_opens_under_consent_is_checked_here() -> None:
    gated = {
        method.rsplit("/", 1)[1]
        for method, rule in authz.RULES.items()
        if (access := rule.access.get(CREDIT_OFFICER)) is not None and access.consent is not None
    }
    assert gated == {*READS, "ListEnterprises"}  # the list is filtered, not refused: see below


def test_a_credit_officer_reads_an_enterprise_only_under_its_consent_to_the_officers_lender(
    secured: Secured,
) -> None:
    _assert_consent_required(secured, "officer", OWN)
    _grant(secured, OWN, consent_pb2.FINANCIALS)  # the wrong scope does not do
    _assert_consent_required(secured, "officer", OWN)

    grant = _grant(secured, OWN, consent_pb2.CARBON_DATA)
    officer = secured.tokens["officer"]
    assert (
        secured.stub.GetEnterprise(
            rpb.GetEnterpriseRequest(name=ENTERPRISE), metadata=officer, timeout=10
        ).display_name
        == "湖州印染"
    )
    profile = secured.stub.GetCarbonProfile(
        rpb.GetCarbonProfileRequest(name=f"{ENTERPRISE}/profiles/2022"), metadata=officer, timeout=30
    )
    assert profile.uscc == FIRM and profile.months_covered == 12
    batch = READS["BatchGetCarbonProfiles"](secured.stub)(metadata=officer, timeout=30)
    assert [p.period for p in batch.profiles] == ["2022"]
    assert len(READS["ListCommitments"](secured.stub)(metadata=officer, timeout=10).commitments) == 0
    assert _refused(secured, "officer", "GetCommitmentProgress").code == grpc.StatusCode.NOT_FOUND
    # the officer sees its own lender's grants (the console's consent panel), not another lender's
    listed = secured.consents.ListConsents(
        consent_pb2.ListConsentsRequest(parent=ENTERPRISE, lender=OWN), metadata=officer, timeout=10
    )
    assert grant.name in [c.name for c in listed.consents]
    with pytest.raises(grpc.RpcError) as caught:
        secured.consents.ListConsents(
            consent_pb2.ListConsentsRequest(parent=ENTERPRISE, lender=OTHER), metadata=officer, timeout=10
        )
    assert error_details(caught.value).reason == authz.OTHER_TENANT

    # the officer's enterprise list holds the consenting enterprise only
    listed_firms = secured.stub.ListEnterprises(rpb.ListEnterprisesRequest(), metadata=officer, timeout=10)
    assert [e.uscc for e in listed_firms.enterprises] == [FIRM] and listed_firms.total_size == 1

    # another lender's officer: the grant is not his lender's
    _assert_consent_required(secured, "other_officer", OTHER)
    others = secured.stub.ListEnterprises(
        rpb.ListEnterprisesRequest(), metadata=secured.tokens["other_officer"], timeout=10
    )
    assert list(others.enterprises) == [] and others.total_size == 0

    secured.consents.RevokeConsent(
        consent_pb2.RevokeConsentRequest(name=grant.name), metadata=secured.tokens["admin"], timeout=10
    )
    _assert_consent_required(secured, "officer", OWN)  # a revocation applies to the next call


def test_consent_opens_nothing_to_roles_without_the_rule(secured: Secured, registry: Registry) -> None:
    EnterpriseRepository(registry.engine).create_many(
        [Enterprise(make_uscc(412), "他家企业", "1713", "330502")]
    )
    _grant(secured, OWN, consent_pb2.CARBON_DATA)
    for who, reason in (("lender", authz.ROLE_NOT_ALLOWED), ("regulator", authz.GRANT_REQUIRED)):
        details = _refused(secured, who, "GetEnterprise")
        assert (details.code, details.reason) == (grpc.StatusCode.PERMISSION_DENIED, reason), who
    # an unknown enterprise is refused as any unconsented one: existence does not leak
    missing = f"enterprises/{make_uscc(411)}"
    with pytest.raises(grpc.RpcError) as caught:
        secured.stub.GetEnterprise(
            rpb.GetEnterpriseRequest(name=missing), metadata=secured.tokens["officer"], timeout=10
        )
    assert error_details(caught.value).reason == "CONSENT_REQUIRED"
    # with the grant, the list still holds only the consenting enterprise, not the other one
    listed = secured.stub.ListEnterprises(
        rpb.ListEnterprisesRequest(), metadata=secured.tokens["officer"], timeout=10
    )
    assert [e.uscc for e in listed.enterprises] == [FIRM]
