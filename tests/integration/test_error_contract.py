"""The error contract over gRPC (issue 17, item 8): one stable ErrorInfo reason per cause, whichever RPC
meets it, and the caller's request id in ErrorInfo beside the server's.

Before: a malformed USCC was INVALID_USCC on GetEnterprise but the generic INVALID_ARGUMENT on
CreateEnterprise; ErrorInfo carried only the server's request id, never the request's request_id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from helpers import ErrorDetails, Registry, error_details, make_uscc

from scoring_service.inputs import parse_quote
from scoring_service.loan_book import loan_from_row
from tanxiao.errors import FieldViolation, ValidationError
from tanxiao.registry.v1 import consent_pb2, consent_pb2_grpc
from tanxiao.registry.v1 import registry_pb2 as rpb
from tanxiao.scoring.v1 import scoring_pb2

BAD = "91330502MA2B3C4D5Z"  # a wrong check character


def _fails(
    call: Callable[..., Any], request: Any, metadata: tuple[tuple[str, str], ...] = ()
) -> ErrorDetails:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=metadata, timeout=10)
    return error_details(caught.value)


def test_a_bad_uscc_is_invalid_uscc_on_every_registry_rpc(registry: Registry) -> None:
    s = registry.stub
    consents = consent_pb2_grpc.ConsentsStub(registry.channel)
    calls: list[tuple[Callable[..., Any], Any, str]] = [
        (s.CreateEnterprise, rpb.CreateEnterpriseRequest(
            enterprise=rpb.Enterprise(uscc=BAD, display_name="坏代码企业", industry_code="2825",
                                      region_code="330502")), "enterprise.uscc"),
        (s.UpdateEnterprise,
         rpb.UpdateEnterpriseRequest(enterprise=rpb.Enterprise(uscc=BAD, display_name="x")),
         "enterprise.uscc"),
        (s.GetEnterprise, rpb.GetEnterpriseRequest(name=f"enterprises/{BAD}"), "name"),
        (s.GetCarbonProfile, rpb.GetCarbonProfileRequest(name=f"enterprises/{BAD}/profiles/2022"), "name"),
        (s.BatchGetCarbonProfiles,
         rpb.BatchGetCarbonProfilesRequest(names=[f"enterprises/{BAD}/profiles/2022"]), "names[0]"),
        (s.ListCommitments, rpb.ListCommitmentsRequest(parent=f"enterprises/{BAD}"), "parent"),
        (consents.ListConsents, consent_pb2.ListConsentsRequest(parent=f"enterprises/{BAD}"), "parent"),
    ]  # fmt: skip
    for call, request, field in calls:
        details = _fails(call, request)
        assert (details.code, details.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_USCC"), field
        assert details.fields == [field] and details.violation_reasons == ["INVALID_USCC"], field


def test_several_causes_answer_invalid_argument_and_each_violation_its_own_reason(registry: Registry) -> None:
    request = rpb.CreateEnterpriseRequest(enterprise=rpb.Enterprise(uscc=BAD, industry_code="2825",
                                                                    region_code="330502"))  # fmt: skip
    details = _fails(registry.stub.CreateEnterprise, request)
    assert (details.code, details.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    reasons = dict(zip(details.fields, details.violation_reasons, strict=True))
    assert reasons == {"enterprise.uscc": "INVALID_USCC", "enterprise.display_name": "INVALID_ARGUMENT"}


def test_the_scoring_services_inputs_say_invalid_uscc_too() -> None:
    quote = scoring_pb2.QuoteLoanTermsRequest(
        request_id="q-1", lender="lenders/huzhou-bank", enterprise=f"enterprises/{BAD}",
        product=scoring_pb2.GENERAL, requested_amount_fen=100_000_000, tenor_months=12,
    )  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        parse_quote(quote)
    assert caught.value.reason == "INVALID_USCC"
    problems: list[FieldViolation] = []
    row = {"lender": "lenders/huzhou-bank", "loan_id": "L-1", "enterprise": f"enterprises/{BAD}",
           "product": "GENERAL", "committed_amount_fen": 100, "start_date": "2024-01-10",
           "maturity_date": "2026-01-10", "rate_bp": 350}  # fmt: skip
    loan_from_row(row, "", problems)
    assert [(p.field, p.reason) for p in problems if p.field == "enterprise"] == [
        ("enterprise", "INVALID_USCC")
    ]


def test_errorinfo_carries_the_callers_request_id_beside_the_servers(registry: Registry) -> None:
    get = registry.stub.GetEnterprise
    missing = rpb.GetEnterpriseRequest(name=f"enterprises/{make_uscc(901)}")

    plain = _fails(get, missing)
    assert plain.reason == "ENTERPRISE_NOT_FOUND"
    assert len(plain.metadata["request_id"]) == 32 and "caller_request_id" not in plain.metadata

    sent = _fails(get, missing, (("x-request-id", "crm-7781"),))
    assert sent.metadata["request_id"] == "crm-7781" and sent.metadata["caller_request_id"] == "crm-7781"

    too_long = "x" * 200  # not usable as the server's id (at most 128): the server makes its own
    unusable = _fails(get, missing, (("x-request-id", too_long),))
    assert unusable.metadata["request_id"] != too_long and unusable.metadata["caller_request_id"] == too_long

    # a write's own request_id (its idempotency key) is the caller's id, whatever x-request-id says
    create = rpb.CreateEnterpriseRequest(
        request_id="erp-2026-0042",
        enterprise=rpb.Enterprise(
            uscc=BAD, display_name="坏代码企业", industry_code="2825", region_code="330502"
        ),
    )
    keyed = _fails(registry.stub.CreateEnterprise, create, (("x-request-id", "trace-1"),))
    assert keyed.reason == "INVALID_USCC"
    assert (
        keyed.metadata["caller_request_id"] == "erp-2026-0042" and keyed.metadata["request_id"] == "trace-1"
    )
