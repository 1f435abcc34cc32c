"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015): check character and normalisation.

18 characters from a 31-character set (no I, O, S, V, Z). Positions 1-17 are weighted by 3^i mod 31;
the 18th is the check character. Lower-case input is normalised, not rejected.
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18
_VALUE = {c: i for i, c in enumerate(CHARSET)}


class InvalidUSCC(ValueError):
    """The text is not a well-formed USCC; the message says why."""


def check_character(body: str) -> str:
    """The check character of the first 17 characters (already upper case and in the charset)."""
    if len(body) != LENGTH - 1:
        raise InvalidUSCC(f"expected {LENGTH - 1} characters before the check character, got {len(body)}")
    total = sum(_VALUE[c] * w for c, w in zip(body, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def normalize_uscc(text: str) -> str:
    """The canonical (upper-case, trimmed) USCC, or InvalidUSCC saying what is wrong."""
    code = text.strip().upper()
    if len(code) != LENGTH:
        raise InvalidUSCC(f"must be {LENGTH} characters, got {len(code)}")
    bad = sorted({c for c in code if c not in _VALUE})
    if bad:
        raise InvalidUSCC(f"characters {''.join(bad)!r} are not allowed (no I, O, S, V, Z)")
    expected = check_character(code[:-1])
    if code[-1] != expected:
        raise InvalidUSCC(f"check character is {code[-1]!r}, expected {expected!r}")
    return code


def is_valid_uscc(text: str) -> bool:
    try:
        normalize_uscc(text)
    except InvalidUSCC:
        return False
    return True


def make_uscc(region: str, organisation: str, authority: str = "9", entity_type: str = "1") -> str:
    """A valid USCC from its parts (region: 6-digit GB/T 2260 code; organisation: 9 characters)."""
    body = f"{authority}{entity_type}{region}{organisation}".upper()
    if len(body) != LENGTH - 1 or any(c not in _VALUE for c in body):
        raise InvalidUSCC(f"cannot build a USCC from {body!r}")
    return body + check_character(body)


def region_of(uscc: str) -> str:
    """The GB/T 2260 code of the registering authority (positions 3-8)."""
    return uscc[2:8]
