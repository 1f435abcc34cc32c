"""Review and override of decisions over gRPC: parse, apply the state machine (scoring_service.review),
record the action in the decision log (scoring_service.storage.reviews), answer.

Who acted is the authenticated caller (token id and role); review actions need authentication, since
maker-checker is about who the officers are.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from google.protobuf.timestamp_pb2 import Timestamp

from loan_rules import Policy, parse_policy
from scoring_service import review
from scoring_service.convert import (
    decision_to_proto,
    fresh_decision,
    fresh_decision_wire,
    parse_decision_name,
)
from scoring_service.inputs import LENDER
from scoring_service.storage.decisions import DecisionStore, StoredDecision
from scoring_service.storage.reviews import ReviewStore, StateRow
from tanxiao.errors import (
    Conflict,
    FailedPrecondition,
    FieldViolation,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from tanxiao.platform.auth import current_principal
from tanxiao.scoring.v1 import scoring_pb2

MAX_PAGE = 1000
# DecisionState.Value by one dict lookup on every answer (the enum wrapper's Python is ~1 us a call)
STATE_NUMBERS = dict(scoring_pb2.DecisionState.items())
DEFAULT_PAGE = 50


@dataclass(frozen=True)
class View:
    """A decision's review state as the latest logged action left it."""

    current: review.Current
    trail: list[dict[str, Any]]


def _terms(raw: dict[str, Any] | None) -> review.Terms | None:
    return None if not raw else review.Terms(int(raw["approved_limit_fen"]), float(raw["final_rate_bp"]))


def _terms_json(terms: review.Terms | None) -> dict[str, Any] | None:
    return (
        None
        if terms is None
        else {"approved_limit_fen": terms.approved_limit_fen, "final_rate_bp": terms.final_rate_bp}
    )


def initial(stored: StoredDecision) -> review.State:
    return review.initial_state(bool(stored.content["terms"]["manual_review"]))


class ReviewService:
    def __init__(self, store: DecisionStore, reviews: ReviewStore) -> None:
        self.store = store
        self.reviews = reviews

    # ------------------------------------------------------------------------------------ views

    def index(self, decisions: Sequence[StoredDecision]) -> None:
        self.reviews.index(decisions, [initial(d).value for d in decisions])

    def view(self, stored: StoredDecision) -> View:
        return self._view(stored, self.reviews.trail(stored.id))

    @staticmethod
    def _view(stored: StoredDecision, trail: list[dict[str, Any]]) -> View:
        if not trail:
            return View(review.Current(initial(stored)), trail)
        last = trail[-1]
        current = review.Current(
            review.State(last["state_after"]),
            _terms(last.get("pending_terms")),
            str(last.get("pending_maker") or ""),
            _terms(last.get("overridden_terms")),
        )
        return View(current, trail)

    @staticmethod
    def fresh_view(stored: StoredDecision) -> View:
        """The view of a decision just stored: its initial state, no actions."""
        return View(review.Current(initial(stored)), [])

    def views(self, decisions: Sequence[StoredDecision]) -> list[View]:
        """``view`` of many decisions, their trails read in one query (a BatchQuote chunk)."""
        trails = self.reviews.trails([d.id for d in decisions])
        return [self._view(d, trails.get(d.id, [])) for d in decisions]

    def decision(
        self, stored: StoredDecision, view: View | None = None, *, basic: bool = False
    ) -> scoring_pb2.Decision:
        """``basic``: the BASIC view (convert.decision_to_proto)."""
        view = view or self.view(stored)
        out = decision_to_proto(stored, basic=basic)
        out.state = STATE_NUMBERS.get(view.current.state.value) or scoring_pb2.DecisionState.Value(
            view.current.state.value
        )
        if view.current.overridden is not None:
            out.override_terms.CopyFrom(_override_proto(view.current.overridden))
        out.override_pending = view.current.pending is not None
        return out

    @staticmethod
    def fresh_decision(stored: StoredDecision) -> scoring_pb2.Decision:
        """``decision(stored, fresh_view(stored))``: a decision just stored (its initial state, no
        action), built from cached wire parts (convert.fresh_decision)."""
        return fresh_decision(stored, _initial_number(stored))

    @staticmethod
    def fresh_decision_wire(stored: StoredDecision) -> bytes:
        """``fresh_decision(stored)`` as its wire bytes (convert.fresh_decision_wire)."""
        return fresh_decision_wire(stored, _initial_number(stored))

    def trail_protos(self, stored: StoredDecision) -> list[scoring_pb2.ReviewAction]:
        return [action_proto(c) for c in self.reviews.trail(stored.id)]

    # ------------------------------------------------------------------------------------ lists

    def list_decisions(self, request: scoring_pb2.ListDecisionsRequest) -> scoring_pb2.ListDecisionsResponse:
        problems = []
        if not LENDER.match(request.lender):
            problems.append(FieldViolation("lender", "must be lenders/{id}"))
        if not 0 <= request.page_size <= MAX_PAGE:
            problems.append(FieldViolation("page_size", f"must be 0 (default {DEFAULT_PAGE}) to {MAX_PAGE}"))
        uscc = ""
        if request.enterprise:
            if not request.enterprise.startswith("enterprises/") or request.enterprise.count("/") != 1:
                problems.append(FieldViolation("enterprise", "must be enterprises/{uscc}"))
            uscc = request.enterprise.removeprefix("enterprises/")
        if problems:
            raise ValidationError.from_violations(problems)
        state = "" if request.state == 0 else scoring_pb2.DecisionState.Name(request.state)
        return self._page(
            request.lender,
            request.page_size,
            request.page_token,
            state=state,
            review_needed=request.review_needed if request.HasField("review_needed") else None,
            uscc=uscc,
            time_from=request.create_time_from.ToDatetime(tzinfo=UTC)
            if request.HasField("create_time_from")
            else None,
            time_to=request.create_time_to.ToDatetime(tzinfo=UTC)
            if request.HasField("create_time_to")
            else None,
        )

    def review_queue(self, request: scoring_pb2.ListReviewQueueRequest) -> scoring_pb2.ListDecisionsResponse:
        if not LENDER.match(request.lender):
            raise ValidationError.for_field("lender", "must be lenders/{id}")
        if not 0 <= request.page_size <= MAX_PAGE:
            raise ValidationError.for_field("page_size", f"must be 0 (default {DEFAULT_PAGE}) to {MAX_PAGE}")
        return self._page(
            request.lender, request.page_size, request.page_token, state=review.State.IN_REVIEW.value
        )

    def _page(
        self, lender: str, page_size: int, token: str, **filters: Any
    ) -> scoring_pb2.ListDecisionsResponse:
        missing = self.reviews.unindexed(lender)
        if missing:  # decisions made before review existed (or whose index write was lost)
            self.index([self.store.get(d) for d in missing])
        page = self.reviews.page(lender, page_size=page_size or DEFAULT_PAGE, page_token=token, **filters)
        decisions = [self.decision(self.store.get(d)) for d in page.decision_ids]
        return scoring_pb2.ListDecisionsResponse(decisions=decisions, next_page_token=page.next_token)

    # ----------------------------------------------------------------------------------- action

    def submit(
        self, request: scoring_pb2.SubmitReviewActionRequest
    ) -> scoring_pb2.SubmitReviewActionResponse:
        action, terms = _parse(request)
        principal = current_principal.get()
        if principal is None:
            raise FailedPrecondition(
                "review actions need an authenticated officer (maker-checker): serve with auth_required",
                reason="AUTHENTICATION_REQUIRED",
            )
        fingerprint = _fingerprint(request)
        found = self.reviews.find(request.lender, request.request_id)
        if found is not None:  # AIP-155: the same action again
            return self._again(found, fingerprint, request)
        stored = self._decision(request)
        self.index([stored])
        # the state row first: an action committed after this read moves its version, so ours is refused
        read = self.reviews.state(stored.id) or StateRow(initial(stored).value, 0)
        view = self.view(stored)
        if view.current.state.value != read.state:
            raise Conflict("the decision is being reviewed concurrently; retry", reason="CONCURRENT_REVIEW")
        policy = _policy(self.store.policy_text(stored.content["terms"]["policy_hash"]))
        eligible = bool(stored.content["terms"]["eligible"])
        try:
            outcome = review.transition(
                view.current, action, actor=principal.token_id, role=principal.role,
                eligible=eligible, bounds=bounds(stored, policy), terms=terms,
            )  # fmt: skip
        except review.TransitionError as exc:
            if exc.reason in ("ROLE_NOT_ALLOWED", "SAME_OFFICER"):
                raise PermissionDenied(exc.message, reason=exc.reason) from None
            raise FailedPrecondition(exc.message, reason=exc.reason) from None
        content = {
            "kind": "review_action",
            "decision": stored.id,
            "decision_leaf_hash": stored.leaf_hash,
            "lender": stored.lender,
            "request_id": request.request_id,
            "action": action.value,
            "actor": principal.token_id,
            "actor_role": principal.role,
            "reason_code": request.reason_code,
            "text": request.text,
            "override_terms": _terms_json(terms),
            "state_before": outcome.before.value,
            "state_after": outcome.after.value,
            "override_pending": outcome.pending is not None,
            "pending_terms": _terms_json(outcome.pending),
            "pending_maker": outcome.pending_maker,
            "overridden_terms": _terms_json(outcome.overridden),
            "second_approval_reasons": list(outcome.second_approval_reasons),
        }
        try:
            self.reviews.record(
                stored, request_id=request.request_id, fingerprint=fingerprint, content=content,
                read=read, state_after=outcome.after.value,
            )  # fmt: skip
        except sa.exc.IntegrityError:  # the same request id raced in: answer as a retry
            again = self.reviews.find(request.lender, request.request_id)
            if again is None:
                raise
            return self._again(again, fingerprint, request)
        return self._response(stored)

    def _again(
        self,
        found: tuple[str, dict[str, Any]],
        fingerprint: str,
        request: scoring_pb2.SubmitReviewActionRequest,
    ) -> scoring_pb2.SubmitReviewActionResponse:
        stored_fingerprint, content = found
        if stored_fingerprint != fingerprint:
            raise ValidationError.for_field(
                "request_id",
                f"request_id {request.request_id!r} was already used for a different review action",
                reason="REQUEST_ID_REUSED",
            )
        stored = self.store.get(content["decision"])
        out = scoring_pb2.SubmitReviewActionResponse(
            decision=self.decision(stored), action=action_proto(content)
        )
        return out

    def _response(self, stored: StoredDecision) -> scoring_pb2.SubmitReviewActionResponse:
        view = self.view(stored)
        return scoring_pb2.SubmitReviewActionResponse(
            decision=self.decision(stored, view), action=action_proto(view.trail[-1])
        )

    def _decision(self, request: scoring_pb2.SubmitReviewActionRequest) -> StoredDecision:
        decision_id = parse_decision_name(request.decision, "decision")
        stored = self.store.get(decision_id)
        if stored.lender != request.lender:  # another lender's decision: as if it did not exist
            raise NotFound(f"decision {decision_id!r} not found", reason="DECISION_NOT_FOUND")
        return stored


@functools.lru_cache(maxsize=32)
def _policy(text: str) -> Policy:
    return parse_policy(text)


def bounds(stored: StoredDecision, policy: Policy) -> review.Bounds:
    """What one officer may set on this decision: a limit up to the request and the product cap, a
    rate within the policy's LPR bounds; the policy's four-eyes amount."""
    terms, request = stored.content["terms"], stored.content["request"]
    product = policy.products[next(p for p in policy.products if p.value == request["product"])]
    max_limit = int(request["requested_amount_fen"])
    if product.max_limit_fen is not None:
        max_limit = min(max_limit, product.max_limit_fen)
    lpr = float(terms["lpr_bp"])
    return review.Bounds(
        max_limit_fen=max_limit,
        min_rate_bp=lpr + policy.floor_vs_lpr_bp,
        max_rate_bp=lpr + policy.cap_vs_lpr_bp,
        four_eyes_above_fen=policy.four_eyes_above_fen,
    )


def _parse(request: scoring_pb2.SubmitReviewActionRequest) -> tuple[review.Action, review.Terms | None]:
    problems: list[FieldViolation] = []

    def bad(field: str, why: str) -> None:
        problems.append(FieldViolation(field, why))

    if not request.request_id.strip() or len(request.request_id) > 128:
        bad("request_id", "required (AIP-155), at most 128 characters")
    if not LENDER.match(request.lender):
        bad("lender", "must be lenders/{id}")
    try:
        parse_decision_name(request.decision, "decision")
    except ValidationError:
        bad("decision", "must be decisions/{id}")
    name = (
        scoring_pb2.ReviewActionType.Name(request.action)
        if request.action in scoring_pb2.ReviewActionType.values()
        else ""
    )
    action = review.Action(name) if name in review.Action.__members__ else None
    if action is None:
        bad("action", "must be one of " + ", ".join(a.value for a in review.Action))
    if action in review.NEEDS_REASON and not review.REASON_CODE.match(request.reason_code):
        bad("reason_code", "required: an UPPER_SNAKE_CASE reason code, e.g. CAPACITY_CONFIRMED")
    elif request.reason_code and not review.REASON_CODE.match(request.reason_code):
        bad("reason_code", "must be an UPPER_SNAKE_CASE code")
    if action in review.NEEDS_TEXT and not request.text.strip():
        bad("text", f"required for {action.value if action else ''}: why, in words")
    if len(request.text) > review.MAX_TEXT:
        bad("text", f"at most {review.MAX_TEXT} characters")
    terms = None
    if action is review.Action.OVERRIDE:
        o = request.override_terms
        if not request.HasField("override_terms"):
            bad("override_terms", "required for OVERRIDE")
        else:
            if not 0 < o.approved_limit_fen <= 10**14:
                bad("override_terms.approved_limit_fen", "must be fen, > 0 and <= 1e14")
            if not (o.final_rate_bp == o.final_rate_bp and 0 < o.final_rate_bp <= 5000):
                bad("override_terms.final_rate_bp", "must be 0 < bp <= 5000")
            elif abs(o.final_rate_bp * 100 - round(o.final_rate_bp * 100)) > 1e-6:
                bad("override_terms.final_rate_bp", "at most two decimals")
            terms = review.Terms(o.approved_limit_fen, round(o.final_rate_bp, 2))
    elif request.HasField("override_terms"):
        bad("override_terms", "only with OVERRIDE")
    if problems:
        raise ValidationError.from_violations(problems)
    assert action is not None
    return action, terms


def _fingerprint(request: scoring_pb2.SubmitReviewActionRequest) -> str:
    copy = scoring_pb2.SubmitReviewActionRequest()
    copy.CopyFrom(request)
    copy.request_id = ""
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


def _override_proto(terms: review.Terms) -> scoring_pb2.OverrideTerms:
    return scoring_pb2.OverrideTerms(
        approved_limit_fen=terms.approved_limit_fen, final_rate_bp=terms.final_rate_bp
    )


def action_proto(content: dict[str, Any]) -> scoring_pb2.ReviewAction:
    stamp = Timestamp()
    stamp.FromJsonString(content["create_time"].replace("+00:00", "Z"))
    out = scoring_pb2.ReviewAction(
        name=f"decisions/{content['decision']}/reviewActions/{content['id']}",
        request_id=content["request_id"],
        action=scoring_pb2.ReviewActionType.Value(content["action"]),
        actor=content["actor"],
        actor_role=content["actor_role"],
        reason_code=content["reason_code"],
        text=content["text"],
        state_before=scoring_pb2.DecisionState.Value(content["state_before"]),
        state_after=scoring_pb2.DecisionState.Value(content["state_after"]),
        override_pending=bool(content["override_pending"]),
        second_approval_reasons=content.get("second_approval_reasons") or [],
        create_time=stamp,
    )
    if content.get("override_terms"):
        out.override_terms.CopyFrom(_override_proto(review.Terms(**content["override_terms"])))
    return out


def _initial_number(stored: StoredDecision) -> int:
    """The DecisionState number of a decision just stored (its initial state)."""
    state = initial(stored).value
    return STATE_NUMBERS.get(state) or scoring_pb2.DecisionState.Value(state)
