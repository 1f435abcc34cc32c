"""Uniform denial and authentication first (issue 13, items 6 and 9), over gRPC with tokens.

Before: another lender's decision answered PERMISSION_DENIED naming the tenant while a random id
answered NOT_FOUND (existence leaked); a request with a NUL character was judged (INVALID_ARGUMENT)
before its caller was authenticated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest
from helpers import Registry, error_details
from test_scoring import GREEN, LENDER, _quote, _seed

from scoring_service.app import start_scoring
from tanxiao.platform.auth import create_token
from tanxiao.platform.server import RunningServer
from tanxiao.scoring.v1 import scoring_pb2 as spb
from tanxiao.scoring.v1 import scoring_pb2_grpc


@dataclass
class Secured:
    scoring: RunningServer
    stub: scoring_pb2_grpc.LoanScoringStub
    own: list[tuple[str, str]]
    other: list[tuple[str, str]]


@pytest.fixture
def secured(registry: Registry) -> Iterator[Secured]:
    _seed(registry)
    settings = replace(registry.settings, auth_required=True, profile_cache_seconds=0.0)
    own, _ = create_token(registry.engine, "lender", LENDER)
    other, _ = create_token(registry.engine, "lender", "lenders/other-bank")
    scoring = start_scoring(settings, "127.0.0.1:0", registry_addr=registry.server.address)
    channel = grpc.insecure_channel(scoring.address)
    try:
        yield Secured(
            scoring,
            scoring_pb2_grpc.LoanScoringStub(channel),
            [("authorization", f"Bearer {own}")],
            [("authorization", f"Bearer {other}")],
        )
    finally:
        channel.close()
        scoring.stop(None)


def _fails(call: object, request: object, metadata: list[tuple[str, str]]) -> object:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=metadata, timeout=30)  # type: ignore[operator]
    return error_details(caught.value)


def test_another_tenants_decision_looks_missing(secured: Secured) -> None:
    decision = secured.stub.QuoteLoanTerms(_quote(GREEN), metadata=secured.own, timeout=30)
    real_id = decision.name.removeprefix("decisions/")
    missing_id = "0" * len(real_id)
    reads = [
        (secured.stub.GetDecision, spb.GetDecisionRequest),
        (secured.stub.ExplainDecision, spb.ExplainDecisionRequest),
        (secured.stub.ReplayDecision, spb.ReplayDecisionRequest),
    ]
    for call, request in reads:
        theirs = _fails(call, request(name=decision.name), secured.other)
        missing = _fails(call, request(name=f"decisions/{missing_id}"), secured.other)
        assert (
            (theirs.code, theirs.reason)
            == (missing.code, missing.reason)
            == (  # type: ignore[attr-defined]
                grpc.StatusCode.NOT_FOUND,
                "DECISION_NOT_FOUND",
            )
        )
        assert theirs.message == missing.message.replace(missing_id, real_id)  # type: ignore[attr-defined]
        assert "lenders/" not in theirs.message  # type: ignore[attr-defined]
    assert secured.stub.GetDecision(
        spb.GetDecisionRequest(name=decision.name), metadata=secured.own, timeout=30
    )


def test_authentication_comes_before_validation(secured: Secured) -> None:
    bad = _quote(GREEN, request_id="nul\x00here")
    anonymous = _fails(secured.stub.QuoteLoanTerms, bad, [])
    assert anonymous.code == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    known = _fails(secured.stub.QuoteLoanTerms, bad, secured.own)
    assert known.code == grpc.StatusCode.INVALID_ARGUMENT and known.fields == ["request_id"]  # type: ignore[attr-defined]
    assert LENDER  # the quote's lender is the own token's tenant


def test_reads_and_denials_reach_the_access_log(registry: Registry, tmp_path: Path) -> None:
    _seed(registry)
    settings = replace(
        registry.settings,
        auth_required=True,
        profile_cache_seconds=0.0,
        access_log_dir=str(tmp_path / "audit"),
    )
    own, own_principal = create_token(registry.engine, "lender", LENDER)
    other, other_principal = create_token(registry.engine, "lender", "lenders/other-bank")
    scoring = start_scoring(settings, "127.0.0.1:0", registry_addr=registry.server.address)
    try:
        with grpc.insecure_channel(scoring.address) as channel:
            stub = scoring_pb2_grpc.LoanScoringStub(channel)
            decision = stub.QuoteLoanTerms(
                _quote(GREEN), metadata=[("authorization", f"Bearer {own}")], timeout=30
            )
            read = spb.GetDecisionRequest(name=decision.name)
            stub.GetDecision(read, metadata=[("authorization", f"Bearer {own}")], timeout=30)
            _fails(stub.GetDecision, read, [("authorization", f"Bearer {other}")])
            _fails(stub.GetDecision, read, [])
    finally:
        scoring.stop(None)
    (path,) = (tmp_path / "audit").iterdir()
    entries = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    reads = [e for e in entries if e["method"].endswith("/GetDecision")]
    assert [(e["token_id"], e["outcome"], e["code"], e["resource"]) for e in reads] == [
        (own_principal.token_id, "allowed", "OK", decision.name),
        (other_principal.token_id, "refused", "NOT_FOUND", decision.name),
        ("", "refused", "UNAUTHENTICATED", decision.name),
    ]
    assert reads[1]["denied_as_not_found"] == "OTHER_TENANT" and reads[1]["tenant"] == "lenders/other-bank"
    assert all(e["server"] == "scoring" and e["request_id"] for e in entries)
