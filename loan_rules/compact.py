"""Compact terms: what a decision stores instead of its full trace, and the trace rendered back from it.

``evaluate_compact`` prices many requests with one ``_core.compute`` and gives each, column by column
(no per-row trace writer), a small JSON object: the terms' summary (eligibility, decline and review
codes, limit, rates, the policy) and ``outcome``, the numbers the trace is written from (every
``_core.Outcome`` field of the row, in ``OUTCOME_FIELDS`` order). ``render_terms`` turns that object,
the row's inputs and the policy back into the :class:`Terms` that ``evaluate`` gives, trace texts
included: it runs evaluate's own trace writer on the stored numbers, so the texts are those of
``evaluate`` by construction (pinned by a property test over random policies and inputs).

The outcome's numbers are stored exactly: float64 values as JSON numbers (shortest round-trip text),
integers and booleans as they are; a non-finite float as the string "NaN", "Infinity" or "-Infinity".
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from loan_rules import _core, _scalar
from loan_rules.evaluator import _columns_many, _Writer
from loan_rules.model import CarbonProfileInput, CommitmentInput, LoanRequest, Terms
from loan_rules.policy import Policy
from tanxiao.plain_json import PlainDict, PlainList

Row = tuple[CarbonProfileInput, CommitmentInput | None, LoanRequest]

# The outcome's fields as stored: a tuple field (one array per decline code / limit candidate) is
# stored as a list at its place.
OUTCOME_FIELDS = tuple(f.name for f in dataclasses.fields(_core.Outcome))
_TUPLE_FIELDS = frozenset({"declines", "candidates"})
# Review codes in the order evaluate's writer lists them, with the outcome flag that raises each.
_REVIEW_FLAGS = (
    ("UNGRADED", "ungraded_review"),
    ("DATA_QUALITY_GATE", "dq_review"),
    ("COMMITMENT_STATUS_REVIEW", "status_review"),
    ("AMOUNT_REVIEW", "amount_review"),
    ("BANK_LIMIT_MISSING", "bank_limit_review"),
    ("FINANCIALS_MISSING", "financials_review"),
)
# Keys of the full terms (Terms.to_dict) that are rendered on read, not stored.
RENDERED_KEYS = ("reasons", "conditions", "trace")
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _bp(value: float) -> float:
    """``round(value, 2) + 0.0``, as evaluate's writer rounds (Python's round, no -0.0).

    Python's round to digits formats the number and parses it back (~4k instructions); most values
    here are already the double nearest a multiple of 0.01 (the rules' rounded rates, LPRs), and such
    a value is its own rounding: below 1e12 it lies within half an ulp (< 0.0001) of k/100, so
    rounding its exact value to two decimals gives k/100, whose nearest double it is."""
    if -1e12 < value < 1e12:
        k = round(value * 100)
        if k / 100 == value:
            return value + 0.0
    return round(value, 2) + 0.0


def _column(array: np.ndarray) -> list[Any]:
    """An outcome array as JSON values: Python scalars, non-finite floats as strings."""
    values: list[Any] = array.tolist()
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        values = [_json_value(v) for v in values]
    return values


def evaluate_compact(rows: Sequence[Row], policy: Policy) -> list[dict[str, Any]]:
    """Each row's compact terms (see the module's doc), built column-wise over the rows."""
    if not rows:
        return []
    if len(rows) <= SCALAR_MAX_ROWS:
        try:
            values = _scalar.compute_rows(rows, policy)
        except Exception:  # Overflow, or anything unusual: numpy's answer (or error) then
            pass
        else:
            return [_compact(row, policy, v) for row, v in zip(rows, values, strict=True)]
    o = _core.compute(_columns_many(rows, policy), policy)
    columns: list[Any] = []
    plain = True  # every outcome column written alike by orjson and json.dumps (checked per column)
    for name in OUTCOME_FIELDS:
        value = getattr(o, name)
        if name in _TUPLE_FIELDS:
            columns.append([list(t) for t in zip(*[_column(a) for a in value], strict=True)])
            plain = plain and all(_plain_column(a) for a in value)
        else:
            columns.append(_column(value))
            plain = plain and _plain_column(value)
    outcomes = [(PlainList if plain else list)(t) for t in zip(*columns, strict=True)]
    eligible = o.eligible.tolist()
    declines = _codes(_core.DECLINE_CODES, o.declines, len(rows))
    reviews = _codes(
        [code for code, _ in _REVIEW_FLAGS], [getattr(o, f) for _, f in _REVIEW_FLAGS], len(rows)
    )
    limit = o.approved_limit_fen.tolist()
    binding = o.binding.tolist()
    adjustment = o.rate_adjustment_bp.tolist()
    final = o.final_rate_bp.tolist()
    manual = o.manual_review.tolist()
    terms = [
        _terms(r, policy, bool(eligible[i]), declines[i], int(limit[i]), binding[i], adjustment[i], final[i],
               bool(manual[i]), reviews[i], outcomes[i])
        for i, (_, _, r) in enumerate(rows)
    ]  # fmt: skip
    if not (plain and _plain_rates(o.rate_adjustment_bp) and _plain_rates(o.final_rate_bp)):
        return terms
    # The rest of the terms: codes, texts, ints, bools and rates rounded to 0.01 (never below 1e-4 but
    # 0), so a term is plain when its request's two rates are finite and below 1e16 too.
    return [
        PlainDict(t) if _plain_rate(r.lpr_bp) and _plain_rate(r.reference_rate_bp) else t
        for t, (_, _, r) in zip(terms, rows, strict=True)
    ]


def _plain_column(array: np.ndarray) -> bool:
    """Whether orjson writes the column's values as ``json.dumps`` does once ``_column`` made them
    Python values: integers (int64) and booleans always, floats when every finite one is 0 or has
    1e-4 <= |x| < 1e16 (a non-finite one is stored as a string)."""
    if array.dtype.kind != "f":
        return array.dtype.kind in "biu" and array.dtype.itemsize <= 8
    magnitude = np.abs(array[np.isfinite(array)])
    return bool(np.all((magnitude == 0.0) | ((magnitude >= 1e-4) & (magnitude < 1e16))))


def _plain_rates(array: np.ndarray) -> bool:
    """The rates ``_bp`` stores from the column are written alike: all finite and below 1e16."""
    return bool(np.all(np.abs(array) < 1e16))  # NaN fails the comparison


def _plain_rate(value: float) -> bool:
    """A rate as ``_bp`` stores it (rounded to 0.01) is written alike when finite and below 1e16."""
    return -1e16 < value < 1e16


def _compact(row: Row, policy: Policy, values: list[Any]) -> dict[str, Any]:
    """One row's compact terms from its ``_scalar`` outcome values: what the column-wise path above
    builds for it (pinned by tests/unit/policy_rules/test_loan_scalar.py)."""
    declines = values[_DECLINES]
    return _terms(
        row[2], policy, values[_ELIGIBLE],
        [code for code, on in zip(_core.DECLINE_CODES, declines, strict=True) if on],
        values[_APPROVED], values[_BINDING], values[_ADJUSTMENT], values[_FINAL], values[_MANUAL],
        [code for code, i in _REVIEW_INDEX if values[i]], _json_values(values),
    )  # fmt: skip


def _json_values(values: list[Any]) -> list[Any]:
    """``_json_value`` of each value; the values themselves when every float is finite (the usual
    row: one sum over the floats instead of a call per value). A finite sum means no float was
    NaN or infinite; one that overflowed to infinity only sends the row the long way."""
    if math.isfinite(sum([v for v in values if type(v) is float])):
        return values
    return [_json_value(v) for v in values]


def _terms(
    r: LoanRequest, policy: Policy, eligible: bool, declines: list[str], approved: int, binding: int,
    adjustment: float, final: float, manual: bool, reviews: list[str], outcome: list[Any],
) -> dict[str, Any]:  # fmt: skip
    """The compact terms of one request, both paths' one layout (key order is the stored JSON's)."""
    return {
        "product": r.product.value,
        "eligible": eligible,
        "decline_reasons": declines,
        "approved_limit_fen": approved,
        "binding_limit": _core.LIMIT_CANDIDATES[binding],
        "lpr_bp": _bp(r.lpr_bp),
        "lpr_term": r.lpr_term,
        "base_rate_bp": _bp(r.reference_rate_bp),
        "base_rate_source": "LPR" if r.base_rate_bp is None else "LENDER",
        "rate_adjustment_bp": _bp(adjustment),
        "final_rate_bp": _bp(final),
        "manual_review": manual,
        "review_reasons": reviews,
        "policy_version": policy.version,
        "policy_hash": policy.content_hash,
        "outcome": outcome,
    }


def _json_value(v: Any) -> Any:
    """A float as ``_column`` stores it (non-finite as a string); other values as they are."""
    if type(v) is float and not math.isfinite(v):
        return "NaN" if v != v else "Infinity" if v > 0 else "-Infinity"
    return v


# Groups up to this size are priced by _scalar (plain Python per row, ~18 µs) rather than by numpy,
# whose fixed cost (~400 µs a call) makes it dearer below ~40 rows (concurrent QuoteLoanTerms calls).
SCALAR_MAX_ROWS = 32
_INDEX = {name: i for i, name in enumerate(OUTCOME_FIELDS)}
_DECLINES, _ELIGIBLE, _APPROVED, _BINDING = (
    _INDEX["declines"], _INDEX["eligible"], _INDEX["approved_limit_fen"], _INDEX["binding"]
)  # fmt: skip
_ADJUSTMENT, _FINAL, _MANUAL = _INDEX["rate_adjustment_bp"], _INDEX["final_rate_bp"], _INDEX["manual_review"]
_REVIEW_INDEX = tuple((code, _INDEX[flag]) for code, flag in _REVIEW_FLAGS)


def _codes(codes: Sequence[str], flags: Sequence[np.ndarray], n: int) -> list[list[str]]:
    """Per row, the codes whose flag is set, in ``codes`` order (rows with none share no list)."""
    hits = np.stack(flags)
    out: list[list[str]] = [[] for _ in range(n)]
    for i in np.flatnonzero(hits.any(axis=0)).tolist():
        out[i] = [code for code, on in zip(codes, hits[:, i].tolist(), strict=True) if on]
    return out


def _value(v: Any) -> Any:
    return _NON_FINITE[v] if isinstance(v, str) else v


def render_terms(row: Row, policy: Policy, compact: dict[str, Any]) -> Terms:
    """The full terms (trace, reasons, conditions, texts) of a row from its compact terms: evaluate's
    trace writer run on the stored outcome numbers."""
    stored = compact["outcome"]
    if len(stored) != len(OUTCOME_FIELDS):
        raise ValueError(f"outcome has {len(stored)} values, the format has {len(OUTCOME_FIELDS)}")
    fields: list[Any] = []
    for name, value in zip(OUTCOME_FIELDS, stored, strict=True):
        if name in _TUPLE_FIELDS:
            fields.append(tuple((_value(v),) for v in value))
        else:
            fields.append((_value(value),))
    profile, commitment, request = row
    return _Writer(profile, commitment, request, policy, _core.Outcome(*fields)).terms()


def summary_differences(compact: dict[str, Any], full: dict[str, Any]) -> list[str]:
    """Keys whose stored value differs from the rendered terms' (empty: they agree)."""
    return [k for k, v in compact.items() if k != "outcome" and full.get(k) != v]


class Renderer:
    """``render_terms`` and ``Terms.to_dict`` memoised (bounded LRU) by the row, the policy and the
    outcome: decisions that differ only in their request id (a book quoted on one profile and one
    amount) share one rendering. The dicts returned are shared: read them, never change them."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._cache: OrderedDict[Any, tuple[Terms, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def render(self, row: Row, policy: Policy, compact: dict[str, Any]) -> tuple[Terms, dict[str, Any]]:
        try:
            key: Any = (policy.content_hash, row, orjson.dumps(compact["outcome"]))
            hash(key)
        except (TypeError, orjson.JSONEncodeError):  # unhashable input (never from the dataclasses)
            key = None
        if key is not None:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    return hit
        terms = render_terms(row, policy, compact)
        out = terms, {**terms.to_dict(), **{k: v for k, v in compact.items() if k != "outcome"}}
        if key is not None:
            with self._lock:
                self._cache[key] = out
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return out
