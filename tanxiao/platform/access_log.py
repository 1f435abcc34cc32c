"""The access audit log: who read or changed which resource, allowed or not.

Separate from the debug log (stderr, structlog): one JSON object a line in
``{TANXIAO_ACCESS_LOG_DIR}/access-YYYY-MM-DD.jsonl`` (UTC day of the call's end), files created
owner-only (0600) and only ever opened for appending (O_APPEND: whole lines per ``write``, so lines
never interleave). Files older than ``TANXIAO_ACCESS_LOG_RETENTION_DAYS`` are deleted when a new day's
file is opened; nothing else removes or rewrites a line.

A call only queues its entry (the time is taken then); a writer thread (``tanxiao.platform.line_writer``)
renders the lines and appends them in batches, in order, dropping none: a stopping server closes the
log, which writes every queued line first, and the interpreter's exit flushes it. A call's entry
comes here straight from the call (``record_call``, under ``configure_logging``'s JSON set-up by
``tanxiao.platform.logging.emit_call``), whether or not the call has a log line, so the entries keep
the order the calls ended in and never wait on the log's writer. A process killed outright (SIGKILL,
a crash) loses what was queued in its last moments, as a buffered file would.

Every call of a tanxiao service is logged once it ends, including refusals: unauthenticated,
throttled, denied (with the denial's reason, even when the caller was told "not found"), invalid.
Health checking and reflection are not. An entry names the resource from the request (``name``,
``parent``, ``enterprise``, ``lender``... the first that is set, cut to 200 characters), never a
secret or a field's bulk.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from tanxiao.platform.line_writer import LineWriter
from tanxiao.platform.logging import DIGITS3

RESOURCE_FIELDS = ("name", "parent", "enterprise", "lender", "names", "decision", "loan_id")
MAX_RESOURCE_CHARS = 200
PREFIX, SUFFIX = "access-", ".jsonl"


def resource_of(request: Any) -> str:
    """The resource a request names: the first set field of RESOURCE_FIELDS (a repeated one joined)."""
    for name in _resource_fields(type(request)):
        text = _text_of(getattr(request, name, None))
        if text:
            return text if len(text) <= MAX_RESOURCE_CHARS else text[:MAX_RESOURCE_CHARS] + "…"
    return ""


_FIELDS_BY_TYPE: dict[type, tuple[str, ...]] = {}


def _resource_fields(kind: type) -> tuple[str, ...]:
    """Which of RESOURCE_FIELDS a request type can have (a message: its fields; raw bytes: none; other
    objects: all of them, looked up on the instance), in order; found once per type, not per call."""
    found = _FIELDS_BY_TYPE.get(kind)
    if found is None:
        descriptor = getattr(kind, "DESCRIPTOR", None)
        fields = getattr(descriptor, "fields_by_name", None)
        if fields is not None:
            found = tuple(n for n in RESOURCE_FIELDS if n in fields)
        else:
            found = () if kind in (bytes, str) else RESOURCE_FIELDS
        _FIELDS_BY_TYPE[kind] = found
    return found


def _text_of(value: Any) -> str:
    """A resource field as text: a string, a repeated string field joined, or a message's own
    ``name``/``uscc`` (CreateEnterpriseRequest.enterprise is a message); anything else is no resource."""
    if isinstance(value, str):
        return value
    if hasattr(value, "DESCRIPTOR"):
        return str(getattr(value, "name", "") or getattr(value, "uscc", "") or "")
    if isinstance(value, list | tuple) or type(value).__name__.startswith("Repeated"):
        return ",".join(str(v) for v in list(value)[:20] if isinstance(v, str))
    return ""


# One call's entry as queued: event, method, resource, code, reason, request_id, peer, the caller's
# fields (token_id, role, tenant; empty without authentication), outcome, and the real denial reason
# behind an answer of NOT_FOUND ("" when none).
CallEntry = tuple[str, str, str, str, str, str, str, dict[str, str], str, str]


def call_entry(call: CallEntry) -> dict[str, Any]:
    """The entry of one call, its fields in this order."""
    entry = call_line("", "", call)
    del entry["time"], entry["server"]
    return entry


def call_line(moment: str, server: str, call: CallEntry) -> dict[str, Any]:
    """A call's access-log line: its time and server, then its entry's fields (``call_entry``), made in
    one dict display (the writer thread makes one for every call the server answers)."""
    event, method, resource, code, reason, request_id, peer, caller, outcome, concealed = call
    line = {
        "time": moment,
        "server": server,
        "event": event,
        "method": method,
        "resource": resource,
        "code": code,
        "reason": reason,
        "request_id": request_id,
        "peer": peer,
    }
    if caller:
        line.update(caller)
    line["outcome"] = outcome
    if concealed:
        line["denied_as_not_found"] = concealed
    return line


# Stand-ins for a line's varying fields while its fixed parts are rendered (``_parts_of``): they
# start with a control character, which orjson escapes, so each stands out once in the rendered line,
# quoted, or the parts are not used.
_VARYING = ("\x01time", "\x01resource", "\x01request_id")
_VARYING_RENDERED = tuple(orjson.dumps(text) for text in _VARYING)
_MAX_PARTS = 10_000  # kinds of lines kept (event, method, code, reason, peer, caller...: a kind)
_UNKNOWN: Any = object()  # a kind not seen yet (None is a kind rendered whole)


def _parts_of(server: str, call: CallEntry) -> tuple[bytes, bytes, bytes, bytes] | None:
    """The fixed parts of ``call``'s line, between its time, its resource and its request id: the line
    ``call_line`` gives, rendered once with stand-ins for those three and cut at them (so the same bytes
    by construction). None when they do not cut it in four (a caller field of the same name as one of
    them, a stand-in's text elsewhere in the line): such calls' lines are rendered whole."""
    event, method, _, code, reason, _, peer, caller, outcome, concealed = call
    moment, resource, request_id = _VARYING
    try:
        rendered = orjson.dumps(
            call_line(
                moment,
                server,
                (event, method, resource, code, reason, request_id, peer, caller, outcome, concealed),
            ),
            option=orjson.OPT_APPEND_NEWLINE,
        )
    except (orjson.JSONEncodeError, TypeError):
        return None
    if any(rendered.count(stand_in) != 1 for stand_in in _VARYING_RENDERED):
        return None
    parts: list[bytes] = []
    for stand_in in _VARYING_RENDERED:  # in the line's order: time, resource, request_id
        part, _, rendered = rendered.partition(stand_in)
        parts.append(part)
    head, middle, before_id = parts
    return head + b'"', b'"' + middle, before_id, rendered


def _line(entry: dict[str, Any]) -> bytes:
    """One JSON line, UTF-8 as is (orjson; the standard library for what orjson refuses)."""
    try:
        return orjson.dumps(entry, default=str, option=orjson.OPT_APPEND_NEWLINE)
    except (orjson.JSONEncodeError, TypeError):
        return (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")


@dataclass
class AccessLog:
    directory: Path
    retention_days: int = 1825
    server: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _day: date | None = None
    _fd: int | None = None
    _writer: LineWriter = field(init=False)
    _second: tuple[int, str, date] | None = None  # the writer's: second, its text, its day
    # the writer's: the fixed parts of a kind of call's line (_kind), None for a kind rendered whole
    _kinds: dict[tuple[Any, ...], tuple[bytes, bytes, bytes, bytes] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._writer = LineWriter(f"access-log-{self.server}", self._append)

    def record(self, **entry: Any) -> None:
        """Queue one entry, stamped now; the writer thread renders and appends it."""
        self._writer.put((time.time(), entry))

    def record_call(self, stamp: float, call: CallEntry) -> None:
        """Queue the entry of one call, stamped ``stamp``, as the tuple the call already has: the writer
        makes it the same entry ``record`` would get (``call_entry``), off the call's thread."""
        self._writer.put((stamp, call))

    def flush(self) -> None:
        """Every entry recorded so far is in its file."""
        self._writer.flush()

    def close(self) -> None:
        """Write what is queued, then close the file; entries recorded later are written at once."""
        self._writer.close()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _append(self, entries: list[tuple[float, dict[str, Any] | CallEntry]]) -> None:
        """Render a batch and append it, one ``write`` per day file it spans. A call's line is its
        kind's fixed parts (``_kind``: rendered once per method, outcome, connection and caller) with its
        time, resource and request id filled in, else its entry made the line's dict in one step
        (``call_line``) and rendered; its time from the second's text worked out once a second
        (``_moment``): this loop runs for every call the server answers, on the writer thread, under
        the interpreter lock the calls need too."""
        lines: list[bytes] = []
        day: date | None = None
        server = self.server
        kinds, dumps = self._kinds, orjson.dumps
        with self._lock:
            for stamp, queued in entries:
                moment, today = self._moment(stamp)
                if today != day:
                    if day is not None:
                        os.write(self._file(day), b"".join(lines))
                        lines = []
                    day = today
                if type(queued) is tuple:
                    event, method, resource, code, reason, request_id, peer, caller, outcome, concealed = (
                        queued
                    )
                    key = (event, method, code, reason, peer, outcome, concealed)
                    if caller:
                        key = (*key, *caller.items())
                    try:
                        parts = kinds.get(key, _UNKNOWN)
                        if parts is _UNKNOWN:
                            parts = self._kind(key, queued)
                    except TypeError:  # a caller field no key can hold (not a text): rendered whole
                        parts = None
                    if parts is not None:
                        try:
                            lines.append(
                                b"".join(
                                    (
                                        parts[0],
                                        moment.encode(),
                                        parts[1],
                                        dumps(resource) if resource else b'""',
                                        parts[2],
                                        dumps(request_id),
                                        parts[3],
                                    )
                                )
                            )
                            continue
                        except (orjson.JSONEncodeError, TypeError):
                            pass  # rendered whole below, as any line orjson refuses
                    lines.append(_line(call_line(moment, server, queued)))
                else:
                    lines.append(_line({"time": moment, "server": server, **queued}))
            if day is not None and lines:
                os.write(self._file(day), b"".join(lines))

    def _kind(self, key: tuple[Any, ...], call: CallEntry) -> tuple[bytes, bytes, bytes, bytes] | None:
        """The fixed parts of the lines of calls like ``call`` (``_parts_of``), kept by ``key``: the
        entry's fields but its time, resource and request id; bounded (a server's calls have a few
        kinds: its methods and outcomes by client connection and caller)."""
        if len(self._kinds) >= _MAX_PARTS:
            self._kinds.clear()
        parts = self._kinds[key] = _parts_of(self.server, call)
        return parts

    def _moment(self, stamp: float) -> tuple[str, date]:
        """``datetime.fromtimestamp(stamp, UTC).isoformat()`` and its date, the date and time of day
        worked out once a second (the writer renders many entries of the same second)."""
        whole = int(stamp)
        second = self._second
        if second is None or second[0] != whole:
            second = self._second_of(whole)
        micro = round((stamp - whole) * 1_000_000)
        if micro >= 1_000_000:  # rounds up into the next second: rare, done the long way
            moment = datetime.fromtimestamp(stamp, UTC)
            return moment.isoformat(), moment.date()
        if not micro:
            return second[1] + "+00:00", second[2]
        return f"{second[1]}.{DIGITS3[micro // 1000]}{DIGITS3[micro % 1000]}+00:00", second[2]

    def _second_of(self, whole: int) -> tuple[int, str, date]:
        """The second ``whole``: its date and time of day as text, its date; kept as ``_second``."""
        moment = datetime.fromtimestamp(whole, UTC)
        self._second = (whole, moment.strftime("%Y-%m-%dT%H:%M:%S"), moment.date())
        return self._second

    def _file(self, day: date) -> int:
        if self._fd is not None and self._day == day:
            return self._fd
        if self._fd is not None:
            os.close(self._fd)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / f"{PREFIX}{day.isoformat()}{SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._day = day
        self._expire(day)
        return self._fd

    def _expire(self, today: date) -> None:
        """Delete day files older than the retention (by the date in their name)."""
        oldest = today - timedelta(days=self.retention_days)
        for path in self.directory.glob(f"{PREFIX}*{SUFFIX}"):
            try:
                day = date.fromisoformat(path.name[len(PREFIX) : -len(SUFFIX)])
            except ValueError:
                continue  # not ours: leave it
            if day < oldest:
                path.unlink(missing_ok=True)
