"""Enterprise consent (issue 13, item 4), over gRPC: a lender quotes an enterprise only under its
CARBON_DATA grant, sees its financials in an explanation only under FINANCIALS, and a revocation or
expiry applies to the next call.

Before: a lender could quote any enterprise and ExplainDecision returned the firm's full profile with
revenue, equity and debt."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from helpers import Registry, error_details, graded_year_records, make_uscc

from registry_service.domain.enterprise import AnnualFinancials, Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from scoring_service.app import start_scoring
from tanxiao.platform.auth import create_token
from tanxiao.platform.server import RunningServer
from tanxiao.registry.v1 import consent_pb2, consent_pb2_grpc
from tanxiao.registry.v1 import registry_pb2 as rpb
from tanxiao.scoring.v1 import scoring_pb2 as spb
from tanxiao.scoring.v1 import scoring_pb2_grpc

FIRM = make_uscc(300)
ENTERPRISE = f"enterprises/{FIRM}"
LENDER = "lenders/huzhou-bank"


@dataclass
class Suite:
    consents: consent_pb2_grpc.ConsentsStub  # the registry's (authentication off: the operator)
    scoring: scoring_pb2_grpc.LoanScoringStub
    lender: list[tuple[str, str]]
    server: RunningServer


@pytest.fixture
def suite(registry: Registry) -> Iterator[Suite]:
    financials = (AnnualFinancials(2022, 3_000_000_000, 12_000_000_000, 4_000_000_000, 6_000_000_000),)
    EnterpriseRepository(registry.engine).create_many(
        [Enterprise(FIRM, "湖州化纤", "2822", "330502", financials=financials)]
    )
    registry.stub.BatchIngestRecords(
        rpb.BatchIngestRecordsRequest(records=graded_year_records(FIRM, 1.0)), timeout=30
    )
    registry.stub.RecomputeBenchmarks(rpb.RecomputeBenchmarksRequest(year=2022), timeout=60)
    secret, _ = create_token(registry.engine, "lender", LENDER)
    settings = replace(registry.settings, auth_required=True, profile_cache_seconds=0.0)
    scoring = start_scoring(settings, "127.0.0.1:0", registry_addr=registry.server.address)
    channel = grpc.insecure_channel(scoring.address)
    try:
        yield Suite(
            consent_pb2_grpc.ConsentsStub(registry.channel),
            scoring_pb2_grpc.LoanScoringStub(channel),
            [("authorization", f"Bearer {secret}")],
            scoring,
        )
    finally:
        channel.close()
        scoring.stop(None)


def _quote(request_id: str) -> spb.QuoteLoanTermsRequest:
    return spb.QuoteLoanTermsRequest(
        request_id=request_id, lender=LENDER, enterprise=ENTERPRISE, product=spb.GENERAL,
        requested_amount_fen=500_000_000, tenor_months=36, profile_period="2022",
    )  # fmt: skip


def _grant(suite: Suite, *scopes: int, seconds: float = 86_400.0) -> consent_pb2.Consent:
    expire = Timestamp()
    expire.FromDatetime(datetime.now(UTC) + timedelta(seconds=seconds))
    request = consent_pb2.GrantConsentRequest(
        enterprise=ENTERPRISE, lender=LENDER, scopes=list(scopes), expire_time=expire, reference="授权书-001"
    )
    return suite.consents.GrantConsent(request, timeout=10)


def _refused(suite: Suite, request_id: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        suite.scoring.QuoteLoanTerms(_quote(request_id), metadata=suite.lender, timeout=30)
    details = error_details(caught.value)
    assert (details.code, details.reason) == (grpc.StatusCode.PERMISSION_DENIED, "CONSENT_REQUIRED")
    assert ENTERPRISE in details.message and LENDER in details.message and "CARBON_DATA" in details.message
    assert details.metadata["field"] == "enterprise"


def test_a_quote_needs_the_enterprises_consent(suite: Suite) -> None:
    _refused(suite, "c-1")
    _grant(suite, consent_pb2.FINANCIALS)  # the wrong scope does not do
    _refused(suite, "c-2")
    grant = _grant(suite, consent_pb2.CARBON_DATA)
    assert grant.name.startswith(f"{ENTERPRISE}/consents/") and grant.reference == "授权书-001"
    decision = suite.scoring.QuoteLoanTerms(_quote("c-3"), metadata=suite.lender, timeout=30)
    assert decision.name.startswith("decisions/")
    suite.consents.RevokeConsent(consent_pb2.RevokeConsentRequest(name=grant.name), timeout=10)
    _refused(suite, "c-4")  # revocation applies to the next call


def test_an_expired_grant_no_longer_applies(suite: Suite) -> None:
    _grant(suite, consent_pb2.CARBON_DATA, seconds=2.0)
    suite.scoring.QuoteLoanTerms(_quote("e-1"), metadata=suite.lender, timeout=30)
    time.sleep(2.1)
    _refused(suite, "e-2")


def test_an_explanation_shows_only_what_the_consent_allows(suite: Suite) -> None:
    carbon = _grant(suite, consent_pb2.CARBON_DATA)
    decision = suite.scoring.QuoteLoanTerms(_quote("x-1"), metadata=suite.lender, timeout=30)
    read = spb.ExplainDecisionRequest(name=decision.name)

    explained = suite.scoring.ExplainDecision(read, metadata=suite.lender, timeout=30)
    profile = explained.profile_snapshot
    assert profile.net_tco2 > 0 and profile.carbon_intensity > 0
    assert not profile.HasField("financials")  # no FINANCIALS grant: no revenue, equity, debt

    financials = _grant(suite, consent_pb2.FINANCIALS)
    explained = suite.scoring.ExplainDecision(read, metadata=suite.lender, timeout=30)
    assert explained.profile_snapshot.financials.total_debt_fen == 6_000_000_000  # 6,000 万元

    for grant in (carbon, financials):
        suite.consents.RevokeConsent(consent_pb2.RevokeConsentRequest(name=grant.name), timeout=10)
    explained = suite.scoring.ExplainDecision(read, metadata=suite.lender, timeout=30)
    kept = explained.profile_snapshot
    assert (kept.uscc, kept.period, kept.grade.grade) == (FIRM, "2022", decision.grade.grade)
    assert kept.net_tco2 == 0 and not kept.HasField("financials") and not kept.HasField("carbon_intensity")
    assert explained.decision.name == decision.name  # the decision itself is the lender's own


def test_consents_are_listed_for_the_lender_and_validated(suite: Suite) -> None:
    _grant(suite, consent_pb2.CARBON_DATA, consent_pb2.FINANCIALS)
    listed = suite.consents.ListConsents(
        consent_pb2.ListConsentsRequest(parent=ENTERPRISE, lender=LENDER), timeout=10
    )
    assert [sorted(c.scopes) for c in listed.consents] == [[consent_pb2.CARBON_DATA, consent_pb2.FINANCIALS]]
    with pytest.raises(grpc.RpcError) as caught:
        suite.consents.GrantConsent(
            consent_pb2.GrantConsentRequest(
                enterprise=ENTERPRISE, lender=LENDER, scopes=[consent_pb2.CARBON_DATA]
            ),
            timeout=10,
        )
    assert error_details(caught.value).fields == ["expire_time"]
    with pytest.raises(grpc.RpcError) as caught:
        _grant(suite, consent_pb2.CARBON_DATA, seconds=4 * 366 * 86_400.0)
    assert error_details(caught.value).fields == ["expire_time"]
