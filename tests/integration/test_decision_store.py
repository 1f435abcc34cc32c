"""The decision store (append-only, hash-chained) and the chain audit, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from loan_rules.policy import content_hash
from scoring_service.audit import AuditReport, audit_main, verify_chain
from scoring_service.storage.decisions import (
    GENESIS,
    DecisionStore,
    StoredDecision,
    canonical_json,
    chain_hash,
)
from scoring_service.storage.tables import decision_chain_head, decisions, loan_policies
from tanxiao.errors import FailedPrecondition, NotFound, ValidationError
from tanxiao.platform.db import make_engine

POLICY_TEXT = "# test policy\nversion: test-1\nrate_floor_bp: 25\nnote: 绿色\n"
OTHER_POLICY_TEXT = "version: test-2\nrate_floor_bp: 30\n"
USCC = "91330500MA2B3C4D5E"


def policy_hash_of(text: str) -> str:
    return content_hash(yaml.safe_load(text))


POLICY_HASH = policy_hash_of(POLICY_TEXT)


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: sa.Engine) -> DecisionStore:
    return DecisionStore(engine)


def append(
    store: DecisionStore,
    request_id: str,
    *,
    lender: str = "bank-a",
    request_fp: str | None = None,
    content: dict[str, Any] | None = None,
    policy_text: str = POLICY_TEXT,
) -> tuple[StoredDecision, bool]:
    return store.append(
        lender=lender,
        request_id=request_id,
        uscc=USCC,
        product="LOW_CARBON_EXPANSION",
        request_fingerprint=request_fp or fingerprint(lender, request_id),
        content=content if content is not None else {"final_rate_bp": 385.5, "eligible": True},
        policy_text=policy_text,
        policy_hash=policy_hash_of(policy_text),
        policy_version=str(yaml.safe_load(policy_text)["version"]),
    )


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def execute(engine: sa.Engine, *statements: sa.Executable) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)


def row(engine: sa.Engine, seq: int) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.select(decisions).where(decisions.c.seq == seq)).one()


# ------------------------------------------------------------------------------------------ the store


def test_append_and_get_round_trip(store: DecisionStore, engine: sa.Engine) -> None:
    content = {"final_rate_bp": 385.5, "limit": 10_000_000, "trace": [{"code": "GRADE", "text_zh": "等级"}]}
    stored, created = append(store, "req-1", content=content)

    assert created
    assert (stored.seq, stored.prev_hash, stored.lender, stored.request_id) == (1, GENESIS, "bank-a", "req-1")
    assert len(stored.id) == 32 and stored.create_time.tzinfo is not None
    assert stored.content["final_rate_bp"] == 385.5 and stored.content["trace"] == content["trace"]
    assert stored.content["id"] == stored.id
    assert stored.content["create_time"] == stored.create_time.isoformat(timespec="microseconds")
    assert stored.content["policy_hash"] == POLICY_HASH and stored.content["policy_version"] == "test-1"
    assert stored.chain_hash == chain_hash(GENESIS, canonical_json(stored.content))
    assert content == {"final_rate_bp": 385.5, "limit": 10_000_000, "trace": content["trace"]}  # not mutated

    assert store.get(stored.id) == stored
    assert store.find("bank-a", "req-1") == stored
    assert store.find("bank-b", "req-1") is None and store.find("bank-a", "req-2") is None
    assert stored.request_fingerprint == fingerprint("bank-a", "req-1")
    assert store.for_lender("bank-a") == [stored]
    stored_text = row(engine, 1).content
    assert stored_text == canonical_json(stored.content) and "等级" in stored_text  # UTF-8, not \\u escapes


def test_chain_links_successive_appends(store: DecisionStore) -> None:
    first, _ = append(store, "req-1")
    second, _ = append(store, "req-2", lender="bank-b")
    third, _ = append(store, "req-3")

    assert [d.seq for d in (first, second, third)] == [1, 2, 3]
    assert second.prev_hash == first.chain_hash and third.prev_hash == second.chain_hash
    assert [d.id for d in store.for_lender("bank-a")] == [first.id, third.id]
    assert store.for_lender("nobody") == []


def test_unknown_decision_and_policy_are_not_found(store: DecisionStore) -> None:
    with pytest.raises(NotFound) as decision_error:
        store.get("0" * 32)
    assert decision_error.value.reason == "DECISION_NOT_FOUND"
    with pytest.raises(NotFound) as policy_error:
        store.policy_text("f" * 64)
    assert policy_error.value.reason == "POLICY_NOT_FOUND"


def test_same_request_again_returns_the_stored_decision(store: DecisionStore, engine: sa.Engine) -> None:
    stored, created = append(store, "req-1")
    again, created_again = append(store, "req-1", content={"final_rate_bp": 999.0})

    assert created and not created_again
    assert again == stored
    assert count(engine, decisions) == 1
    assert verify_chain(engine).head_seq == 1


def test_request_id_reused_for_another_request_is_rejected(store: DecisionStore, engine: sa.Engine) -> None:
    append(store, "req-1")
    with pytest.raises(ValidationError) as error:
        append(store, "req-1", request_fp="another request")
    assert error.value.reason == "REQUEST_ID_REUSED"
    assert error.value.violations[0].field == "request_id"

    _, created = append(store, "req-1", lender="bank-b")  # request ids are per lender
    assert created and count(engine, decisions) == 2


def test_policy_text_is_stored_once_per_hash(store: DecisionStore, engine: sa.Engine) -> None:
    append(store, "req-1")
    append(store, "req-2")
    assert count(engine, loan_policies) == 1
    assert store.policy_text(POLICY_HASH) == POLICY_TEXT  # exactly as given, comments included

    # Same content, other formatting: same hash, the first text is kept.
    append(store, "req-3", policy_text=POLICY_TEXT.replace("# test policy\n", ""))
    assert store.policy_text(POLICY_HASH) == POLICY_TEXT

    append(store, "req-4", policy_text=OTHER_POLICY_TEXT)
    assert count(engine, loan_policies) == 2
    assert store.policy_text(policy_hash_of(OTHER_POLICY_TEXT)) == OTHER_POLICY_TEXT
    assert verify_chain(engine).ok


def test_content_must_agree_with_the_arguments_and_be_json(store: DecisionStore, engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="lender"):
        append(store, "req-1", content={"lender": "someone else"})
    with pytest.raises(ValueError):
        append(store, "req-2", content={"rate": float("nan")})
    stored, _ = append(store, "req-3", content={"lender": "bank-a", "uscc": USCC})  # agreeing is fine
    assert stored.content["lender"] == "bank-a"
    assert count(engine, decisions) == 1


def test_append_refuses_when_the_head_is_gone(store: DecisionStore, engine: sa.Engine) -> None:
    append(store, "req-1")
    execute(engine, decision_chain_head.delete())
    with pytest.raises(FailedPrecondition) as error:
        append(store, "req-2")
    assert error.value.reason == "DECISION_CHAIN_BROKEN"


def test_concurrent_appends_store_each_request_once(store: DecisionStore, engine: sa.Engine) -> None:
    threads, per_thread = 8, 25
    start = threading.Barrier(threads)
    results: list[tuple[str, str, StoredDecision, bool]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                # Threads t and t + 4 send the same 25 requests: every request is raced by two threads.
                lender = "bank-a" if i % 2 else "bank-b"
                request_id = f"req-{t % 4}-{i}"
                decision, created = append(store, request_id, lender=lender, content={"t": t % 4, "i": i})
                with lock:
                    results.append((lender, request_id, decision, created))
        except BaseException as exc:
            with lock:
                errors.append(exc)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors, errors
    assert len(results) == threads * per_thread

    distinct = 4 * per_thread
    by_request: dict[tuple[str, str], set[str]] = {}
    for lender, request_id, decision, _ in results:
        by_request.setdefault((lender, request_id), set()).add(decision.id)
    assert len(by_request) == distinct
    assert all(len(ids) == 1 for ids in by_request.values())  # the loser got the winner's decision
    assert sum(created for *_, created in results) == distinct
    assert count(engine, decisions) == distinct

    report = verify_chain(engine, batch=7)
    assert report.ok, report.problems
    assert (report.checked, report.head_seq) == (distinct, distinct)
    seqs = [d.seq for d in store.for_lender("bank-a") + store.for_lender("bank-b")]
    assert sorted(seqs) == list(range(1, distinct + 1))


# ------------------------------------------------------------------------------------------ the audit


def test_empty_database_verifies(engine: sa.Engine) -> None:
    report = verify_chain(engine)
    assert report == AuditReport(ok=True, checked=0, head_seq=None, problems=[], head_hash=None)


def test_intact_chain_verifies_in_any_batch_size(store: DecisionStore, engine: sa.Engine) -> None:
    for i in range(5):
        append(store, f"req-{i}", content={"n": i, "rate": 0.1 + i, "text": "低碳"})
    last = store.for_lender("bank-a")[-1]
    for batch in (1, 2, 5, 5000):
        report = verify_chain(engine, batch=batch)
        assert report.ok, report.problems
        assert (report.checked, report.head_seq, report.head_hash) == (5, 5, last.chain_hash)


def _rewrite(engine: sa.Engine, seq: int, content_text: str, *, rehash: bool) -> str:
    """Replace a row's content; with ``rehash`` also its chain_hash (naively: not the next row's link)."""
    current = row(engine, seq)
    values: dict[str, Any] = {"content": content_text}
    if rehash:
        values["chain_hash"] = chain_hash(current.prev_hash, content_text)
    execute(engine, decisions.update().where(decisions.c.seq == seq).values(**values))
    return str(values.get("chain_hash", current.chain_hash))


def _edited(engine: sa.Engine, seq: int, **changes: Any) -> str:
    content = json.loads(row(engine, seq).content)
    content.update(changes)
    return canonical_json(content)


def _swap_seq(engine: sa.Engine, a: int, b: int) -> None:
    execute(
        engine,
        decisions.update().where(decisions.c.seq == a).values(seq=-1),
        decisions.update().where(decisions.c.seq == b).values(seq=a),
        decisions.update().where(decisions.c.seq == -1).values(seq=b),
    )


def _forge_after_last(engine: sa.Engine) -> None:
    last = row(engine, 5)
    content = {**json.loads(last.content), "id": "f" * 32, "request_id": "forged"}
    text = canonical_json(content)
    values = {c.name: getattr(last, c.name) for c in decisions.c}
    values.update(seq=6, id="f" * 32, request_id="forged", content=text, prev_hash=last.chain_hash)
    values["chain_hash"] = chain_hash(last.chain_hash, text)
    execute(engine, decisions.insert().values(**values))


def _insert_in_the_middle(engine: sa.Engine) -> None:
    """Shift rows 3..5 up one and forge a self-consistent row 3 linked to row 2; move the head too."""
    for seq in (5, 4, 3):  # one by one: PostgreSQL checks the primary key per row
        execute(engine, decisions.update().where(decisions.c.seq == seq).values(seq=seq + 1))
    second = row(engine, 2)
    content = {**json.loads(second.content), "id": "f" * 32, "request_id": "forged"}
    text = canonical_json(content)
    values = {c.name: getattr(second, c.name) for c in decisions.c}
    values.update(seq=3, id="f" * 32, request_id="forged", content=text, prev_hash=second.chain_hash)
    values["chain_hash"] = chain_hash(second.chain_hash, text)
    execute(engine, decisions.insert().values(**values), decision_chain_head.update().values(seq=6))


TAMPERING: dict[str, tuple[Callable[[sa.Engine], object], str]] = {
    "middle row content edited": (
        lambda e: _rewrite(e, 3, _edited(e, 3, final_rate_bp=100.0), rehash=False),
        "seq 3 (id ",
    ),
    "middle row deleted": (lambda e: execute(e, decisions.delete().where(decisions.c.seq == 3)), "seq 4"),
    "first row deleted": (lambda e: execute(e, decisions.delete().where(decisions.c.seq == 1)), "seq 2"),
    "last row deleted": (lambda e: execute(e, decisions.delete().where(decisions.c.seq == 5)), "seq 4"),
    "two rows swapped": (lambda e: _swap_seq(e, 2, 3), "seq 2"),
    "edited row rehashed, next link not": (
        lambda e: _rewrite(e, 3, _edited(e, 3, final_rate_bp=100.0), rehash=True),
        "seq 3 (id ",
    ),
    "last row edited and rehashed, head not": (
        lambda e: _rewrite(e, 5, _edited(e, 5, final_rate_bp=100.0), rehash=True),
        "seq 5",
    ),
    "row inserted in the middle": (_insert_in_the_middle, "seq 4 (id "),
    "row appended without moving the head": (_forge_after_last, "seq 5"),
    "column edited": (
        lambda e: execute(e, decisions.update().where(decisions.c.seq == 2).values(lender="bank-z")),
        "seq 2 (id ",
    ),
    "head deleted": (lambda e: execute(e, decision_chain_head.delete()), "seq 5"),
    "policy text edited": (
        lambda e: execute(e, loan_policies.update().values(text=POLICY_TEXT.replace("25", "20"))),
        POLICY_HASH,
    ),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_tampering_is_detected(store: DecisionStore, engine: sa.Engine, tampering: str) -> None:
    for i in range(5):
        append(store, f"req-{i}", content={"final_rate_bp": 380.0 + i})
    assert verify_chain(engine).ok
    tamper, names = TAMPERING[tampering]
    tamper(engine)

    for batch in (2, 5000):
        report = verify_chain(engine, batch=batch)
        assert not report.ok
        assert any(names in problem for problem in report.problems), report.problems


def test_non_canonical_content_is_detected_even_when_consistently_rehashed(
    store: DecisionStore, engine: sa.Engine
) -> None:
    for i in range(3):
        append(store, f"req-{i}")
    pretty = json.dumps(json.loads(row(engine, 3).content), indent=2)  # same values, other text
    new_hash = _rewrite(engine, 3, pretty, rehash=True)
    execute(engine, decision_chain_head.update().values(chain_hash=new_hash))

    report = verify_chain(engine)
    assert report.problems == [f"seq 3 (id {row(engine, 3).id}): content is not in canonical JSON form"]


def test_full_rewrite_passes_but_changes_the_anchored_head_hash(
    store: DecisionStore, engine: sa.Engine
) -> None:
    for i in range(3):
        append(store, f"req-{i}", content={"final_rate_bp": 380.0})
    anchored = verify_chain(engine).head_hash

    prev = GENESIS
    for seq in (1, 2, 3):
        text = _edited(engine, seq, final_rate_bp=100.0)
        new_hash = chain_hash(prev, text)
        statement = decisions.update().where(decisions.c.seq == seq)
        execute(engine, statement.values(content=text, prev_hash=prev, chain_hash=new_hash))
        prev = new_hash
    execute(engine, decision_chain_head.update().values(chain_hash=prev))

    report = verify_chain(engine)
    assert report.ok  # undetectable from inside the database ...
    assert report.head_hash != anchored  # ... but not against the head hash the auditor recorded


def test_audit_main_prints_summary_and_problems(
    store: DecisionStore, engine: sa.Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit_main(db_url) == 0
    assert "OK, 0 decisions checked, no head" in capsys.readouterr().out

    for i in range(3):
        append(store, f"req-{i}")
    head = verify_chain(engine).head_hash
    assert audit_main(db_url) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [f"audit verify: OK, 3 decisions checked, head seq 3 hash {head}"]

    execute(engine, decisions.delete().where(decisions.c.seq == 2))
    assert audit_main(db_url) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("audit verify: FAILED, ")
    assert len(lines) > 1 and all(line.startswith("  seq 3") for line in lines[1:])


def test_audit_main_reports_an_unreadable_store(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit_main(f"sqlite:///{tmp_path}/not-migrated.db") == 1
    assert "cannot read the decision store" in capsys.readouterr().out
