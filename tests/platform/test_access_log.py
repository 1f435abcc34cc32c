"""The access audit log file: owner-only, append-only, one day a file, retention by the name's date."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tanxiao.platform.access_log import AccessLog, resource_of
from tanxiao.scoring.v1 import scoring_pb2


def test_entries_are_appended_owner_only(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    first = AccessLog(directory, server="scoring")
    first.record(method="/m/A", outcome="allowed")
    first.close()
    second = AccessLog(directory, server="scoring")  # a restart appends, never truncates
    second.record(method="/m/B", outcome="refused")
    second.close()
    (path,) = directory.iterdir()
    assert path.name == f"access-{datetime.now(UTC).date().isoformat()}.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(directory.stat().st_mode) == 0o700
    entries = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert [(e["method"], e["outcome"], e["server"]) for e in entries] == [
        ("/m/A", "allowed", "scoring"),
        ("/m/B", "refused", "scoring"),
    ]


def test_retention_deletes_only_older_day_files(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    tmp_path.mkdir(exist_ok=True)
    old = tmp_path / f"access-{(today - timedelta(days=31)).isoformat()}.jsonl"
    kept = tmp_path / f"access-{(today - timedelta(days=30)).isoformat()}.jsonl"
    foreign = tmp_path / "access-notes.jsonl"
    for path in (old, kept, foreign):
        path.write_text("{}\n")
    log = AccessLog(tmp_path, retention_days=30)
    log.record(method="/m/A")
    log.close()
    assert not old.exists() and kept.exists() and foreign.exists()


def test_the_resource_is_the_first_named_field_cut_short() -> None:
    assert resource_of(scoring_pb2.GetDecisionRequest(name="decisions/abc")) == "decisions/abc"
    quote = scoring_pb2.QuoteLoanTermsRequest(lender="lenders/a", enterprise="enterprises/X")
    assert resource_of(quote) == "enterprises/X"
    assert resource_of(scoring_pb2.GetDecisionRequest(name="d" * 500)).endswith("…")
