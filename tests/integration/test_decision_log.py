"""The decision log on SQLite and PostgreSQL: sequencing, proofs from the stored tree, the audit, the
attacks an insider with database write access (and even the signing key) can make, which only a head
saved outside the database catches, the migration of the pre-0009 hash chain, and the CLI."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from loan_rules.policy import content_hash
from scoring_service.audit import SavedHead, verify_log
from scoring_service.log_proofs import export_head
from scoring_service.sequencer import Sequencer
from scoring_service.storage.decisions import DecisionStore, StoredDecision
from scoring_service.storage.log import EntryKind, LogStore, canonical_json
from scoring_service.storage.tables import (
    log_decisions,
    log_entries,
    log_heads,
    log_leaves,
    log_nodes,
    log_pending,
)
from tanxiao.cli import app
from tanxiao.errors import FailedPrecondition
from tanxiao.platform import db
from tanxiao.platform.db import make_engine
from tanxiao.translog import (
    CompactRange,
    ProofError,
    SigningKey,
    TreeHead,
    entry_leaf,
    generate_private_key_pem,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from tanxiao.translog.heads import SignedTreeHead

POLICY_TEXT = "version: test-1\nrate_floor_bp: 25\n"
POLICY_HASH = content_hash(yaml.safe_load(POLICY_TEXT))
USCC = "91330500MA2B3C4D5E"


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.from_pem(generate_private_key_pem())


def quote(store: DecisionStore, i: int, lender: str = "lenders/a") -> StoredDecision:
    decision, _ = store.append(
        lender=lender, request_id=f"req-{i}", uscc=USCC, product="GENERAL",
        request_fingerprint=hashlib.sha256(f"{lender}{i}".encode()).hexdigest(),
        content={"final_rate_bp": 380.0 + i, "profile": {"name": "p", "grade": {"level": 1 + i % 5}}},
        policy_text=POLICY_TEXT, policy_hash=POLICY_HASH, policy_version="test-1",
    )  # fmt: skip
    return decision


def populate(engine: sa.Engine, key: SigningKey, n: int, start: int = 0) -> list[StoredDecision]:
    store = DecisionStore(engine)
    out = [quote(store, i) for i in range(start, start + n)]
    Sequencer(engine, key, batch_size=3).integrate()
    return out


def saved(engine: sa.Engine) -> SavedHead:
    return SavedHead.from_json(json.loads(export_head(str(engine.url.render_as_string(False)))))


# ------------------------------------------------------------------------------------------ sequencing


def test_sequencer_numbers_entries_and_every_proof_verifies(engine: sa.Engine, key: SigningKey) -> None:
    decisions = populate(engine, key, 11)  # batches of 3: heads at 3, 6, 9 and 11
    log = LogStore(engine)
    heads = log.heads()
    assert [h.tree_size for h in heads] == [3, 6, 9, 11]
    for head in heads:
        key.verifying.verify(head)
    latest = log.latest_head()
    for decision in decisions:
        found = log.inclusion(decision.id)
        assert found.entry.leaf_hash == decision.leaf_hash and found.head == latest
        verify_inclusion(
            found.entry.index or 0, latest.tree_size, bytes.fromhex(decision.leaf_hash), found.proof,
            latest.root_hash,
        )  # fmt: skip
    for older in heads[:-1]:
        first, second, proof = log.consistency(older.tree_size)
        assert (first, second) == (older, latest)
        verify_consistency(older.tree_size, latest.tree_size, older.root_hash, latest.root_hash, proof)
        proof_at = log.inclusion(decisions[0].id, older.tree_size)
        verify_inclusion(
            0, older.tree_size, bytes.fromhex(decisions[0].leaf_hash), proof_at.proof, older.root_hash
        )
    assert sorted(DecisionStore(engine).get(d.id).log_index or 0 for d in decisions) == list(range(11))


def test_the_sequencer_keeps_its_compact_range_until_another_replica_sequences(
    engine: sa.Engine, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between its own batches a sequencer extends the compact range it kept (no read of the stored
    nodes); after another replica's batch the stored size differs and it reads the tree again. Every
    head, proof and the audit agree either way."""
    import scoring_service.sequencer as sequencer_module

    reads: list[int] = []
    real = sequencer_module.fetch_nodes
    monkeypatch.setattr(
        sequencer_module, "fetch_nodes", lambda connection, ids: reads.append(1) or real(connection, ids)
    )
    store = DecisionStore(engine)
    mine, other = Sequencer(engine, key, batch_size=2), Sequencer(engine, key, batch_size=2)
    decisions = [quote(store, i) for i in range(5)]
    assert mine.integrate() == 5 and reads == []  # 3 batches from the empty tree, none read back
    decisions += [quote(store, i) for i in range(5, 8)]
    assert other.integrate() == 3 and len(reads) == 1  # the other replica reads the stored tree once
    decisions += [quote(store, i) for i in range(8, 12)]
    assert mine.integrate() == 4 and len(reads) == 2  # size 8, not the 5 it kept: read again
    decisions += [quote(store, 12)]
    assert mine.integrate() == 1 and len(reads) == 2  # its own tree again
    log = LogStore(engine)
    latest = log.latest_head()
    assert latest.tree_size == 13 and [h.tree_size for h in log.heads()] == [2, 4, 5, 7, 8, 10, 12, 13]
    for decision in decisions:
        found = log.inclusion(decision.id)
        verify_inclusion(
            found.entry.index or 0, latest.tree_size, bytes.fromhex(decision.leaf_hash), found.proof,
            latest.root_hash,
        )  # fmt: skip
    assert verify_log(engine).ok


def test_a_failed_batch_drops_the_kept_compact_range(
    engine: sa.Engine, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that fails rolls back; its extended range is not kept, so the next batch starts from
    the stored tree and integrates the same entries."""
    store = DecisionStore(engine)
    sequencer = Sequencer(engine, key)
    first = [quote(store, i) for i in range(3)]
    assert sequencer.integrate() == 3
    second = [quote(store, i) for i in range(3, 6)]
    real_sign = Sequencer._sign
    monkeypatch.setattr(Sequencer, "_sign", lambda *a: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError, match="disk full"):
        sequencer.integrate()
    assert sequencer._tree is None and count_rows(engine, log_pending) == 3
    monkeypatch.setattr(Sequencer, "_sign", real_sign)
    assert sequencer.integrate() == 3
    log = LogStore(engine)
    latest = log.latest_head()
    assert latest.tree_size == 6
    for decision in first + second:
        found = log.inclusion(decision.id)
        verify_inclusion(
            found.entry.index or 0, 6, bytes.fromhex(decision.leaf_hash), found.proof, latest.root_hash
        )
    assert verify_log(engine).ok


def test_a_batch_planned_before_another_replicas_batch_is_planned_again(
    sqlite_url: str, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite plans a batch (pending entries, extended range) before its write lock; when another
    replica integrated those entries meanwhile, the write transaction sees another size and plans again
    under the lock: nothing is integrated twice, and the log verifies."""
    engine = make_engine(sqlite_url)
    try:
        store = DecisionStore(engine)
        mine, other = Sequencer(engine, key), Sequencer(engine, key)
        decisions = [quote(store, i) for i in range(3)]
        assert mine.integrate() == 3
        decisions += [quote(store, i) for i in range(3, 7)]
        real = Sequencer._plan_outside
        raced: list[int] = []

        def racing(self: Sequencer) -> Any:
            plan = real(self)
            if self is mine and not raced:  # the other replica takes the same entries before mine writes
                raced.append(other.integrate())
            return plan

        monkeypatch.setattr(Sequencer, "_plan_outside", racing)
        assert mine.integrate() == 0 and raced == [4]
        decisions += [quote(store, i) for i in range(7, 9)]
        assert mine.integrate() == 2
        log = LogStore(engine)
        latest = log.latest_head()
        assert latest.tree_size == 9 and [h.tree_size for h in log.heads()] == [3, 7, 9]
        assert sorted(log.inclusion(d.id).entry.index or 0 for d in decisions) == list(range(9))
        for decision in decisions:
            found = log.inclusion(decision.id)
            verify_inclusion(
                found.entry.index or 0, 9, bytes.fromhex(decision.leaf_hash), found.proof, latest.root_hash
            )
        assert verify_log(engine).ok
    finally:
        engine.dispose()


def count_rows(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_nothing_pending_signs_nothing_new(engine: sa.Engine, key: SigningKey) -> None:
    sequencer = Sequencer(engine, key)
    first = sequencer.integrate_batch()
    assert (first.integrated, first.tree_size, first.signed) == (0, 0, True)  # the empty tree's head
    again = sequencer.integrate_batch()
    assert (again.integrated, again.signed) == (0, False)
    assert LogStore(engine).latest_head().root_hash.hex() == hashlib.sha256(b"").hexdigest()


def test_pending_entry_has_no_proof_yet(engine: sa.Engine, key: SigningKey) -> None:
    populate(engine, key, 1)
    pending = quote(DecisionStore(engine), 99)
    with pytest.raises(FailedPrecondition) as error:
        LogStore(engine).inclusion(pending.id)
    assert error.value.reason == "LOG_ENTRY_PENDING"
    report = verify_log(engine)
    assert report.ok and (report.checked, report.pending) == (1, 1)


def test_review_actions_are_entries_of_the_same_log(engine: sa.Engine, key: SigningKey) -> None:
    decision = populate(engine, key, 2)[0]
    log = LogStore(engine)
    action = log.append(
        EntryKind.REVIEW_ACTION, {"decision": f"decisions/{decision.id}", "action": "APPROVE"}
    )
    assert json.loads(action.content)["id"] == action.entry_id
    assert action.leaf_hash == leaf_hash(entry_leaf("review_action", action.content)).hex()
    Sequencer(engine, key).integrate()
    found = log.inclusion(action.entry_id)
    assert found.entry.index == 2 and found.entry.kind is EntryKind.REVIEW_ACTION
    verify_inclusion(
        2, found.head.tree_size, bytes.fromhex(action.leaf_hash), found.proof, found.head.root_hash
    )
    assert verify_log(engine).ok


def test_key_rotation_keeps_old_heads_verifiable(engine: sa.Engine, key: SigningKey) -> None:
    populate(engine, key, 2)
    new_key = SigningKey.from_pem(generate_private_key_pem())
    populate(engine, new_key, 2, start=10)
    heads = LogStore(engine).heads()
    assert {h.key_id for h in heads} == {key.key_id, new_key.key_id}
    assert set(LogStore(engine).public_keys()) == {key.key_id, new_key.key_id}
    assert verify_log(engine).ok


# ------------------------------------------------------------------------------------------ attacks


def _rows(connection: sa.Connection) -> list[Any]:
    """The integrated entries in leaf order, with their leaf index and integration time."""
    leaves = log_entries.join(log_leaves, log_leaves.c.entry_id == log_entries.c.entry_id)
    query = sa.select(log_entries, log_leaves.c.idx, log_leaves.c.integrate_time).select_from(leaves)
    return connection.execute(query.order_by(log_leaves.c.idx)).all()


def _set_leaf(connection: sa.Connection, entry_id: str, idx: int) -> None:
    connection.execute(log_leaves.update().where(log_leaves.c.entry_id == entry_id).values(idx=idx))


def resign(engine: sa.Engine, key: SigningKey) -> None:
    """What an insider with the database and the signing key does to hide a change: recompute every
    leaf hash, rebuild every node and sign one fresh head, leaving a log that verifies on its own."""
    with engine.begin() as connection:
        connection.execute(log_nodes.delete())
        connection.execute(log_heads.delete())
        tree, nodes = CompactRange(), []
        for row in _rows(connection):
            leaf = leaf_hash(entry_leaf(row.kind, row.content))
            connection.execute(
                log_entries.update()
                .where(log_entries.c.entry_id == row.entry_id)
                .values(leaf_hash=leaf.hex())
            )
            nodes += tree.append(leaf)
        if nodes:
            connection.execute(
                log_nodes.insert(), [{"level": n.level, "idx": n.index, "hash": h.hex()} for n, h in nodes]
            )
        sth = key.sign(TreeHead(tree.size, tree.root(), 2_000_000_000_000))
        connection.execute(
            log_heads.insert().values(
                tree_size=sth.tree_size, root_hash=sth.root_hash.hex(), timestamp_ms=sth.head.timestamp_ms,
                key_id=sth.key_id, signature=__import__("base64").b64encode(sth.signature).decode(),
            )
        )  # fmt: skip


def _edit(row: Any, **changes: Any) -> str:
    return canonical_json({**json.loads(row.content), **changes})


def delete_tail_and_move_head(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        doomed = [r.entry_id for r in _rows(connection)[6:]]
        connection.execute(log_decisions.delete().where(log_decisions.c.id.in_(doomed)))
        connection.execute(log_leaves.delete().where(log_leaves.c.entry_id.in_(doomed)))
        connection.execute(log_entries.delete().where(log_entries.c.entry_id.in_(doomed)))


def delete_tail_then_grow(engine: sa.Engine) -> None:
    delete_tail_and_move_head(engine)
    store = DecisionStore(engine)
    grown = [quote(store, 50 + i) for i in range(4)]
    with engine.begin() as connection:
        for i, decision in enumerate(grown):
            connection.execute(log_pending.delete().where(log_pending.c.entry_id == decision.id))
            connection.execute(
                log_leaves.insert().values(
                    idx=6 + i, entry_id=decision.id, integrate_time=decision.create_time
                )
            )


def rewrite_from_a_row(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        for row in _rows(connection)[3:]:
            connection.execute(
                log_entries.update()
                .where(log_entries.c.entry_id == row.entry_id)
                .values(content=_edit(row, final_rate_bp=100.0))
            )


def reorder(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        rows = _rows(connection)
        a, b = rows[2].entry_id, rows[5].entry_id
        for entry_id, idx in ((a, -1), (b, 2), (a, 5)):  # one by one: idx is unique
            _set_leaf(connection, entry_id, idx)


def insert(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        rows = _rows(connection)
        for row in reversed(rows[4:]):
            _set_leaf(connection, row.entry_id, row.idx + 1)
        forged_id = "f" * 32
        source = connection.execute(
            sa.select(log_decisions).where(log_decisions.c.id == rows[3].entry_id)
        ).one()
        content = _edit(rows[3], id=forged_id, request_id="forged")
        connection.execute(
            log_entries.insert().values(
                entry_id=forged_id, kind="decision", content=content, leaf_hash="0" * 64,
                create_time=rows[3].create_time,
            )
        )  # fmt: skip
        connection.execute(
            log_leaves.insert().values(idx=4, entry_id=forged_id, integrate_time=rows[3].integrate_time)
        )
        values = {c.name: getattr(source, c.name) for c in log_decisions.c}
        connection.execute(log_decisions.insert().values({**values, "id": forged_id, "request_id": "forged"}))


ATTACKS: dict[str, tuple[Callable[[sa.Engine], None], str]] = {
    "delete the tail and move the head": (delete_tail_and_move_head, "only 6 leaves: entries were deleted"),
    "delete the tail, then grow past the saved head": (delete_tail_then_grow, "another root"),
    "rewrite from a row": (rewrite_from_a_row, "another root"),
    "reorder": (reorder, "another root"),
    "insert": (insert, "another root"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attacks_fail_against_a_saved_head(
    engine: sa.Engine, key: SigningKey, attack: str, db_url: str, tmp_path: Path
) -> None:
    populate(engine, key, 8)
    witness = saved(engine)
    head_file = tmp_path / "HEAD.json"
    head_file.write_text(json.dumps(witness.head.to_json(witness.public_key)))
    assert verify_log(engine, against=witness).ok
    populate(engine, key, 2, start=20)  # the log grows honestly after the witness saved its head
    assert verify_log(engine, against=witness).ok

    tamper, expected = ATTACKS[attack]
    tamper(engine)
    assert not verify_log(engine).ok  # a naive change is caught by the audit alone ...
    resign(engine, key)
    inside = verify_log(engine)
    assert inside.ok, inside.problems  # ... a consistent rewrite, re-signed with the key, is not ...
    report = verify_log(engine, against=witness)
    assert not report.ok  # ... but the head the witness kept catches it
    assert any(expected in p for p in report.problems), report.problems

    result = CliRunner().invoke(
        app, ["audit", "verify", "--against", str(head_file), "--database-url", db_url]
    )
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output and expected in result.output


def test_naive_tampering_is_caught_without_a_saved_head(engine: sa.Engine, key: SigningKey) -> None:
    decisions = populate(engine, key, 5)
    with engine.begin() as connection:
        connection.execute(
            log_decisions.update().where(log_decisions.c.id == decisions[1].id).values(lender="lenders/z")
        )
        connection.execute(
            log_nodes.update().where(log_nodes.c.level == 1, log_nodes.c.idx == 0).values(hash="0" * 64)
        )
    problems = verify_log(engine).problems
    assert any(f"decision {decisions[1].id}: column lender" in p for p in problems), problems
    assert any("tree node level 1 index 0" in p for p in problems), problems
    # A proof served from the edited node does not verify: a bank checking it would see the log broken.
    third = next(d for d in decisions if DecisionStore(engine).get(d.id).log_index == 2)
    found = LogStore(engine).inclusion(third.id)
    with pytest.raises(ProofError):
        verify_inclusion(2, 5, bytes.fromhex(third.leaf_hash), found.proof, found.head.root_hash)


def test_a_forged_head_signature_is_caught(engine: sa.Engine, key: SigningKey) -> None:
    populate(engine, key, 3)
    with engine.begin() as connection:
        connection.execute(log_heads.update().values(timestamp_ms=1))
    assert any("bad signature" in p for p in verify_log(engine).problems)


def test_a_witness_head_signed_by_another_key_is_rejected(engine: sa.Engine, key: SigningKey) -> None:
    populate(engine, key, 3)
    witness = saved(engine)
    other = SigningKey.from_pem(generate_private_key_pem())
    report = verify_log(engine, against=SavedHead(witness.head, other.verifying.raw))
    assert not report.ok and "signed by key" in report.problems[0]


# ------------------------------------------------------------------------------------------ migration


def _chain_hash(prev: str, text: str) -> str:
    return hashlib.sha256(f"{prev}\n{text}".encode()).hexdigest()


def _seed_chain(url: str, n: int) -> list[str]:
    """Decisions as the pre-0009 store wrote them (revision 0003's schema): the ids in chain order."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    decisions = sa.Table("decisions", meta, autoload_with=engine)
    head = sa.Table("decision_chain_head", meta, autoload_with=engine)
    policies = sa.Table("loan_policies", meta, autoload_with=engine)
    prev, ids = "0" * 64, []
    from datetime import UTC, datetime

    with engine.begin() as connection:
        connection.execute(
            policies.insert().values(
                policy_hash=POLICY_HASH, version="test-1", text=POLICY_TEXT, create_time=datetime.now(UTC)
            )
        )
        for seq in range(1, n + 1):
            now = datetime.now(UTC)
            decision_id = f"{seq:032x}"
            content = {
                "id": decision_id, "create_time": now.isoformat(timespec="microseconds"),
                "lender": "lenders/a", "request_id": f"old-{seq}", "uscc": USCC, "product": "GENERAL",
                "request_fingerprint": "f" * 64,
                "policy_hash": POLICY_HASH, "policy_version": "test-1", "profile": {"name": "p"},
                "terms": {"final_rate_bp": 385.0},
            }  # fmt: skip
            text = canonical_json(content)
            link = _chain_hash(prev, text)
            connection.execute(
                decisions.insert().values(
                    seq=seq, id=decision_id, lender="lenders/a", request_id=f"old-{seq}", uscc=USCC,
                    product="GENERAL", request_fingerprint="f" * 64, content=text, prev_hash=prev,
                    chain_hash=link, create_time=now,
                )
            )  # fmt: skip
            prev = link
            ids.append(decision_id)
        connection.execute(head.insert().values(id=1, seq=n, chain_hash=prev, update_time=datetime.now(UTC)))
    engine.dispose()
    return ids


@pytest.mark.parametrize("revision", ["0001", "0002", "0003", "0004", "0005"])
def test_a_database_at_any_earlier_revision_upgrades_and_verifies(
    empty_db_url: str, revision: str, key: SigningKey
) -> None:
    db.upgrade(empty_db_url, revision)
    ids = _seed_chain(empty_db_url, 7) if revision >= "0003" else []
    db.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        Sequencer(engine, key).integrate()  # signs the migrated tree
        report = verify_log(engine)
        assert report.ok, report.problems
        assert (report.checked, report.chained, report.tree_size) == (len(ids), len(ids), len(ids))
        store = DecisionStore(engine)
        for index, decision_id in enumerate(ids):
            old = store.get(decision_id)
            assert old.log_index == index and old.content["profile"] == {"name": "p"}
        new = quote(store, 1)  # quoting goes on after the chain, as leaf len(ids)
        Sequencer(engine, key).integrate()
        assert store.get(new.id).log_index == len(ids)
        assert verify_log(engine).ok
        if ids:  # the old chain is still checked: an edit of a chained row is caught
            with engine.begin() as connection:
                connection.execute(
                    sa.text("UPDATE decisions SET content = replace(content, '385.0', '100.0') WHERE seq = 3")
                )
            problems = verify_log(engine).problems
            assert any("chained decision seq 3" in p and "chain_hash does not match" in p for p in problems)
            assert any("leaf 2 of the log is not this decision" in p for p in problems)
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------ the CLI


def test_cli_keygen_head_prove_and_verify(engine: sa.Engine, db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    key_file = tmp_path / "keys" / "log.pem"
    made = runner.invoke(app, ["log", "keygen", "--out", str(key_file)])
    assert made.exit_code == 0, made.output
    assert (key_file.stat().st_mode & 0o777) == 0o600 and Path(f"{key_file}.pub").exists()
    key = SigningKey.from_pem(key_file.read_bytes())
    assert made.stdout.strip().splitlines()[-1] == key.key_id
    assert runner.invoke(app, ["log", "keygen", "--out", str(key_file)]).exit_code == 1  # never overwritten

    decisions = [quote(DecisionStore(engine), i) for i in range(5)]
    env = {"TANXIAO_LOG_SIGNING_KEY_FILE": str(key_file)}
    sequenced = runner.invoke(app, ["log", "sequence", "--database-url", db_url], env=env)
    assert sequenced.exit_code == 0 and "integrated 5 entries" in sequenced.stdout, sequenced.output

    head_file = tmp_path / "HEAD.json"
    exported = runner.invoke(app, ["log", "head", "--out", str(head_file), "--database-url", db_url])
    assert exported.exit_code == 0, exported.output
    head = SignedTreeHead.from_json(json.loads(head_file.read_text()))
    assert head.tree_size == 5 and head.key_id == key.key_id

    proved = runner.invoke(app, ["audit", "prove", decisions[2].id, "--database-url", db_url])
    assert proved.exit_code == 0, proved.output
    proof = json.loads(proved.stdout)
    assert proof["verified"] and proof["leaf_index"] == 2 and proof["tree_size"] == 5
    leaf = leaf_hash(entry_leaf("decision", proof["entry_content"]))
    verify_inclusion(2, 5, leaf, [bytes.fromhex(h) for h in proof["inclusion_proof"]], head.root_hash)

    verified = runner.invoke(app, ["audit", "verify", "--against", str(head_file), "--database-url", db_url])
    assert verified.exit_code == 0 and "audit verify: OK, 5 log entries checked" in verified.stdout

    pending = quote(DecisionStore(engine), 9)
    not_yet = runner.invoke(app, ["audit", "prove", f"decisions/{pending.id}", "--database-url", db_url])
    assert not_yet.exit_code == 1 and "LOG_ENTRY_PENDING" in not_yet.stdout


def test_entries_integrated_after_their_merge_delay_are_reported(engine: sa.Engine, key: SigningKey) -> None:
    import time

    store = DecisionStore(engine, merge_delay_seconds=0.001)
    quote(store, 1)
    time.sleep(0.05)  # the sequencer is "down" longer than the decision promised
    assert verify_log(engine).late == 1  # still pending, past its promise
    Sequencer(engine, key).integrate()
    report = verify_log(engine)
    assert report.ok and report.late == 1 and "1 past their merge delay" in report.summary()
    quote(DecisionStore(engine, merge_delay_seconds=60.0), 2)
    Sequencer(engine, key).integrate()
    assert verify_log(engine).late == 1  # the one that kept its promise is not counted
