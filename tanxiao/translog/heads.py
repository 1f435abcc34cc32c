"""Signed tree heads: Ed25519 over (tree size, root hash, timestamp, key id).

The signed message is ASCII text, one field a line, each line ending in "\\n":

    tanxiao decision log v1
    <tree size, decimal>
    <root hash, 64 lowercase hex>
    <timestamp, milliseconds since the Unix epoch, decimal>
    <key id, 16 lowercase hex>

The key id is the first 8 bytes of SHA-256 of the 32-byte raw Ed25519 public key, in hex. Signing the
key id binds a head to one key, so after a rotation old heads stay verifiable by the key they name.

The JSON form (what `tanxiao log head` exports and a witness keeps) is
``{"log", "tree_size", "root_hash" (hex), "timestamp_ms", "key_id", "signature" (base64),
"public_key" (base64 of the raw 32 bytes)}``; the public key in a file is only a hint: a verifier checks
the key id against keys it obtained itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

LOG_NAME = "tanxiao decision log v1"


def key_id_of(public_key: bytes) -> str:
    if len(public_key) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return hashlib.sha256(public_key).digest()[:8].hex()


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: bytes
    timestamp_ms: int

    def message(self, key_id: str) -> bytes:
        """The exact bytes signed (see the module docstring)."""
        return (
            f"{LOG_NAME}\n{self.tree_size}\n{self.root_hash.hex()}\n{self.timestamp_ms}\n{key_id}\n"
        ).encode("ascii")


@dataclass(frozen=True)
class SignedTreeHead:
    head: TreeHead
    key_id: str
    signature: bytes

    @property
    def tree_size(self) -> int:
        return self.head.tree_size

    @property
    def root_hash(self) -> bytes:
        return self.head.root_hash

    def to_json(self, public_key: bytes | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "log": LOG_NAME,
            "tree_size": self.head.tree_size,
            "root_hash": self.head.root_hash.hex(),
            "timestamp_ms": self.head.timestamp_ms,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }
        if public_key is not None:
            out["public_key"] = base64.b64encode(public_key).decode("ascii")
        return out

    @classmethod
    def from_json(cls, data: Any) -> SignedTreeHead:
        """Parse the JSON form; raise ValueError naming the field that is wrong."""
        if not isinstance(data, dict):
            raise ValueError("a signed tree head is a JSON object")
        if data.get("log") != LOG_NAME:
            raise ValueError(f"log: expected {LOG_NAME!r}")
        try:
            size, stamp = int(data["tree_size"]), int(data["timestamp_ms"])
            root, key_id = bytes.fromhex(data["root_hash"]), str(data["key_id"])
            signature = base64.b64decode(data["signature"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed signed tree head: {exc}") from exc
        if size < 0 or len(root) != 32:
            raise ValueError("tree_size must be >= 0 and root_hash 32 bytes")
        return cls(TreeHead(size, root, stamp), key_id, signature)

    @staticmethod
    def public_key_in(data: Any) -> bytes | None:
        raw = data.get("public_key") if isinstance(data, dict) else None
        return base64.b64decode(raw, validate=True) if raw else None


class VerifyingKey:
    def __init__(self, public_key: bytes) -> None:
        self.raw = public_key
        self.key_id = key_id_of(public_key)
        self._key = Ed25519PublicKey.from_public_bytes(public_key)

    @classmethod
    def from_pem(cls, pem: bytes) -> VerifyingKey:
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return cls(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    def verify(self, sth: SignedTreeHead) -> None:
        """Raise ValueError unless ``sth`` is signed by this key."""
        if sth.key_id != self.key_id:
            raise ValueError(f"head signed by key {sth.key_id}, this key is {self.key_id}")
        try:
            self._key.verify(sth.signature, sth.head.message(sth.key_id))
        except InvalidSignature:
            raise ValueError(f"bad signature on the head of size {sth.tree_size}") from None


class SigningKey:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.verifying = VerifyingKey(raw)
        self.key_id = self.verifying.key_id

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 private key")
        return cls(key)

    def sign(self, head: TreeHead) -> SignedTreeHead:
        return SignedTreeHead(head, self.key_id, self._key.sign(head.message(self.key_id)))


def generate_private_key_pem() -> bytes:
    """A new Ed25519 private key, PKCS#8 PEM, unencrypted (protect the file: mode 0600)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(public_key: bytes) -> bytes:
    return Ed25519PublicKey.from_public_bytes(public_key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def dumps(sth: SignedTreeHead, public_key: bytes | None = None) -> str:
    return json.dumps(sth.to_json(public_key), indent=2, sort_keys=True) + "\n"
