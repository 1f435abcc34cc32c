"""The console's texts, from the one catalogue (tanxiao.locale: ``console.<name>`` for its own labels,
``<kind>.<CODE>`` for codes from the services).

``t(key, lang)`` looks a console label up (a key with a dot is a catalogue id as is, e.g.
``review_state.BOOKED``); a missing key is a programming error (KeyError; tests/unit/test_locale.py
checks every key the templates use), never a silently shown code. Codes from the services (roles,
statuses, review reasons, loan-policy reason codes, dimensions) are named through ``code_label``.
"""

from __future__ import annotations

from tanxiao.locale import LANGS, has, text

__all__ = ["LANGS", "code_label", "message_id", "t"]


def message_id(key: str) -> str:
    """The catalogue id of console key ``key``."""
    return key if "." in key else f"console.{key}"


def t(key: str, lang: str) -> str:
    return text(message_id(key), lang)


def code_label(kind: str, code: str, lang: str) -> str:
    """The name of a service code; a code the catalogue lacks shows as itself (a test lists them)."""
    key = f"{kind}.{code}"
    return text(key, lang) if has(key) else code
