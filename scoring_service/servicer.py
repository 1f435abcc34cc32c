"""LoanScoring over gRPC. Each method parses the request, prices or reads through the Pricer and the
decision store, and converts at the edge; errors are tanxiao.errors types mapped by the interceptor."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import grpc

from loan_rules import LoanRequest, Policy, PolicyError, evaluate, evaluate_batch, parse_policy, to_frame
from scoring_service import explain
from scoring_service.batch_quote import BatchQuoter, cyclic_gc_paused
from scoring_service.combiner import Combiner
from scoring_service.consent_check import FINANCIALS, ConsentChecker, check_quotes, restricted_lender
from scoring_service.convert import (
    commitment_snapshot,
    decision_to_proto,
    parse_decision_name,
    profile_snapshot,
    trace_step,
)
from scoring_service.inputs import (
    QuoteRequest,
    commitment_input_from_json,
    loan_request_from_json,
    parse_quote,
    profile_input_from_json,
    to_json,
)
from scoring_service.pricing import Pricer
from scoring_service.repricing import Repricer
from scoring_service.reviews import ReviewService, action_proto
from scoring_service.storage.decisions import DecisionStore, StoredDecision
from scoring_service.storage.reviews import ReviewStore
from tanxiao.errors import FieldViolation, ValidationError
from tanxiao.platform.encoded import Encoded, answers_encoded
from tanxiao.scoring.v1 import scoring_pb2, scoring_pb2_grpc

SERVICE = "tanxiao.scoring.v1.LoanScoring"
BATCH_CHUNK = 1024  # requests priced, stored and committed together in BatchQuote
QUOTE_GROUP = 256  # concurrent QuoteLoanTerms calls priced and stored together at most (group commit)
MAX_TOP_CHANGES = 1000


class LoanScoringServicer(scoring_pb2_grpc.LoanScoringServicer):
    def __init__(self, pricer: Pricer, store: DecisionStore, consents: ConsentChecker | None = None) -> None:
        self.pricer = pricer
        self.store = store
        self.consents = consents  # enterprise consent (scoring_service.consent_check); None: not checked
        self.reviews = ReviewService(store, ReviewStore(store.engine))
        self.repricer = Repricer(pricer, store, self.reviews)
        self.batch = BatchQuoter(pricer, self.reviews, consents, self._consented)
        # concurrent QuoteLoanTerms calls share one evaluation and one transaction (group commit); a
        # group priced while the one before commits was slower (the GIL), docs/benchmarks.md
        self.quotes: Combiner[QuoteRequest, tuple[StoredDecision, bool]] = Combiner(
            pricer.quote_together, max_batch=QUOTE_GROUP
        )

    @answers_encoded  # a new decision's answer is its wire bytes (tanxiao.platform.encoded)
    def QuoteLoanTerms(
        self, request: scoring_pb2.QuoteLoanTermsRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.Decision | Encoded:
        quote = parse_quote(request)
        check_quotes(self.consents, [quote])
        # priced and stored together with the quotes that arrive at the same time (Combiner); its
        # decision row carries its review state (QUOTED, or IN_REVIEW when it needs review)
        stored, new = self.quotes.submit(self._consented(quote))
        if not new:  # a retry: the decision may predate review and have no state yet (idempotent)
            self.reviews.index([stored])
        # A decision this call stored has no review action yet (its id was unknown until now): its
        # state is the initial one, no trail query; answered as the bytes of its cached parts, which
        # gRPC sends as they are. A retry's may have been reviewed since: read it.
        if new:
            return Encoded(self.reviews.fresh_decision_wire(stored), scoring_pb2.Decision)
        return self.reviews.decision(stored)

    def GetDecision(
        self, request: scoring_pb2.GetDecisionRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.Decision:
        return self.reviews.decision(self.store.get(parse_decision_name(request.name)))

    def ExplainDecision(
        self, request: scoring_pb2.ExplainDecisionRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.Explanation:
        pdf_language = request.pdf_language.strip()
        if pdf_language not in ("", "zh", "en"):
            raise ValidationError.for_field("pdf_language", "must be zh, en or empty (no PDF)")
        stored = self.store.get(parse_decision_name(request.name))
        view = self.reviews.view(stored)
        out = explanation(stored, view.trail, self.pricer.registry.category_names())
        out.decision.CopyFrom(self.reviews.decision(stored, view))
        lender = restricted_lender()
        if self.consents is not None and lender:
            self.consents.limit_profile(out.profile_snapshot, lender)
        if pdf_language:  # the page as returned, on A4 (WeasyPrint; the page's print stylesheet)
            from scoring_service.portfolio.pdf import html_to_pdf

            out.pdf = html_to_pdf(out.html_zh if pdf_language == "zh" else out.html_en)
        return out

    def ListDecisions(
        self, request: scoring_pb2.ListDecisionsRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.ListDecisionsResponse:
        return self.reviews.list_decisions(request)

    def ListReviewQueue(
        self, request: scoring_pb2.ListReviewQueueRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.ListDecisionsResponse:
        return self.reviews.review_queue(request)

    def SubmitReviewAction(
        self, request: scoring_pb2.SubmitReviewActionRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.SubmitReviewActionResponse:
        return self.reviews.submit(request)

    def RepriceDecisions(
        self, request: scoring_pb2.RepriceDecisionsRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.RepriceDecisionsResponse:
        return self.repricer.reprice(request)

    def ListWatchList(
        self, request: scoring_pb2.ListWatchListRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.ListWatchListResponse:
        return self.repricer.watch(request)

    def ReplayDecision(
        self, request: scoring_pb2.ReplayDecisionRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.ReplayDecisionResponse:
        stored = self.store.get(parse_decision_name(request.name))
        policy = parse_policy(self.store.policy_text(stored.content["terms"]["policy_hash"]))
        replayed = to_json(_evaluate_stored(stored, policy).to_dict())
        differences = _differences(stored.content["terms"], replayed)
        return scoring_pb2.ReplayDecisionResponse(
            original=decision_to_proto(stored),
            replayed=decision_to_proto(stored, replayed),
            reproduced=not differences,
            differences=differences,
        )

    def BatchQuote(
        self, request_iterator: Iterator[scoring_pb2.BatchQuoteRequest], context: grpc.ServicerContext
    ) -> Iterator[scoring_pb2.Decision]:
        chunk = []
        for index, item in enumerate(request_iterator):
            chunk.append(parse_quote(item.quote, prefix=f"requests[{index}].quote."))
            check_quotes(self.consents, chunk[-1:])
            chunk[-1] = self._consented(chunk[-1])
            if len(chunk) == BATCH_CHUNK:
                yield from self._batch(chunk)
                chunk = []
        if chunk:
            yield from self._batch(chunk)

    def BatchQuoteLoanTerms(
        self, request: scoring_pb2.BatchQuoteLoanTermsRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.BatchQuoteLoanTermsResponse:
        return self.batch.quote(request)

    def _consented(self, quote: QuoteRequest) -> QuoteRequest:
        """Underwriting uses the borrower's financials only under its FINANCIALS consent to the lender."""
        lender = restricted_lender()
        if self.consents is None or not lender:
            return quote
        if FINANCIALS in self.consents.scopes(quote.enterprise, quote.lender):
            return quote
        return dataclasses.replace(quote, use_financials=False)

    def _batch(self, chunk: list[Any]) -> Iterator[scoring_pb2.Decision]:
        # the decisions' rows carry their review states (DecisionStore): one insert, one commit
        with cyclic_gc_paused():  # as BatchQuoteLoanTerms: a chunk's objects die by reference count
            results = self.pricer.quote_many_new(chunk)
        retried = [d for d, new in results if not new]
        views = {}
        if retried:  # a retry's decision may predate review (no state yet); it may be reviewed
            self.reviews.index(retried)
            views = {d.id: v for d, v in zip(retried, self.reviews.views(retried), strict=True)}
        # decisions stored by this call have no review action yet: their initial state, no query
        fresh, read = self.reviews.fresh_decision, self.reviews.decision
        return (fresh(d) if new else read(d, views[d.id]) for d, new in results)

    def SimulatePolicy(
        self, request: scoring_pb2.SimulatePolicyRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.SimulatePolicyResponse:
        if not request.lender.startswith("lenders/"):
            raise ValidationError.for_field("lender", "must be lenders/{id}")
        if request.top_changes < 0:
            raise ValidationError.for_field("top_changes", "must be >= 0")
        draft = _draft_policy(request.policy_yaml)
        decisions = self.store.for_lender(request.lender)
        return simulate(decisions, draft, min(request.top_changes or 20, MAX_TOP_CHANGES))


def explanation(
    stored: StoredDecision,
    trail: list[dict[str, Any]] | None = None,
    category_names: Mapping[str, tuple[str, str]] | None = None,
) -> scoring_pb2.Explanation:
    """``trail``: the review actions as logged; shown after the decision, outside its hashed content.
    ``category_names``: the registry's data-category names (code -> (zh, en)) for data-quality flags."""
    content = stored.content  # as stored (with id and create_time): its hash in the page must match
    trail = trail or []
    out = scoring_pb2.Explanation(
        decision=decision_to_proto(stored),
        trace=[trace_step(s) for s in stored.content["terms"]["trace"]],
        profile_snapshot=profile_snapshot(stored.content),
        policy_hash=stored.content["terms"]["policy_hash"],
        text_zh=explain.render_text(content, "zh", review_trail=trail, category_names=category_names),
        text_en=explain.render_text(content, "en", review_trail=trail, category_names=category_names),
        html_zh=explain.render_html(content, "zh", review_trail=trail, category_names=category_names),
        html_en=explain.render_html(content, "en", review_trail=trail, category_names=category_names),
        review_trail=[action_proto(c) for c in trail],
    )
    if stored.content.get("commitment_progress"):
        out.commitment_snapshot.CopyFrom(commitment_snapshot(stored.content))
    return out


def simulate(decisions: list[StoredDecision], draft: Policy, top: int) -> scoring_pb2.SimulatePolicyResponse:
    response = scoring_pb2.SimulatePolicyResponse(
        policy_version=draft.version, policy_hash=draft.content_hash, decisions=len(decisions)
    )
    if not decisions:
        return response
    after = evaluate_batch(to_frame(_inputs(d) for d in decisions), draft)
    before = [d.content["terms"] for d in decisions]
    changes = []
    for stored, old, new in zip(decisions, before, after.to_dict("records"), strict=True):
        changed = (
            old["eligible"] != bool(new["eligible"])
            or old["approved_limit_fen"] != int(new["approved_limit_fen"])
            or abs(old["final_rate_bp"] - float(new["final_rate_bp"])) > 1e-9
        )
        if changed:
            changes.append(_change(stored, old, new))
    response.changed = len(changes)
    response.eligible_before = sum(1 for t in before if t["eligible"])
    response.eligible_after = int(after["eligible"].sum())
    response.total_limit_fen_before = sum(int(t["approved_limit_fen"]) for t in before)
    response.total_limit_fen_after = int(after["approved_limit_fen"].sum())
    response.weighted_rate_bp_before = _weighted(
        [t["final_rate_bp"] for t in before], [t["approved_limit_fen"] for t in before]
    )
    response.weighted_rate_bp_after = _weighted(
        after["final_rate_bp"].tolist(), after["approved_limit_fen"].tolist()
    )
    changes.sort(key=lambda c: abs(c.final_rate_bp_after - c.final_rate_bp_before), reverse=True)
    response.changes.extend(changes[:top])
    return response


def _evaluate_stored(stored: StoredDecision, policy: Policy) -> Any:
    profile, commitment, request = _inputs(stored)
    return evaluate(profile, commitment, request, policy)


def _inputs(stored: StoredDecision) -> tuple[Any, Any, LoanRequest]:
    inputs = stored.content["inputs"]
    return (
        profile_input_from_json(inputs["profile"]),
        commitment_input_from_json(inputs.get("commitment")),
        loan_request_from_json(inputs["request"]),
    )


def _differences(original: Any, replayed: Any, path: str = "") -> list[str]:
    if isinstance(original, dict) and isinstance(replayed, dict):
        out = []
        for key in sorted(set(original) | set(replayed)):
            out += _differences(original.get(key), replayed.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(original, list) and isinstance(replayed, list) and len(original) == len(replayed):
        return [
            d
            for i, (a, b) in enumerate(zip(original, replayed, strict=True))
            for d in _differences(a, b, f"{path}[{i}]")
        ]
    return [] if original == replayed else [f"{path}: {original!r} != {replayed!r}"]


def _draft_policy(text: str) -> Policy:
    if not text.strip():
        raise ValidationError.for_field("policy_yaml", "required: the draft policy as YAML")
    try:
        return parse_policy(text, source="draft")
    except PolicyError as exc:
        raise ValidationError.from_violations(
            FieldViolation("policy_yaml", f"{p.path}: {p.message}" if p.path else p.message)
            for p in exc.problems
        ) from None


def _change(stored: StoredDecision, old: dict[str, Any], new: dict[str, Any]) -> scoring_pb2.DecisionChange:
    return scoring_pb2.DecisionChange(
        decision=f"decisions/{stored.id}",
        enterprise=stored.content["enterprise"],
        final_rate_bp_before=old["final_rate_bp"],
        final_rate_bp_after=float(new["final_rate_bp"]),
        approved_limit_fen_before=int(old["approved_limit_fen"]),
        approved_limit_fen_after=int(new["approved_limit_fen"]),
        eligible_before=bool(old["eligible"]),
        eligible_after=bool(new["eligible"]),
    )


def _weighted(rates: list[float], limits: list[int]) -> float:
    total = sum(limits)
    return sum(r * w for r, w in zip(rates, limits, strict=True)) / total if total else 0.0
