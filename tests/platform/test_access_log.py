"""The access audit log file: owner-only, append-only, one day a file, retention by the name's date."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tanxiao.platform.access_log import AccessLog, CallEntry, _line, call_entry, call_line, resource_of
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


def test_a_calls_entry_is_the_line_of_its_fields_in_order(tmp_path: Path) -> None:
    """The writer makes a call's queued tuple the line in one step; it is the line of ``call_entry``'s
    fields after the time (``datetime.isoformat``, microseconds rounded) and the server, caller and
    concealed denial included, on whole seconds and fractions that round into the next second too."""
    log = AccessLog(tmp_path, server="registry")
    caller = {"token_id": "tok", "role": "lender", "tenant": "lenders/a"}
    calls: list[tuple[float, CallEntry]] = [
        (
            1_800_000_000.25,
            ("rpc.ok", "/s/M", "decisions/1", "OK", "", "r1", "ipv4:1.2.3.4:5", {}, "allowed", ""),
        ),
        (
            1_800_000_000.0,
            ("rpc.rejected", "/s/M", "", "NOT_FOUND", "GONE", "r2", "p", caller, "refused", ""),
        ),
        (1_800_000_001.000_000_4, ("rpc.ok", "/s/N", "x", "OK", "", "r3", "p", caller, "allowed", "DENIED")),
        (1_800_000_001.999_999_7, ("rpc.not_sent", "/s/N", "", "CANCELLED", "", "r4", "p", {}, "x", "")),
        (1_800_000_002.000_123, ("rpc.ok", "/s/N", "名字", "OK", "", 'r"5', "p", {}, "allowed", "")),
    ]
    for stamp, call in calls:
        log.record_call(stamp, call)
    log.close()
    (path,) = tmp_path.iterdir()
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    expected = [
        {"time": datetime.fromtimestamp(stamp, UTC).isoformat(), "server": "registry", **call_entry(call)}
        for stamp, call in calls
    ]
    assert [list(line.items()) for line in lines] == [list(entry.items()) for entry in expected]
    assert lines[2]["denied_as_not_found"] == "DENIED" and lines[3]["time"] == "2027-01-15T08:00:02+00:00"


def test_a_calls_line_from_its_kinds_parts_is_the_line_rendered_whole(tmp_path: Path) -> None:
    """The writer renders a kind of call's line once and fills in the time, resource and request id
    (``AccessLog._kind``): byte for byte the line ``call_line`` gives rendered whole, for every kind
    (caller fields, denials, concealed, non-ASCII, quotes and control characters, a caller field of the
    same name as a varying one, text like the stand-ins), seen first and seen again, across a second."""
    caller = {"token_id": "tok", "role": "lender", "tenant": "lenders/名"}
    odd_caller = {"token_id": "t", "role": "r", "tenant": "", "resource": "theirs", "x": 'q"\\'}
    kinds: list[CallEntry] = [
        ("rpc.ok", "/s/M", "", "OK", "", "", "ipv4:1.2.3.4:5", {}, "allowed", ""),
        ("rpc.ok", "/s/M", "", "OK", "", "", "ipv6:[::1]:5", caller, "allowed", ""),
        ("rpc.rejected", "/s/M", "", "NOT_FOUND", "GONE", "", "p", caller, "refused", "DENIED"),
        ("rpc.rejected", "/s/N", "", "PERMISSION_DENIED", "TENANT", "", "p", caller, "refused", ""),
        ("rpc.not_sent", "/s/N", "", "CANCELLED", "CALLER_GONE", "", "p", {}, "rpc.not_sent", ""),
        ("rpc.internal_error", "/s/N", "", "INTERNAL", "INTERNAL", "", "p\x01time", {}, "x", ""),
        ("rpc.ok", "/s/名", "", "OK", "", "", 'p"\n\x7f', odd_caller, "allowed", "\x01request_id"),
        # a caller field that is no text (none today): no key holds it, its line is rendered whole
        ("rpc.ok", "/s/M", "", "OK", "", "", "p", {"scopes": ["a", "b"]}, "allowed", ""),
    ]
    resources = ["", "enterprises/91350200", '名字/"q"', "a\\b\x00\x1f", "\x01resource", "x" * 201]
    request_ids = ["0123456789abcdef0123456789abcdef", 'r"5', "", "名", "\x01time"]
    calls: list[tuple[float, CallEntry]] = []
    stamp = 1_800_000_000.999_9
    for round_ in range(2):
        for i, kind in enumerate(kinds):
            for j, resource in enumerate(resources):
                stamp += 0.000_013 * (i + j + round_)
                request_id = request_ids[(i + j) % len(request_ids)]
                event, method, _, code, reason, _, peer, who, outcome, concealed = kind
                calls.append(
                    (
                        stamp,
                        (event, method, resource, code, reason, request_id, peer, who, outcome, concealed),
                    )
                )
    calls.append((1_800_000_002.0, kinds[0]))
    log = AccessLog(tmp_path, server="scoring")
    for start in range(0, len(calls), 37):
        log._append(list(calls[start : start + 37]))
    log.close()
    (path,) = tmp_path.iterdir()
    expected = b"".join(
        _line(call_line(datetime.fromtimestamp(stamp, UTC).isoformat(), "scoring", call))
        for stamp, call in calls
    )
    assert path.read_bytes() == expected
    assert any(parts is None for parts in log._kinds.values())  # the odd kinds were rendered whole
    assert sum(parts is not None for parts in log._kinds.values()) >= 4
