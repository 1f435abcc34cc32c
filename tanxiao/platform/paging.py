"""AIP-158 paging shared by the services: page sizes and opaque keyset page tokens.

A token is the keyset position of the last row served plus a fingerprint of the filters it was issued
for, base64url-encoded JSON; a token reused with other filters, or forged, is INVALID_ARGUMENT naming
the field. No database or gRPC here: the services' storage layers build their keyset queries on it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from tanxiao.errors import ValidationError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size_of(requested: int, field: str = "page_size") -> int:
    """AIP-158: 0 means the default, larger than the maximum is coerced down, negative is an error."""
    if requested < 0:
        raise ValidationError.for_field(field, "must be >= 0")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def filter_fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:16]


def encode_page_token(after: Sequence[Any], fingerprint: str) -> str:
    """Opaque token: the keyset position plus the fingerprint of the filters it belongs to."""
    raw = json.dumps({"a": list(after), "f": fingerprint}, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(
    token: str, fingerprint: str, field: str = "page_token", shape: Sequence[type] | None = None
) -> list[Any] | None:
    """The keyset position of ``token`` (None for the first page); INVALID_ARGUMENT if foreign or reused.

    The fingerprint is not secret (anyone can compute it), so a forged token may carry any JSON: with
    ``shape`` (the types of the position's values, e.g. ``(str, str, int)``) the position must match it."""
    if not token:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, token_fingerprint = payload["a"], payload["f"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ValidationError.for_field(field, "not a page token from this API") from None
    if token_fingerprint != fingerprint or not isinstance(after, list):
        raise ValidationError.for_field(
            field,
            "was issued for a different filter; page with the same filters",
            reason="PAGE_TOKEN_MISMATCH",
        )
    if shape is not None and not _fits(after, shape):
        raise ValidationError.for_field(field, "not a page token from this API")
    return after


def _fits(after: list[Any], shape: Sequence[type]) -> bool:
    """Each value of the right type (bool is not an int here), strings of sane length, ints in 64 bits."""
    if len(after) != len(shape):
        return False
    for value, kind in zip(after, shape, strict=True):
        if type(value) is not kind:
            return False
        if kind is int and not -(2**63) <= value < 2**63:
            return False
        if kind is str and (len(value) > 512 or "\x00" in value):
            return False
    return True
