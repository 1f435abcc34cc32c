"""tanxiao.translog against RFC 9162, checked by an independent recomputation written in this file.

The reference functions below (``mth``, ``path``, ``proof``) are RFC 9162 sections 2.1.1, 2.1.3.1 and
2.1.4.1 transcribed on Python lists (slicing D[k:n]), sharing no code with the package, which works on
stored perfect subtrees instead. Every tree of 1..N leaves, every leaf and every pair of sizes.
"""

from __future__ import annotations

import hashlib

import pytest

from tanxiao.translog import (
    EMPTY_ROOT,
    CompactRange,
    NodeId,
    ProofError,
    SigningKey,
    TreeHead,
    VerifyingKey,
    consistency_proof,
    entry_leaf,
    entry_leaf_hash,
    generate_private_key_pem,
    inclusion_proof,
    key_id_of,
    leaf_hash,
    merkle_root,
    root_from_inclusion,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from tanxiao.translog.heads import SignedTreeHead

N = 33  # trees of 1..N leaves: every shape up to 2**5 + 1


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def k_of(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    """RFC 9162 2.1.1 on entries (not hashes)."""
    if not d:
        return sha(b"")
    if len(d) == 1:
        return sha(b"\x00" + d[0])
    k = k_of(len(d))
    return sha(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D[n])."""
    if len(d) == 1:
        return []
    k = k_of(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 2.1.4.1 SUBPROOF(m, D[n], b)."""
    if m == len(d):
        return [] if b else [mth(d)]
    k = k_of(len(d))
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def entries(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


def stored_tree(d: list[bytes]) -> dict[NodeId, bytes]:
    """The nodes the log would store after appending ``d``: leaves (level 0) and interior nodes."""
    tree = CompactRange()
    nodes: dict[NodeId, bytes] = {}
    for i, entry in enumerate(d):
        nodes[NodeId(0, i)] = leaf_hash(entry)
        nodes.update(tree.append(leaf_hash(entry)))
    return nodes


def fetcher(nodes: dict[NodeId, bytes]):  # type: ignore[no-untyped-def]
    return lambda ids: {i: nodes[i] for i in ids if i in nodes}


# Certificate Transparency's reference vectors (certificate-transparency, merkle_tree_test): leaf
# entries and the roots of the trees of their first 1..8 entries.
CT_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_hash(0, fetcher({})) == EMPTY_ROOT == merkle_root([])


@pytest.mark.parametrize("n", range(1, 9))
def test_certificate_transparency_vectors(n: int) -> None:
    d = [bytes.fromhex(x) for x in CT_LEAVES[:n]]
    assert mth(d).hex() == CT_ROOTS[n - 1]  # the reference transcription agrees with CT
    tree = CompactRange()
    for entry in d:
        tree.append(leaf_hash(entry))
    assert tree.root().hex() == CT_ROOTS[n - 1]
    assert root_hash(n, fetcher(stored_tree(d))).hex() == CT_ROOTS[n - 1]


def test_three_leaves_written_out() -> None:
    # MTH(D[3]) = H(0x01 || H(0x01 || H(0x00||d0) || H(0x00||d1)) || H(0x00||d2)): k = 2 for n = 3.
    d0, d1, d2 = b"a", b"b", b"c"
    l0, l1, l2 = sha(b"\x00a"), sha(b"\x00b"), sha(b"\x00c")
    expected = sha(b"\x01" + sha(b"\x01" + l0 + l1) + l2)
    assert merkle_root([leaf_hash(d0), leaf_hash(d1), leaf_hash(d2)]) == expected
    nodes = stored_tree([d0, d1, d2])
    # leaf 2's path is just the left subtree; leaf 0's is its sibling, then leaf 2.
    assert inclusion_proof(2, 3, fetcher(nodes)) == [sha(b"\x01" + l0 + l1)]
    assert inclusion_proof(0, 3, fetcher(nodes)) == [l1, l2]
    # from size 2 to 3: 2 is a power of two, so the proof is just MTH(D[2:3]) = l2.
    assert consistency_proof(2, 3, fetcher(nodes)) == [l2]
    verify_consistency(2, 3, sha(b"\x01" + l0 + l1), expected, [l2])


@pytest.mark.parametrize("n", range(1, N + 1))
def test_roots_and_inclusion_proofs_match_the_reference(n: int) -> None:
    d = entries(n)
    nodes = stored_tree(d)
    root = root_hash(n, fetcher(nodes))
    assert root == mth(d) == merkle_root([leaf_hash(x) for x in d])
    for m in range(n):
        proof = inclusion_proof(m, n, fetcher(nodes))
        assert proof == path(m, d)
        verify_inclusion(m, n, leaf_hash(d[m]), proof, root)
        if n > 1:  # a wrong leaf, index or root fails
            with pytest.raises(ProofError):
                verify_inclusion(m, n, leaf_hash(b"forged"), proof, root)
            with pytest.raises(ProofError):
                verify_inclusion((m + 1) % n, n, leaf_hash(d[m]), proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(m, n, leaf_hash(d[m]), [*proof, proof[0]], root)


@pytest.mark.parametrize("n", range(1, N + 1))
def test_consistency_proofs_match_the_reference(n: int) -> None:
    d = entries(n)
    nodes = stored_tree(d)
    new_root = mth(d)
    for m in range(1, n + 1):
        proof = consistency_proof(m, n, fetcher(nodes))
        assert proof == ([] if m == n else subproof(m, d, True))
        verify_consistency(m, n, mth(d[:m]), new_root, proof)
        if m < n:
            forged = [*d[: m - 1], b"rewritten"]  # the old tree with its last entry rewritten
            with pytest.raises(ProofError):
                verify_consistency(m, n, mth(forged), new_root, proof)
            with pytest.raises(ProofError):
                verify_consistency(m, n, mth(d[:m]), mth([*d[:-1], b"x"]), proof)
            if proof:
                with pytest.raises(ProofError):
                    verify_consistency(m, n, mth(d[:m]), new_root, proof[:-1])


def test_compact_range_reports_the_interior_nodes_it_completes() -> None:
    tree = CompactRange()
    created = [tree.append(leaf_hash(e)) for e in entries(4)]
    assert [[n for n, _ in c] for c in created] == [[], [NodeId(1, 0)], [], [NodeId(1, 1), NodeId(2, 0)]]
    reloaded = CompactRange.load(4, fetcher(stored_tree(entries(4))))
    assert reloaded.root() == tree.root() and reloaded.nodes == tree.nodes


@pytest.mark.parametrize("start", [0, 1, 2, 3, 5, 8, 13, 64, 100])
@pytest.mark.parametrize("count", [0, 1, 2, 7, 31, 64, 129])
def test_compact_range_extend_is_append_one_by_one(start: int, count: int) -> None:
    data = entries(start + count)
    leaves = [leaf_hash(e) for e in data]
    one, many = CompactRange(), CompactRange()
    for leaf in leaves[:start]:
        one.append(leaf)
    many.extend(leaves[:start])
    assert many == one
    created = [(n.level, n.index, h) for leaf in leaves[start:] for n, h in one.append(leaf)]
    assert many.extend(leaves[start:]) == created
    assert many == one and many.root() == one.root() == mth(data)


def test_entry_leaf_hash_of_the_encoded_content_is_the_leaf_hash_of_its_entry() -> None:
    for kind, text in (("decision", "{}"), ("review_action", '{"t":"湖州 ✓"}'), ("decision", "")):
        assert entry_leaf_hash(kind, text.encode()) == leaf_hash(entry_leaf(kind, text))
    with pytest.raises(ValueError, match="entry kind"):
        entry_leaf_hash("bad\nkind", b"{}")


def test_entry_leaf_binds_the_kind() -> None:
    assert entry_leaf("decision", '{"a":1}') == b'decision\n{"a":1}'
    assert leaf_hash(entry_leaf("decision", "{}")) != leaf_hash(entry_leaf("review_action", "{}"))
    with pytest.raises(ValueError):
        entry_leaf("bad\nkind", "{}")


def test_signed_tree_head_round_trip_and_tamper() -> None:
    key = SigningKey.from_pem(generate_private_key_pem())
    assert key.key_id == key_id_of(key.verifying.raw) == sha(key.verifying.raw)[:8].hex()
    head = TreeHead(3, mth(entries(3)), 1_764_000_000_000)
    assert head.message(key.key_id) == (
        f"tanxiao decision log v1\n3\n{mth(entries(3)).hex()}\n1764000000000\n{key.key_id}\n".encode()
    )
    sth = key.sign(head)
    parsed = SignedTreeHead.from_json(sth.to_json(key.verifying.raw))
    assert parsed == sth
    VerifyingKey(key.verifying.raw).verify(parsed)
    forged = SignedTreeHead(TreeHead(4, head.root_hash, head.timestamp_ms), sth.key_id, sth.signature)
    with pytest.raises(ValueError, match="bad signature"):
        key.verifying.verify(forged)
    other = SigningKey.from_pem(generate_private_key_pem())
    with pytest.raises(ValueError, match="signed by key"):
        other.verifying.verify(sth)


def test_root_from_inclusion_rejects_an_index_outside_the_tree() -> None:
    with pytest.raises(ProofError):
        root_from_inclusion(3, 3, leaf_hash(b""), [])


def test_the_proof_vectors_in_docs_scoring_md() -> None:
    """docs/scoring.md ("Test vectors") lists these for the 8-leaf CT tree; a bank's verifier should
    reproduce them (they are also Certificate Transparency's)."""
    d = [bytes.fromhex(x) for x in CT_LEAVES]
    nodes = stored_tree(d)
    assert [h.hex() for h in inclusion_proof(5, 8, fetcher(nodes))] == [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    assert [h.hex() for h in consistency_proof(3, 8, fetcher(nodes))] == [
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert [h.hex() for h in consistency_proof(4, 8, fetcher(nodes))] == [
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
    ]
    assert leaf_hash(entry_leaf("decision", '{"id":"x"}')).hex() == (
        "09c04b5f2639bcb9a560ae0cd53f31c59f1e990a62a6f721aadc128845f6593c"
    )
