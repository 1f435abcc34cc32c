"""The review state machine, every edge and every refusal, with maker-checker (pure)."""

from __future__ import annotations

import itertools

import pytest

from scoring_service.review import (
    EDGES,
    ROLES,
    Action,
    Bounds,
    Current,
    State,
    Terms,
    TransitionError,
    initial_state,
    second_approval_reasons,
    transition,
)

# a 10M request, product cap 100M, LPR 300 with the default policy's [-50, +150] bounds, four eyes
# above 20M (all in fen)
BOUNDS = Bounds(
    max_limit_fen=10_000_000_00, min_rate_bp=250.0, max_rate_bp=450.0, four_eyes_above_fen=20_000_000_00
)
WITHIN = Terms(8_000_000_00, 290.0)
OUTSIDE = Terms(12_000_000_00, 290.0)  # above the request


def act(
    current: Current, action: Action, role: str = "credit_officer", actor: str = "officer-a", **kw: object
):
    terms = kw.pop("terms", WITHIN if action is Action.OVERRIDE else None)
    return transition(
        current, action, actor=actor, role=role, eligible=bool(kw.pop("eligible", True)), bounds=BOUNDS,
        terms=terms,  # type: ignore[arg-type]
    )  # fmt: skip


def test_initial_state() -> None:
    assert initial_state(False) is State.QUOTED and initial_state(True) is State.IN_REVIEW


@pytest.mark.parametrize(("edge", "target"), sorted(EDGES.items()))
def test_every_edge(edge: tuple[State, Action], target: State) -> None:
    state, action = edge
    pending = action in (Action.CONFIRM_OVERRIDE, Action.REJECT_OVERRIDE)
    current = Current(state, WITHIN if pending else None, "officer-a" if pending else "")
    role = "approver" if pending else "credit_officer"
    outcome = act(current, action, role=role, actor="officer-b")
    assert (outcome.before, outcome.after) == (state, target)
    if action is Action.CONFIRM_OVERRIDE:
        assert outcome.overridden == WITHIN and outcome.pending is None
    if action is Action.REJECT_OVERRIDE:
        assert outcome.pending is None and outcome.overridden is None


@pytest.mark.parametrize(
    ("state", "action"),
    [(s, a) for s, a in itertools.product(State, Action) if (s, a) not in EDGES],
)
def test_every_missing_edge_is_refused(state: State, action: Action) -> None:
    with pytest.raises(TransitionError) as caught:
        act(Current(state), action, role="admin")
    assert caught.value.reason == "INVALID_TRANSITION"


def test_terminal_states_have_no_way_out() -> None:
    for state in (State.DECLINED, State.BOOKED):
        assert not [a for (s, a) in EDGES if s is state]


def test_override_within_bounds_takes_effect_and_books() -> None:
    outcome = act(Current(State.IN_REVIEW), Action.OVERRIDE)
    assert outcome.after is State.OVERRIDDEN and outcome.overridden == WITHIN and outcome.pending is None
    booked = act(Current(outcome.after, overridden=outcome.overridden), Action.BOOK, role="lender")
    assert booked.after is State.BOOKED and booked.overridden == WITHIN


def test_override_outside_bounds_needs_a_second_approver_who_is_not_the_maker() -> None:
    made = act(Current(State.IN_REVIEW), Action.OVERRIDE, terms=OUTSIDE)
    assert made.after is State.IN_REVIEW and made.pending == OUTSIDE and made.pending_maker == "officer-a"
    assert made.second_approval_reasons == ("OUTSIDE_POLICY_BOUNDS",)
    waiting = Current(made.after, made.pending, made.pending_maker)
    # the maker cannot check himself, even holding the approver role
    with pytest.raises(TransitionError) as same:
        act(waiting, Action.CONFIRM_OVERRIDE, role="approver", actor="officer-a")
    assert same.value.reason == "SAME_OFFICER"
    # a credit officer is not an approver
    with pytest.raises(TransitionError) as role:
        act(waiting, Action.CONFIRM_OVERRIDE, role="credit_officer", actor="officer-b")
    assert role.value.reason == "ROLE_NOT_ALLOWED"
    # nothing else happens while an override waits (but a decline)
    with pytest.raises(TransitionError) as blocked:
        act(waiting, Action.APPROVE, actor="officer-b")
    assert blocked.value.reason == "OVERRIDE_PENDING"
    assert act(waiting, Action.DECLINE, actor="officer-b").after is State.DECLINED
    confirmed = act(waiting, Action.CONFIRM_OVERRIDE, role="approver", actor="officer-b")
    assert confirmed.after is State.OVERRIDDEN and confirmed.overridden == OUTSIDE


def test_four_eyes_amount_and_rate_bounds() -> None:
    # within the request? no: 25M > 10M and > 20M -> both reasons
    assert second_approval_reasons(Terms(25_000_000_00, 300.0), BOUNDS) == (
        "OUTSIDE_POLICY_BOUNDS",
        "ABOVE_FOUR_EYES_AMOUNT",
    )
    wide = Bounds(50_000_000_00, 250.0, 450.0, 20_000_000_00)
    assert second_approval_reasons(Terms(25_000_000_00, 300.0), wide) == ("ABOVE_FOUR_EYES_AMOUNT",)
    assert second_approval_reasons(Terms(20_000_000_00, 300.0), wide) == ()  # at the amount: one officer
    assert second_approval_reasons(Terms(1_000_000_00, 249.99), wide) == (
        "OUTSIDE_POLICY_BOUNDS",
    )  # below LPR-50
    assert second_approval_reasons(Terms(1_000_000_00, 450.0), wide) == ()


def test_roles_and_preconditions() -> None:
    with pytest.raises(TransitionError) as lender:
        act(Current(State.IN_REVIEW), Action.APPROVE, role="lender")
    assert lender.value.reason == "ROLE_NOT_ALLOWED"
    with pytest.raises(TransitionError) as ineligible:
        act(Current(State.IN_REVIEW), Action.APPROVE, eligible=False)
    assert ineligible.value.reason == "NOT_ELIGIBLE"
    with pytest.raises(TransitionError) as nothing:
        act(Current(State.IN_REVIEW), Action.CONFIRM_OVERRIDE, role="approver")
    assert nothing.value.reason == "NO_PENDING_OVERRIDE"
    assert ROLES[Action.CONFIRM_OVERRIDE] == frozenset({"approver", "admin"})
    # a declined quote can still be overridden into terms by an officer (then booked)
    assert act(Current(State.IN_REVIEW), Action.OVERRIDE, eligible=False).after is State.OVERRIDDEN
