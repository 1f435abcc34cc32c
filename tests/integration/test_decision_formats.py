"""Decisions of both entry formats in one log (SQLite and PostgreSQL): a format-1 decision (full
terms, as stored before issue 14) reads back exactly as stored, a compact one (decision_format 2)
reads back with the full terms evaluate gives; both verify (audit, inclusion proofs, a saved head)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from importlib import resources

import pytest
import sqlalchemy as sa

import loan_rules as lr
from loan_rules.compact import evaluate_compact
from scoring_service.audit import SavedHead, verify_log
from scoring_service.log_proofs import export_head
from scoring_service.sequencer import Sequencer
from scoring_service.storage.decisions import DecisionStore
from scoring_service.storage.log import LogStore, canonical_json
from tanxiao.platform.db import make_engine
from tanxiao.translog import SigningKey, entry_leaf, generate_private_key_pem, leaf_hash, verify_inclusion

USCC = "91330500MA2B3C4D5E"
PROFILE = lr.CarbonProfileInput(
    uscc=USCC, period="2025", grade=2, level=lr.CarbonLevel.LOW_CARBON, carbon_intensity=0.8,
    carbon_efficiency=0.9, benchmark_intensity=1.0, trend_direction=lr.TrendDirection.IMPROVING,
    trend_confidence=0.9, data_quality_score=2.0,
)  # fmt: skip
REQUEST = lr.LoanRequest(
    product=lr.Product.GENERAL, requested_amount_fen=500_000_000, tenor_months=36, lpr_bp=310.0,
    lpr_date="2026-10-20", bank_limit_fen=800_000_000,
)  # fmt: skip


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _inputs() -> dict[str, object]:
    from scoring_service.inputs import to_json

    return {"profile": to_json(PROFILE), "commitment": None, "request": to_json(REQUEST)}


def test_both_formats_read_verify_and_prove(engine: sa.Engine) -> None:
    text = resources.files("loan_rules").joinpath("policies", lr.policy.DEFAULT_POLICY).read_text("utf-8")
    policy = lr.parse_policy(text)
    full = lr.evaluate(PROFILE, None, REQUEST, policy).to_dict()
    (compact,) = evaluate_compact([(PROFILE, None, REQUEST)], policy)
    store = DecisionStore(engine)

    def append(request_id: str, content: dict[str, object]):  # type: ignore[no-untyped-def]
        return store.append(
            lender="lenders/a", request_id=request_id, uscc=USCC, product="GENERAL",
            request_fingerprint=hashlib.sha256(request_id.encode()).hexdigest(), content=content,
            policy_text=text, policy_hash=policy.content_hash, policy_version=policy.version,
        )[0]  # fmt: skip

    old = append("r-1", {"inputs": _inputs(), "terms": full})  # format 1: no decision_format key
    new = append("r-2", {"inputs": _inputs(), "terms": json.loads(json.dumps(compact)), "decision_format": 2})
    key = SigningKey.from_pem(generate_private_key_pem())
    Sequencer(engine, key).integrate()

    read_old, read_new = store.get(old.id), store.get(new.id)
    assert read_old.content["terms"] == full and "decision_format" not in read_old.content
    assert read_new.content["terms"] == full  # rendered on read: the trace evaluate gives, texts too
    assert read_new.content["decision_format"] == 2

    log = LogStore(engine)
    stored_new = log.entry(new.id)
    hashed = json.loads(stored_new.content)
    assert "trace" not in hashed["terms"] and hashed["terms"]["outcome"] == compact["outcome"]
    assert len(stored_new.content) * 2 < len(log.entry(old.id).content)  # the compact entry is small
    assert stored_new.content == canonical_json(hashed)
    head = log.latest_head()
    for decision in (old, new):
        found = log.inclusion(decision.id)
        assert leaf_hash(entry_leaf("decision", found.entry.content)).hex() == decision.leaf_hash
        verify_inclusion(
            found.entry.index or 0, head.tree_size, bytes.fromhex(decision.leaf_hash), found.proof,
            head.root_hash,
        )  # fmt: skip
    against = SavedHead.from_json(json.loads(export_head(engine.url.render_as_string(False))))
    report = verify_log(engine, against=against)
    assert report.ok, report
