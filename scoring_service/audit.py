"""Verification of the decision log (``tanxiao audit verify``), trusting nothing the database says.

Everything is recomputed from the entries' stored bytes, in one consistent snapshot, streaming:

- the log: leaf indexes run 0, 1, 2, ... without gaps; each leaf hash is recomputed from the entry's
  kind and content text exactly as stored (which must be canonical JSON naming the entry's id and
  create_time); the tree is rebuilt leaf by leaf (tanxiao.translog.CompactRange) and every stored
  interior node must equal the recomputed one (proofs are served from them), with none extra;
- every stored signed head: its root equals the recomputed root of its size and its Ed25519 signature
  verifies under the key it names (keys from ``log_keys`` plus any the caller trusts); a head larger
  than the log means entries were deleted;
- pending entries (not yet integrated): their leaf hash and content, and whether any waited longer
  than the merge delay the decision states (reported, as Certificate Transparency reports a missed MMD);
- decisions: each ``log_decisions`` row has its entry, the columns equal the hashed content, its
  profile snapshot exists and hashes to its key; no decision entry lacks its row;
- the hash chain of the decisions made before revision 0009: each row's chain_hash =
  sha256(prev_hash + "\\n" + content), links, gap-free seq, the chain head, and chain row i holds
  exactly the id and content of leaf i;
- each policy a decision names is stored and its text hashes to its key.

Threat model. Someone with write access to the whole database and the signing key can rewrite the log
and re-sign it consistently; nothing inside the database can detect that. What detects it is a head
kept outside: ``--against HEAD.json`` (a signed head a witness exported earlier with `tanxiao log head`)
checks that the log still contains that head's tree (same root at that size) and that the latest head
extends it (a consistency proof, verified with tanxiao.translog): deleting the tail, rewriting from a
row, reordering or inserting all change the root at the saved size and fail it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy import Connection, Engine

from loan_rules.policy import content_hash as policy_content_hash
from scoring_service.storage.decisions import SNAPSHOT_KEY, snapshot_hash
from scoring_service.storage.log import (
    ENTRY_WITH_LEAF,
    LEAF_WITH_ENTRY,
    canonical_json,
    fetch_nodes,
    sth_from_row,
    utc,
)
from scoring_service.storage.tables import (
    decision_chain_head,
    decisions,
    loan_policies,
    log_decisions,
    log_entries,
    log_heads,
    log_keys,
    log_leaves,
    log_nodes,
    profile_snapshots,
)
from tanxiao.platform.db import is_sqlite, make_engine
from tanxiao.translog import (
    CompactRange,
    NodeId,
    ProofError,
    SignedTreeHead,
    VerifyingKey,
    consistency_proof,
    entry_leaf,
    leaf_hash,
    verify_consistency,
)
from tanxiao.translog.hashing import EMPTY_ROOT

DEFAULT_MAX_PROBLEMS = 1000
GENESIS = "0" * 64  # prev_hash of the first chained decision (before revision 0009)
HEAD_ID = 1
_COLUMN_KEYS = ("lender", "request_id", "uscc", "product", "request_fingerprint")


@dataclass(frozen=True)
class SavedHead:
    """A signed head kept outside the database, and the public key its keeper trusts."""

    head: SignedTreeHead
    public_key: bytes

    @classmethod
    def from_json(cls, data: Any, public_key: bytes | None = None) -> SavedHead:
        head = SignedTreeHead.from_json(data)
        key = public_key or SignedTreeHead.public_key_in(data)
        if key is None:
            raise ValueError("the saved head names no public_key; give the log's public key")
        return cls(head, key)


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    checked: int  # integrated entries read
    tree_size: int
    problems: list[str]
    head: SignedTreeHead | None = None  # the latest stored head
    pending: int = 0
    late: int = 0  # entries integrated (or still pending) later than their stated merge delay
    chained: int = 0  # decisions of the pre-0009 hash chain checked
    against: int | None = None  # the size of the saved head checked, if any

    @property
    def head_seq(self) -> int | None:
        return None if self.head is None else self.head.tree_size

    @property
    def head_hash(self) -> str | None:
        return None if self.head is None else self.head.root_hash.hex()

    def summary(self) -> str:
        head = (
            "no signed head"
            if self.head is None
            else f"signed head size {self.head.tree_size} root {self.head.root_hash.hex()}"
            f" key {self.head.key_id}"
        )
        extra = f", {self.pending} pending, {self.chained} chained before 0009"
        if self.late:
            extra += f", {self.late} past their merge delay"
        if self.against is not None:
            extra += f", extends the saved head of size {self.against}" if self.ok else ""
        if self.ok:
            return f"audit verify: OK, {self.checked} log entries checked{extra}, {head}"
        return (
            f"audit verify: FAILED, {len(self.problems)} problem(s) in {self.checked} log entries{extra},"
            f" {head}"
        )


@dataclass
class _Problems:
    limit: int
    items: list[str] = field(default_factory=list)
    dropped: int = 0

    def add(self, message: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(message)
        else:
            self.dropped += 1

    def listed(self) -> list[str]:
        if self.dropped:
            return [*self.items, f"... and {self.dropped} more problem(s) not listed"]
        return list(self.items)


def verify_log(
    engine: Engine,
    *,
    batch: int = 5000,
    max_problems: int = DEFAULT_MAX_PROBLEMS,
    trusted_keys: Mapping[str, bytes] | None = None,
    against: SavedHead | None = None,
) -> AuditReport:
    """Verify the whole log, its heads, decisions, the pre-0009 chain and the policies (module doc)."""
    if batch < 1:
        raise ValueError("batch must be >= 1")
    problems = _Problems(max_problems)
    with _snapshot(engine) as connection:
        keys = _keys(connection, trusted_keys or {}, problems)
        heads = [
            sth_from_row(r) for r in connection.execute(sa.select(log_heads).order_by(log_heads.c.tree_size))
        ]
        tree, roots, late_integrated = _verify_tree(connection, batch, heads, keys, against, problems)
        pending, late = _verify_pending(connection, batch, problems)
        late += late_integrated
        policy_hashes = _verify_decisions(connection, batch, problems)
        _verify_snapshots(connection, batch, problems)
        chained = _verify_chain(connection, batch, problems)
        _verify_policies(connection, policy_hashes, problems)
        if against is not None:
            _verify_against(connection, against, tree, roots, heads, problems)
    listed = problems.listed()
    return AuditReport(
        ok=not listed, checked=tree.size, tree_size=tree.size, problems=listed,
        head=heads[-1] if heads else None, pending=pending, late=late, chained=chained,
        against=None if against is None else against.head.tree_size,
    )  # fmt: skip


verify_chain = verify_log  # the name before revision 0009


def audit_main(database_url: str, against: SavedHead | None = None) -> int:
    """`tanxiao audit verify`: a one-line summary (with the latest head) and the problems; 0 when ok."""
    engine = make_engine(database_url)
    try:
        report = verify_log(engine, against=against)
    except sa.exc.SQLAlchemyError as exc:
        print(f"audit verify: FAILED, cannot read the decision store: {str(exc).splitlines()[0]}")
        return 1
    finally:
        engine.dispose()
    print(report.summary())
    for problem in report.problems:
        print(f"  {problem}")
    return 0 if report.ok else 1


# ------------------------------------------------------------------------------------------ internals


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees one snapshot for all its statements.

    PostgreSQL: REPEATABLE READ, READ ONLY (READ COMMITTED would let an append land between two batches).
    SQLite (WAL): a read transaction keeps the snapshot of its first read.
    """
    options: dict[str, Any] = {"tanxiao_write": False}
    if not is_sqlite(engine):
        options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    with engine.connect().execution_options(**options) as connection, connection.begin() as transaction:
        yield connection
        transaction.rollback()  # read only: nothing to commit


def _keys(
    connection: Connection, trusted: Mapping[str, bytes], problems: _Problems
) -> dict[str, VerifyingKey]:
    out: dict[str, VerifyingKey] = {}
    for row in connection.execute(sa.select(log_keys.c.key_id, log_keys.c.public_key)):
        try:
            key = VerifyingKey(base64.b64decode(row.public_key))
        except ValueError:
            problems.add(f"key {row.key_id}: not a valid Ed25519 public key")
            continue
        if key.key_id != row.key_id:
            problems.add(f"key {row.key_id}: its public key has key id {key.key_id}")
            continue
        out[key.key_id] = key
    for raw in trusted.values():
        key = VerifyingKey(raw)
        out[key.key_id] = key
    return out


def _verify_entry(row: Any, problems: _Problems) -> tuple[bytes | None, dict[str, Any]]:
    """Recompute one entry's leaf hash and check its content: (the recomputed hash, None when the kind
    is unusable; the parsed content, empty when it is not a JSON object)."""
    label = f"entry {row.entry_id}" + ("" if row.idx is None else f" (leaf {row.idx})")
    try:
        leaf = leaf_hash(entry_leaf(row.kind, row.content))
    except ValueError:
        problems.add(f"{label}: kind {row.kind!r} is not a valid entry kind")
        return None, {}
    if leaf.hex() != row.leaf_hash:
        problems.add(f"{label}: leaf_hash does not match its content: content or hash was edited")
    try:
        content = json.loads(row.content)
        canonical = canonical_json(content)
    except ValueError:
        problems.add(f"{label}: content is not valid JSON")
        return leaf, {}
    if canonical != row.content or not isinstance(content, dict):
        problems.add(f"{label}: content is not a canonical JSON object")
        return leaf, {}
    if content.get("id") != row.entry_id:
        problems.add(f"{label}: entry_id differs from the hashed content's id")
    if not _same_time(content.get("create_time"), row.create_time):
        problems.add(f"{label}: create_time differs from the hashed content")
    return leaf, content


def _verify_tree(
    connection: Connection,
    batch: int,
    heads: list[SignedTreeHead],
    keys: Mapping[str, VerifyingKey],
    against: SavedHead | None,
    problems: _Problems,
) -> tuple[CompactRange, dict[int, bytes], int]:
    """Rebuild the tree from the integrated entries; check nodes and heads. The tree, the recomputed
    roots at the sizes of the heads (and of the saved head), and how many entries were integrated
    later than the merge delay they state."""
    tree = CompactRange()
    want = {h.tree_size for h in heads} | ({against.head.tree_size} if against else set())
    roots: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in want else {}
    created_total = late = 0
    # the leaves outer-joined to their entries: a leaf whose entry row was deleted is reported
    columns = (log_leaves.c.entry_id, log_entries.c.kind, log_entries.c.content, log_entries.c.leaf_hash,
               log_entries.c.create_time, log_leaves.c.idx, log_leaves.c.integrate_time)  # fmt: skip
    leaves = log_leaves.outerjoin(log_entries, log_entries.c.entry_id == log_leaves.c.entry_id)
    after = -1
    while True:
        rows = connection.execute(
            sa.select(*columns).select_from(leaves).where(log_leaves.c.idx > after)
            .order_by(log_leaves.c.idx).limit(batch)
        ).all()  # fmt: skip
        created: dict[NodeId, bytes] = {}
        for row in rows:
            if int(row.idx) != tree.size:
                problems.add(
                    f"leaf {row.idx} (entry {row.entry_id}): expected leaf {tree.size}: leaves missing"
                )
            if row.content is None:
                problems.add(f"leaf {row.idx}: its entry {row.entry_id} is not in the log: deleted")
                continue
            leaf, content = _verify_entry(row, problems)
            created.update(tree.append(leaf or bytes.fromhex(row.leaf_hash)))
            if row.integrate_time is not None:
                waited = (utc(row.integrate_time) - utc(row.create_time)).total_seconds()
                late += waited > _merge_delay(content)
            if tree.size in want:
                roots[tree.size] = tree.root()
        _compare_nodes(connection, created, problems)
        created_total += len(created)
        if len(rows) < batch:
            break
        after = int(rows[-1].idx)
    stored_nodes = connection.execute(sa.select(sa.func.count()).select_from(log_nodes)).scalar_one()
    if stored_nodes != created_total:
        problems.add(
            f"tree nodes: {stored_nodes} stored but the leaves make {created_total}: nodes were added"
        )
    for head in heads:
        _verify_head(head, roots.get(head.tree_size), tree.size, keys, problems)
    return tree, roots, late


def _compare_nodes(connection: Connection, created: dict[NodeId, bytes], problems: _Problems) -> None:
    stored = fetch_nodes(connection, created)
    for node, value in created.items():
        if stored.get(node) != value:
            what = "missing" if node not in stored else "differs from the recomputed hash"
            problems.add(f"tree node level {node.level} index {node.index}: {what}")


def _verify_head(
    head: SignedTreeHead,
    root: bytes | None,
    size: int,
    keys: Mapping[str, VerifyingKey],
    problems: _Problems,
) -> None:
    label = f"signed head of size {head.tree_size}"
    if root is None:
        problems.add(f"{label}: the log has only {size} leaves: entries after it were deleted")
    elif root != head.root_hash:
        problems.add(f"{label}: root differs from the root recomputed from the entries")
    key = keys.get(head.key_id)
    if key is None:
        problems.add(f"{label}: signed by unknown key {head.key_id}")
        return
    try:
        key.verify(head)
    except ValueError as exc:
        problems.add(f"{label}: {exc}")


def _verify_pending(connection: Connection, batch: int, problems: _Problems) -> tuple[int, int]:
    """Check the entries not yet integrated: (how many, how many already past their merge delay)."""
    now = datetime.now().astimezone()
    count = late = 0
    columns = (log_entries.c.entry_id, log_entries.c.kind, log_entries.c.content, log_entries.c.leaf_hash,
               log_entries.c.create_time, log_leaves.c.idx)  # fmt: skip
    result = connection.execution_options(yield_per=batch).execute(
        sa.select(*columns).select_from(ENTRY_WITH_LEAF).where(log_leaves.c.idx.is_(None))
    )
    for row in result:
        count += 1
        _, content = _verify_entry(row, problems)
        if (now - utc(row.create_time)).total_seconds() > _merge_delay(content):
            late += 1
    return count, late


def _merge_delay(content: dict[str, Any]) -> float:
    """The merge delay an entry states (entries that state none, e.g. pre-0009 ones, promise none)."""
    value = content.get("log_merge_delay_seconds")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else float("inf")


def _verify_decisions(connection: Connection, batch: int, problems: _Problems) -> set[str]:
    """Decision rows against their entries; the policy hashes the decisions name."""
    policy_hashes: set[str] = set()
    query = sa.select(log_decisions, log_entries.c.content, log_entries.c.kind).select_from(
        log_decisions.outerjoin(log_entries, log_entries.c.entry_id == log_decisions.c.id)
    )
    for row in connection.execution_options(yield_per=batch).execute(query):
        label = f"decision {row.id}"
        if row.content is None or row.kind != "decision":
            problems.add(f"{label}: no decision entry in the log")
            continue
        try:
            content = json.loads(row.content)
        except ValueError:
            continue  # reported with the entry
        if not isinstance(content, dict):
            continue
        for key in _COLUMN_KEYS:
            if content.get(key) != getattr(row, key):
                problems.add(f"{label}: column {key} differs from the hashed content")
        if not _same_time(content.get("create_time"), row.create_time):
            problems.add(f"{label}: column create_time differs from the hashed content")
        if content.get(SNAPSHOT_KEY) != row.profile_snapshot:
            problems.add(f"{label}: column profile_snapshot differs from the hashed content")
        policy_hash = content.get("policy_hash")
        if isinstance(policy_hash, str):
            policy_hashes.add(policy_hash)
        else:
            problems.add(f"{label}: content names no policy_hash")
    orphans = connection.execute(
        sa.select(log_entries.c.entry_id)
        .select_from(log_entries.outerjoin(log_decisions, log_decisions.c.id == log_entries.c.entry_id))
        .where(log_entries.c.kind == "decision", log_decisions.c.id.is_(None))
        .limit(20)
    ).all()
    for row in orphans:
        problems.add(f"entry {row.entry_id}: a decision entry without its decision row")
    missing = connection.execute(
        sa.select(log_decisions.c.id, log_decisions.c.profile_snapshot)
        .select_from(
            log_decisions.outerjoin(
                profile_snapshots, profile_snapshots.c.snapshot_hash == log_decisions.c.profile_snapshot
            )
        )
        .where(log_decisions.c.profile_snapshot.is_not(None), profile_snapshots.c.snapshot_hash.is_(None))
        .limit(20)
    ).all()
    for row in missing:
        problems.add(f"decision {row.id}: profile snapshot {row.profile_snapshot} is not stored")
    return policy_hashes


def _verify_snapshots(connection: Connection, batch: int, problems: _Problems) -> None:
    query = sa.select(profile_snapshots.c.snapshot_hash, profile_snapshots.c.content)
    for row in connection.execution_options(yield_per=batch).execute(query):
        if snapshot_hash(row.content) != row.snapshot_hash:
            problems.add(f"profile snapshot {row.snapshot_hash}: content does not hash to its key: edited")


def _same_time(text: object, column: datetime) -> bool:
    if not isinstance(text, str):
        return False
    try:
        return utc(datetime.fromisoformat(text)) == utc(column)
    except ValueError:
        return False


# --- the hash chain of the decisions made before revision 0009 -------------------------------------


def chain_hash(prev_hash: str, content_json: str) -> str:
    """sha256 hex of ``prev_hash + "\\n" + content_json`` (UTF-8): the pre-0009 chain link."""
    return hashlib.sha256(f"{prev_hash}\n{content_json}".encode()).hexdigest()


def _verify_chain(connection: Connection, batch: int, problems: _Problems) -> int:
    """The old chain's links and head, and that chain row i is leaf i: the chained rows checked."""
    checked = 0
    last: tuple[int, str, str] | None = None  # seq, id, chain_hash
    after: int | None = None
    while True:
        query = sa.select(decisions).order_by(decisions.c.seq).limit(batch)
        if after is not None:
            query = query.where(decisions.c.seq > after)
        rows = connection.execute(query).all()
        leaves = {
            int(r.idx): r
            for r in connection.execute(
                sa.select(log_leaves.c.idx, log_leaves.c.entry_id, log_entries.c.content)
                .select_from(LEAF_WITH_ENTRY)
                .where(log_leaves.c.idx >= checked, log_leaves.c.idx < checked + len(rows))
            )
        }
        for row in rows:
            label = f"chained decision seq {row.seq} (id {row.id})"
            expected_seq = 1 if last is None else last[0] + 1
            if row.seq != expected_seq:
                problems.add(f"{label}: seq gap, expected seq {expected_seq}: rows missing")
            if row.prev_hash != (GENESIS if last is None else last[2]):
                problems.add(f"{label}: prev_hash does not match the previous chain_hash")
            if chain_hash(row.prev_hash, row.content) != row.chain_hash:
                problems.add(f"{label}: chain_hash does not match its content: content or hash was edited")
            leaf = leaves.get(checked)
            if leaf is None or leaf.entry_id != row.id or leaf.content != row.content:
                problems.add(f"{label}: leaf {checked} of the log is not this decision")
            checked += 1
            last = (int(row.seq), str(row.id), str(row.chain_hash))
        if len(rows) < batch:
            break
        after = int(rows[-1].seq)
    head = connection.execute(
        sa.select(decision_chain_head.c.seq, decision_chain_head.c.chain_hash).where(
            decision_chain_head.c.id == HEAD_ID
        )
    ).first()
    if head is None and last is not None:
        problems.add("chain head: missing although chained decisions exist")
    elif head is not None and (last is None or (int(head.seq), head.chain_hash) != (last[0], last[2])):
        problems.add("chain head: does not name the last chained decision: rows were deleted or appended")
    return checked


def _verify_policies(connection: Connection, referenced: set[str], problems: _Problems) -> None:
    stored = connection.execute(sa.select(loan_policies.c.policy_hash, loan_policies.c.text)).all()
    known = set()
    for row in stored:
        known.add(row.policy_hash)
        try:
            recomputed = policy_content_hash(yaml.safe_load(row.text))
        except (yaml.YAMLError, ValueError, TypeError):
            recomputed = None
        if recomputed != row.policy_hash:
            problems.add(f"policy {row.policy_hash}: stored text does not hash to its key: text was edited")
    for missing in sorted(referenced - known):
        problems.add(f"policy {missing}: named by decisions but not stored")


# --- a head kept outside the database -------------------------------------------------------------


def _verify_against(
    connection: Connection,
    saved: SavedHead,
    tree: CompactRange,
    roots: Mapping[int, bytes],
    heads: list[SignedTreeHead],
    problems: _Problems,
) -> None:
    size = saved.head.tree_size
    label = f"saved head of size {size}"
    try:
        VerifyingKey(saved.public_key).verify(saved.head)
    except ValueError as exc:
        problems.add(f"{label}: {exc}")
        return
    if size > tree.size:
        problems.add(f"{label}: the log has only {tree.size} leaves: entries were deleted")
        return
    if roots.get(size) != saved.head.root_hash:
        problems.add(f"{label}: the log's first {size} leaves have another root: the log was rewritten")
    if not heads:
        problems.add(f"{label}: the log has no signed head to prove consistency with")
        return
    latest = heads[-1]
    if latest.tree_size < size:
        problems.add(f"{label}: the latest signed head is smaller ({latest.tree_size}): the log was cut")
        return
    try:
        proof = consistency_proof(size, latest.tree_size, lambda ids: fetch_nodes(connection, ids))
        verify_consistency(size, latest.tree_size, saved.head.root_hash, latest.root_hash, proof)
    except (ProofError, LookupError) as exc:
        problems.add(f"{label}: the latest signed head does not extend it: {exc}")
