"""Stateless console sessions: one encrypted, authenticated cookie, nothing stored on the server.

The cookie holds the signed-in user's bearer token (so every gRPC call carries the user's own identity),
the role and tenant for the navigation, the page language and the CSRF token. It is encrypted and
authenticated with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`), so it can be neither read nor
forged in the browser, and it expires after ``max_age`` seconds. A signed-only cookie would expose the
bearer token to anything that can read the browser's cookie store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, replace

from cryptography.fernet import Fernet, InvalidToken

COOKIE = "tanxiao_console"
DEFAULT_MAX_AGE = 8 * 3600  # one working day


@dataclass(frozen=True)
class Session:
    csrf: str
    lang: str = "zh"
    token: str = ""  # the user's bearer token; empty when signed out or in development mode
    role: str = ""  # empty = signed out
    tenant: str = ""  # "lenders/{id}" for lenders and credit officers
    subject: str = ""  # who, for the page header: the token id, or "development"

    @property
    def signed_in(self) -> bool:
        return bool(self.role)

    def signed_out(self) -> Session:
        return Session(csrf=new_csrf(), lang=self.lang)


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def anonymous(lang: str = "zh") -> Session:
    return Session(csrf=new_csrf(), lang=lang)


class SessionCodec:
    """Encrypts sessions into cookie values and back; ``secret`` empty = a random key per process
    (sessions then end when the console restarts)."""

    def __init__(self, secret: str = "", max_age: int = DEFAULT_MAX_AGE) -> None:
        key = hashlib.sha256(secret.encode()).digest() if secret else secrets.token_bytes(32)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self.max_age = max_age

    def encode(self, session: Session) -> str:
        return self._fernet.encrypt(json.dumps(asdict(session)).encode()).decode()

    def decode(self, value: str | None) -> Session | None:
        """The session in a cookie value; None when absent, tampered with, expired or malformed."""
        if not value:
            return None
        try:
            data = json.loads(self._fernet.decrypt(value.encode(), ttl=self.max_age))
            return replace(Session(csrf=""), **{k: str(data[k]) for k in Session.__dataclass_fields__})
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None


def csrf_matches(session: Session, submitted: str | None) -> bool:
    return bool(session.csrf) and bool(submitted) and hmac.compare_digest(session.csrf, submitted or "")
