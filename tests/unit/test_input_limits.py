"""``tanxiao.platform.input_limits.input_violations``: the field paths and messages of refusals, in
nested, repeated and single fields (the single-field check builds no path unless it refuses)."""

from __future__ import annotations

import random
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.rpc import error_details_pb2

from tanxiao.platform.input_limits import (
    MAX_DEPTH,
    MAX_STRING_CHARS,
    ROW_CHECKED_FIELDS,
    _text_problem,
    input_violations,
    maximum,
)
from tanxiao.portfolio.v1 import portfolio_pb2
from tanxiao.registry.v1 import registry_pb2
from tanxiao.scoring.v1 import decision_log_pb2, scoring_pb2


def _paths(message: object) -> list[tuple[str, str]]:
    return [(v.field, v.description) for v in input_violations(message)]


def test_a_good_request_has_no_violations() -> None:
    assert _paths(registry_pb2.GetEnterpriseRequest(name="enterprises/91330502MA2B3C4D5E")) == []


def test_single_nested_and_repeated_fields_are_named_by_their_paths() -> None:
    request = registry_pb2.CreateEnterpriseRequest(
        enterprise=registry_pb2.Enterprise(
            display_name="a\x00b",
            financials=[registry_pb2.AnnualFinancials(year=2020 + i) for i in range(3)],
        ),
        request_id="x" * (MAX_STRING_CHARS + 1),
    )
    assert _paths(request) == [
        ("enterprise.display_name", "must not contain NUL characters"),
        ("request_id", f"at most {MAX_STRING_CHARS} characters; got {MAX_STRING_CHARS + 1}"),
    ]


def test_repeated_fields_are_bounded_and_their_items_named_by_index() -> None:
    assert _paths(registry_pb2.BatchGetCarbonProfilesRequest(names=["ok", "b\x00", "c\x00"])) == [
        ("names[1]", "must not contain NUL characters")
    ]
    assert _paths(registry_pb2.BatchGetCarbonProfilesRequest(names=["n"] * 1_001)) == [
        ("names", "at most 1000 items; got 1001")
    ]
    too_many = registry_pb2.Enterprise(financials=[registry_pb2.AnnualFinancials()] * 51)
    assert _paths(too_many) == [("financials", "at most 50 items; got 51")]


def _listed_walk(message: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """The check as it was before the per-type plan: every field ``ListFields`` lists (the reference)."""
    found: list[tuple[str, str]] = []
    if depth > MAX_DEPTH or not hasattr(message, "ListFields"):
        return found
    for field, value in message.ListFields():
        if field.name in ROW_CHECKED_FIELDS:
            continue
        limit = maximum(message, field)
        if not field.is_repeated:
            problem = _text_problem(value, limit)
            if problem:
                found.append((f"{prefix}{field.name}", problem))
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                found.extend(_listed_walk(value, f"{prefix}{field.name}.", depth + 1))
            continue
        path = f"{prefix}{field.name}"
        if len(value) > limit:
            found.append((path, f"at most {limit} items; got {len(value)}"))
            continue
        for index, item in enumerate(value):
            problem = _text_problem(item, MAX_STRING_CHARS)
            if problem:
                found.append((f"{path}[{index}]", problem))
                break
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                found.extend(_listed_walk(item, f"{path}[{index}].", depth + 1))
    return found


_TEXTS = ("", "ok", "enterprises/91330502MA2B3C4D5E", "碳排放", "a\x00b", "\x00", "x" * MAX_STRING_CHARS,
          "y" * (MAX_STRING_CHARS + 1), "z" * 9_000)  # fmt: skip


def _filled(message: Any, rnd: random.Random, depth: int = 0) -> Any:
    """``message`` with a random choice of its fields set: texts from _TEXTS (NUL, at and over the
    maximum, two that are long only together), repeated fields and maps up to past their maxima,
    nested messages."""
    for field in message.DESCRIPTOR.fields:
        if rnd.random() < 0.3:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entries = getattr(message, field.name)
            for _ in range(rnd.choice((0, 1, 3))):
                key = rnd.choice(_TEXTS[:6])
                if field.message_type.fields_by_name["value"].type == FieldDescriptor.TYPE_STRING:
                    entries[key] = rnd.choice(_TEXTS)
            continue
        if field.is_repeated:
            count = rnd.choice((0, 1, 3, maximum(message, field) + 1))
            items = getattr(message, field.name)
            for _ in range(count if count < 50 or depth == 0 else 0):
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    _filled(items.add(), rnd, depth + 1) if depth < 2 else items.add()
                else:
                    items.append(_value(field, rnd))
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth < 2:
                _filled(getattr(message, field.name), rnd, depth + 1)
            continue
        setattr(message, field.name, _value(field, rnd))
    return message


def _value(field: Any, rnd: random.Random) -> Any:
    if field.type == FieldDescriptor.TYPE_STRING:
        return rnd.choice(_TEXTS)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return rnd.choice((b"", b"\x00\x01", b"b" * (MAX_STRING_CHARS + 1)))
    if field.type == FieldDescriptor.TYPE_ENUM:
        return rnd.choice(field.enum_type.values).number
    if field.type == FieldDescriptor.TYPE_BOOL:
        return rnd.random() < 0.5
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return rnd.choice((0.0, 1.5))
    return rnd.choice((0, 1, 7))


def test_the_planned_check_finds_what_every_listed_field_finds() -> None:
    """Each type's fields are planned once (numbers never looked at, text read in one call); the
    violations, their paths and their order are those of a walk over every listed field. Flat requests
    of strings (QuoteLoanTermsRequest), strings and bytes, nested and repeated messages, repeated
    enums with a maximum of their own, maps."""
    kinds = [
        scoring_pb2.QuoteLoanTermsRequest,
        registry_pb2.CreateEnterpriseRequest,
        registry_pb2.BatchGetCarbonProfilesRequest,
        registry_pb2.GetEnterpriseRequest,
        portfolio_pb2.GetPortfolioReportRequest,
        portfolio_pb2.ExportChunk,
        decision_log_pb2.SignedTreeHead,
        error_details_pb2.ErrorInfo,
    ]
    rnd = random.Random(14)
    refused = 0
    for _ in range(300):
        for kind in kinds:
            message = _filled(kind(), rnd)
            expected = _listed_walk(message)
            assert [(v.field, v.description) for v in input_violations(message)] == expected
            refused += bool(expected)
    assert 300 < refused < 300 * len(kinds)  # both kinds of answer, many times
