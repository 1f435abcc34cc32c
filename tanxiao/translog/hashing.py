"""RFC 9162 section 2.1.1: SHA-256 with domain separation between leaves and interior nodes.

    leaf hash  = SHA-256(0x00 || entry)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256()                        (the empty string)
    MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n]))   k = the largest power of two smaller than n

An entry of this log is ``kind || 0x0A || content``: the entry's kind in ASCII ("decision",
"review_action", "repricing"), a newline, and its content (canonical JSON, UTF-8). Putting the kind in
the hashed bytes means no entry of one kind can be passed off as another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


_LEAF, _NODE = b"\x00", b"\x01"  # RFC 9162 2.1.1: the domain separation of leaves and nodes


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(_LEAF + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def entry_leaf(kind: str, content: str) -> bytes:
    """The bytes an entry contributes to the tree: ``kind`` + "\\n" + ``content`` (UTF-8)."""
    return _kind_line(kind) + content.encode("utf-8")


def entry_leaf_hash(kind: str, content: bytes) -> bytes:
    """``leaf_hash(entry_leaf(kind, text))`` of a content given as its UTF-8 bytes (``text.encode()``):
    a store that has the canonical bytes hashes them as they are, without a decoded copy."""
    digest = hashlib.sha256(_LEAF + _kind_line(kind))
    digest.update(content)
    return digest.digest()


def _kind_line(kind: str) -> bytes:
    if not kind or not kind.isascii() or "\n" in kind:
        raise ValueError(f"entry kind must be non-empty ASCII without newlines, got {kind!r}")
    return kind.encode("ascii") + b"\n"


def split_power(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    if n < 2:
        raise ValueError("split_power needs n >= 2")
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves, by the definition (O(n); the log itself uses ``tree``)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = split_power(n)
    return node_hash(merkle_root(leaf_hashes[:k]), merkle_root(leaf_hashes[k:]))
