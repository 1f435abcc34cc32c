"""The tree as the log stores it: perfect subtrees, and roots and proofs computed from them.

A perfect subtree ``NodeId(level, index)`` is the MTH of the 2**level leaves starting at leaf
index * 2**level. Every range the RFC 9162 recursion visits in a tree of size n (a split at the
largest power of two smaller than the range) is the concatenation of a few such aligned subtrees, so a
root or a proof needs O(log n) stored hashes, never the whole tree. The functions below first work out
which subtrees they need, then ask ``fetch`` for all of them at once (one database query), then fold.

Proof contents and order are exactly RFC 9162's PATH (section 2.1.3.1) and PROOF/SUBPROOF (2.1.4.1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from tanxiao.translog.hashing import EMPTY_ROOT, node_hash, split_power


@dataclass(frozen=True, order=True)
class NodeId:
    """The perfect subtree of 2**level leaves starting at leaf index * 2**level."""

    level: int
    index: int


Fetch = Callable[[Iterable[NodeId]], Mapping[NodeId, bytes]]
Range = tuple[int, int]  # leaves [start, end)


def perfect_subtrees(start: int, end: int) -> list[NodeId]:
    """The aligned perfect subtrees the RFC recursion splits [start, end) into, left to right.

    ``start`` must be a multiple of the largest power of two not above end - start (true of every range
    the recursion over a tree [0, n) visits)."""
    size = end - start
    if size <= 0:
        return []
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        if start % size:
            raise ValueError(f"range [{start}, {end}) is not aligned")
        return [NodeId(level, start >> level)]
    k = split_power(size)
    return perfect_subtrees(start, start + k) + perfect_subtrees(start + k, end)


def _range_hash(start: int, end: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    """MTH of leaves [start, end) from its perfect subtrees: folded right to left, as the recursion."""
    parts = [nodes[node] for node in perfect_subtrees(start, end)]
    result = parts[-1]
    for left in reversed(parts[:-1]):
        result = node_hash(left, result)
    return result


def _hashes(ranges: list[Range], fetch: Fetch) -> list[bytes]:
    wanted = {node for start, end in ranges for node in perfect_subtrees(start, end)}
    nodes = fetch(sorted(wanted)) if wanted else {}
    missing = wanted - set(nodes)
    if missing:
        raise LookupError(f"the log is missing tree nodes {sorted(missing)[:5]}")
    return [_range_hash(start, end, nodes) for start, end in ranges]


def root_hash(size: int, fetch: Fetch) -> bytes:
    """MTH of the first ``size`` leaves."""
    return EMPTY_ROOT if size == 0 else _hashes([(0, size)], fetch)[0]


def _path(m: int, start: int, end: int) -> list[Range]:
    """RFC 9162 PATH(m, D[start:end]) as leaf ranges, m relative to start; deepest sibling first."""
    if end - start <= 1:
        return []
    k = split_power(end - start)
    if m < k:
        return [*_path(m, start, start + k), (start + k, end)]
    return [*_path(m - k, start + k, end), (start, start + k)]


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    return _hashes(_path(index, 0, size), fetch)


def _subproof(m: int, start: int, end: int, complete: bool) -> list[Range]:
    """RFC 9162 SUBPROOF(m, D[start:end], b) as leaf ranges, m relative to start."""
    if m == end - start:
        return [] if complete else [(start, end)]
    k = split_power(end - start)
    if m <= k:
        return [*_subproof(m, start, start + k, complete), (start + k, end)]
    return [*_subproof(m - k, start + k, end, False), (start, start + k)]


def consistency_proof(first: int, second: int, fetch: Fetch) -> list[bytes]:
    """PROOF(first, D[second]): that the tree of ``second`` leaves extends the one of ``first``."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    return _hashes(_subproof(first, 0, second, True), fetch)


@dataclass
class CompactRange:
    """The perfect subtrees of leaves [0, size): enough to append leaves and to compute the root.

    ``append`` returns the interior nodes (level >= 1) it completes, which the log stores for proofs.
    """

    size: int = 0
    nodes: list[tuple[NodeId, bytes]] = field(default_factory=list)

    @classmethod
    def load(cls, size: int, fetch: Fetch) -> CompactRange:
        ids = perfect_subtrees(0, size)
        found = fetch(ids) if ids else {}
        return cls(size, [(node, found[node]) for node in ids])

    def append(self, leaf: bytes) -> list[tuple[NodeId, bytes]]:
        created: list[tuple[NodeId, bytes]] = []
        self.nodes.append((NodeId(0, self.size), leaf))
        self.size += 1
        while len(self.nodes) >= 2 and self.nodes[-1][0].level == self.nodes[-2][0].level:
            (left_id, left), (_, right) = self.nodes[-2], self.nodes[-1]
            parent = (NodeId(left_id.level + 1, left_id.index >> 1), node_hash(left, right))
            self.nodes[-2:] = [parent]
            created.append(parent)
        return created

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """``append`` of each leaf in turn; the interior nodes completed, as (level, index, hash).

        The same tree and the same nodes as ``append`` one by one, worked on two plain lists (levels,
        hashes) instead of a NodeId per leaf and per node: the sequencer appends thousands at a time."""
        levels = [node.level for node, _ in self.nodes]
        hashes = [digest for _, digest in self.nodes]
        size = self.size
        created: list[tuple[int, int, bytes]] = []
        for leaf in leaves:
            level, index, digest = 0, size, leaf
            size += 1
            while levels and levels[-1] == level:  # a left sibling of the same height: merge
                levels.pop()
                digest = node_hash(hashes.pop(), digest)
                level += 1
                index >>= 1
                created.append((level, index, digest))
            levels.append(level)
            hashes.append(digest)
        self.size = size
        self.nodes = list(zip(perfect_subtrees(0, size), hashes, strict=True))
        return created

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        result = self.nodes[-1][1]
        for _, left in reversed(self.nodes[:-1]):
            result = node_hash(left, result)
        return result
