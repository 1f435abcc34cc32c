"""The one catalogue of user-facing texts, in Chinese and English (STYLE.md §4).

``tanxiao/locale/{zh,en}/LC_MESSAGES/tanxiao.po`` hold the texts, keyed by a stable message id: a
code's kind and name for codes from the services (``trend.IMPROVING``, ``review_state.BOOKED``,
``role.credit_officer``, ``reason.GRADE_RATE``), ``console.<name>`` for the console's own labels,
``explain.<name>`` for the decision explanation's phrases, ``<kind>_word.<CODE>`` for a code as a
word inside a sentence (``trend_word.IMPROVING``: "improving"). PO files are the format translators
and their tools (Poedit, Weblate, msgfmt) read; ``msgfmt --check`` accepts them. :func:`pairs` and
:func:`names` give one kind's messages as a table (code -> texts).

:func:`text` looks a message up; a message id the catalogue lacks raises KeyError (a programming
error, caught by tests/unit/test_locale.py, never a code shown to a user). :func:`has` asks first.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

LANGS = ("zh", "en")
DOMAIN = "tanxiao"


def _unquote(line: str) -> str:
    """The value of one PO string literal ("..." with C escapes, which Python's literals share)."""
    value = ast.literal_eval(line)
    if not isinstance(value, str):
        raise ValueError(f"not a PO string: {line!r}")
    return value


def parse_po(source: str) -> dict[str, str]:
    """msgid -> msgstr of a PO file (comments, the header entry and fuzzy markers aside; no plurals,
    no contexts: the catalogue uses neither). Raises ValueError on anything else."""
    entries: dict[str, str] = {}
    msgid: list[str] | None = None
    msgstr: list[str] | None = None
    current: list[str] | None = None

    def flush() -> None:
        if msgid is None:
            return
        if msgstr is None:
            raise ValueError(f"msgid {''.join(msgid)!r} has no msgstr")
        key = "".join(msgid)
        if key in entries:
            raise ValueError(f"msgid {key!r} appears twice")
        if key:  # "" is the header entry
            entries[key] = "".join(msgstr)

    for number, raw in enumerate(source.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("msgid "):
            flush()
            msgid, msgstr = [_unquote(line[6:])], None
            current = msgid
        elif line.startswith("msgstr "):
            if msgid is None or msgstr is not None:
                raise ValueError(f"line {number}: msgstr without its msgid")
            msgstr = [_unquote(line[7:])]
            current = msgstr
        elif line.startswith('"') and current is not None:
            current.append(_unquote(line))
        else:
            raise ValueError(f"line {number}: unsupported PO syntax: {raw!r}")
    flush()
    return entries


@cache
def catalogue(lang: str) -> Mapping[str, str]:
    """Every message of ``lang`` ("zh" or "en")."""
    if lang not in LANGS:
        raise KeyError(f"no catalogue for language {lang!r} (have {', '.join(LANGS)})")
    path = resources.files(__package__).joinpath(lang, "LC_MESSAGES", f"{DOMAIN}.po")
    return parse_po(path.read_text("utf-8"))


def text(key: str, lang: str) -> str:
    """The text of message ``key`` in ``lang``; KeyError when the catalogue lacks it."""
    return catalogue(lang)[key]


def has(key: str) -> bool:
    return all(key in catalogue(lang) for lang in LANGS)


def pair(key: str) -> tuple[str, str]:
    """(zh, en) of message ``key``."""
    return text(key, "zh"), text(key, "en")


@cache
def pairs(kind: str) -> Mapping[str, tuple[str, str]]:
    """CODE -> (zh, en) of every message ``<kind>.<CODE>``: a table of codes kept in the catalogue."""
    prefix = f"{kind}."
    zh, en = catalogue("zh"), catalogue("en")
    return MappingProxyType({key[len(prefix) :]: (zh[key], en[key]) for key in zh if key.startswith(prefix)})


@cache
def names(kind: str, lang: str) -> Mapping[str, str]:
    """CODE -> text in ``lang`` of every message ``<kind>.<CODE>``."""
    return MappingProxyType({code: both[LANGS.index(lang)] for code, both in pairs(kind).items()})
