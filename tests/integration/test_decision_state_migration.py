"""Revision 0019_batch11_decision_state moves the decisions' review states from ``decision_states`` onto
their ``log_decisions`` rows, on SQLite and PostgreSQL: states and versions survive the upgrade (a
decision without one stays unindexed until a listing indexes it), the log still verifies, review actions
still move the state from the version read, and the downgrade rebuilds ``decision_states``."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import yaml
from alembic import command

from loan_rules.policy import content_hash
from scoring_service.audit import verify_log
from scoring_service.sequencer import Sequencer
from scoring_service.storage.decisions import Append, DecisionStore
from scoring_service.storage.reviews import ReviewStore, StateRow
from tanxiao.errors import Conflict
from tanxiao.platform import db
from tanxiao.translog import SigningKey, generate_private_key_pem

BEFORE = "0018_ingest8_sqlite_key"
POLICY_TEXT = "version: test-1\nrate_floor_bp: 25\n"
POLICY_HASH = content_hash(yaml.safe_load(POLICY_TEXT))
POLICY = {"policy_text": POLICY_TEXT, "policy_hash": POLICY_HASH, "policy_version": "test-1"}
USCC = "91330500MA2B3C4D5E"


def _append(store: DecisionStore, request_id: str, manual_review: bool) -> str:
    content = {"terms": {"manual_review": manual_review, "policy_hash": POLICY_HASH}, "n": request_id}
    item = Append("lenders/a", request_id, USCC, "GENERAL", f"fp-{request_id}", content)
    return store.append_many([item], **POLICY)[0][0].id


def _states(engine: sa.Engine, query: str) -> dict[str, tuple[str, bool, int]]:
    with engine.connect() as connection:
        return {r[0]: (r[1], bool(r[2]), int(r[3])) for r in connection.execute(sa.text(query))}


def test_review_states_move_onto_the_decision_rows_and_back(empty_db_url: str) -> None:
    config = db.alembic_config(empty_db_url)
    command.upgrade(config, "head")
    engine = db.make_engine(empty_db_url)
    try:
        store, reviews = DecisionStore(engine), ReviewStore(engine)
        quoted, in_review, booked, old = (
            _append(store, "q", False), _append(store, "r", True), _append(store, "b", False),
            _append(store, "o", False),
        )  # fmt: skip
        reviews.record(
            store.get(booked), request_id="act-1", fingerprint="f", content={"kind": "review_action"},
            read=StateRow("QUOTED", 1), state_after="BOOKED",
        )  # fmt: skip
        command.downgrade(config, BEFORE)
        moved = _states(engine, "SELECT decision_id, state, review_needed, version FROM decision_states")
        assert moved == {
            quoted: ("QUOTED", False, 1), in_review: ("IN_REVIEW", True, 1), booked: ("BOOKED", False, 2),
            old: ("QUOTED", False, 1),
        }  # fmt: skip
        with engine.begin() as connection:  # a decision made before review existed: no state row
            connection.execute(sa.text("DELETE FROM decision_states WHERE decision_id = :id"), {"id": old})

        command.upgrade(config, "head")
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
        assert "decision_states" not in tables
        on_rows = _states(
            engine, "SELECT id, state, review_needed, version FROM log_decisions WHERE state IS NOT NULL"
        )
        assert on_rows == {k: v for k, v in moved.items() if k != old}
        assert reviews.unindexed("lenders/a") == [old] and reviews.state(old) is None
        assert reviews.page("lenders/a", page_size=10, state="BOOKED").decision_ids == [booked]
        with pytest.raises(Conflict) as stale:  # the version moved to 2 with the first action
            reviews.record(
                store.get(booked), request_id="act-2", fingerprint="f", content={"kind": "review_action"},
                read=StateRow("QUOTED", 1), state_after="QUOTED",
            )  # fmt: skip
        assert stale.value.reason == "CONCURRENT_REVIEW" and reviews.state(booked) == StateRow("BOOKED", 2)

        assert Sequencer(engine, SigningKey.from_pem(generate_private_key_pem())).integrate() >= 4
        report = verify_log(engine)
        assert report.ok, report.problems
    finally:
        engine.dispose()
