"""Many concurrent quotes through the group commit (scoring_service.combiner) into the
decision store while the log sequencer integrates, on SQLite and PostgreSQL: none lost, none
duplicated, each call its own answer, a batch's failure only its own, every inclusion proof verifies."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
import yaml

from loan_rules.policy import content_hash
from scoring_service.combiner import Combiner
from scoring_service.sequencer import Sequencer, SequencerThread
from scoring_service.storage.decisions import Append, DecisionStore, StoredDecision
from scoring_service.storage.log import LogStore
from scoring_service.storage.tables import log_decisions, log_entries
from tanxiao.errors import ValidationError
from tanxiao.platform.db import make_engine
from tanxiao.translog import SigningKey, generate_private_key_pem, verify_inclusion

POLICY_TEXT = "version: test-1\nrate_floor_bp: 25\n"
POLICY_HASH = content_hash(yaml.safe_load(POLICY_TEXT))
USCC = "91330500MA2B3C4D5E"
Answer = tuple[StoredDecision, bool]


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _item(request: tuple[str, int]) -> Append:
    request_id, terms = request
    return Append(
        "lenders/a", request_id, USCC, "GENERAL",
        hashlib.sha256(f"{request_id}:{terms}".encode()).hexdigest(),
        {"final_rate_bp": 300.0 + terms, "profile": {"name": "p", "grade": {"level": 1 + terms % 5}}},
    )  # fmt: skip


def _group(
    store: DecisionStore,
) -> Callable[[Sequence[tuple[str, int]]], list[Answer | BaseException]]:
    """What the pricer does, without the registry: a group's items stored in one transaction; a
    failing group is stored again request by request (each its own error)."""

    def append(items: Sequence[Append]) -> list[Answer]:
        return store.append_many(
            items, policy_text=POLICY_TEXT, policy_hash=POLICY_HASH, policy_version="test-1"
        )

    def run_many(requests: Sequence[tuple[str, int]]) -> list[Answer | BaseException]:
        items = [_item(r) for r in requests]
        try:
            return list(append(items))
        except ValidationError:
            out: list[Answer | BaseException] = []
            for item in items:
                try:
                    out.append(append([item])[0])
                except ValidationError as exc:
                    out.append(exc)
            return out

    return run_many


def test_concurrent_quotes_are_each_stored_once_and_sequenced(engine: sa.Engine) -> None:
    key = SigningKey.from_pem(generate_private_key_pem())
    store = DecisionStore(engine)
    combiner: Combiner[tuple[str, int], Answer] = Combiner(_group(store), max_batch=16)
    sequencer = SequencerThread(Sequencer(engine, key, batch_size=50), interval=0.01).start()
    # 400 calls from 16 threads: every 10th repeats an earlier request (a retry: same answer, not
    # stored again); every 50th reuses an earlier request id for other terms (REQUEST_ID_REUSED)
    calls: list[tuple[str, int]] = []
    for i in range(400):
        if i % 50 == 49:
            calls.append((f"q-{i - 7}", 999))
        elif i % 10 == 9:
            calls.append((f"q-{i - 5}", i - 5))
        else:
            calls.append((f"q-{i}", i))

    def call(request: tuple[str, int]) -> Answer | BaseException:
        try:
            return combiner.submit(request)
        except ValidationError as exc:
            return exc

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(call, calls))
    finally:
        sequencer.stop()
    first: dict[str, StoredDecision] = {}
    for (request_id, terms), answer in zip(calls, answers, strict=True):
        if terms == 999:
            assert isinstance(answer, ValidationError) and answer.reason == "REQUEST_ID_REUSED"
            continue
        assert not isinstance(answer, BaseException), answer
        decision, _new = answer
        assert decision.request_id == request_id
        assert decision.content["final_rate_bp"] == 300.0 + terms  # its own answer
        assert first.setdefault(request_id, decision).id == decision.id  # a retry: the same decision
    distinct = {r for r, t in calls if t != 999}
    assert set(first) == distinct
    with engine.connect() as connection:
        stored = connection.execute(sa.select(log_decisions.c.request_id)).scalars().all()
        entries = connection.execute(sa.select(sa.func.count()).select_from(log_entries)).scalar_one()
    assert sorted(stored) == sorted(distinct) and entries == len(distinct)  # none lost, none twice
    Sequencer(engine, key).integrate()  # whatever the thread had not reached yet
    log = LogStore(engine)
    latest = log.latest_head()
    assert latest.tree_size == len(distinct)
    for decision in first.values():
        found = log.inclusion(decision.id)
        verify_inclusion(
            found.entry.index or 0, latest.tree_size, bytes.fromhex(decision.leaf_hash), found.proof,
            latest.root_hash,
        )  # fmt: skip


def test_the_sqlite_writers_of_an_engine_queue_in_the_process(engine: sa.Engine) -> None:
    """Group commits and the sequencer's transactions from many threads on one engine: none fails on
    a busy database, none is lost (on SQLite they queue on the engine's writer lock)."""
    key = SigningKey.from_pem(generate_private_key_pem())
    store = DecisionStore(engine)
    sequencer = Sequencer(engine, key, batch_size=7)
    stop = threading.Event()

    def sequence() -> None:
        while not stop.is_set():
            sequencer.integrate()

    thread = threading.Thread(target=sequence)
    thread.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: store.append_many(
                [_item((f"w-{i}-{k}", k)) for k in range(5)],
                policy_text=POLICY_TEXT, policy_hash=POLICY_HASH, policy_version="test-1",
            ), range(40)))  # fmt: skip
    finally:
        stop.set()
        thread.join()
    sequencer.integrate()
    assert LogStore(engine).latest_head().tree_size == 200
