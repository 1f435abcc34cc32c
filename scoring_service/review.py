"""The review state machine of a decision, four eyes included. Pure: no gRPC, no database.

States: QUOTED -> IN_REVIEW -> APPROVED | DECLINED | OVERRIDDEN -> BOOKED. A quote that needs manual
review starts IN_REVIEW. The edges (``EDGES``) are the only ones there are; every other (state, action)
pair is refused. Overrides carry new terms; an override outside the policy bounds or above the
policy's four-eyes amount does not take effect but waits (``pending``) for a second approver, who must
hold the approver role and must not be the officer who made it (maker-checker).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    QUOTED = "QUOTED"
    IN_REVIEW = "IN_REVIEW"
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"
    OVERRIDDEN = "OVERRIDDEN"
    BOOKED = "BOOKED"


class Action(StrEnum):
    SUBMIT_FOR_REVIEW = "SUBMIT_FOR_REVIEW"
    APPROVE = "APPROVE"
    DECLINE = "DECLINE"
    OVERRIDE = "OVERRIDE"
    CONFIRM_OVERRIDE = "CONFIRM_OVERRIDE"
    REJECT_OVERRIDE = "REJECT_OVERRIDE"
    BOOK = "BOOK"


CREDIT_OFFICER = "credit_officer"
APPROVER = "approver"
LENDER = "lender"
ADMIN = "admin"

# (state, action, override pending before) -> state after. Pending overrides block everything but their
# confirmation or rejection (and a decline).
EDGES: Mapping[tuple[State, Action], State] = {
    (State.QUOTED, Action.SUBMIT_FOR_REVIEW): State.IN_REVIEW,
    (State.IN_REVIEW, Action.APPROVE): State.APPROVED,
    (State.IN_REVIEW, Action.DECLINE): State.DECLINED,
    (State.IN_REVIEW, Action.OVERRIDE): State.OVERRIDDEN,  # or IN_REVIEW + pending (four eyes)
    (State.IN_REVIEW, Action.CONFIRM_OVERRIDE): State.OVERRIDDEN,  # needs a pending override
    (State.IN_REVIEW, Action.REJECT_OVERRIDE): State.IN_REVIEW,  # needs a pending override
    (State.APPROVED, Action.BOOK): State.BOOKED,
    (State.OVERRIDDEN, Action.BOOK): State.BOOKED,
}

# Who may take each action. The approver role includes everything a credit officer may do.
ROLES: Mapping[Action, frozenset[str]] = {
    Action.SUBMIT_FOR_REVIEW: frozenset({LENDER, CREDIT_OFFICER, APPROVER, ADMIN}),
    Action.APPROVE: frozenset({CREDIT_OFFICER, APPROVER, ADMIN}),
    Action.DECLINE: frozenset({CREDIT_OFFICER, APPROVER, ADMIN}),
    Action.OVERRIDE: frozenset({CREDIT_OFFICER, APPROVER, ADMIN}),
    Action.CONFIRM_OVERRIDE: frozenset({APPROVER, ADMIN}),
    Action.REJECT_OVERRIDE: frozenset({APPROVER, ADMIN}),
    Action.BOOK: frozenset({LENDER, CREDIT_OFFICER, APPROVER, ADMIN}),
}
NEEDS_REASON = frozenset(set(Action) - {Action.SUBMIT_FOR_REVIEW, Action.BOOK})
NEEDS_TEXT = frozenset({Action.DECLINE, Action.OVERRIDE})
REASON_CODE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
MAX_TEXT = 2000


def initial_state(manual_review: bool) -> State:
    return State.IN_REVIEW if manual_review else State.QUOTED


@dataclass(frozen=True)
class Terms:
    approved_limit_fen: int
    final_rate_bp: float


@dataclass(frozen=True)
class Bounds:
    """What a single officer may set: a limit up to ``max_limit_fen`` (the request, the product cap)
    and a rate within [min_rate_bp, max_rate_bp] (the policy's LPR bounds); overrides with a limit
    above ``four_eyes_above_fen`` need a second approver whatever the bounds."""

    max_limit_fen: int
    min_rate_bp: float
    max_rate_bp: float
    four_eyes_above_fen: int | None


@dataclass(frozen=True)
class Current:
    """A decision's review state: its state, a pending override (terms and maker) if any, and the
    overridden terms in force."""

    state: State
    pending: Terms | None = None
    pending_maker: str = ""
    overridden: Terms | None = None


@dataclass(frozen=True)
class Outcome:
    before: State
    after: State
    pending: Terms | None
    pending_maker: str
    overridden: Terms | None
    second_approval_reasons: tuple[str, ...] = ()


class TransitionError(Exception):
    """``reason``: INVALID_TRANSITION, ROLE_NOT_ALLOWED, SAME_OFFICER, NOT_ELIGIBLE, NO_PENDING_OVERRIDE,
    OVERRIDE_PENDING."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def second_approval_reasons(terms: Terms, bounds: Bounds) -> tuple[str, ...]:
    reasons = []
    outside = (
        terms.approved_limit_fen > bounds.max_limit_fen
        or not bounds.min_rate_bp <= terms.final_rate_bp <= bounds.max_rate_bp
    )
    if outside:
        reasons.append("OUTSIDE_POLICY_BOUNDS")
    if bounds.four_eyes_above_fen is not None and terms.approved_limit_fen > bounds.four_eyes_above_fen:
        reasons.append("ABOVE_FOUR_EYES_AMOUNT")
    return tuple(reasons)


def transition(
    current: Current,
    action: Action,
    *,
    actor: str,
    role: str,
    eligible: bool,
    bounds: Bounds,
    terms: Terms | None = None,
) -> Outcome:
    """The outcome of ``action`` by ``actor`` (``role``) on a decision in ``current``; raises
    :class:`TransitionError` for an edge that does not exist or an actor who may not take it."""
    if role not in ROLES[action]:
        raise TransitionError("ROLE_NOT_ALLOWED", f"role {role} may not {action.value}")
    target = EDGES.get((current.state, action))
    if target is None:
        raise TransitionError(
            "INVALID_TRANSITION", f"{action.value} is not possible in state {current.state.value}"
        )
    pending_actions = (Action.CONFIRM_OVERRIDE, Action.REJECT_OVERRIDE)
    if action in pending_actions and current.pending is None:
        raise TransitionError("NO_PENDING_OVERRIDE", f"{action.value}: no override is waiting")
    if current.pending is not None and action not in (*pending_actions, Action.DECLINE):
        raise TransitionError("OVERRIDE_PENDING", "an override waits for its second approver first")
    if action is Action.CONFIRM_OVERRIDE and actor == current.pending_maker:
        raise TransitionError("SAME_OFFICER", "the officer who made the override may not confirm it")
    if action is Action.APPROVE and not eligible:
        raise TransitionError("NOT_ELIGIBLE", "a declined quote cannot be approved; override or decline")
    keep = Outcome(current.state, target, None, "", current.overridden)
    if action is Action.OVERRIDE:
        assert terms is not None
        reasons = second_approval_reasons(terms, bounds)
        if reasons:
            return Outcome(current.state, State.IN_REVIEW, terms, actor, None, reasons)
        return Outcome(current.state, State.OVERRIDDEN, None, "", terms)
    if action is Action.CONFIRM_OVERRIDE:
        return Outcome(current.state, State.OVERRIDDEN, None, "", current.pending)
    return keep
