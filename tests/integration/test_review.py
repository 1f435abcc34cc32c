"""Review and override over gRPC, four eyes: a credit officer and an approver of one lender, tokens on,
a real registry and scoring server on SQLite and PostgreSQL. Every action is an entry of the decision
log and shows in the explanation; another lender cannot review; the same officer cannot check himself."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf.timestamp_pb2 import Timestamp
from helpers import Registry, error_details, graded_year_records
from test_scoring import FIRMS, GREEN, LENDER, RED, _quote, _seed

from scoring_service.app import start_scoring
from tanxiao.platform.auth import create_token
from tanxiao.platform.server import RunningServer
from tanxiao.registry.v1 import consent_pb2, consent_pb2_grpc
from tanxiao.registry.v1 import registry_pb2 as rpb
from tanxiao.scoring.v1 import scoring_pb2 as spb
from tanxiao.scoring.v1 import scoring_pb2_grpc

OTHER_LENDER = "lenders/anji-rcb"


@dataclass
class Bank:
    stub: scoring_pb2_grpc.LoanScoringStub
    server: RunningServer
    engine: sa.Engine
    tokens: dict[str, str]

    def call(self, who: str, method: str, request: Any) -> Any:
        metadata = (("authorization", f"Bearer {self.tokens[who]}"),)
        return getattr(self.stub, method)(request, metadata=metadata, timeout=30)

    def fails(self, who: str, method: str, request: Any) -> Any:
        with pytest.raises(grpc.RpcError) as caught:
            self.call(who, method, request)
        return error_details(caught.value)


@pytest.fixture
def bank(registry: Registry) -> Iterator[Bank]:
    _seed(registry)
    settings = replace(registry.settings, profile_cache_seconds=0.0, auth_required=True)
    server = start_scoring(settings, "127.0.0.1:0", registry_addr=registry.server.address)
    tokens = {
        who: create_token(registry.engine, role, tenant, (), description=f"test {who}")[0]
        for who, role, tenant in (
            ("lender", "lender", LENDER),
            ("officer", "credit_officer", LENDER),
            ("approver", "approver", LENDER),
            ("approver2", "approver", LENDER),
            ("other", "credit_officer", OTHER_LENDER),
            ("other_lender", "lender", OTHER_LENDER),
        )
    }
    # the enterprises consent to the lender (registry served without authentication: the operator)
    consents = consent_pb2_grpc.ConsentsStub(registry.channel)
    expire = Timestamp()
    expire.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    for uscc in FIRMS:
        consents.GrantConsent(
            consent_pb2.GrantConsentRequest(
                enterprise=f"enterprises/{uscc}", lender=LENDER,
                scopes=[consent_pb2.CARBON_DATA, consent_pb2.FINANCIALS], expire_time=expire,
                reference="授权书",
            ),
            timeout=10,
        )  # fmt: skip
    # the other lender may use GREEN's carbon data but not its financials
    consents.GrantConsent(
        consent_pb2.GrantConsentRequest(
            enterprise=f"enterprises/{GREEN}", lender=OTHER_LENDER, scopes=[consent_pb2.CARBON_DATA],
            expire_time=expire, reference="授权书",
        ),
        timeout=10,
    )  # fmt: skip
    channel = grpc.insecure_channel(server.address)
    try:
        yield Bank(scoring_pb2_grpc.LoanScoringStub(channel), server, registry.engine, tokens)
    finally:
        channel.close()
        server.stop(None)


def action(decision: str, request_id: str, kind: int, lender: str = LENDER, **kw: Any) -> Any:
    return spb.SubmitReviewActionRequest(
        request_id=request_id, lender=lender, decision=decision, action=kind, **kw
    )


def test_a_full_review_cycle_with_maker_checker(bank: Bank) -> None:
    # no bank limit: the quote needs manual review and starts IN_REVIEW, in the queue
    quote = bank.call("lender", "QuoteLoanTerms", _quote(GREEN, request_id="r-1", bank_limit_fen=0))
    assert quote.manual_review and quote.state == spb.IN_REVIEW
    queue = bank.call("officer", "ListReviewQueue", spb.ListReviewQueueRequest(lender=LENDER))
    assert [d.name for d in queue.decisions] == [quote.name]

    # the officer overrides above the request (5M -> 6M): outside the bounds, it waits for four eyes
    terms = spb.OverrideTerms(approved_limit_fen=6_000_000_00, final_rate_bp=280.0)
    override = action(
        quote.name,
        "a-1",
        spb.OVERRIDE,
        reason_code="COLLATERAL_ADDED",
        text="新增厂房抵押",
        override_terms=terms,
    )
    made = bank.call("officer", "SubmitReviewAction", override)
    assert made.decision.state == spb.IN_REVIEW and made.decision.override_pending
    assert made.action.override_pending and list(made.action.second_approval_reasons) == [
        "OUTSIDE_POLICY_BOUNDS"
    ]
    assert bank.call("officer", "SubmitReviewAction", override) == made  # a retry: the same action
    reused = bank.fails(
        "officer", "SubmitReviewAction", action(quote.name, "a-1", spb.DECLINE, reason_code="X", text="y")
    )
    assert reused.code == grpc.StatusCode.INVALID_ARGUMENT and reused.reason == "REQUEST_ID_REUSED"

    # a credit officer may not check an override; the approver (another person) does
    denied = bank.fails(
        "officer", "SubmitReviewAction", action(quote.name, "a-2", spb.CONFIRM_OVERRIDE, reason_code="OK")
    )
    assert denied.code == grpc.StatusCode.PERMISSION_DENIED and denied.reason == "ROLE_NOT_ALLOWED"
    checked = bank.call(
        "approver", "SubmitReviewAction", action(quote.name, "a-3", spb.CONFIRM_OVERRIDE, reason_code="OK")
    )
    assert checked.decision.state == spb.OVERRIDDEN and not checked.decision.override_pending
    assert checked.decision.override_terms.approved_limit_fen == 6_000_000_00
    assert checked.decision.approved_limit_fen == quote.approved_limit_fen  # the quoted terms stay as quoted
    booked = bank.call("lender", "SubmitReviewAction", action(quote.name, "a-4", spb.BOOK))
    assert booked.decision.state == spb.BOOKED
    late = bank.fails(
        "approver", "SubmitReviewAction", action(quote.name, "a-5", spb.APPROVE, reason_code="OK")
    )
    assert late.code == grpc.StatusCode.FAILED_PRECONDITION and late.reason == "INVALID_TRANSITION"

    # the trail: in the explanation (text and HTML) and as entries of the decision log
    explanation = bank.call("officer", "ExplainDecision", spb.ExplainDecisionRequest(name=quote.name))
    assert [a.action for a in explanation.review_trail] == [spb.OVERRIDE, spb.CONFIRM_OVERRIDE, spb.BOOK]
    assert explanation.decision.state == spb.BOOKED
    assert "审查记录" in explanation.text_zh and "新增厂房抵押" in explanation.text_zh
    assert "6,000,000元" in explanation.text_zh and "COLLATERAL_ADDED" in explanation.html_en
    assert "Review trail" in explanation.text_en and "second approver" in explanation.text_en
    with bank.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT content FROM log_entries WHERE kind = 'review_action' ORDER BY create_time")
        ).all()
    logged = [json.loads(r.content) for r in rows]
    assert [(c["action"], c["state_after"]) for c in logged] == [
        ("OVERRIDE", "IN_REVIEW"),
        ("CONFIRM_OVERRIDE", "OVERRIDDEN"),
        ("BOOK", "BOOKED"),
    ]
    assert logged[0]["decision_leaf_hash"] == quote.chain_hash  # each action names the decision's leaf
    assert logged[0]["actor"] != logged[1]["actor"]  # maker and checker are two tokens


def test_the_same_officer_cannot_check_himself_and_lenders_are_separate(bank: Bank) -> None:
    quote = bank.call("lender", "QuoteLoanTerms", _quote(FIRMS[2], request_id="r-2", bank_limit_fen=0))
    terms = spb.OverrideTerms(approved_limit_fen=9_000_000_00, final_rate_bp=300.0)  # above the request
    bank.call(
        "approver",
        "SubmitReviewAction",
        action(quote.name, "b-1", spb.OVERRIDE, reason_code="X", text="maker", override_terms=terms),
    )
    himself = bank.fails(
        "approver", "SubmitReviewAction", action(quote.name, "b-2", spb.CONFIRM_OVERRIDE, reason_code="OK")
    )
    assert himself.code == grpc.StatusCode.PERMISSION_DENIED and himself.reason == "SAME_OFFICER"
    rejected = bank.call(
        "approver2", "SubmitReviewAction", action(quote.name, "b-3", spb.REJECT_OVERRIDE, reason_code="NO")
    )
    assert rejected.decision.state == spb.IN_REVIEW and not rejected.decision.override_pending

    # another lender's officer: refused by its token's tenant, and not found under its own lender
    tenant = bank.fails(
        "other", "SubmitReviewAction", action(quote.name, "c-1", spb.APPROVE, reason_code="OK")
    )
    assert tenant.code == grpc.StatusCode.PERMISSION_DENIED
    hidden = bank.fails(
        "other",
        "SubmitReviewAction",
        action(quote.name, "c-2", spb.APPROVE, lender=OTHER_LENDER, reason_code="OK"),
    )
    assert hidden.code == grpc.StatusCode.NOT_FOUND
    listed = bank.fails("other", "ListDecisions", spb.ListDecisionsRequest(lender=LENDER))
    assert listed.code == grpc.StatusCode.PERMISSION_DENIED

    # within bounds and below the four-eyes amount: one officer's override takes effect
    small = spb.OverrideTerms(approved_limit_fen=4_000_000_00, final_rate_bp=300.0)
    done = bank.call(
        "officer",
        "SubmitReviewAction",
        action(quote.name, "b-4", spb.OVERRIDE, reason_code="SMALLER", text="额度下调", override_terms=small),
    )
    assert done.decision.state == spb.OVERRIDDEN


def test_list_decisions_filters_and_pages(bank: Bank) -> None:
    quoted = [
        bank.call("lender", "QuoteLoanTerms", _quote(uscc, spb.GENERAL, request_id=f"l-{i}"))
        for i, uscc in enumerate(FIRMS[:4])
    ]
    review = bank.call(
        "lender", "QuoteLoanTerms", _quote(FIRMS[4], spb.GENERAL, request_id="l-r", bank_limit_fen=0)
    )
    everything = bank.call("officer", "ListDecisions", spb.ListDecisionsRequest(lender=LENDER))
    assert [d.name for d in everything.decisions] == [d.name for d in [*quoted, review]]
    first = bank.call("officer", "ListDecisions", spb.ListDecisionsRequest(lender=LENDER, page_size=2))
    second = bank.call(
        "officer",
        "ListDecisions",
        spb.ListDecisionsRequest(lender=LENDER, page_size=2, page_token=first.next_page_token),
    )
    assert len(first.decisions) == 2 and first.next_page_token and second.decisions[0].name == quoted[2].name
    needing = bank.call(
        "officer", "ListDecisions", spb.ListDecisionsRequest(lender=LENDER, review_needed=True)
    )
    # only GREEN reports financials: the others need review (FINANCIALS_MISSING), "l-r" has no bank limit
    assert not quoted[0].manual_review and review.manual_review
    expected = [d.name for d in [*quoted, review] if d.manual_review]
    assert [d.name for d in needing.decisions] == expected
    in_review = bank.call(
        "officer", "ListDecisions", spb.ListDecisionsRequest(lender=LENDER, state=spb.IN_REVIEW)
    )
    assert [d.name for d in in_review.decisions] == expected
    quiet = bank.call("officer", "ListDecisions", spb.ListDecisionsRequest(lender=LENDER, state=spb.QUOTED))
    assert [d.name for d in quiet.decisions] == [quoted[0].name]
    one = bank.call(
        "officer",
        "ListDecisions",
        spb.ListDecisionsRequest(lender=LENDER, enterprise=f"enterprises/{FIRMS[1]}"),
    )
    assert [d.name for d in one.decisions] == [quoted[1].name]
    # a quote that needs no review: QUOTED -> IN_REVIEW on request, then approved
    submitted = bank.call(
        "lender", "SubmitReviewAction", action(quoted[0].name, "s-1", spb.SUBMIT_FOR_REVIEW)
    )
    assert submitted.decision.state == spb.IN_REVIEW
    approved = bank.call(
        "officer", "SubmitReviewAction", action(quoted[0].name, "s-2", spb.APPROVE, reason_code="OK")
    )
    assert approved.decision.state == spb.APPROVED
    bad = bank.fails("officer", "SubmitReviewAction", action("nope", "", spb.OVERRIDE))
    assert bad.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {"request_id", "decision", "reason_code", "text", "override_terms"} <= set(bad.fields)


def test_reprice_the_book_dry_run_and_for_real_and_the_watch_list(bank: Bank) -> None:
    quote = bank.call("lender", "QuoteLoanTerms", _quote(GREEN, spb.GENERAL, request_id="w-1"))
    assert quote.state == spb.QUOTED
    for i, (who, kind, reason) in enumerate(
        (("lender", spb.SUBMIT_FOR_REVIEW, ""), ("officer", spb.APPROVE, "OK"), ("lender", spb.BOOK, ""))
    ):
        bank.call(who, "SubmitReviewAction", action(quote.name, f"w-a{i}", kind, reason_code=reason))
    with bank.engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM log_decisions")).scalar_one()

    dry = bank.call("lender", "RepriceDecisions", spb.RepriceDecisionsRequest(lender=LENDER, dry_run=True))
    (only,) = dry.repricings
    assert dry.dry_run and only.original == quote.name and only.repriced.name == ""
    # the same data and the same LPR today: the same terms
    assert not only.changed and only.final_rate_bp_after == quote.final_rate_bp
    assert only.approved_limit_fen_after == quote.approved_limit_fen
    with bank.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM log_decisions")).scalar_one() == before

    real = bank.call(
        "lender", "RepriceDecisions", spb.RepriceDecisionsRequest(lender=LENDER, request_id="2026-12")
    )
    (done,) = real.repricings
    assert done.repriced.name and done.repriced.name != quote.name and done.repriced.state == spb.QUOTED
    again = bank.call(
        "lender", "RepriceDecisions", spb.RepriceDecisionsRequest(lender=LENDER, request_id="2026-12")
    )
    assert again.repricings[0].repriced.name == done.repriced.name  # idempotent
    explained = bank.call("officer", "ExplainDecision", spb.ExplainDecisionRequest(name=done.repriced.name))
    with bank.engine.connect() as conn:
        content = conn.execute(
            sa.text("SELECT content FROM log_entries WHERE entry_id = :id"),
            {"id": done.repriced.name.removeprefix("decisions/")},
        ).scalar_one()
    assert json.loads(content)["reprices"] == quote.name and explained.decision.name == done.repriced.name
    officer = bank.fails(
        "officer", "RepriceDecisions", spb.RepriceDecisionsRequest(lender=LENDER, dry_run=True)
    )
    assert officer.code == grpc.StatusCode.PERMISSION_DENIED

    # the 2022 profile is old: 2022-12-31 to today is above the template's 550 days
    watch = bank.call("officer", "ListWatchList", spb.ListWatchListRequest(lender=LENDER))
    (item,) = watch.items
    age = (dt.datetime.now(dt.UTC).date() - dt.date(2022, 12, 31)).days
    assert item.decision == quote.name and list(item.flags) == ["STALE_DATA"] and item.data_age_days == age
    assert item.grade_at_decision == item.grade_now == 1


def test_financials_are_used_only_under_the_borrowers_consent(bank: Bank) -> None:
    ten = {"requested_amount_fen": 10_000_000_00, "bank_limit_fen": 10_000_000_00}
    consented = bank.call("lender", "QuoteLoanTerms", _quote(GREEN, request_id="f-1", **ten))
    # GREEN's financials (FINANCIALS granted): capacity 6M binds, as in test_scoring
    assert consented.approved_limit_fen == 6_000_000_00 and consented.binding_limit == "CAPACITY"
    other = _quote(GREEN, request_id="f-2", lender=OTHER_LENDER, **ten)
    withheld = bank.call("other_lender", "QuoteLoanTerms", other)
    # no FINANCIALS grant to this lender: no capacity test, and a person must look (FINANCIALS_MISSING)
    assert "FINANCIALS_MISSING" in withheld.review_reasons and withheld.binding_limit != "CAPACITY"
    assert withheld.approved_limit_fen == 10_000_000_00


def _book(bank: Bank, decision: spb.Decision, key: str) -> None:
    """Walk a quote to BOOKED: submitted (unless it already waits for review), approved, booked."""
    steps = [("officer", spb.APPROVE, "OK"), ("lender", spb.BOOK, "")]
    if decision.state == spb.QUOTED:
        steps.insert(0, ("lender", spb.SUBMIT_FOR_REVIEW, ""))
    for i, (who, kind, reason) in enumerate(steps):
        bank.call(who, "SubmitReviewAction", action(decision.name, f"{key}-{i}", kind, reason_code=reason))


def test_the_watch_list_flags_a_missed_commitment_milestone(bank: Bank, registry: Registry) -> None:
    """Two retrofit loans, booked while their commitment's first milestone (half the target by
    2023-12-31) could not yet be judged (no 2023 data). Then 2023 arrives: RED used the same electricity
    (no absolute saving) and has no passing verification - its milestone is missed and the loan is
    flagged; FIRMS[4] cut 3,000 of its 4,000 tCO2/yr at the 2022 factor and an independent verifier
    passed it - not flagged."""
    behind, on_track = RED, FIRMS[4]  # L 8.0 and 3.5 tCO2/万元 on 3,000 万元: 24,000 and 10,500 tCO2
    commitments = {}
    for uscc in (behind, on_track):
        commitments[uscc] = registry.stub.RegisterCommitment(
            rpb.RegisterCommitmentRequest(
                parent=f"enterprises/{uscc}",
                commitment=rpb.Commitment(
                    project_type=rpb.MOTORS, title="电机系统节能改造", baseline_year=2022,
                    target_savings_tce_per_year=900, target_savings_tco2_per_year=4_000,
                    capex_fen=800_000_000, start_date="2023-01-01",
                    milestones=[
                        rpb.Milestone(title="改造完成", due_date="2023-12-31", target_fraction=0.5),
                        rpb.Milestone(title="达产", due_date="2030-12-31", target_fraction=1.0),
                    ],
                    verifier="浙江省节能监测中心",
                ),
                request_id=f"c-{uscc}",
            ),
            timeout=30,
        )  # fmt: skip
    decisions = {}
    for uscc, commitment in commitments.items():
        quote = _quote(uscc, spb.HIGH_CARBON_RETROFIT, request_id=f"m-{uscc}", commitment=commitment.name)
        decisions[uscc] = bank.call("lender", "QuoteLoanTerms", quote)
        _book(bank, decisions[uscc], f"m-{uscc}")
    for commitment in commitments.values():
        progress = registry.stub.GetCommitmentProgress(
            rpb.GetCommitmentProgressRequest(name=commitment.name), timeout=30
        )
        assert progress.milestones_missed == 0  # not judged yet: no 2023 data
    watch = bank.call("officer", "ListWatchList", spb.ListWatchListRequest(lender=LENDER))
    assert not [i for i in watch.items if "MILESTONE_MISSED" in i.flags]

    # 2023 arrives: RED at its 2022 intensity (saved 0), FIRMS[4] at 2.5 (saved 1.0 x 3,000 = 3,000 tCO2)
    rows = graded_year_records(behind, 8.0, 2023) + graded_year_records(on_track, 2.5, 2023)
    registry.stub.BatchIngestRecords(rpb.BatchIngestRecordsRequest(records=rows), timeout=60)
    passed = rpb.Verification(
        verification_date="2024-03-01", verifier="浙江省节能监测中心", verified_savings_tco2=3_000,
        verified_savings_tce=700, passed=True, note="现场核查通过",
    )  # fmt: skip
    registry.stub.RecordVerification(
        rpb.RecordVerificationRequest(name=commitments[on_track].name, verification=passed, request_id="v-1"),
        timeout=30,
    )
    missed = registry.stub.GetCommitmentProgress(
        rpb.GetCommitmentProgressRequest(name=commitments[behind].name), timeout=30
    )
    kept = registry.stub.GetCommitmentProgress(
        rpb.GetCommitmentProgressRequest(name=commitments[on_track].name), timeout=30
    )
    # (measured on intensity at constant prices, docs/data-quality.md: RED's small gain is the deflator's)
    assert missed.milestones_missed == 1 and not missed.verified and missed.achieved_ratio < 0.5
    assert kept.milestones_missed == 0 and kept.verified and kept.achieved_ratio >= 0.5
    assert missed.savings.added_value_nominal_fen == 3_000_000_000  # 3,000 万元, in fen

    watch = bank.call("officer", "ListWatchList", spb.ListWatchListRequest(lender=LENDER))
    flagged = {i.decision: list(i.flags) for i in watch.items}
    assert "MILESTONE_MISSED" in flagged[decisions[behind].name]
    assert "MILESTONE_MISSED" not in flagged.get(decisions[on_track].name, [])
    # the other lender sees none of this lender's book
    theirs = bank.call("other", "ListWatchList", spb.ListWatchListRequest(lender=OTHER_LENDER))
    assert not theirs.items
