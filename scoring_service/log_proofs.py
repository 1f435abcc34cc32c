"""Operator-side proofs from the database: `tanxiao audit prove` and `tanxiao log head`.

Both check what they print with tanxiao.translog before printing it (the signature under the key the
head names, the leaf recomputed from the entry's bytes, the audit path to the signed root), so a proof
handed to a bank or a regulator has been verified the way they will verify it.
"""

from __future__ import annotations

import json
from pathlib import Path

from scoring_service.storage.log import LogStore
from tanxiao.errors import TanxiaoError
from tanxiao.platform.db import make_engine
from tanxiao.translog import ProofError, VerifyingKey, entry_leaf, leaf_hash, verify_inclusion
from tanxiao.translog.heads import dumps


def prove_decision(database_url: str, decision_id: str, public_key: Path | None = None) -> tuple[int, str]:
    """(exit code, JSON text): the inclusion proof of the decision in the latest signed head, checked."""
    engine = make_engine(database_url)
    try:
        store = LogStore(engine)
        try:
            found = store.inclusion(decision_id)
        except TanxiaoError as exc:
            return 1, json.dumps({"decision": f"decisions/{decision_id}", "verified": False,
                                  "problem": f"{exc.reason}: {exc.message}"})  # fmt: skip
        keys = store.public_keys()
    finally:
        engine.dispose()
    raw = VerifyingKey.from_pem(public_key.read_bytes()).raw if public_key else keys.get(found.head.key_id)
    leaf = leaf_hash(entry_leaf(found.entry.kind.value, found.entry.content))
    problem = None
    try:
        if raw is None:
            raise ValueError(f"no public key for key id {found.head.key_id}")
        VerifyingKey(raw).verify(found.head)
        if leaf.hex() != found.entry.leaf_hash:
            raise ValueError("the stored leaf hash does not match the entry's content")
        verify_inclusion(
            found.entry.index or 0, found.head.tree_size, leaf, found.proof, found.head.root_hash
        )
    except (ValueError, ProofError) as exc:
        problem = str(exc)
    out = {
        "decision": f"decisions/{decision_id}",
        "verified": problem is None,
        "leaf_index": found.entry.index,
        "tree_size": found.head.tree_size,
        "leaf_hash": leaf.hex(),
        "inclusion_proof": [h.hex() for h in found.proof],
        "signed_tree_head": found.head.to_json(raw),
        "entry_kind": found.entry.kind.value,
        "entry_content": found.entry.content,
    }
    if problem is not None:
        out["problem"] = problem
    return (0 if problem is None else 1), json.dumps(out, ensure_ascii=False, indent=2)


def export_head(database_url: str) -> str:
    """The latest signed head with its public key, as JSON; ValueError when there is none or it does
    not verify."""
    engine = make_engine(database_url)
    try:
        store = LogStore(engine)
        try:
            head = store.latest_head()
        except TanxiaoError as exc:
            raise ValueError(exc.message) from exc
        raw = store.public_keys().get(head.key_id)
    finally:
        engine.dispose()
    if raw is None:
        raise ValueError(f"no public key stored for key id {head.key_id}")
    VerifyingKey(raw).verify(head)
    return dumps(head, raw)
