"""LoanRequest's shortcut for fields that need no check (``_plain``) gives what the checks give.

Seeded random requests whose fields are drawn from valid values, values at and past each bound, and
values of the wrong type (bool, float for int, int for float, str, NaN, infinities): the request made
with the shortcut equals (fields and their types) the one made by the checks alone, or both refuse it
with the same message."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from loan_rules import LoanRequest, Product
from loan_rules.model import MAX_FEN

_BAD = ["x", True, False, math.nan, math.inf, -math.inf, None]
_FIELDS: dict[str, list[Any]] = {
    "product": [*Product, "GENERAL", "NOPE", 1, None],
    "requested_amount_fen": [1, 0, -1, MAX_FEN, MAX_FEN + 1, 500_000_000, 5.0, *_BAD],
    "tenor_months": [1, 0, 36, 360, 3.0, 3.5, -2, *_BAD],
    "lpr_bp": [310.0, 0.0, -0.0, -1.0, 345, 0, 1e300, *_BAD],
    "lpr_term": ["1Y", "5Y", "2Y", "", None],
    "base_rate_bp": [None, 310.0, 0.0, -0.5, 300, *_BAD],
    "bank_limit_fen": [None, 1, 0, MAX_FEN, MAX_FEN + 1, 2.0, *_BAD],
    "revenue_fen": [None, 0, -1, MAX_FEN, MAX_FEN + 1, 1.0, *_BAD],
    "total_debt_fen": [None, 0, -1, MAX_FEN, MAX_FEN + 1, 7, *_BAD],
    "equity_fen": [None, 0, -MAX_FEN, -MAX_FEN - 1, MAX_FEN, MAX_FEN + 1, -5, 3.0, *_BAD],
}

_VALID: dict[str, list[Any]] = {
    "product": list(Product),
    "requested_amount_fen": [1, MAX_FEN, 500_000_000],
    "tenor_months": [1, 36, 360],
    "lpr_bp": [310.0, 0.0, 1e300],
    "lpr_term": ["1Y", "5Y"],
    "base_rate_bp": [None, 310.0, 0.0],
    "bank_limit_fen": [None, 1, MAX_FEN],
    "revenue_fen": [None, 0, MAX_FEN],
    "total_debt_fen": [None, 0, MAX_FEN],
    "equity_fen": [None, 0, -MAX_FEN, MAX_FEN, -5],
}


def _made(fields: dict[str, Any]) -> tuple[str, Any]:
    try:
        request = LoanRequest(**fields)
    except (ValueError, TypeError) as exc:
        return type(exc).__name__, str(exc)
    return "ok", [(name, type(v), v) for name, v in vars(request).items()]


def _same(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    # NaN is never equal to itself: compare by repr for the values (types compared as they are)
    return repr(a) == repr(b)


def test_the_shortcut_gives_what_the_checks_give(monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(14)
    cases = []
    for i in range(6_000):
        # a third with every field valid (the shortcut's case), a third with one field drawn from
        # every kind of value, the rest with every field drawn so
        odd = rnd.choice(list(_FIELDS)) if i % 3 == 1 else None
        cases.append(
            {
                name: rnd.choice(_FIELDS[name] if i % 3 == 2 or name == odd else _VALID[name])
                for name in _FIELDS
            }
        )
    fast = [_made(f) for f in cases]
    monkeypatch.setattr(LoanRequest, "_plain", lambda self: False)
    slow = [_made(f) for f in cases]
    assert sum(1 for r in fast if r[0] == "ok") > 1_500
    for fields, a, b in zip(cases, fast, slow, strict=True):
        assert _same(a, b), fields


def test_the_shortcut_takes_the_usual_quote() -> None:
    request = LoanRequest(
        product=Product.GENERAL, requested_amount_fen=500_000_000, tenor_months=36, lpr_bp=310.0,
        lpr_term="1Y", lpr_date="2026-11-20", base_rate_bp=310.0, revenue_fen=10**12, total_debt_fen=0,
        equity_fen=-5,
    )  # fmt: skip
    assert request._plain()
    converted = LoanRequest(product="GENERAL", requested_amount_fen=1, tenor_months=1, lpr_bp=1)
    assert converted.product is Product.GENERAL and type(converted.lpr_bp) is float
