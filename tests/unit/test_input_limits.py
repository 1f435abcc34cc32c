"""``tanxiao.platform.input_limits.input_violations``: the field paths and messages of refusals, in
nested, repeated and single fields (the single-field check builds no path unless it refuses)."""

from __future__ import annotations

from tanxiao.platform.input_limits import MAX_STRING_CHARS, input_violations
from tanxiao.registry.v1 import registry_pb2


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
