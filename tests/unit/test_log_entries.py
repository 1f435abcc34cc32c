"""A log entry's leaf hash, worked out from the canonical bytes with a per-kind prefix, is the RFC 9162
leaf hash of its definition (tanxiao.translog: SHA-256(0x00 || kind || "\\n" || content))."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring_service.storage.log import EntryKind, LogEntry, canonical_json, iso_time
from tanxiao.translog import entry_leaf, leaf_hash

contents = st.dictionaries(
    st.text(max_size=10),
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(), st.sampled_from(["湖州", "碳 ✓", "🌏"])),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(EntryKind)), contents)
def test_leaf_hash_is_the_definition(kind: EntryKind, content: dict[str, Any]) -> None:
    content.pop("id", None)
    content.pop("create_time", None)
    now = datetime(2026, 12, 1, 1, 2, 3, 456789, tzinfo=UTC)
    entry = LogEntry.build(kind, content, entry_id="ab" * 16, now=now)
    full = {**content, "id": "ab" * 16, "create_time": iso_time(now)}
    assert entry.content == canonical_json(full)
    assert entry.leaf_hash == leaf_hash(entry_leaf(kind.value, canonical_json(full))).hex()
    sealed = LogEntry.sealed(kind, full, "ab" * 16, now)
    assert sealed == entry


def test_build_refuses_another_id_or_time() -> None:
    with pytest.raises(ValueError):
        LogEntry.build(EntryKind.DECISION, {"id": "other"})
    with pytest.raises(ValueError):
        LogEntry.build(EntryKind.DECISION, {"create_time": "2020-01-01T00:00:00.000000+00:00"})


def test_sealed_and_fresh_make_what_the_constructors_make() -> None:
    """``StoredDecision.fresh`` fills the frozen instance's ``__dict__`` directly (a batch makes one a
    decision): the result is the constructor's, field for field, and stays frozen; ``LogEntry.sealed``
    is ``LogEntry.build``'s entry."""
    from scoring_service.storage.decisions import StoredDecision

    now = datetime(2026, 12, 2, 1, 2, 3, 456789, tzinfo=UTC)
    full = {"a": "湖州", "id": "cd" * 16, "create_time": iso_time(now)}
    sealed = LogEntry.sealed(EntryKind.DECISION, full, "cd" * 16, now)
    made = LogEntry("cd" * 16, EntryKind.DECISION, canonical_json(full), sealed.leaf_hash, now)
    assert sealed == made and hash(sealed) == hash(made) and vars(sealed) == vars(made)
    args = ("ef" * 16, "lenders/x", "r1", "U", "P", "f" * 64, {"terms": {}}, sealed.leaf_hash, now)
    fresh = StoredDecision.fresh(*args)
    built = StoredDecision(*args)
    assert fresh == built and vars(fresh) == vars(built) and fresh.log_index is None
    assert not hasattr(StoredDecision, "__post_init__")
    with pytest.raises(AttributeError):
        fresh.id = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        sealed.content = "{}"  # type: ignore[misc]
