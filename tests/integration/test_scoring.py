"""LoanScoring end to end: a real registry and a real scoring server in-process on port 0, on SQLite
and PostgreSQL. Quotes, idempotency, explanations, replay, batch, what-if, audit chain, registry down."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from helpers import (
    Registry,
    error_details,
    graded_year_records,
    make_uscc,
    stopped_and_refusing,
    unsequenced,
)

from loan_rules.policy import DEFAULT_POLICY
from registry_service.app import start_registry
from registry_service.domain.enterprise import AnnualFinancials, Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from scoring_service.app import start_scoring
from scoring_service.audit import verify_chain, verify_log
from scoring_service.sequencer import Sequencer
from scoring_service.storage.decisions import DecisionStore
from scoring_service.storage.log import LogStore, canonical_json
from scoring_service.storage.tables import log_entries
from tanxiao.errors import FailedPrecondition
from tanxiao.platform.server import RunningServer
from tanxiao.registry.v1 import registry_pb2 as rpb
from tanxiao.scoring.v1 import scoring_pb2 as spb
from tanxiao.scoring.v1 import scoring_pb2_grpc
from tanxiao.translog import SigningKey, generate_private_key_pem, verify_inclusion

# Six chemical-fibre makers in one county, 3,000 万元 added value each; intensities L (tCO2/万元) chosen
# so that the industry average is 2.95 and K = L / 2.95 gives grades 1, 1, 2, 3, 3, 5.
INTENSITIES = [0.3, 1.0, 2.0, 2.9, 3.5, 8.0]
FIRMS = [make_uscc(100 + i) for i in range(len(INTENSITIES))]
GREEN, RED = FIRMS[0], FIRMS[-1]
LENDER = "lenders/huzhou-bank"
POLICY_TEXT = resources.files("loan_rules").joinpath("policies", DEFAULT_POLICY).read_text("utf-8")


@dataclass
class Suite:
    registry: Registry
    scoring: RunningServer
    stub: scoring_pb2_grpc.LoanScoringStub
    channel: grpc.Channel


def _seed(registry: Registry) -> None:
    # GREEN reports 2022 financials (fen): revenue 3,000 万元, total debt 1,200 万元, equity 2,000 万元
    books = {GREEN: (AnnualFinancials(2022, None, 3_000_000_000, 2_000_000_000, 1_200_000_000),)}
    EnterpriseRepository(registry.engine).create_many(
        [
            Enterprise(u, f"湖州化纤{i}有限公司", "2822", "330502", financials=books.get(u, ()))
            for i, u in enumerate(FIRMS)
        ]
    )
    rows = [r for u, i in zip(FIRMS, INTENSITIES, strict=True) for r in graded_year_records(u, i)]
    registry.stub.BatchIngestRecords(rpb.BatchIngestRecordsRequest(records=rows), timeout=30)
    registry.stub.RecomputeBenchmarks(rpb.RecomputeBenchmarksRequest(year=2022), timeout=60)
    names = [f"enterprises/{u}/profiles/2022" for u in FIRMS]  # refresh them once, together
    registry.stub.BatchGetCarbonProfiles(rpb.BatchGetCarbonProfilesRequest(names=names), timeout=60)


@pytest.fixture
def suite(registry: Registry) -> Iterator[Suite]:
    _seed(registry)
    settings = replace(registry.settings, profile_cache_seconds=0.0)
    scoring = start_scoring(settings, "127.0.0.1:0", registry_addr=registry.server.address)
    channel = grpc.insecure_channel(scoring.address)
    try:
        yield Suite(registry, scoring, scoring_pb2_grpc.LoanScoringStub(channel), channel)
    finally:
        channel.close()
        scoring.stop(None)


def _quote(
    uscc: str, product: int = spb.LOW_CARBON_EXPANSION, request_id: str | None = None, **fields: object
) -> spb.QuoteLoanTermsRequest:
    values: dict[str, object] = {
        "request_id": f"q-{uscc}-{product}" if request_id is None else request_id,
        "lender": LENDER,
        "enterprise": f"enterprises/{uscc}",
        "product": product,
        "requested_amount_fen": 5_000_000_00,  # 5M yuan
        "bank_limit_fen": 8_000_000_00,
        "tenor_months": 36,
        "profile_period": "2022",
    }
    return spb.QuoteLoanTermsRequest(**{**values, **fields})


def _error(call: object, request: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=30)  # type: ignore[operator]
    return caught.value


def test_a_green_expansion_is_cheaper_and_a_retry_returns_the_same_decision(suite: Suite) -> None:
    decision = suite.stub.QuoteLoanTerms(_quote(GREEN), timeout=30)
    assert decision.eligible and decision.grade.grade == 1
    assert decision.final_rate_bp < decision.lpr_bp and decision.rate_adjustment_bp < 0
    assert decision.approved_limit_fen > 0 and decision.reasons
    assert decision.base_rate_source == "LPR" and decision.lpr_term == "1Y" and decision.lpr_effective_date
    assert decision.profile == f"enterprises/{GREEN}/profiles/2022" and decision.policy_hash
    again = suite.stub.QuoteLoanTerms(_quote(GREEN), timeout=30)
    assert unsequenced(again) == unsequenced(decision)
    error = _error(suite.stub.QuoteLoanTerms, _quote(GREEN, requested_amount_fen=6_000_000_00))
    details = error_details(error)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT and details.reason == "REQUEST_ID_REUSED"
    assert details.fields == ["request_id"]


def test_a_red_enterprise_is_declined_expansion_and_pays_more_for_working_capital(suite: Suite) -> None:
    expansion = suite.stub.QuoteLoanTerms(_quote(RED), timeout=30)
    assert not expansion.eligible and expansion.decline_reasons and expansion.approved_limit_fen == 0
    general = suite.stub.QuoteLoanTerms(_quote(RED, spb.GENERAL), timeout=30)
    green = suite.stub.QuoteLoanTerms(_quote(GREEN, spb.GENERAL), timeout=30)
    assert general.grade.grade == 5 and general.final_rate_bp > green.final_rate_bp
    assert general.approved_limit_fen < green.approved_limit_fen


def test_a_retrofit_loan_carries_its_commitment_and_ratchet(suite: Suite) -> None:
    commitment = suite.registry.stub.RegisterCommitment(
        rpb.RegisterCommitmentRequest(
            parent=f"enterprises/{RED}",
            commitment=rpb.Commitment(
                project_type=rpb.PV,
                title="屋顶光伏",
                baseline_year=2022,
                target_savings_tce_per_year=900,
                target_savings_tco2_per_year=4_000,
                capex_fen=800_000_000,  # 800 万元
                start_date="2023-01-01",
                milestones=[
                    rpb.Milestone(title="并网", due_date="2023-12-31", target_fraction=0.5),
                    rpb.Milestone(title="满发", due_date="2024-12-31", target_fraction=1.0),
                ],
                verifier="浙江省节能监测中心",
            ),
        ),
        timeout=30,
    )
    decision = suite.stub.QuoteLoanTerms(
        _quote(RED, spb.HIGH_CARBON_RETROFIT, commitment=commitment.name), timeout=30
    )
    assert decision.commitment == commitment.name and decision.conditions.ratchet
    missing = _error(suite.stub.QuoteLoanTerms, _quote(RED, spb.HIGH_CARBON_RETROFIT, request_id="no-c"))
    assert error_details(missing).fields == ["commitment"]


def test_explain_and_replay(suite: Suite) -> None:
    decision = suite.stub.QuoteLoanTerms(_quote(FIRMS[2], spb.GENERAL), timeout=30)
    explanation = suite.stub.ExplainDecision(spb.ExplainDecisionRequest(name=decision.name), timeout=30)
    assert unsequenced(explanation.decision) == unsequenced(decision) and explanation.trace
    assert explanation.profile_snapshot.name == decision.profile
    assert explanation.profile_snapshot.grade.grade == decision.grade.grade
    assert f"{decision.final_rate_bp:.2f}" in explanation.text_en
    assert explanation.html_zh.count("<svg") >= 2 and 'lang="zh' in explanation.html_zh
    assert explanation.policy_hash == decision.policy_hash
    replay = suite.stub.ReplayDecision(spb.ReplayDecisionRequest(name=decision.name), timeout=30)
    assert (
        replay.reproduced
        and not replay.differences
        and replay.replayed.final_rate_bp == decision.final_rate_bp
    )


def test_explanation_pdf_over_grpc_and_the_cli(suite: Suite, tmp_path: Any) -> None:
    import shutil
    import subprocess

    from typer.testing import CliRunner

    from scoring_service.portfolio.pdf import page_count
    from tanxiao.cli import app

    decision = suite.stub.QuoteLoanTerms(_quote(FIRMS[2], spb.GENERAL, request_id="pdf"), timeout=30)
    bad = spb.ExplainDecisionRequest(name=decision.name, pdf_language="fr")
    assert error_details(_error(suite.stub.ExplainDecision, bad)).fields == ["pdf_language"]
    plain = suite.stub.ExplainDecision(spb.ExplainDecisionRequest(name=decision.name), timeout=30)
    assert plain.pdf == b""  # only when asked for
    answer = suite.stub.ExplainDecision(
        spb.ExplainDecisionRequest(name=decision.name, pdf_language="en"), timeout=60
    )
    assert answer.pdf.startswith(b"%PDF") and page_count(answer.pdf) >= 1
    out = tmp_path / "explanation.pdf"
    result = CliRunner().invoke(
        app, ["explain", decision.name, "--format", "pdf", "--lang", "zh", "-o", str(out),
              "--addr", suite.scoring.address],
        env={"TANXIAO_ALLOW_PLAINTEXT": "true"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    pages = page_count(out.read_bytes())
    if shutil.which("pdfinfo") and shutil.which("pdftotext"):  # poppler reads what a printer would get
        info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        assert int(fields["Pages"]) == pages and fields["Page size"].strip().endswith("pts (A4)")
        text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                              check=True).stdout  # fmt: skip
    else:
        from pypdf import PdfReader

        text = "".join(page.extract_text() for page in PdfReader(str(out)).pages)
    flat = text.replace(" ", "").replace("\n", "")
    assert decision.name.removeprefix("decisions/")[:8] in flat  # the decision, on the page
    assert f"{decision.final_rate_bp / 100:.2f}%" in flat or f"{decision.final_rate_bp:.0f}" in flat


def test_batch_quote_prices_a_book_in_order(suite: Suite) -> None:
    requests = [
        spb.BatchQuoteRequest(quote=_quote(uscc, product, request_id=f"b-{i}"))
        for i, (uscc, product) in enumerate(
            (u, p) for u in FIRMS for p in (spb.GENERAL, spb.LOW_CARBON_EXPANSION)
        )
    ]
    decisions = list(suite.stub.BatchQuote(iter(requests), timeout=60))
    assert [d.request_id for d in decisions] == [r.quote.request_id for r in requests]
    grades = [d.grade.grade for d in decisions[::2]]
    rates = [d.final_rate_bp for d in decisions[::2]]
    assert grades == [1, 1, 2, 3, 3, 5] and rates == sorted(rates)  # a better grade never pays more


def test_a_new_quotes_answer_is_its_decision_as_read(suite: Suite) -> None:
    """QuoteLoanTerms and BatchQuote answer a decision they stored from cached wire parts
    (convert.fresh_decision): byte for byte what GetDecision reads back (and what decision_to_proto
    built before): every grade, eligible and declined, with and without manual review (no bank
    limit: IN_REVIEW), the lender's base rate or the LPR, the same profile twice (cached parts)."""
    requests = [
        _quote(uscc, product, request_id=f"fresh-{i}-{product}-{variant}", **fields)
        for i, uscc in enumerate(FIRMS)
        for product in (spb.GENERAL, spb.LOW_CARBON_EXPANSION)
        for variant, fields in enumerate(({}, {"bank_limit_fen": 0}, {"base_rate_bp": 310.5}))
    ]
    answers = [suite.stub.QuoteLoanTerms(r, timeout=30) for r in requests]
    batch = [
        spb.BatchQuoteRequest(quote=_quote(GREEN, spb.GENERAL, request_id=f"fresh-batch-{i}", tenor_months=t))
        for i, t in enumerate((12, 36, 72))
    ]
    answers += list(suite.stub.BatchQuote(iter(batch), timeout=60))
    states = {a.state for a in answers}
    assert {spb.QUOTED, spb.IN_REVIEW} <= states and {a.eligible for a in answers} == {True, False}
    for answer in answers:
        read = suite.stub.GetDecision(spb.GetDecisionRequest(name=answer.name), timeout=30)
        answered, stored = (unsequenced(m).SerializeToString(deterministic=True) for m in (answer, read))
        assert answered == stored


def test_simulate_a_draft_policy(suite: Suite) -> None:
    for uscc in FIRMS:
        suite.stub.QuoteLoanTerms(_quote(uscc, spb.GENERAL), timeout=30)
    draft = POLICY_TEXT.replace('version: "', 'version: "draft-', 1)
    same = suite.stub.SimulatePolicy(spb.SimulatePolicyRequest(lender=LENDER, policy_yaml=draft), timeout=30)
    assert same.decisions == 6 and same.changed == 0
    assert same.weighted_rate_bp_before == pytest.approx(same.weighted_rate_bp_after)
    broken = _error(
        suite.stub.SimulatePolicy, spb.SimulatePolicyRequest(lender=LENDER, policy_yaml="products: {}")
    )
    assert error_details(broken).code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(error_details(broken).fields) == {"policy_yaml"}


def test_the_audit_chain_verifies_and_catches_an_edit(suite: Suite) -> None:
    for uscc in FIRMS[:3]:
        suite.stub.QuoteLoanTerms(_quote(uscc, spb.GENERAL), timeout=30)
    assert verify_chain(suite.registry.engine).ok
    with suite.registry.engine.begin() as conn:
        edit = "replace(content, '\"eligible\"\\:true', '\"eligible\"\\:false')"  # \: is a colon, not a bind
        first = conn.execute(sa.text("SELECT min(entry_id) FROM log_entries")).scalar_one()
        conn.execute(sa.text(f"UPDATE log_entries SET content = {edit} WHERE entry_id = :id"), {"id": first})
    report = verify_chain(suite.registry.engine)
    assert not report.ok and report.problems


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"request_id": ""}, ["request_id"]),
        ({"lender": "banks/x", "tenor_months": 0}, ["lender", "tenor_months"]),
        ({"enterprise": "enterprises/91110000600037341N"}, ["enterprise"]),
        (
            {"requested_amount_fen": -5, "bank_limit_fen": -1, "base_rate_bp": -1},
            ["requested_amount_fen", "bank_limit_fen", "base_rate_bp"],
        ),
        ({"product": 0}, ["product"]),
        ({"profile_period": "2022-13"}, ["profile_period"]),
    ],
)
def test_bad_requests_name_their_fields(suite: Suite, fields: dict[str, object], bad: list[str]) -> None:
    error = _error(suite.stub.QuoteLoanTerms, _quote(GREEN, **{"request_id": "bad", **fields}))
    details = error_details(error)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT and details.fields == bad


def test_missing_data_is_never_priced(suite: Suite) -> None:
    error = _error(suite.stub.QuoteLoanTerms, _quote(GREEN, request_id="old", profile_period="2019"))
    assert error_details(error).code == grpc.StatusCode.FAILED_PRECONDITION
    unknown = _error(suite.stub.QuoteLoanTerms, _quote(make_uscc(999), request_id="unknown"))
    assert error_details(unknown).code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND)


def test_a_registry_that_is_down_gives_unavailable_and_no_decision(suite: Suite) -> None:
    with stopped_and_refusing(suite.registry.server):
        error = _error(suite.stub.QuoteLoanTerms, _quote(GREEN, request_id="down"))
    details = error_details(error)
    assert details.code == grpc.StatusCode.UNAVAILABLE and "registry" in details.message
    with suite.registry.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM log_entries")).scalar_one() == 0


def test_a_retry_gets_its_decision_even_with_the_registry_down(suite: Suite) -> None:
    first = suite.stub.QuoteLoanTerms(_quote(GREEN, request_id="retry-down"), timeout=30)
    again = suite.stub.QuoteLoanTerms(_quote(GREEN, request_id="retry-down"), timeout=30)
    assert unsequenced(again) == unsequenced(first)  # the store's insert found the stored decision
    suite.registry.server.stop(None)
    down = suite.stub.QuoteLoanTerms(_quote(GREEN, request_id="retry-down"), timeout=30)
    assert unsequenced(down) == unsequenced(first)
    other = _error(suite.stub.QuoteLoanTerms, _quote(RED, request_id="retry-down"))
    assert error_details(other).code == grpc.StatusCode.INVALID_ARGUMENT  # REQUEST_ID_REUSED
    with suite.registry.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM log_entries")).scalar_one() == 1


def test_a_slow_registry_hits_the_deadline(registry: Registry) -> None:
    def slow(request: bytes, context: grpc.ServicerContext) -> bytes:
        time.sleep(2)
        return b""

    handler = grpc.method_handlers_generic_handler(
        "tanxiao.registry.v1.CarbonRegistry",
        {m: grpc.unary_unary_rpc_method_handler(slow) for m in ("BatchGetCarbonProfiles", "GetEnterprise")},
    )
    server = grpc.server(futures.ThreadPoolExecutor(4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    settings = replace(registry.settings, registry_deadline_seconds=0.2, profile_cache_seconds=0.0)
    scoring = start_scoring(settings, "127.0.0.1:0", registry_addr=f"127.0.0.1:{port}")
    try:
        with grpc.insecure_channel(scoring.address) as channel:
            stub = scoring_pb2_grpc.LoanScoringStub(channel)
            details = error_details(_error(stub.QuoteLoanTerms, _quote(GREEN, request_id="slow")))
        assert details.code == grpc.StatusCode.DEADLINE_EXCEEDED and "registry" in details.message
    finally:
        scoring.stop(None)
        server.stop(None)


def test_a_cached_profile_is_bounded_and_the_decision_says_how_old(registry: Registry) -> None:
    _seed(registry)
    settings = replace(registry.settings, profile_cache_seconds=30.0)
    scoring = start_scoring(settings, "127.0.0.1:0", registry_addr=registry.server.address)
    try:
        with grpc.insecure_channel(scoring.address) as channel:
            stub = scoring_pb2_grpc.LoanScoringStub(channel)
            first = stub.QuoteLoanTerms(_quote(GREEN, request_id="fresh"), timeout=30)
            second = stub.QuoteLoanTerms(_quote(GREEN, request_id="cached"), timeout=30)
        assert first.profile_age_seconds == 0.0
        assert 0.0 < second.profile_age_seconds <= 30.0
    finally:
        scoring.stop(None)


def test_quotes_recover_when_the_registry_returns(suite: Suite) -> None:
    address = suite.registry.server.address
    with stopped_and_refusing(suite.registry.server):
        down = _error(suite.stub.QuoteLoanTerms, _quote(GREEN, request_id="while-down"))
    assert error_details(down).code == grpc.StatusCode.UNAVAILABLE
    restarted = start_registry(suite.registry.settings, address)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                decision = suite.stub.QuoteLoanTerms(_quote(GREEN, request_id="after"), timeout=10)
                break
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:  # type: ignore[attr-defined]
                    raise
                time.sleep(0.5)
        assert decision.eligible and decision.profile_age_seconds == 0.0
    finally:
        restarted.stop(None)


def test_money_is_fen_and_the_capacity_of_a_grade_1_firm_binds(suite: Suite) -> None:
    decision = suite.stub.QuoteLoanTerms(
        _quote(GREEN, request_id="cap", requested_amount_fen=10_000_000_00, bank_limit_fen=10_000_000_00),
        timeout=30,
    )
    # bank 10M x 1.3 = 13M; capacity = min(equity 20M x 2.0, revenue 30M x 0.6 = 18M) - debt 12M = 6M
    assert decision.eligible and decision.grade.grade == 1
    assert decision.approved_limit_fen == 6_000_000_00 and decision.binding_limit == "CAPACITY"
    assert decision.requested_amount_fen == 10_000_000_00 and decision.bank_limit_fen == 10_000_000_00
    steps = {s.code: s for s in decision.reasons}
    assert steps["CAPACITY_CAP"].limit_effect_fen == -4_000_000_00
    # LPR 300 (2025-05-20 fixing) + the spread; the market's wording in the explanation
    assert decision.spread_to_lpr_bp == pytest.approx(decision.final_rate_bp - decision.lpr_bp)
    explanation = suite.stub.ExplainDecision(spb.ExplainDecisionRequest(name=decision.name), timeout=30)
    spread = round(decision.lpr_bp - decision.final_rate_bp)
    assert f"LPR减{spread}BP" in explanation.text_zh and f"LPR - {spread} bp" in explanation.text_en
    assert "6,000,000" in explanation.text_zh and "-4,000,000" in explanation.text_zh
    own = suite.stub.QuoteLoanTerms(_quote(GREEN, request_id="own", base_rate_bp=320), timeout=30)
    assert own.base_rate_source == "LENDER" and own.base_rate_bp == 320 and own.lpr_bp == decision.lpr_bp
    no_limit = suite.stub.QuoteLoanTerms(_quote(FIRMS[2], request_id="nolimit", bank_limit_fen=0), timeout=30)
    assert no_limit.manual_review and "BANK_LIMIT_MISSING" in no_limit.review_reasons
    assert "FINANCIALS_MISSING" in no_limit.review_reasons  # FIRMS[2] reports no financials


def test_decision_log_proves_a_quote_over_grpc(suite: Suite) -> None:
    """Quote, wait for the sequencer (merge delay), then verify the inclusion proof and a consistency
    proof with tanxiao.translog only, as a bank would: the leaf recomputed from the returned content."""
    from tanxiao.scoring.v1 import decision_log_pb2 as lpb
    from tanxiao.scoring.v1 import decision_log_pb2_grpc
    from tanxiao.translog import (
        SignedTreeHead,
        TreeHead,
        VerifyingKey,
        entry_leaf,
        leaf_hash,
        verify_consistency,
        verify_inclusion,
    )

    log = decision_log_pb2_grpc.DecisionLogStub(suite.channel)
    first = suite.stub.QuoteLoanTerms(_quote(FIRMS[0], spb.GENERAL), timeout=30)
    proof = _await_proof(log, first.name)
    head = proof.signed_tree_head
    assert proof.decision == first.name and proof.lender == LENDER and proof.entry_kind == "decision"
    assert json.loads(proof.entry_content)["id"] == first.name.removeprefix("decisions/")
    leaf = leaf_hash(entry_leaf(proof.entry_kind, proof.entry_content))
    assert leaf == proof.leaf_hash and leaf.hex() == first.chain_hash
    verify_inclusion(proof.leaf_index, head.tree_size, leaf, list(proof.hashes), head.root_hash)
    sth = SignedTreeHead(
        TreeHead(head.tree_size, head.root_hash, head.timestamp_ms), head.key_id, head.signature
    )
    VerifyingKey(head.public_key).verify(sth)

    second = suite.stub.QuoteLoanTerms(_quote(FIRMS[1], spb.GENERAL), timeout=30)
    later = _await_proof(log, second.name).signed_tree_head
    assert later.tree_size > head.tree_size
    consistency = log.GetConsistencyProof(
        lpb.GetConsistencyProofRequest(first_tree_size=head.tree_size, second_tree_size=later.tree_size),
        timeout=10,
    )
    verify_consistency(
        head.tree_size, later.tree_size, head.root_hash, later.root_hash, list(consistency.hashes)
    )
    assert log.GetSignedTreeHead(lpb.GetSignedTreeHeadRequest(), timeout=10).tree_size >= later.tree_size

    # A witness keeps heads over gRPC only and notices a log that no longer extends one it kept.
    import tempfile
    from pathlib import Path

    from scoring_service.log_proofs import witness

    with tempfile.TemporaryDirectory() as kept:
        code, message = witness(log, head.public_key, Path(kept), [])
        assert code == 0 and "witness: OK" in message
        suite.stub.QuoteLoanTerms(_quote(FIRMS[2], spb.GENERAL), timeout=30)
        _await_proof(log, suite.stub.QuoteLoanTerms(_quote(FIRMS[2], spb.GENERAL), timeout=30).name)
        assert witness(log, head.public_key, Path(kept), [])[0] == 0  # extends the kept head
        newest = max(Path(kept).glob("head-*.json"), key=lambda p: int(p.stem.split("-")[1]))
        forged = json.loads(newest.read_text())
        forged["root_hash"] = "00" * 32  # as if the log had another history at that size
        newest.write_text(json.dumps(forged))
        code, message = witness(log, head.public_key, Path(kept), [])
        assert code == 1 and "no longer extends" in message, message

    bad = _error(log.GetConsistencyProof, lpb.GetConsistencyProofRequest(first_tree_size=0))
    assert error_details(bad).code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(error_details(bad).fields) == {"first_tree_size"}
    missing = _error(log.GetInclusionProof, lpb.GetInclusionProofRequest(decision="decisions/" + "0" * 32))
    assert error_details(missing).code == grpc.StatusCode.NOT_FOUND
    malformed = _error(log.GetInclusionProof, lpb.GetInclusionProofRequest(decision="nope"))
    assert set(error_details(malformed).fields) == {"decision"}
    negative = _error(log.GetInclusionProof, lpb.GetInclusionProofRequest(decision=first.name, tree_size=-1))
    assert set(error_details(negative).fields) == {"tree_size"}
    no_head = _error(
        log.GetInclusionProof, lpb.GetInclusionProofRequest(decision=first.name, tree_size=10**12)
    )
    assert error_details(no_head).code == grpc.StatusCode.NOT_FOUND
    future = _error(log.GetConsistencyProof, lpb.GetConsistencyProofRequest(first_tree_size=10**12))
    assert error_details(future).code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION)
    backwards = lpb.GetConsistencyProofRequest(
        first_tree_size=later.tree_size, second_tree_size=head.tree_size
    )
    assert set(error_details(_error(log.GetConsistencyProof, backwards)).fields) == {"second_tree_size"}


def _await_proof(log: Any, name: str) -> Any:
    """The inclusion proof once the sequencer integrated the decision (within the merge delay)."""
    from tanxiao.scoring.v1 import decision_log_pb2 as lpb

    deadline = time.monotonic() + 10
    while True:
        try:
            return log.GetInclusionProof(lpb.GetInclusionProofRequest(decision=name), timeout=10)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _comparable(decision: spb.Decision) -> spb.Decision:
    """The decision without what differs between two quotes of the same terms (ids, times, hashes)."""
    out = unsequenced(decision)
    for name in ("name", "request_id", "create_time", "chain_hash", "profile_age_seconds"):
        out.ClearField(name)
    return out


def test_concurrent_quotes_go_together_and_each_gets_its_own_terms_or_error(suite: Suite) -> None:
    """Concurrent QuoteLoanTerms calls are priced and stored together (group commit): each still gets
    the decision it gets alone, BatchQuote gives the same, and a bad call among them (a reused
    request id) fails alone."""
    products = (spb.GENERAL, spb.LOW_CARBON_EXPANSION)
    wanted = [(u, p, amount) for u in FIRMS for p in products for amount in (3_000_000_00, 5_000_000_00)]
    alone = [
        suite.stub.QuoteLoanTerms(_quote(u, p, request_id=f"alone-{i}", requested_amount_fen=a), timeout=60)
        for i, (u, p, a) in enumerate(wanted)
    ]
    first = suite.stub.QuoteLoanTerms(_quote(GREEN, request_id="together-reused"), timeout=60)
    reused = _quote(RED, request_id="together-reused")  # the same request id for another request

    def call(i: int) -> Any:
        if i == len(wanted):
            return error_details(_error(suite.stub.QuoteLoanTerms, reused))
        u, p, a = wanted[i]
        return suite.stub.QuoteLoanTerms(
            _quote(u, p, request_id=f"together-{i}", requested_amount_fen=a), timeout=60
        )

    with futures.ThreadPoolExecutor(max_workers=len(wanted) + 1) as pool:
        together = list(pool.map(call, range(len(wanted) + 1)))
    error = together.pop()
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.reason == "REQUEST_ID_REUSED"
    assert [d.request_id for d in together] == [f"together-{i}" for i in range(len(wanted))]
    assert len({d.name for d in together} | {d.name for d in alone}) == 2 * len(wanted)
    for a, t in zip(alone, together, strict=True):
        assert _comparable(t) == _comparable(a)
    requests = [
        spb.BatchQuoteRequest(quote=_quote(u, p, request_id=f"batch-{i}", requested_amount_fen=a))
        for i, (u, p, a) in enumerate(wanted)
    ]
    batched = list(suite.stub.BatchQuote(iter(requests), timeout=60))
    for a, b in zip(alone, batched, strict=True):
        assert _comparable(b) == _comparable(a)
    again = suite.stub.QuoteLoanTerms(_quote(GREEN, request_id="together-reused"), timeout=60)
    assert unsequenced(again) == unsequenced(first)


# ----------------------------------------------------------------- BatchQuoteLoanTerms (many per message)


def _varied(prefix: str) -> list[spb.QuoteLoanTermsRequest]:
    """Requests that differ in borrower, product, amount, tenor, bank limit and base rate (no two alike,
    so no memo of equal requests can serve them)."""
    out = []
    for i in range(36):
        fields: dict[str, Any] = {
            "requested_amount_fen": 1_000_000_00 + 7_919_937 * i,
            "tenor_months": (6, 12, 36, 60, 84, 120)[i % 6],
            "bank_limit_fen": 0 if i % 4 == 0 else 2_000_000_00 + 13_000_000 * i,
        }
        if i % 5 == 0:
            fields["base_rate_bp"] = 320.0 + i
        product = (spb.GENERAL, spb.LOW_CARBON_EXPANSION)[i % 2]
        out.append(_quote(FIRMS[i % len(FIRMS)], product, request_id=f"{prefix}-{i}", **fields))
    return out


def _batch(suite: Suite, requests: list[spb.QuoteLoanTermsRequest], view: int = spb.BASIC,
           lender: str = LENDER) -> spb.BatchQuoteLoanTermsResponse:  # fmt: skip
    request = spb.BatchQuoteLoanTermsRequest(lender=lender, requests=requests, view=view)
    return suite.stub.BatchQuoteLoanTerms(request, timeout=60)


def _basic(decision: spb.Decision) -> spb.Decision:
    """The BASIC view of a FULL decision: no reasons or conditions, decline reasons by code only."""
    out = _comparable(decision)
    out.ClearField("reasons")
    out.ClearField("conditions")
    codes = [step.code for step in out.decline_reasons]
    out.ClearField("decline_reasons")
    out.decline_reasons.extend(spb.TraceStep(code=code) for code in codes)
    return out


def test_batch_quote_terms_gives_each_request_the_decision_quote_loan_terms_gives(suite: Suite) -> None:
    """Varied requests in one call: FULL answers equal QuoteLoanTerms' answers for the same requests,
    BASIC answers the same without the rendered trace, and the stored content of each decision is
    the one QuoteLoanTerms stores (but for its id, time and request id)."""
    alone = [suite.stub.QuoteLoanTerms(r, timeout=60) for r in _varied("alone")]
    full = _batch(suite, _varied("full"), spb.FULL)
    basic = _batch(suite, _varied("basic"))
    assert all(r.HasField("decision") for r in (*full.results, *basic.results))
    assert [r.decision.request_id for r in full.results] == [f"full-{i}" for i in range(36)]
    for a, f, b in zip(alone, full.results, basic.results, strict=True):
        assert _comparable(f.decision) == _comparable(a)
        assert _comparable(b.decision) == _basic(a)
    assert any(a.decline_reasons for a in alone) and any(a.manual_review for a in alone)
    stored = {d.request_id: d for d in DecisionStore(suite.registry.engine).for_lender(LENDER)}
    volatile = ("id", "create_time", "request_id", "profile_age_seconds")
    for i in range(36):
        one, other = stored[f"alone-{i}"], stored[f"basic-{i}"]
        assert one.leaf_hash != other.leaf_hash
        texts = [_stored_text(suite, d.id) for d in (one, other)]
        same = [canonical_json({k: v for k, v in json.loads(t).items() if k not in volatile}) for t in texts]
        assert same[0] == same[1]


def test_batch_quote_terms_answers_are_byte_for_byte_the_stored_decisions(suite: Suite) -> None:
    """Each BatchQuoteLoanTerms answer (built from cached wire parts) serializes to the bytes
    GetDecision gives for it (built message by message): FULL as is, BASIC without the rendered trace.
    Varied requests, some priced on the same profile, some with the same decline reasons."""
    full = _batch(suite, _varied("wire-full"), spb.FULL).results
    basic = _batch(suite, _varied("wire-basic")).results
    for result, view in [(r, spb.FULL) for r in full] + [(r, spb.BASIC) for r in basic]:
        got = unsequenced(result.decision)
        alone = unsequenced(suite.stub.GetDecision(spb.GetDecisionRequest(name=got.name), timeout=30))
        if view == spb.BASIC:
            codes = [step.code for step in alone.decline_reasons]
            for name in ("reasons", "conditions", "decline_reasons"):
                alone.ClearField(name)
            alone.decline_reasons.extend(spb.TraceStep(code=code) for code in codes)
        assert got.SerializeToString() == alone.SerializeToString()
    assert any(r.decision.decline_reasons for r in basic) and any(r.decision.reasons for r in full)


def _stored_text(suite: Suite, decision_id: str) -> str:
    with suite.registry.engine.connect() as conn:
        query = sa.select(log_entries.c.content).where(log_entries.c.entry_id == decision_id)
        return str(conn.execute(query).scalar_one())


def test_batch_quote_terms_fails_only_the_bad_requests(suite: Suite) -> None:
    good = _varied("mixed")[:4]
    first = suite.stub.QuoteLoanTerms(_quote(GREEN, request_id="mixed-taken"), timeout=30)
    requests = [
        good[0],
        _quote(GREEN, request_id="mixed-bad", enterprise="enterprises/not-a-uscc", tenor_months=0),
        good[1],
        _quote(GREEN, request_id="mixed-other", lender="lenders/someone-else"),
        _quote(make_uscc(999), request_id="mixed-no-profile"),  # a valid USCC the registry lacks
        _quote(GREEN, request_id="mixed-taken", requested_amount_fen=7_000_000_00),  # used before
        good[2],
        good[2],  # the same request twice: one decision
        good[3],
        _quote(RED, request_id=good[3].request_id),  # the id of good[3], another request
        _quote(GREEN, request_id="mixed-taken"),  # a retry of the earlier quote (5 was refused)
        _quote(GREEN, request_id="mixed-no-lender", lender=""),  # the batch's lender
    ]
    results = _batch(suite, requests).results
    assert len(results) == len(requests)
    errors = {i: error_details(_as_rpc_error(r.error)) for i, r in enumerate(results) if r.HasField("error")}
    assert sorted(errors) == [1, 3, 4, 5, 9]
    assert errors[1].code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(errors[1].fields) == {"requests[1].enterprise", "requests[1].tenor_months"}
    assert errors[3].fields == ["requests[3].lender"]
    assert (errors[4].code, errors[4].reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "PROFILE_NOT_AVAILABLE",
    )
    assert (errors[5].reason, errors[5].fields) == ("REQUEST_ID_REUSED", ["requests[5].request_id"])
    assert (errors[9].reason, errors[9].fields) == ("REQUEST_ID_REUSED", ["requests[9].request_id"])
    decisions = {i: r.decision for i, r in enumerate(results) if r.HasField("decision")}
    assert decisions[6].name == decisions[7].name
    assert decisions[8].enterprise == f"enterprises/{FIRMS[3]}"  # good[3] keeps the id it came first with
    assert unsequenced(decisions[10]) == unsequenced(_basic_of(suite, first))
    assert decisions[11].lender == LENDER
    again = _batch(suite, [requests[i] for i in sorted(decisions)]).results
    assert [r.decision.name for r in again] == [decisions[i].name for i in sorted(decisions)]
    single = suite.stub.QuoteLoanTerms(good[0], timeout=30)  # the same request id, across the RPCs
    assert single.name == decisions[0].name


def _basic_of(suite: Suite, decision: spb.Decision) -> spb.Decision:
    out = spb.Decision()
    out.CopyFrom(_basic(decision))
    for name in ("name", "request_id", "create_time", "chain_hash", "profile_age_seconds"):
        setattr(out, name, getattr(decision, name)) if name != "create_time" else out.create_time.CopyFrom(
            decision.create_time
        )
    return out


def _as_rpc_error(status: Any) -> grpc.RpcError:
    """A per-item google.rpc.Status as the RpcError error_details reads."""

    class _Error(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return next(c for c in grpc.StatusCode if c.value[0] == status.code)

        def details(self) -> str:
            return str(status.message)

        def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
            return (("grpc-status-details-bin", status.SerializeToString()),)

    return _Error()


def test_batch_quote_terms_refuses_a_bad_call_as_a_whole(suite: Suite) -> None:
    for request, field in [
        (spb.BatchQuoteLoanTermsRequest(lender="banks/x", requests=[_quote(GREEN)]), "lender"),
        (spb.BatchQuoteLoanTermsRequest(lender=LENDER), "requests"),
        (spb.BatchQuoteLoanTermsRequest(lender=LENDER, requests=[_quote(GREEN)] * 1001), "requests"),
        (spb.BatchQuoteLoanTermsRequest(lender=LENDER, requests=[_quote(GREEN)], view=7), "view"),
    ]:
        details = error_details(_error(suite.stub.BatchQuoteLoanTerms, request))
        assert details.code == grpc.StatusCode.INVALID_ARGUMENT and details.fields == [field]
    assert not DecisionStore(suite.registry.engine).for_lender(LENDER)


def test_batch_quote_terms_decisions_are_provable_once_sequenced(suite: Suite) -> None:
    results = _batch(suite, _varied("proof")).results
    key = SigningKey.from_pem(generate_private_key_pem())
    log = LogStore(suite.registry.engine)
    deadline = time.monotonic() + 60
    while True:  # the server's own sequencer may hold the log's lock: then it integrates them
        Sequencer(suite.registry.engine, key).integrate()
        try:
            found = [log.inclusion(r.decision.name.removeprefix("decisions/")) for r in results]
            break
        except FailedPrecondition:  # LOG_ENTRY_PENDING
            assert time.monotonic() < deadline
            time.sleep(0.2)
    head = log.latest_head()
    for result in results:
        proof = log.inclusion(result.decision.name.removeprefix("decisions/"), head.tree_size)
        assert proof.entry.leaf_hash == result.decision.chain_hash
        verify_inclusion(proof.entry.index or 0, head.tree_size, bytes.fromhex(result.decision.chain_hash),
                         proof.proof, head.root_hash)  # fmt: skip
    assert len(found) == len(results) and verify_log(suite.registry.engine).ok
