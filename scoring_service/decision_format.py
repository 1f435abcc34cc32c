"""The decision entry's formats, and the full terms of a compact decision rendered on read.

Format 1 (every decision stored before issue 14's compact format, and the only one with no
``decision_format`` key): ``terms`` is ``Terms.to_dict()``, the whole trace with its zh/en texts.

Format 2 (``"decision_format": 2``): ``terms`` holds the compact terms of ``loan_rules.compact`` (the
summary: eligibility, decline and review codes, limit, rates, policy; and ``outcome``, the numbers the
trace is written from), without ``trace``, ``reasons`` and ``conditions``. The rules' inputs are in
``inputs`` as in format 1 and the policy is stored under its hash, so the full terms are rendered on
read by evaluate's own trace writer, deterministically: exactly the terms a format-1 decision stores
for the same inputs (property test in tests/unit/policy_rules/test_loan_compact.py). The log's leaf is
the compact content, so the log commits to the inputs, the policy hash and every number of the
outcome; entries of either format verify the same way (``tanxiao audit verify``, inclusion proofs).
"""

from __future__ import annotations

from typing import Any

from loan_rules import Policy
from loan_rules.compact import Renderer, Row
from scoring_service.inputs import commitment_input_from_json, loan_request_from_json, profile_input_from_json

FORMAT_KEY = "decision_format"
COMPACT = 2


def is_compact(content: dict[str, Any]) -> bool:
    return content.get(FORMAT_KEY) == COMPACT


def rules_row(content: dict[str, Any]) -> Row:
    """The rules' inputs a decision was priced on, from its content."""
    inputs = content["inputs"]
    return (
        profile_input_from_json(inputs["profile"]),
        commitment_input_from_json(inputs.get("commitment")),
        loan_request_from_json(inputs["request"]),
    )


def expanded(content: dict[str, Any], policy: Policy, renderer: Renderer) -> dict[str, Any]:
    """A compact decision's content with its full terms (as format 1 stores them) under ``terms``
    (the stored summary values; the trace, reasons and conditions rendered). Other formats as they
    are."""
    if not is_compact(content):
        return content
    if policy.content_hash != content["terms"]["policy_hash"]:
        raise ValueError(
            f"policy {policy.content_hash} is not the decision's {content['terms']['policy_hash']}"
        )
    _, full = renderer.render(rules_row(content), policy, content["terms"])
    return {**content, "terms": full}
