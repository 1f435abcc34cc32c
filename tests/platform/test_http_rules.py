"""The contract's HTTP bindings: every RPC has a google.api.http rule, no two rules claim the same method
and path, every rule's variables name request fields, and docs/openapi.yaml is what the rules generate
today (regenerate with `make protos` or `make openapi`)."""

from __future__ import annotations

import pytest
import yaml

from tanxiao.httpapi.openapi import DOCUMENT, openapi_path, render
from tanxiao.httpapi.rules import RuleError, bindings, contract_files, parse_template, unbound_methods


def test_every_rpc_of_every_service_has_an_http_rule() -> None:
    methods = [m for f in contract_files() for s in f.services_by_name.values() for m in s.methods]
    assert len(methods) >= 48
    assert unbound_methods() == []
    assert {b.method.full_name for b in bindings()} == {m.full_name for m in methods}


def test_no_two_rules_claim_the_same_method_and_path() -> None:
    claimed = [(b.http_method, openapi_path(b)) for b in bindings()]
    assert len(claimed) == len(set(claimed))


def test_reads_are_get_and_everything_else_posts_a_body() -> None:
    for binding in bindings():
        name = binding.method.name
        if binding.http_method == "GET":
            assert binding.body == "", name
            assert not binding.client_streaming, name
        else:
            assert binding.body == "*", name
        if name.startswith(("Get", "List", "BatchGet")):
            assert binding.http_method == "GET", name


def test_templates_parse_into_variables_and_verbs() -> None:
    template = parse_template("/v1/{name=enterprises/*/commitments/*}:progress")
    assert template.verb == "progress"
    assert template.variables == {"name": ("enterprises", None, "commitments", None)}
    assert [s.literal for s in template.segments] == ["v1", "enterprises", None, "commitments", None]
    with pytest.raises(RuleError):
        parse_template("/v1/{name=**}")
    with pytest.raises(RuleError):
        parse_template("v1/enterprises")


def test_the_checked_in_openapi_document_is_current() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == render(), "docs/openapi.yaml is stale: run `make openapi`"
    document = yaml.safe_load(render())
    assert document["openapi"].startswith("3.")
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert len(operations) == len(bindings())
    assert document["paths"]["/v1/enterprises/{enterpriseId}"]["get"]["operationId"] == (
        "CarbonRegistry_GetEnterprise"
    )
