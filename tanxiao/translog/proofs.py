"""Verification of RFC 9162 proofs, step by step as sections 2.1.3.2 and 2.1.4.2 write them.

Everything a verifier needs is here and in ``hashing``: no tree, no storage.
"""

from __future__ import annotations

from collections.abc import Sequence

from tanxiao.translog.hashing import node_hash


class ProofError(ValueError):
    """A proof that does not verify (the message says which check failed)."""


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root the audit path ``proof`` leads to from leaf hash ``leaf`` at ``index`` (2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless leaf hash ``leaf`` is leaf ``index`` of the tree of ``size`` with ``root``."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"leaf {index} is not in the tree of size {size} with that root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless the tree (``second``, ``second_root``) extends (``first``, ``first_root``)."""
    if not 0 <= first <= second:
        raise ProofError(f"size {second} cannot extend size {first}")
    if first == second:
        if proof or first_root != second_root:
            raise ProofError("two heads of the same size must have the same root and an empty proof")
        return
    if first == 0:
        if proof:
            raise ProofError("the empty tree needs an empty proof")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the old root is a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    if fr != first_root:
        raise ProofError(f"the proof does not lead to the root of size {first}: the log was rewritten")
    if sr != second_root:
        raise ProofError(f"the proof does not lead to the root of size {second}")
