"""Bounds on every string and repeated field of every request, checked before a handler runs.

A 16 MiB string fits in one gRPC message, and ``group_by`` with 10,000 repeats took 14.7 s to answer;
so before any work the interceptor walks the request and refuses (INVALID_ARGUMENT naming the field)
a string longer than its maximum, a repeated field with more items than its maximum, and any NUL
character (PostgreSQL text cannot store one, and no identifier or name has a reason to contain one).

Maxima: ``MAX_STRING_CHARS`` and ``MAX_REPEATED`` unless ``FIELD_MAXIMA`` names the field
(``message full name.field``). Ingested ``records`` are judged row by row by the ingest pipeline (a bad
row is reported, the good ones stored) and bounded by TANXIAO_MAX_BATCH_RECORDS/MAX_STREAM_RECORDS, so
they are skipped here. docs/security.md lists these numbers.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from tanxiao.errors import FieldViolation

MAX_STRING_CHARS = 16_384
MAX_REPEATED = 1_000
MAX_DEPTH = 8

FIELD_MAXIMA: dict[str, int] = {
    "tanxiao.scoring.v1.SimulatePolicyRequest.policy_yaml": 256 * 1024,  # = loan_rules.safe_yaml.MAX_CHARS
    # A Dimension repeated is the same grouping: the enum has 8 values.
    "tanxiao.portfolio.v1.GetPortfolioReportRequest.group_by": 8,
    "tanxiao.portfolio.v1.GetRegulatoryReportRequest.group_by": 8,
    "tanxiao.portfolio.v1.ExportPortfolioReportRequest.group_by": 8,
    # The dashboard's DashboardDimension has 2 values (the handler refuses repeats).
    "tanxiao.registry.v1.GetGradeDistributionRequest.group_by": 2,
    "tanxiao.registry.v1.Enterprise.financials": 50,
    "tanxiao.registry.v1.Commitment.milestones": 100,
    "tanxiao.registry.v1.BatchGetCarbonProfilesRequest.names": 1_000,
}
ROW_CHECKED_FIELDS = frozenset({"records"})


def maximum(message: Any, field: Any) -> int:
    found = _MAXIMA.get(field)  # by field descriptor: the name is built once per field, not per call
    if found is None:
        default = MAX_REPEATED if field.is_repeated else MAX_STRING_CHARS
        found = _MAXIMA[field] = FIELD_MAXIMA.get(f"{message.DESCRIPTOR.full_name}.{field.name}", default)
    return found


_MAXIMA: dict[Any, int] = {}


def input_violations(message: Any, prefix: str = "", depth: int = 0) -> list[FieldViolation]:
    """Overlong strings and repeated fields, and NUL characters, as violations with paths like
    ``enterprise.financials[3]``. Stops at the first violation of each field.

    A message type's fields are planned once (``_plan``): only its string, bytes, message and repeated
    fields can be refused, so those are read by name and the rest (numbers, enums, booleans) never
    looked at. ``ListFields`` built a descriptor and value pair for every set field of every call
    (~40k instructions for a QuoteLoanTermsRequest, docs/benchmarks.md); the plan finds the same
    violations in the same (field number) order."""
    found: list[FieldViolation] = []
    if depth > MAX_DEPTH or not hasattr(message, "ListFields"):
        return found
    texts = _TEXTS.get(type(message))
    if texts is not None:  # only text fields (most requests): their values read in one call
        getter, limits, within = texts
        values = getter(message)
        if within:  # strings only: together no longer than the least maximum, and no NUL in any
            joined = "".join(values)
            if len(joined) <= within and "\x00" not in joined:
                return found
        for value, (name, limit) in zip(values, limits, strict=True):
            if value and (len(value) > limit or (type(value) is str and "\x00" in value)):
                found.append(FieldViolation(f"{prefix}{name}", _text_problem(value, limit)))
        return found
    plan = _PLANS.get(type(message))
    if plan is None:
        plan = _plan(message)
    if plan is _LISTED:
        for field, value in message.ListFields():
            if field.name not in ROW_CHECKED_FIELDS:
                kind = _REPEATED if field.is_repeated else _MESSAGE if field.type == _TYPE_MESSAGE else _TEXT
                _check(found, prefix, field.name, value, maximum(message, field), kind, field, depth)
        return found
    for name, limit, kind, field in plan:
        if kind is _MESSAGE:
            if message.HasField(name):  # set: ListFields would list it
                found.extend(input_violations(getattr(message, name), f"{prefix}{name}.", depth + 1))
            continue
        value = getattr(message, name)
        if value:  # an empty string or repeated field is never refused (nor listed when unset)
            _check(found, prefix, name, value, limit, kind, field, depth)
    return found


# What a planned field is: text (string or bytes), a single message, or repeated (of anything).
_TEXT, _MESSAGE, _REPEATED = "text", "message", "repeated"
# No plan (no descriptor, or extensions): the fields ListFields lists. Compared by identity.
_LISTED: tuple[tuple[str, int, str, Any], ...] = (("", 0, "listed", None),)
_PLANS: dict[type, tuple[tuple[str, int, str, Any], ...]] = {}
# A type whose checked fields are all text: a getter of their values, their (name, maximum)s and,
# when all are strings, their least maximum (0: some are bytes).
_TEXTS: dict[type, tuple[Callable[[Any], tuple[Any, ...]], tuple[tuple[str, int], ...], int]] = {}


def _plan(message: Any) -> tuple[tuple[str, int, str, Any], ...]:
    """The fields of ``message``'s type that a check can refuse, in field number order (ListFields'
    order): (name, maximum, kind, descriptor)."""
    descriptor = getattr(message, "DESCRIPTOR", None)
    if descriptor is None or getattr(descriptor, "extension_ranges", None):
        plan = _LISTED  # extensions are listed but are not the type's fields
    else:
        plan = tuple(
            (field.name, maximum(message, field), kind, field)
            for field in sorted(descriptor.fields, key=lambda f: f.number)
            if field.name not in ROW_CHECKED_FIELDS and (kind := _kind(field))
        )
    if plan is not _LISTED and all(kind is _TEXT for _, _, kind, _ in plan):
        names = [name for name, _, _, _ in plan]
        getter = operator.attrgetter(*names) if len(names) > 1 else _one_tuple(*names)
        strings = all(field.type == _TYPE_STRING for _, _, _, field in plan)
        within = min((limit for _, limit, _, _ in plan), default=0) if strings else 0
        _TEXTS[type(message)] = (getter, tuple((name, limit) for name, limit, _, _ in plan), within)
    _PLANS[type(message)] = plan
    return plan


def _one_tuple(*names: str) -> Callable[[Any], tuple[Any, ...]]:
    """A getter of no field or of one, as a tuple (``attrgetter`` of one name gives the value)."""
    return lambda message: tuple(getattr(message, name) for name in names)


def _kind(field: Any) -> str:
    """The field's kind for the check, "" for one it can never refuse (numbers, enums, booleans)."""
    if field.is_repeated:
        return _REPEATED
    if field.type == _TYPE_MESSAGE:
        return _MESSAGE
    return _TEXT if field.type in (_TYPE_STRING, _TYPE_BYTES) else ""


def _check(
    found: list[FieldViolation],
    prefix: str,
    name: str,
    value: Any,
    limit: int,
    kind: str,
    field: Any,
    depth: int,
) -> None:
    """One set field's violations into ``found``."""
    if kind is not _REPEATED:  # most fields of most requests: no path text unless refused
        problem = _text_problem(value, limit)
        if problem:
            found.append(FieldViolation(f"{prefix}{name}", problem))
        elif kind is _MESSAGE:
            found.extend(input_violations(value, f"{prefix}{name}.", depth + 1))
        return
    path = f"{prefix}{name}"
    if len(value) > limit:
        found.append(FieldViolation(path, f"at most {limit} items; got {len(value)}"))
        return
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        problem = _text_problem(item, MAX_STRING_CHARS)
        if problem:
            found.append(FieldViolation(item_path, problem))
            break
        if field.type == _TYPE_MESSAGE:
            found.extend(input_violations(item, item_path + ".", depth + 1))


_TYPE_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_TYPE_STRING, _TYPE_BYTES = FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES


def _text_problem(item: object, limit: int) -> str:
    if isinstance(item, str):
        if len(item) > limit:
            return f"at most {limit} characters; got {len(item)}"
        if "\x00" in item:
            return "must not contain NUL characters"
    elif isinstance(item, bytes) and len(item) > limit:
        return f"at most {limit} bytes; got {len(item)}"
    return ""
