"""The decision's stored request JSON: pricing's direct conversion equals the generic to_json."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from loan_cases import requests

import loan_rules as lr
from scoring_service.inputs import loan_request_from_json, to_json
from scoring_service.pricing import _request_json


@settings(max_examples=200, deadline=None)
@given(requests)
def test_request_json_is_to_json(request: lr.LoanRequest) -> None:
    fast = _request_json(request)
    assert fast == to_json(request)
    assert orjson.dumps(fast) == orjson.dumps(to_json(request))  # same keys in the same order, same types
    assert loan_request_from_json(orjson.loads(orjson.dumps(fast))) == request
