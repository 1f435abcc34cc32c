"""Review actions as entries of the decision log, and the decision states that lists filter on.

A decision's current state is on its ``log_decisions`` row (``state``, ``review_needed``, ``version``),
written with the decision by DecisionStore (its initial state); a row without one (a decision made
before review existed) is indexed here before a listing or an action.
``record`` appends one review action in one transaction: the log entry (kind ``review_action``, the
truth, hashed and later proved like a decision), its ``review_actions`` index row (idempotency by
(lender, request_id)) and the decision's state, moved only from the version it was read at (optimistic
concurrency: a concurrent action on the same decision makes this one ABORTED).
A decision's review trail is read back from the log entries, so the explanation shows exactly what is
proved.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from scoring_service.storage.decisions import StoredDecision
from scoring_service.storage.log import EntryKind, LogEntry, insert_entries, utc
from scoring_service.storage.tables import log_decisions, log_entries, review_actions
from tanxiao.errors import Conflict, ValidationError
from tanxiao.platform.db import read_only, transaction

_d = log_decisions.c
# Only a row without a state: an indexed decision keeps its state and version (two replicas answering
# retries of one request index the same decision at once, tests/integration/test_log_replicas.py).
_INDEX = (
    sa.update(log_decisions)
    .where(_d.id == sa.bindparam("b_id"), _d.state.is_(None))
    .values(state=sa.bindparam("b_state"), review_needed=sa.bindparam("b_needed"), version=1)
)


@dataclass(frozen=True)
class StateRow:
    state: str
    version: int  # 0: no row yet (the initial state, derived from the decision)


@dataclass(frozen=True)
class Page:
    decision_ids: list[str]
    next_token: str


def _token(create_time: datetime, decision_id: str) -> str:
    raw = json.dumps([utc(create_time).isoformat(), decision_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _untoken(token: str) -> tuple[datetime, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        when, decision_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(when), str(decision_id)
    except (ValueError, TypeError) as exc:
        raise ValidationError.for_field("page_token", "not a page token from this list") from exc


class ReviewStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------------------------- reading

    def state(self, decision_id: str) -> StateRow | None:
        with read_only(self.engine) as connection:
            row = connection.execute(
                sa.select(_d.state, _d.version).where(_d.id == decision_id, _d.state.is_not(None))
            ).first()
        return None if row is None else StateRow(row.state, int(row.version))

    def trail(self, decision_id: str) -> list[dict[str, Any]]:
        """The decision's review actions as logged (content of each entry), oldest first."""
        with read_only(self.engine) as connection:
            rows = connection.execute(
                sa.select(log_entries.c.content)
                .select_from(
                    review_actions.join(log_entries, log_entries.c.entry_id == review_actions.c.entry_id)
                )
                .where(review_actions.c.decision_id == decision_id)
                .order_by(review_actions.c.create_time, review_actions.c.entry_id)
            ).all()
        return [json.loads(r.content) for r in rows]

    def trails(self, decision_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """``trail`` of many decisions in one query (only those with actions appear)."""
        out: dict[str, list[dict[str, Any]]] = {}
        if not decision_ids:
            return out
        with read_only(self.engine) as connection:
            rows = connection.execute(
                sa.select(review_actions.c.decision_id, log_entries.c.content)
                .select_from(
                    review_actions.join(log_entries, log_entries.c.entry_id == review_actions.c.entry_id)
                )
                .where(review_actions.c.decision_id.in_(sorted(set(decision_ids))))
                .order_by(review_actions.c.create_time, review_actions.c.entry_id)
            ).all()
        for row in rows:
            out.setdefault(row.decision_id, []).append(json.loads(row.content))
        return out

    def find(self, lender: str, request_id: str) -> tuple[str, dict[str, Any]] | None:
        """(fingerprint, logged content) of the lender's action with this request id, if any."""
        with read_only(self.engine) as connection:
            row = connection.execute(
                sa.select(review_actions.c.fingerprint, log_entries.c.content)
                .select_from(
                    review_actions.join(log_entries, log_entries.c.entry_id == review_actions.c.entry_id)
                )
                .where(review_actions.c.lender == lender, review_actions.c.request_id == request_id)
            ).first()
        return None if row is None else (row.fingerprint, json.loads(row.content))

    def page(
        self,
        lender: str,
        *,
        page_size: int,
        page_token: str = "",
        state: str = "",
        review_needed: bool | None = None,
        uscc: str = "",
        time_from: datetime | None = None,
        time_to: datetime | None = None,
    ) -> Page:
        """One page of the lender's decision ids, oldest first, after the filters."""
        s = _d
        query = sa.select(s.id, s.create_time).where(s.lender == lender, s.state.is_not(None))
        if state:
            query = query.where(s.state == state)
        if review_needed is not None:
            query = query.where(s.review_needed == review_needed)
        if uscc:
            query = query.where(s.uscc == uscc)
        if time_from is not None:
            query = query.where(s.create_time >= time_from)
        if time_to is not None:
            query = query.where(s.create_time < time_to)
        if page_token:
            after_time, after_id = _untoken(page_token)
            query = query.where(
                sa.or_(s.create_time > after_time, sa.and_(s.create_time == after_time, s.id > after_id))
            )
        query = query.order_by(s.create_time, s.id).limit(page_size + 1)
        with read_only(self.engine) as connection:
            rows = connection.execute(query).all()
        more = len(rows) > page_size
        rows = rows[:page_size]
        token = _token(rows[-1].create_time, rows[-1].id) if more and rows else ""
        return Page([r.id for r in rows], token)

    def unindexed(self, lender: str, limit: int = 10_000) -> list[str]:
        """The lender's decisions without a state (made before review existed, or stored without review
        terms): the caller indexes them before listing."""
        query = sa.select(_d.id).where(_d.lender == lender, _d.state.is_(None)).limit(limit)
        with read_only(self.engine) as connection:
            return [r.id for r in connection.execute(query).all()]

    # ------------------------------------------------------------------------------------- writing

    def index(self, decisions: Sequence[StoredDecision], initial: Sequence[str]) -> None:
        """The initial state of decisions without one (``initial``: each one's); a decision that has a
        state keeps it."""
        rows = [
            {"b_id": d.id, "b_state": state, "b_needed": bool(d.content["terms"]["manual_review"])}
            for d, state in zip(decisions, initial, strict=True)
        ]
        if rows:
            with transaction(self.engine) as connection:
                connection.execute(_INDEX, rows)

    def record(
        self,
        decision: StoredDecision,
        *,
        request_id: str,
        fingerprint: str,
        content: dict[str, Any],
        read: StateRow,
        state_after: str,
    ) -> LogEntry:
        """Append the action to the log and move the decision's state, atomically."""
        entry = LogEntry.build(EntryKind.REVIEW_ACTION, content)
        with transaction(self.engine) as connection:
            insert_entries(connection, [entry])
            connection.execute(
                review_actions.insert().values(
                    entry_id=entry.entry_id, decision_id=decision.id, lender=decision.lender,
                    request_id=request_id, fingerprint=fingerprint, create_time=entry.create_time,
                )
            )  # fmt: skip
            self._move(connection, decision, read, state_after)
        return entry

    @staticmethod
    def _move(connection: Connection, decision: StoredDecision, read: StateRow, state_after: str) -> None:
        moved = connection.execute(
            log_decisions.update()
            .where(_d.id == decision.id, _d.version == read.version)
            .values(state=state_after, version=read.version + 1)
        ).rowcount
        if moved != 1:
            raise Conflict(
                f"decision {decision.id} changed while this action was made; read it again and retry",
                reason="CONCURRENT_REVIEW",
            )
