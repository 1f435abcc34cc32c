"""The decision log's signing key on disk: `tanxiao log keygen`, and loading it at start-up.

The key file is an unencrypted PKCS#8 PEM Ed25519 private key, mode 0600; the public key is written
next to it (``.pub``, SubjectPublicKeyInfo PEM) for witnesses and verifiers. Rotation: generate a new
file, point TANXIAO_LOG_SIGNING_KEY_FILE at it, restart; heads name the key id that signed them and the
log keeps every public key (``log_keys``), so older heads stay verifiable (docs/scoring.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog

from tanxiao.translog import SigningKey, generate_private_key_pem
from tanxiao.translog.heads import public_key_pem

log = structlog.get_logger("tanxiao.log_keys")


def write_key(path: Path, *, force: bool = False) -> SigningKey:
    """Generate a key into ``path`` (0600) and its public key into ``path``.pub; FileExistsError unless
    ``force``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = generate_private_key_pem()
    # Written whole to a private temporary file, then linked into place: a reader never sees half a key,
    # and link() fails when the file exists (two first starts racing keep one key).
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    try:
        if force:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    key = SigningKey.from_pem(pem)
    Path(f"{path}.pub").write_bytes(public_key_pem(key.verifying.raw))
    return key


def load_signing_key(path: str, *, create: bool = True) -> SigningKey:
    """The key in ``path``; when missing and ``create``, a new one (logged: production keys come from
    `tanxiao log keygen`). Two processes creating it at once: one writes, the other reads it."""
    target = Path(path)
    if not target.exists() and create:
        try:
            key = write_key(target)
            log.warning("log.signing_key_created", path=str(target), key_id=key.key_id)
            return key
        except FileExistsError:
            pass
    return SigningKey.from_pem(target.read_bytes())
