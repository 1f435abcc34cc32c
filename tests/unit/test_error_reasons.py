"""One stable ErrorInfo reason per cause, every one listed (issue 17, item 8): the source is searched for
every reason it can raise, and each must be in tanxiao.errors.REASONS and in docs/errors.md.

Found by reading the source, not by a list kept beside it: ``reason="X"`` arguments, error types'
``default_reason``, the authorization denials (``Denial(CONSTANT`` in tanxiao.platform.authz), the
limits (``exhausted(..., "X", ...)``) and the review state machine (``TransitionError("X"``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tanxiao import errors
from tanxiao.platform import authz

ROOT = Path(__file__).parents[2]
PACKAGES = ("registry_service", "scoring_service", "loan_rules", "tanxiao")
CODES = {
    "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS", "FAILED_PRECONDITION", "ABORTED", "RESOURCE_EXHAUSTED",
    "UNAUTHENTICATED", "PERMISSION_DENIED", "UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "INTERNAL",
    "UNIMPLEMENTED",  # the HTTP/JSON gateway: a path without that HTTP method (405)
}  # fmt: skip

PATTERNS = (
    re.compile(r'\breason="([A-Z][A-Z0-9_]+)"'),
    re.compile(r'\bdefault_reason = "([A-Z][A-Z0-9_]+)"'),
    re.compile(r'\bexhausted\(.{0,300}?"([A-Z][A-Z0-9_]+)"', re.DOTALL),
    re.compile(r'\bTransitionError\(\s*"([A-Z][A-Z0-9_]+)"'),
)
DENIAL = re.compile(r"\bDenial\(\s*([A-Z][A-Z0-9_]+)\b")


def _sources() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if not path.name.endswith(("_pb2.py", "_pb2_grpc.py")) and "migrations" not in path.parts
    ]


def raised_reasons() -> dict[str, set[str]]:
    """reason -> the files that raise it."""
    found: dict[str, set[str]] = {}
    for path in _sources():
        text = path.read_text("utf-8")
        names = [m.group(1) for pattern in PATTERNS for m in pattern.finditer(text)]
        names += [getattr(authz, m.group(1)) for m in DENIAL.finditer(text)]
        for name in names:
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


# Per-row reason codes of ingestion (row results, never an ErrorInfo): Denial doubles as their carrier.
ROW_CODES = {authz.OUT_OF_SCOPE_CATEGORY, authz.OUT_OF_SCOPE_ENTERPRISE}


def test_the_search_finds_the_known_kinds_of_reasons() -> None:
    found = raised_reasons()
    for reason in ("INVALID_USCC", "CONSENT_REQUIRED", "OTHER_TENANT", "RATE_LIMITED", "SAME_OFFICER",
                   "CANCELLED", "LIMIT_EXCEEDED"):  # fmt: skip
        assert reason in found, reason


def test_every_reason_raised_is_listed() -> None:
    unlisted = {r: sorted(files) for r, files in raised_reasons().items() if r not in errors.REASONS}
    unlisted = {r: f for r, f in unlisted.items() if r not in ROW_CODES}
    assert unlisted == {}, "add these to tanxiao.errors.REASONS and docs/errors.md"


def test_every_listed_reason_is_raised_somewhere() -> None:
    assert set(errors.REASONS) - set(raised_reasons()) == set(), "a listed reason nothing raises"


def test_the_document_lists_exactly_the_reasons_with_their_codes() -> None:
    document = (ROOT / "docs" / "errors.md").read_text("utf-8")
    rows = dict(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| ([A-Z_]+) \|", document, re.MULTILINE))
    assert rows == {reason: code for reason, (code, _cause) in errors.REASONS.items()}
    assert set(rows.values()) <= CODES


@pytest.mark.parametrize("error_type", errors.TanxiaoError.__subclasses__())
def test_every_error_types_default_reason_and_code_agree_with_the_list(error_type: type) -> None:
    code, _cause = errors.REASONS[error_type.default_reason]
    assert code == error_type.code
