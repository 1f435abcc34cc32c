"""A verifiable append-only log (RFC 9162, Certificate Transparency 2.0 hashing and proofs).

Pure: no database, no gRPC, no I/O. A bank or a regulator can read this package (about 300 lines) and
reimplement it; docs/scoring.md ("The decision log") has the formats and test vectors.

- ``hashing``: leaf and node hashes, the Merkle tree hash (MTH) of a list of leaves.
- ``tree``: the same tree held as perfect subtrees (what the log stores), roots and proofs from them,
  and the compact range that appends leaves.
- ``proofs``: verification of inclusion and consistency proofs (RFC 9162 sections 2.1.3.2, 2.1.4.2).
- ``heads``: signed tree heads (Ed25519) and their JSON form.
"""

from tanxiao.translog.hashing import (
    EMPTY_ROOT,
    entry_leaf,
    entry_leaf_hash,
    leaf_hash,
    merkle_root,
    node_hash,
)
from tanxiao.translog.heads import (
    SignedTreeHead,
    SigningKey,
    TreeHead,
    VerifyingKey,
    generate_private_key_pem,
    key_id_of,
)
from tanxiao.translog.proofs import ProofError, root_from_inclusion, verify_consistency, verify_inclusion
from tanxiao.translog.tree import (
    CompactRange,
    NodeId,
    consistency_proof,
    inclusion_proof,
    perfect_subtrees,
    root_hash,
)

__all__ = [
    "EMPTY_ROOT",
    "CompactRange",
    "NodeId",
    "ProofError",
    "SignedTreeHead",
    "SigningKey",
    "TreeHead",
    "VerifyingKey",
    "consistency_proof",
    "entry_leaf",
    "entry_leaf_hash",
    "generate_private_key_pem",
    "inclusion_proof",
    "key_id_of",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "perfect_subtrees",
    "root_from_inclusion",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]
