"""USCC validation lives in :mod:`tanxiao.standards.uscc` (shared with scoring); re-exported here."""

from tanxiao.standards.uscc import (
    CHARSET,
    LENGTH,
    WEIGHTS,
    InvalidUSCC,
    check_character,
    is_valid_uscc,
    make_uscc,
    normalize_uscc,
    region_of,
)

__all__ = [
    "CHARSET",
    "LENGTH",
    "WEIGHTS",
    "InvalidUSCC",
    "check_character",
    "is_valid_uscc",
    "make_uscc",
    "normalize_uscc",
    "region_of",
]
