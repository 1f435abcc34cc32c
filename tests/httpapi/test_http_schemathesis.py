"""Schemathesis drives every operation of docs/openapi.yaml against the real services behind the gateway
(conftest.py), with valid and invalid inputs (its positive and negative modes), as an admin and as a
lender: no answer is a server error, and every answer conforms to the document (status code, content
type, body schema).

The operations are driven from schemathesis' own strategies with hypothesis (its pytest plugin does not
yet run under pytest 9); every operation's failures are collected and reported together.
Heavy: about 50 operations x EXAMPLES x 2 roles over real processes (minutes on a shared machine).
"""

from __future__ import annotations

import pytest
import schemathesis
from http_site import Site
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from tanxiao.httpapi.openapi import DOCUMENT

EXAMPLES = 10
WATCH = "/v1/profiles:watchChanges"
HEALTH = list(HealthCheck)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def _drive(site: Site, role: str) -> tuple[list[str], dict[str, set[int]]]:
    """(failures, the HTTP statuses each operation answered)."""
    schema = schemathesis.openapi.from_path(DOCUMENT)
    headers = {"Authorization": f"Bearer {site.tokens[role]}"}
    failures: list[str] = []
    statuses: dict[str, set[int]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 48
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        codes = statuses.setdefault(label, set())

        # Valid requests and invalid ones (wrong types, missing or out-of-schema values) alike.
        cases = operation.as_strategy() | operation.as_strategy(GenerationMode.NEGATIVE)

        @given(case=cases)
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=HEALTH, database=None)
        def run(case: schemathesis.Case) -> None:
            if role == "lender" and "lenderId" in (case.path_parameters or {}):
                case.path_parameters["lenderId"] = "huzhou-bank"  # its own book, not only refusals
            if case.operation.path == WATCH and isinstance(case.query, dict) and "follow" in case.query:
                # A followed stream stays open until the gateway's deadline (120 s) by design, one example
                # a run: polled here as an HTTP client does; test_http_gateway follows one.
                case.query["follow"] = "false"
            case.headers = {**(case.headers or {}), **headers}  # negative mode varies input, not the token
            response = case.call(base_url=site.url, timeout=60)
            case.validate_response(response, checks=CHECKS)
            codes.add(response.status_code)  # noqa: B023 - run() is called within this iteration

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures, not only the first
            failures.append(f"{label}: {exc}")
    return failures, statuses


@pytest.mark.heavy
@pytest.mark.slow
@pytest.mark.parametrize("role", ["admin", "lender"])
def test_every_operation_answers_without_server_errors_and_as_documented(http_site: Site, role: str) -> None:
    failures, statuses = _drive(http_site, role)
    assert not failures, "\n\n".join(failures)
    answered = {operation for operation, codes in statuses.items() if any(200 <= c < 300 for c in codes)}
    seen = sorted({c for codes in statuses.values() for c in codes})
    print(f"{role}: {len(answered)} of {len(statuses)} operations answered 2xx; statuses seen {seen}")
    # Not only refusals: the role's own operations were reached and answered.
    assert len(answered) >= (15 if role == "admin" else 6), statuses
