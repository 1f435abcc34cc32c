"""The decision store on the decision log, on SQLite and PostgreSQL: appends without a shared lock,
idempotency in the insert, profile snapshots stored once, policies stored once."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from helpers import run_in_threads

from loan_rules.policy import content_hash
from scoring_service.audit import verify_log
from scoring_service.sequencer import Sequencer
from scoring_service.storage import decisions as decisions_module
from scoring_service.storage.decisions import Append, DecisionStore, StoredDecision, canonical_json
from scoring_service.storage.log import BulkInsert, FoldedInserts, FoldingViolation
from scoring_service.storage.tables import (
    loan_policies,
    log_decisions,
    log_entries,
    log_pending,
    profile_snapshots,
)
from tanxiao.errors import NotFound, ValidationError
from tanxiao.platform.db import held_connection, make_engine
from tanxiao.translog import SigningKey, generate_private_key_pem

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
    return DecisionStore(engine, merge_delay_seconds=1.5)


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


def indexed(engine: sa.Engine) -> list[tuple[str, bool, int]]:
    """(state, review_needed, version) of every decision row that has a review state."""
    d = log_decisions.c
    with engine.connect() as connection:
        rows = connection.execute(sa.select(d.state, d.review_needed, d.version).where(d.state.is_not(None)))
        return [(r.state, bool(r.review_needed), int(r.version)) for r in rows]


def entry_text(engine: sa.Engine, entry_id: str) -> str:
    with engine.connect() as connection:
        query = sa.select(log_entries.c.content).where(log_entries.c.entry_id == entry_id)
        return str(connection.execute(query).scalar_one())


def test_append_and_get_round_trip(store: DecisionStore, engine: sa.Engine) -> None:
    profile = {"name": "enterprises/x/profiles/2022", "grade": {"level": 2}}
    content = {"final_rate_bp": 385.5, "trace": [{"code": "GRADE", "text_zh": "等级"}], "profile": profile}
    stored, created = append(store, "req-1", content=content)

    assert created and stored.log_index is None  # stored at once, integrated later
    assert (stored.lender, stored.request_id) == ("bank-a", "req-1")
    assert len(stored.id) == 32 and stored.create_time.tzinfo is not None
    assert stored.content["id"] == stored.id and stored.content["trace"] == content["trace"]
    assert stored.content["create_time"] == stored.create_time.isoformat(timespec="microseconds")
    assert stored.content["policy_hash"] == POLICY_HASH and stored.content["policy_version"] == "test-1"
    assert stored.content["log_merge_delay_seconds"] == 1.5  # the decision states its merge delay
    assert stored.content["profile"] == profile  # put back on read ...
    text = entry_text(engine, stored.id)
    hashed = json.loads(text)
    assert "profile" not in hashed  # ... but stored once, named by hash in the hashed content
    snapshot = canonical_json(profile)
    assert hashed["profile_snapshot_sha256"] == hashlib.sha256(snapshot.encode()).hexdigest()
    # The leaf hash, written out: SHA-256(0x00 || "decision\n" || content).
    assert stored.leaf_hash == hashlib.sha256(b"\x00decision\n" + text.encode()).hexdigest()
    assert stored.chain_hash == stored.leaf_hash
    assert "等级" in text  # UTF-8, not \\u escapes
    assert content["profile"] == profile and "id" not in content  # the caller's dict is not mutated

    assert store.get(stored.id) == stored
    assert store.find("bank-a", "req-1") == stored
    assert store.find("bank-b", "req-1") is None and store.find("bank-a", "req-2") is None
    assert store.for_lender("bank-a") == [stored]


def test_profile_snapshots_are_stored_once(store: DecisionStore, engine: sa.Engine) -> None:
    profile = {"name": "p", "grade": {"level": 1}}
    for i in range(3):
        append(store, f"req-{i}", content={"profile": profile})
    append(store, "req-other", content={"profile": {**profile, "name": "q"}})
    assert count(engine, profile_snapshots) == 2
    assert count(engine, log_entries) == 4


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
    assert count(engine, log_decisions) == 1 and count(engine, log_entries) == 1


def test_request_id_reused_for_another_request_is_rejected(store: DecisionStore, engine: sa.Engine) -> None:
    append(store, "req-1")
    with pytest.raises(ValidationError) as error:
        append(store, "req-1", request_fp="another request")
    assert error.value.reason == "REQUEST_ID_REUSED"
    assert error.value.violations[0].field == "request_id"
    _, created = append(store, "req-1", lender="bank-b")  # request ids are per lender
    assert created and count(engine, log_decisions) == 2 and count(engine, log_entries) == 2


def test_batch_appends_in_order_with_repeats_and_stored_requests(
    store: DecisionStore, engine: sa.Engine
) -> None:
    first, _ = append(store, "req-0")
    items = [
        Append("bank-a", f"req-{i}", USCC, "GENERAL", fingerprint("bank-a", f"req-{i}"), {"n": i})
        for i in (0, 1, 2, 1)
    ]
    out = store.append_many(items, policy_text=POLICY_TEXT, policy_hash=POLICY_HASH, policy_version="test-1")
    assert [created for _, created in out] == [False, True, True, False]
    assert out[0][0] == first and out[1][0] == out[3][0]
    assert [d.request_id for d, _ in out] == ["req-0", "req-1", "req-2", "req-1"]
    assert count(engine, log_entries) == 3


def test_policy_text_is_stored_once_per_hash(store: DecisionStore, engine: sa.Engine) -> None:
    append(store, "req-1")
    append(store, "req-2")
    assert count(engine, loan_policies) == 1
    assert store.policy_text(POLICY_HASH) == POLICY_TEXT
    # Same content, other formatting: same hash; a second store (another replica) keeps the first text.
    other = DecisionStore(store.engine)
    append(other, "req-3", policy_text=POLICY_TEXT.replace("# test policy\n", ""))
    assert store.policy_text(POLICY_HASH) == POLICY_TEXT
    append(store, "req-4", policy_text=OTHER_POLICY_TEXT)
    assert count(engine, loan_policies) == 2


def test_content_must_agree_with_the_arguments_and_be_json(store: DecisionStore, engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="lender"):
        append(store, "req-1", content={"lender": "someone else"})
    with pytest.raises(ValueError):
        append(store, "req-2", content={"rate": float("nan")})
    with pytest.raises(ValueError, match="id"):
        append(store, "req-3", content={"id": "mine"})
    stored, _ = append(store, "req-4", content={"lender": "bank-a", "uscc": USCC})
    assert stored.content["lender"] == "bank-a"
    assert count(engine, log_entries) == 1


def test_concurrent_appends_store_each_request_once_and_the_log_verifies(
    store: DecisionStore, engine: sa.Engine
) -> None:
    threads, per_thread = 8, 25
    start = threading.Barrier(threads)
    results: list[tuple[str, str, StoredDecision, bool]] = []
    lock = threading.Lock()
    sequencer = Sequencer(engine, SigningKey.from_pem(generate_private_key_pem()), batch_size=16)

    def worker(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            # Threads t and t + 4 send the same 25 requests: every request is raced by two threads.
            lender = "bank-a" if i % 2 else "bank-b"
            request_id = f"req-{t % 4}-{i}"
            decision, created = append(store, request_id, lender=lender, content={"t": t % 4, "i": i})
            with lock:
                results.append((lender, request_id, decision, created))
            if t == 0 and i % 5 == 0:
                sequencer.integrate()  # the sequencer runs while quotes are being stored

    run_in_threads(worker, threads)
    distinct = 4 * per_thread
    by_request: dict[tuple[str, str], set[str]] = {}
    for lender, request_id, decision, _ in results:
        by_request.setdefault((lender, request_id), set()).add(decision.id)
    assert len(by_request) == distinct
    assert all(len(ids) == 1 for ids in by_request.values())  # the loser got the winner's decision
    assert sum(created for *_, created in results) == distinct
    assert count(engine, log_entries) == distinct

    sequencer.integrate()
    report = verify_log(engine, batch=7)
    assert report.ok, report.problems
    assert (report.checked, report.pending, report.head_seq) == (distinct, 0, distinct)
    indexes = [d.log_index for d in store.for_lender("bank-a") + store.for_lender("bank-b")]
    assert sorted(i for i in indexes if i is not None) == list(range(distinct))


def test_find_many_and_a_second_replica_share_snapshots(store: DecisionStore, engine: sa.Engine) -> None:
    profile = {"name": "p", "grade": {"level": 3}}
    first, _ = append(store, "req-1", content={"profile": profile})
    replica = DecisionStore(engine)  # another process: nothing cached
    second, _ = append(replica, "req-2", content={"profile": profile})
    assert count(engine, profile_snapshots) == 1
    assert replica.get(first.id).content["profile"] == profile == store.get(second.id).content["profile"]
    found = store.find_many(
        [("bank-a", "req-1"), ("bank-a", "req-2"), ("bank-a", "nope"), ("bank-a", "req-1")]
    )
    assert found == {("bank-a", "req-1"): first, ("bank-a", "req-2"): second}


def _held_dbapi(engine: sa.Engine) -> Any:
    held = held_connection(engine)
    assert held._connection is not None
    return held._connection.connection.dbapi_connection


def test_appends_reuse_one_kept_connection_and_dispose_returns_it(
    store: DecisionStore, engine: sa.Engine
) -> None:
    """Appends run on the engine's held write connection (no pool checkout per group commit); the
    engine's dispose closes it, and the next append takes a new one."""
    append(store, "held-1")
    first = _held_dbapi(engine)
    append(store, "held-2")
    assert _held_dbapi(engine) is first
    assert engine.pool.checkedout() == 1  # the held one; reads and other writes use the pool as before
    engine.dispose()
    assert held_connection(engine)._connection is None
    append(store, "held-3")
    assert _held_dbapi(engine) is not first
    assert count(engine, log_decisions) == 3


def test_an_append_while_the_held_connection_is_busy_takes_a_pooled_one(
    store: DecisionStore, engine: sa.Engine
) -> None:
    held = held_connection(engine)
    append(store, "warm")
    done: list[tuple[StoredDecision, bool]] = []
    with held.transaction() as connection:  # the held connection is in a transaction of its own
        connection.execute(sa.select(sa.literal(1)))
        if engine.dialect.name == "sqlite":  # the SQLite write lock is this thread's: append after it
            thread = threading.Thread(target=lambda: done.append(append(store, "busy")))
            thread.start()
        else:
            done.append(append(store, "busy"))
            thread = None
    if thread is not None:
        thread.join(10)
    assert done and done[0][1] is True
    assert store.get(done[0][0].id).request_id == "busy"


@pytest.mark.postgres
def test_a_held_connection_killed_by_the_server_is_replaced_and_the_append_retried(
    postgres_url: str,
) -> None:
    """Without the pool's pre-ping, a held connection the server dropped (a restart, an idle timeout)
    fails its next statement: the append runs again at once on a new connection, stored once."""
    engine = make_engine(postgres_url)
    try:
        store = DecisionStore(engine)
        append(store, "before-kill")
        pid = _held_dbapi(engine).info.backend_pid
        with engine.connect() as admin:
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
        decision, new = append(store, "after-kill")
        assert new
        assert _held_dbapi(engine).info.backend_pid != pid
        assert store.get(decision.id).request_id == "after-kill"
        assert count(engine, log_decisions) == 2
    finally:
        engine.dispose()


def test_find_many_finds_request_ids_that_need_quoting_among_many(store: DecisionStore) -> None:
    """PostgreSQL looks the keys up as one array literal: request ids with quotes, backslashes, braces,
    commas, spaces or the word NULL are found as they are, among more keys than one IN list takes."""
    odd = ['a "quoted" id', "back\\slash", "{braces},commas", "NULL", " spaced ", "绿色", 'x\\"y']
    stored = {("bank-a", r): append(store, r)[0] for r in odd}
    stored[("bank-b", "NULL")] = append(store, "NULL", lender="bank-b")[0]
    keys = [("bank-a", f"missing-{i}") for i in range(700)] + list(stored) + [("bank-b", "nope")]
    assert store.find_many(keys) == stored


def _group(*request_ids: str, fingerprints: dict[str, str] | None = None) -> list[Append]:
    profile = {"name": "enterprises/x/profiles/2024", "grade": {"level": 3}}
    content = {"terms": {"manual_review": False}, "profile": profile}
    fps = fingerprints or {}
    return [
        Append("bank-a", r, USCC, "GENERAL", fps.get(r, fingerprint("bank-a", r)), {**content, "n": r})
        for r in request_ids
    ]


def _rows(engine: sa.Engine) -> dict[str, int]:
    return {t.name: count(engine, t) for t in (log_decisions, log_entries, log_pending, profile_snapshots)}


def test_a_group_with_a_reused_request_id_writes_nothing(store: DecisionStore, engine: sa.Engine) -> None:
    """PostgreSQL stores a group of new decisions as one statement that fails as a whole when a request
    id is stored already; the group then runs as a transaction, which rejects it: nothing of it stays."""
    append(store, "req-0")
    before = _rows(engine)
    group = _group("new-1", "req-0", "new-2", fingerprints={"req-0": "another request"})
    with pytest.raises(ValidationError) as error:
        store.append_many(group, policy_text=POLICY_TEXT, policy_hash=POLICY_HASH, policy_version="test-1")
    assert error.value.reason == "REQUEST_ID_REUSED"
    assert _rows(engine) == before


def _groups_without_a_transaction(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[DecisionStore, dict[str, str], list[object]]:
    """Once the policy is stored: a group of new decisions (one request twice) stored without
    run_in_transaction, read back as answered; then a group with a stored request, which runs it once.
    The store, its append arguments and the transactions run."""
    store = DecisionStore(engine)
    kwargs = {"policy_text": POLICY_TEXT, "policy_hash": POLICY_HASH, "policy_version": "test-1"}
    store.append_many(_group("first"), **kwargs)  # stores the policy
    transactions: list[object] = []
    real = decisions_module.run_in_transaction
    monkeypatch.setattr(
        decisions_module, "run_in_transaction", lambda *a, **k: transactions.append(a) or real(*a, **k)
    )
    out = store.append_many(_group("a", "b", "a"), **kwargs)
    assert [new for _, new in out] == [True, True, False] and not transactions
    assert store.get(out[1][0].id) == replace(out[1][0], content=store.get(out[1][0].id).content)
    assert store.get(out[0][0].id).content["profile"] == {"name": "enterprises/x/profiles/2024",
                                                          "grade": {"level": 3}}  # fmt: skip
    again = store.append_many(_group("b", "c"), **kwargs)
    assert [new for _, new in again] == [False, True] and len(transactions) == 1
    assert again[0][0].id == out[1][0].id
    return store, kwargs, transactions


@pytest.mark.postgres
def test_a_postgres_group_of_new_decisions_is_stored_without_a_transaction(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the policy is stored, a group's inserts (index rows with their review states, snapshot,
    entries, pending) go as one autocommit statement; a group with a stored request runs the
    transaction."""
    engine = make_engine(postgres_url)
    try:
        _groups_without_a_transaction(engine, monkeypatch)
        assert _rows(engine) == dict.fromkeys(("log_decisions", "log_entries", "log_pending"), 4) | {
            "profile_snapshots": 1
        }
        assert indexed(engine) == [("QUOTED", False, 1)] * 4
    finally:
        engine.dispose()


def test_a_sqlite_group_of_new_decisions_is_stored_without_sqlalchemys_transaction(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the policy is stored, a SQLite group's inserts run in one BEGIN IMMEDIATE ... COMMIT
    issued on the sqlite3 connection, not in run_in_transaction; a group with a stored request is
    rolled back there and runs the transaction, which answers it as before; a driver error there
    rolls back and the transaction runs instead."""
    engine = make_engine(sqlite_url)
    try:
        store, kwargs, transactions = _groups_without_a_transaction(engine, monkeypatch)
        before = _rows(engine)
        assert before == dict.fromkeys(("log_decisions", "log_entries", "log_pending"), 4) | {
            "profile_snapshots": 1
        }
        assert indexed(engine) == [("QUOTED", False, 1)] * 4

        def failing(self: FoldedInserts, driver: Any, dialect: sa.Dialect) -> bool:
            driver.execute("BEGIN IMMEDIATE")
            try:
                driver.execute("INSERT INTO no_such_table VALUES (1)")
            except BaseException:
                driver.execute("ROLLBACK")
                raise
            return True

        monkeypatch.setattr(FoldedInserts, "run_sqlite", failing)
        late = store.append_many(_group("d"), **kwargs)  # the driver's error: the transaction stores it
        assert [new for _, new in late] == [True] and len(transactions) == 2
        assert _rows(engine)["log_decisions"] == 5
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_statement_inside_a_folded_postgres_group_raises_and_writes_nothing(postgres_url: str) -> None:
    """While a group's inserts are folded into one statement only BulkInserts may write: a hook that
    runs a statement of its own (on the autocommit connection it would commit alone) raises
    FoldingViolation, and nothing of the group is written."""
    engine = make_engine(postgres_url)
    try:
        store = DecisionStore(engine)
        kwargs = {"policy_text": POLICY_TEXT, "policy_hash": POLICY_HASH, "policy_version": "test-1"}
        store.append_many(_group("first"), **kwargs)  # stores the policy: later groups fold
        before = _rows(engine)

        def stray(connection: sa.Connection, decisions: list[StoredDecision]) -> None:
            connection.execute(sa.update(log_pending).values(leaf_hash="0" * 64))

        with pytest.raises(FoldingViolation, match="'execute'"):
            store.append_many(_group("a", "b"), also=stray, **kwargs)
        assert _rows(engine) == before
        with engine.connect() as connection:  # the stray update never ran
            hashes = connection.execute(sa.select(log_pending.c.leaf_hash)).scalars().all()
        assert hashes and "0" * 64 not in hashes
        again = store.append_many(_group("a", "b"), **kwargs)
        assert [new for _, new in again] == [True, True] and len(indexed(engine)) == 3
    finally:
        engine.dispose()


def test_a_gathering_connection_takes_bulk_inserts_and_refuses_the_rest(engine: sa.Engine) -> None:
    """FoldedInserts' stand-in connection: BulkInsert.run adds its rows (every row counted) and
    writes nothing; a statement, the driver connection or a transaction raise FoldingViolation."""
    folded = FoldedInserts()
    gathering = folded.gathering(engine.dialect)
    insert = BulkInsert(log_pending, ("entry_id", "leaf_hash", "create_time"))
    now = datetime.now(UTC)
    assert insert.run(gathering, [("e1", "aa", now), ("e2", "bb", now)]) == 2
    assert [(part, [row[:2] for row in rows]) for part, rows in folded.parts] == [
        (insert, [("e1", "aa"), ("e2", "bb")])
    ]
    for use in (
        lambda: gathering.execute(sa.text("SELECT 1")),
        lambda: gathering.exec_driver_sql("SELECT 1"),
        lambda: gathering.connection,
        lambda: gathering.begin(),
    ):
        with pytest.raises(FoldingViolation):
            use()
    assert count(engine, log_pending) == 0
