"""The HTTP/JSON gateway by hand, against the real services (conftest.py): a lender quotes a loan over
HTTP/JSON and reads the decision back; a bad USCC is 400 with a BadRequest naming the field; no token is
401; another lender's decision is not found; streams are newline-delimited JSON.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from http_site import Site

BAD = "type.googleapis.com/google.rpc.BadRequest"
INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def _details(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [d for d in body.get("details", []) if d.get("@type") == kind]


@pytest.mark.slow
def test_a_lender_quotes_a_loan_over_http_json_and_reads_the_decision_back(http_site: Site) -> None:
    uscc = http_site.uscc
    status, consent, _ = http_site.call(
        "POST", f"/v1/enterprises/{uscc}/consents",
        {"lender": "lenders/huzhou-bank", "scopes": ["CARBON_DATA"], "reference": "http test",
         "expireTime": f"{time.gmtime().tm_year + 1}-12-31T00:00:00Z"}, token="admin",
    )  # fmt: skip
    assert status == 200, consent
    assert consent["name"].startswith(f"enterprises/{uscc}/consents/")

    quote = {"enterprise": f"enterprises/{uscc}", "product": "GENERAL", "requestedAmountFen": "300000000",
             "tenorMonths": 12, "baseRateBp": 300, "requestId": "http-quote-1"}  # fmt: skip
    status, decision, headers = http_site.call("POST", "/v1/lenders/huzhou-bank/decisions:quote", quote)
    assert status == 200, decision
    assert headers["content-type"].startswith("application/json")
    assert decision["name"].startswith("decisions/")
    assert decision["enterprise"] == f"enterprises/{uscc}"
    assert decision["lender"] == "lenders/huzhou-bank"

    # The same request id answers the same decision (idempotency passes through the gateway).
    status, again, _ = http_site.call("POST", "/v1/lenders/huzhou-bank/decisions:quote", quote)
    assert (status, again["name"]) == (200, decision["name"])

    decision_id = decision["name"].removeprefix("decisions/")
    status, read, _ = http_site.call("GET", f"/v1/decisions/{decision_id}")
    assert status == 200
    # The sequencer may integrate the decision between the quote and the read: the read then also
    # carries its log index. Everything the quote answered reads back unchanged.
    assert {k: v for k, v in read.items() if k != "logIndex"} == {
        k: v for k, v in decision.items() if k != "logIndex"
    }

    status, listed, _ = http_site.call("GET", "/v1/lenders/huzhou-bank/decisions?pageSize=50")
    assert status == 200
    assert decision["name"] in [d["name"] for d in listed["decisions"]]

    # Another lender's token: the services' authorization says no, exactly as over gRPC.
    status, refused, _ = http_site.call("GET", f"/v1/decisions/{decision_id}", token="other_lender")
    assert status in (403, 404), refused
    assert refused["code"] in (5, 7)


@pytest.mark.slow
def test_a_bad_uscc_is_400_with_a_bad_request_naming_the_field(http_site: Site) -> None:
    status, body, _ = http_site.call(
        "POST", "/v1/enterprises",
        {"enterprise": {"uscc": "91330500MA2B00000X", "displayName": "某某", "industryCode": "2825",
                        "regionCode": "330502"}, "requestId": "http-bad-uscc"},
        token="admin",
    )  # fmt: skip
    assert status == 400, body
    assert body["code"] == 3  # INVALID_ARGUMENT
    fields = [v["field"] for d in _details(body, BAD) for v in d["fieldViolations"]]
    assert "enterprise.uscc" in fields
    assert len(_details(body, INFO)) == 1

    status, body, _ = http_site.call("GET", "/v1/enterprises/NOT-A-USCC", token="admin")
    assert status == 400, body
    assert [v["field"] for d in _details(body, BAD) for v in d["fieldViolations"]] == ["name"]


@pytest.mark.slow
def test_malformed_json_and_bad_query_values_are_400_naming_the_field(http_site: Site) -> None:
    status, body, _ = http_site.call(
        "POST", "/v1/lenders/huzhou-bank/decisions:quote", {"requestedAmountFen": "lots"}
    )
    assert status == 400, body
    assert body["code"] == 3
    assert [v["field"] for d in _details(body, BAD) for v in d["fieldViolations"]] == ["requestedAmountFen"]

    status, body, _ = http_site.call("GET", "/v1/lenders/huzhou-bank/decisions?pageSize=many")
    assert status == 400, body
    assert [v["field"] for d in _details(body, BAD) for v in d["fieldViolations"]] == ["pageSize"]

    status, body, _ = http_site.call("GET", "/v1/lenders/huzhou-bank/decisions?colour=red")
    assert status == 400, body

    # A header value gRPC metadata cannot carry is not passed on, and the call still answers.
    headers = {"x-request-id": "é"}
    status, body, _ = http_site.call("GET", "/v1/lenders/huzhou-bank/decisions", headers=headers)
    assert status == 200, body


@pytest.mark.slow
def test_no_token_is_401_and_a_malformed_header_too(http_site: Site) -> None:
    status, body, headers = http_site.call("GET", f"/v1/enterprises/{http_site.uscc}", token=None)
    assert status == 401, body
    assert body["code"] == 16  # UNAUTHENTICATED
    assert headers.get("www-authenticate") == "Bearer"

    status, body, _ = http_site.call("GET", f"/v1/enterprises/{http_site.uscc}", token=None,
                                     headers={"authorization": "Basic dXNlcjpwdw=="})  # fmt: skip
    assert status == 401, body

    status, body, _ = http_site.call("GET", f"/v1/enterprises/{http_site.uscc}", token="not-a-token")
    assert status == 401, body


@pytest.mark.slow
def test_one_clients_bad_tokens_do_not_lock_out_the_other_http_callers(http_site: Site) -> None:
    """Every HTTP caller reaches the services from the gateway's address, and the services refuse an
    address after 20 failed authentications a minute: the gateway answers unknown tokens itself, so
    50 bad tokens from one client leave the next caller with a good token served. The gateway throttles
    that client itself after 20 (per client address: here clients behind a trusted proxy, the test)."""
    bad = {"x-forwarded-for": "198.51.100.7"}
    for n in range(50):
        status, body, _ = http_site.call(
            "GET", f"/v1/enterprises/{http_site.uscc}", token=f"forged-{n}", headers=bad
        )
        expected = (401, ["UNAUTHENTICATED"]) if n < 20 else (429, ["AUTH_THROTTLED"])
        assert (status, _reasons(body)) == expected
    good = {"x-forwarded-for": "198.51.100.8"}
    decisions = "/v1/lenders/huzhou-bank/decisions"
    status, body, _ = http_site.call("GET", decisions, token="lender", headers=good)
    assert status == 200, body
    # Forging the header does not get the throttled client out: the proxy's entry is the right-most.
    forged = {"x-forwarded-for": "198.51.100.9, 198.51.100.7"}
    status, body, _ = http_site.call("GET", decisions, token="lender", headers=forged)
    assert status == 429, body


def _reasons(body: Any) -> list[str]:
    return [d["reason"] for d in _details(body, INFO)]


@pytest.mark.slow
def test_unknown_paths_and_methods_answer_a_status_not_a_page(http_site: Site) -> None:
    status, body, _ = http_site.call("GET", "/v1/nowhere")
    assert (status, body["code"]) == (404, 5)
    status, body, _ = http_site.call("DELETE", f"/v1/enterprises/{http_site.uscc}")
    assert (status, body["code"]) == (405, 12), body


@pytest.mark.slow
def test_streams_over_http_ndjson(http_site: Site) -> None:
    """A server stream answers one JSON message a line; a client stream reads newline-delimited JSON."""
    request = urllib.request.Request(
        http_site.url + "/v1/portfolioReport:export?lender=lenders/huzhou-bank&format=CSV",
        headers={"authorization": f"Bearer {http_site.tokens['lender']}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    assert lines and "error" not in lines[-1]
    assert lines[0]["contentType"]

    year = time.gmtime().tm_year - 1
    record = {"uscc": http_site.uscc, "period": f"{year}-01", "category": "ELECTRICITY", "quantity": 1000,
              "unit": "kWh", "source": "GRID_UTILITY"}  # fmt: skip
    body = "\n".join(json.dumps({"records": [dict(record, externalId=f"http-ndjson-{i}")]}) for i in range(3))
    req = urllib.request.Request(http_site.url + "/v1/records:ingest", data=body.encode(), method="POST",
                                 headers={"authorization": f"Bearer {http_site.tokens['admin']}",
                                          "content-type": "application/x-ndjson"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=60) as response:
        ingested = json.loads(response.read())
    assert ingested["received"] == 3, ingested  # three messages of one row each, one stream


def test_a_followed_watch_streams_its_first_message_at_once(http_site: Site) -> None:
    """WatchProfileChanges with follow: the first line (the token to resume from) comes at once, the
    stream stays open; a poll from that token then ends with what was recorded since."""
    headers = {"authorization": f"Bearer {http_site.tokens['admin']}"}
    url = http_site.url + "/v1/profiles:watchChanges"
    request = urllib.request.Request(url + "?follow=true", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["content-type"].startswith("application/x-ndjson")
        first = json.loads(response.readline())
    token = first["resumeToken"]
    assert token and "error" not in first
    with urllib.request.urlopen(
        urllib.request.Request(f"{url}?resumeToken={token}", headers=headers), timeout=30
    ) as response:
        lines = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    assert lines and all("error" not in line for line in lines) and lines[0]["resumeToken"]
