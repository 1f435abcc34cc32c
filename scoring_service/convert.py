"""Stored decisions -> tanxiao.scoring.v1 messages."""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from scoring_service.storage.decisions import StoredDecision
from tanxiao.common.v1 import common_pb2
from tanxiao.errors import ValidationError
from tanxiao.platform.timestamps import to_timestamp
from tanxiao.registry.v1 import registry_pb2
from tanxiao.scoring.v1 import scoring_pb2

DECISION_PREFIX = "decisions/"


def decision_name(decision_id: str) -> str:
    return DECISION_PREFIX + decision_id


def parse_decision_name(name: str, field: str = "name") -> str:
    decision_id = name.strip().removeprefix(DECISION_PREFIX)
    if not name.strip().startswith(DECISION_PREFIX) or not decision_id.isalnum() or len(decision_id) > 32:
        raise ValidationError.for_field(field, "must be decisions/{id}")
    return decision_id


def decision_to_proto(
    stored: StoredDecision, terms: dict[str, Any] | None = None, *, basic: bool = False
) -> scoring_pb2.Decision:
    """The decision as stored, or with other ``terms`` (a replay) on the same request and profile.
    ``basic``: the BASIC view (DecisionView): no rendered trace, so ``terms`` may be compact ones
    (decision_format): reasons and conditions empty, decline reasons by code only."""
    content = stored.content
    terms = terms if terms is not None else content["terms"]
    profile = content.get("profile") or {}
    quality = profile.get("data_quality") or {}
    lpr = content.get("lpr") or {}
    out = scoring_pb2.Decision(
        **_own_fields(stored),
        lender=stored.lender,
        lpr_effective_date=str(lpr.get("effective_date") or ""),
        lpr_confirmed=bool(lpr.get("confirmed", False)),
        pcaf_score=int(quality.get("pcaf_score") or 0),
        quality_score=float(quality.get("score") or 0.0),
        create_time=_timestamp(stored.create_time),
        log_merge_delay_seconds=float(content.get("log_merge_delay_seconds") or 0.0),
    )
    grade = _grade_part(profile.get("grade") or {})  # the grade field as Decision wire bytes
    if basic:
        out.MergeFromString(grade)
        out.MergeFrom(_basic_terms(terms))
    else:
        out.MergeFromString(grade + _terms_part(terms))
    return out


def decision_wire(stored: StoredDecision, state: int, *, basic: bool = False) -> bytes:
    """``decision_to_proto(stored, basic=basic)`` with ``state`` set, as Decision wire bytes, built from
    parts (BatchQuoteLoanTerms: a call's answers are parsed once from the bytes of all its decisions).
    The decision's own fields are one message; the profile's (grade, data quality) and, for FULL, the
    terms' rendered fields are wire bytes cached by their dict's identity; BASIC decline reasons by
    their codes. Fields and values are decision_to_proto's, so the parsed message serializes to the
    same bytes (the parts name each field once, in any order: parsing puts them in their places)."""
    content = stored.content
    terms = content["terms"]
    own = scoring_pb2.Decision(
        **_own_fields(stored),
        state=state,
        **(_own_terms(terms) if basic else {}),  # FULL: all of them in the cached terms part
    ).SerializeToString()
    lpr = content.get("lpr") or {}
    shared = _shared_part(
        (stored.lender, lpr.get("effective_date"), lpr.get("confirmed", False), stored.create_time,
         content.get("log_merge_delay_seconds"), terms["lpr_bp"], terms["lpr_term"],
         terms["base_rate_source"], terms["policy_version"], terms["policy_hash"])
    )  # fmt: skip
    profile = _profile_part(content.get("profile") or {})
    if basic:
        return own + shared + profile + _decline_codes_part(tuple(terms["decline_reasons"]))
    return own + shared + profile + _terms_part(terms)


def fresh_decision(stored: StoredDecision, state: int) -> scoring_pb2.Decision:
    """``decision_to_proto(stored)`` with ``state`` set (a decision just stored: no override), as
    QuoteLoanTerms answers it: the decision's own fields and those of its call (lender, LPR, time) set
    by the constructor, the profile's and the terms' merged from their cached wire parts (one parse of
    their bytes, no conversion per call; ~30k instructions a call less than decision_to_proto and the
    view, docs/benchmarks.md). Same fields and values, so the same bytes on the wire."""
    out = _own_and_call(stored, state)
    out.MergeFromString(_profile_and_terms_parts(stored.content))
    return out


def fresh_decision_wire(stored: StoredDecision, state: int) -> bytes:
    """``fresh_decision(stored, state)`` as its Decision wire bytes, with no message of the whole: the
    decision's own and call fields encoded as one small message, the profile's and the terms' parts
    appended as the cached bytes they are (QuoteLoanTerms sends them as they are,
    tanxiao.platform.encoded). The same fields and values, so the parsed answer is the same message."""
    return _own_and_call(stored, state).SerializeToString() + _profile_and_terms_parts(stored.content)


def _own_and_call(stored: StoredDecision, state: int) -> scoring_pb2.Decision:
    """A Decision of this decision's own fields, ``state`` and its call's fields only."""
    content = stored.content
    lpr = content.get("lpr") or {}
    return scoring_pb2.Decision(
        **_own_fields(stored),
        state=state,
        **_call_fields(
            stored.lender,
            lpr.get("effective_date"),
            lpr.get("confirmed", False),
            stored.create_time,
            content.get("log_merge_delay_seconds"),
        ),
    )


def _profile_and_terms_parts(content: dict[str, Any]) -> bytes:
    """The cached wire bytes of the decision's profile and terms fields."""
    return _profile_part(content.get("profile") or {}) + _terms_part(content["terms"])


def _own_fields(stored: StoredDecision) -> dict[str, Any]:
    """The Decision fields of this decision's own request and record (not shared with others of its
    call, nor taken from its profile or terms)."""
    content = stored.content
    request = content["request"]
    return {
        "name": decision_name(stored.id),
        "request_id": stored.request_id,
        "enterprise": content["enterprise"],
        "product": _product_number(request["product"]),
        "requested_amount_fen": request["requested_amount_fen"],
        "tenor_months": request["tenor_months"],
        "commitment": request.get("commitment") or "",
        "bank_limit_fen": request.get("bank_limit_fen") or 0,
        "profile": content.get("profile_name", ""),
        "chain_hash": stored.chain_hash,
        "profile_age_seconds": float(content.get("profile_age_seconds") or 0.0),
        "log_index": stored.log_index,  # None (unset) until the sequencer integrated the decision
    }


def _own_terms(terms: dict[str, Any]) -> dict[str, Any]:
    """The summary fields (_summary_fields) but those of the shared part: what varies by request."""
    return {
        "base_rate_bp": terms["base_rate_bp"],
        "eligible": terms["eligible"],
        "approved_limit_fen": terms["approved_limit_fen"],
        "spread_to_lpr_bp": round(terms["final_rate_bp"] - terms["lpr_bp"], 2) + 0.0,
        "binding_limit": terms["binding_limit"],
        "rate_adjustment_bp": terms["rate_adjustment_bp"],
        "final_rate_bp": terms["final_rate_bp"],
        "manual_review": terms["manual_review"],
        "review_reasons": terms["review_reasons"],
    }


_SharedKey = tuple[str, Any, Any, datetime, Any, Any, Any, Any, Any, Any]


@functools.lru_cache(maxsize=256)
def _shared_part(key: _SharedKey) -> bytes:
    """The fields the decisions of a call share (lender, LPR, time, policy) as Decision wire bytes, by
    their raw values (equal values give equal fields, as decision_to_proto converts them)."""
    lender, effective, confirmed, when, delay, lpr_bp, lpr_term, source, version, policy_hash = key
    return scoring_pb2.Decision(
        **_call_fields(lender, effective, confirmed, when, delay),
        lpr_bp=lpr_bp,
        lpr_term=lpr_term,
        base_rate_source=source,
        policy_version=version,
        policy_hash=policy_hash,
    ).SerializeToString()


def _call_fields(lender: str, effective: Any, confirmed: Any, when: datetime, delay: Any) -> dict[str, Any]:
    """The Decision fields of the call that made a decision (lender, LPR, time, merge delay) from their
    stored values, as decision_to_proto converts them."""
    return {
        "lender": lender,
        "lpr_effective_date": str(effective or ""),
        "lpr_confirmed": bool(confirmed),
        "create_time": _timestamp(when),
        "log_merge_delay_seconds": float(delay or 0.0),
    }


def _build_profile_part(profile: dict[str, Any]) -> bytes:
    quality = profile.get("data_quality") or {}
    scores = scoring_pb2.Decision(
        pcaf_score=int(quality.get("pcaf_score") or 0), quality_score=float(quality.get("score") or 0.0)
    )
    return _grade_part(profile.get("grade") or {}) + scores.SerializeToString()


@functools.lru_cache(maxsize=1024)
def _decline_codes_part(codes: tuple[str, ...]) -> bytes:
    """BASIC decline reasons (codes only) as Decision wire bytes; few distinct lists in a book."""
    message = scoring_pb2.Decision(decline_reasons=[scoring_pb2.TraceStep(code=c) for c in codes])
    return message.SerializeToString()


_PRODUCT_NUMBERS = dict(scoring_pb2.Product.items())


def _product_number(name: str) -> int:
    """``scoring_pb2.Product.Value(name)`` by one dict lookup (the enum wrapper's Python is ~1 us a call);
    an unknown name still gets Value's own ValueError."""
    number = _PRODUCT_NUMBERS.get(name)
    return number if number is not None else scoring_pb2.Product.Value(name)


def _summary_fields(terms: dict[str, Any]) -> dict[str, Any]:
    """The Decision fields of the terms' summary (the keys compact and full terms share): the request's
    own (``_own_terms``) and those of the LPR and policy it was priced under."""
    return {
        **_own_terms(terms),
        "lpr_bp": terms["lpr_bp"],
        "lpr_term": terms["lpr_term"],
        "base_rate_source": terms["base_rate_source"],
        "policy_version": terms["policy_version"],
        "policy_hash": terms["policy_hash"],
    }


def _basic_terms(terms: dict[str, Any]) -> scoring_pb2.Decision:
    """The summary's fields and the decline reasons' codes (BASIC view: no rendered texts)."""
    return scoring_pb2.Decision(
        **_summary_fields(terms),
        decline_reasons=[scoring_pb2.TraceStep(code=code) for code in terms["decline_reasons"]],
    )


def _timestamp(when: datetime) -> Timestamp:
    """``when`` as a Timestamp; the last one converted is reused (a chunk's decisions share their
    create_time)."""
    last_when, last_stamp = _LAST_STAMP[0]  # one tuple: read atomically beside other threads
    if last_when is when:
        return last_stamp
    stamp = to_timestamp(when)
    _LAST_STAMP[0] = (when, stamp)  # read-only once built: the Decision constructor copies it
    return stamp


_LAST_STAMP: list[tuple[Any, Any]] = [(None, None)]


class _ByIdentity:
    """Wire bytes built from a dict, kept by the dict's identity (the oldest out first): the dict is
    kept referenced beside its bytes, so its id is not reused while cached. A hit takes no lock (one
    dict read is atomic; a BatchQuote answer reads two such caches per decision)."""

    def __init__(self, size: int, build: Callable[[dict[str, Any]], bytes]) -> None:
        self._items: OrderedDict[int, tuple[dict[str, Any], bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size
        self._build = build

    def __call__(self, raw: dict[str, Any]) -> bytes:
        hit = self._items.get(id(raw))
        if hit is not None and hit[0] is raw:
            return hit[1]
        part = self._build(raw)
        with self._lock:
            self._items[id(raw)] = (raw, part)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return part


def _build_terms_part(terms: dict[str, Any]) -> bytes:
    steps = {step["code"]: step for step in terms["trace"]}
    return scoring_pb2.Decision(
        **_summary_fields(terms),
        conditions=_conditions(terms["conditions"]),
        reasons=[trace_step(steps[code]) for code in terms["reasons"] if code in steps],
        decline_reasons=[trace_step(steps[code]) for code in terms["decline_reasons"] if code in steps],
    ).SerializeToString()


# The Decision fields that come from the terms, as wire bytes: built once per terms dict (decisions
# rendered from equal compact terms share one dict, scoring_service.decision_format), so a chunk of
# decisions does not convert the same reasons and texts again for each.
_terms_part = _ByIdentity(1024, _build_terms_part)


def trace_step(step: dict[str, Any]) -> scoring_pb2.TraceStep:
    return scoring_pb2.TraceStep(
        code=step["code"],
        rate_effect_bp=step["rate_effect_bp"],
        limit_effect_pct=step["limit_effect_pct"],
        limit_effect_fen=step.get("limit_effect_fen", 0),
        inputs_json=json.dumps(step.get("inputs") or {}, ensure_ascii=False, sort_keys=True),
        text_zh=step["text_zh"],
        text_en=step["text_en"],
    )


def profile_snapshot(content: dict[str, Any]) -> registry_pb2.CarbonProfile:
    return json_format.ParseDict(
        content.get("profile") or {}, registry_pb2.CarbonProfile(), ignore_unknown_fields=True
    )


def commitment_snapshot(content: dict[str, Any]) -> registry_pb2.CommitmentProgress:
    raw = content.get("commitment_progress") or {}
    return json_format.ParseDict(raw, registry_pb2.CommitmentProgress(), ignore_unknown_fields=True)


def _conditions(raw: dict[str, Any]) -> scoring_pb2.Conditions:
    conditions = scoring_pb2.Conditions(
        covenants=[scoring_pb2.Covenant(**c) for c in raw.get("covenants", [])],
        ratchet=[scoring_pb2.RatchetStep(**r) for r in raw.get("ratchet", [])],
    )
    if raw.get("ratchet_cap_bp") is not None:
        conditions.ratchet_cap_bp = raw["ratchet_cap_bp"]
    return conditions


def _build_grade_part(raw: dict[str, Any]) -> bytes:
    return scoring_pb2.Decision(grade=_grade(raw)).SerializeToString()


# A Decision holding only the profile's grade, as wire bytes (merged into the answer: no message built
# and copied): by the profile dict's identity first (the dict is shared by the decisions priced on one
# profile while the pricer caches its parts), else by content (``_grade``).
_GRADE_CACHE_SIZE = 4096
_grade_part = _ByIdentity(_GRADE_CACHE_SIZE, _build_grade_part)


def _grade(raw: dict[str, Any]) -> common_pb2.CarbonGrade:
    """The profile's grade as a message; ParseDict once per distinct grade (a batch answers many
    decisions on one profile), kept as wire bytes (messages are mutable, bytes are not)."""
    try:
        key = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        key = b""
    wire = _GRADES.get(key) if key else None
    if wire is None:
        grade = json_format.ParseDict(raw, common_pb2.CarbonGrade(), ignore_unknown_fields=True)
        wire = grade.SerializeToString()
        if key:
            if len(_GRADES) >= _GRADE_CACHE_SIZE:
                _GRADES.clear()
            _GRADES[key] = wire
    return common_pb2.CarbonGrade.FromString(wire)


_GRADES: dict[bytes, bytes] = {}


# The Decision fields that come from the profile (grade, data quality) as wire bytes, by the profile
# dict's identity: the decisions priced on one profile share its dict (as for _grade_part).
_profile_part = _ByIdentity(_GRADE_CACHE_SIZE, _build_profile_part)
