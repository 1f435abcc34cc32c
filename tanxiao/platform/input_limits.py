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
    ``enterprise.financials[3]``. Stops at the first violation of each field."""
    found: list[FieldViolation] = []
    if depth > MAX_DEPTH or not hasattr(message, "ListFields"):
        return found
    for field, value in message.ListFields():
        name = field.name
        if name in ROW_CHECKED_FIELDS:
            continue
        limit = _MAXIMA.get(field)
        if limit is None:
            limit = maximum(message, field)
        if not field.is_repeated:  # most fields of most requests: no path text unless refused
            problem = _text_problem(value, limit)
            if problem:
                found.append(FieldViolation(f"{prefix}{name}", problem))
            elif field.type == _TYPE_MESSAGE:
                found.extend(input_violations(value, f"{prefix}{name}.", depth + 1))
            continue
        path = f"{prefix}{name}"
        if len(value) > limit:
            found.append(FieldViolation(path, f"at most {limit} items; got {len(value)}"))
            continue
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            problem = _text_problem(item, MAX_STRING_CHARS)
            if problem:
                found.append(FieldViolation(item_path, problem))
                break
            if field.type == _TYPE_MESSAGE:
                found.extend(input_violations(item, item_path + ".", depth + 1))
    return found


_TYPE_MESSAGE = FieldDescriptor.TYPE_MESSAGE


def _text_problem(item: object, limit: int) -> str:
    if isinstance(item, str):
        if len(item) > limit:
            return f"at most {limit} characters; got {len(item)}"
        if "\x00" in item:
            return "must not contain NUL characters"
    elif isinstance(item, bytes) and len(item) > limit:
        return f"at most {limit} bytes; got {len(item)}"
    return ""
