"""structlog set-up: JSON lines with the request id of the current call bound via contextvars (and the
trace and span ids when tracing is on).

Most calls write a line (every call without an access log, every failed one with it), so the line is
cheap: JSON by orjson (UTF-8 as is, like ``json.dumps(ensure_ascii=False)`` but compact), falling back
to the standard library for what orjson refuses (integers beyond 64 bits, keys that are not strings);
no OpenTelemetry look-up while no tracer
exists in the process; the timestamp's date and time of day formatted once a second. A line is
rendered on the calling thread (the call's context, its exception) and written by a writer thread
(``tanxiao.platform.line_writer``: in batches, in order, nothing dropped; ``flush`` waits for it, and
a stopping server and the interpreter's exit flush it). The line each RPC ends with (``emit_call``)
is rendered by the writer too, from the call's access-log entry, the time and the context the call
queued; the entry itself goes straight to the server's access log (its own writer), so that a call
that ends OK with an access log, and has no line at info, wakes no log writer at all."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import structlog

from tanxiao.platform.line_writer import LineWriter
from tanxiao.platform.tracing import active as tracing_active
from tanxiao.platform.tracing import current_trace_ids


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    global _configured
    renderer: structlog.types.Processor = render_json if fmt == "json" else structlog.dev.ConsoleRenderer()
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(message)s")
    processors: list[structlog.types.Processor] = [*_JSON_CHAIN[:-1], renderer]
    threshold = logging.getLevelName(level.upper())
    wrapper = structlog.make_filtering_bound_logger(threshold)
    structlog.configure(
        processors=processors,
        wrapper_class=wrapper,
        logger_factory=_queued_logger,
        cache_logger_on_first_use=True,
    )
    _configured = (processors, wrapper, int(threshold))


# What configure_logging set up last: (processors, wrapper class, level); None before.
_configured: tuple[list[Any], Any, int] | None = None


class _PublicConfig:
    """structlog's configuration read through its public ``get_config`` (a dict made per read)."""

    @property
    def default_processors(self) -> Any:
        return structlog.get_config()["processors"]

    @property
    def default_wrapper_class(self) -> Any:
        return structlog.get_config()["wrapper_class"]

    @property
    def logger_factory(self) -> Any:
        return structlog.get_config()["logger_factory"]


def _structlog_config() -> Any:
    """What emit_direct and emit_call read, on every call, to know configure_logging's set-up is still
    in force: structlog's own configuration object, whose fields ``get_config`` copies into a new dict
    per call (structlog is pinned, pyproject.toml); read through ``get_config`` when it is not laid out
    as expected."""
    config = getattr(structlog._config, "_CONFIG", None)
    fields = ("default_processors", "default_wrapper_class", "logger_factory")
    return config if all(hasattr(config, name) for name in fields) else _PublicConfig()


_STRUCTLOG = _structlog_config()


def emit_direct(level: int, event: str, fields: dict[str, Any], now: float | None = None) -> bool:
    """Log ``event`` with ``fields`` through the processors configure_logging set up, without
    structlog's per-call bound-logger machinery (a third of a call's log line): the same line a logger
    of that set-up writes. Only while that set-up is in force (its processor list, as structlog's
    ``capture_logs`` edits it in place, its level, its logger factory): False when structlog was
    configured otherwise since, and the caller then logs the ordinary way. ``fields`` is consumed:
    under the JSON set-up it is queued as it is, with ``now`` (``time.time()``, taken by the caller for
    the access log too) and the call's context, and rendered by the writer thread (``_render_pending``)."""
    configured = _configured
    if configured is None:
        return False
    current = _STRUCTLOG
    processors = current.default_processors
    if (
        processors is not configured[0]
        or current.default_wrapper_class is not configured[1]
        or current.logger_factory is not _queued_logger
    ):
        return False
    if level < configured[2]:
        return True  # below the level: dropped, as the filtering logger drops it
    name = _LEVEL_NAMES[level]
    fields["event"] = event
    if processors == _JSON_CHAIN and "exc_info" not in fields:
        stamp = time.time() if now is None else now
        WRITER.put((name, fields, stamp, contextvars.copy_context()))  # a plain tuple: _render_pending
        return True
    line: Any = fields
    try:
        for processor in processors:  # the configured list itself: structlog's capture edits it in place
            line = processor(None, name, line)
    except structlog.DropEvent:  # as structlog's own loggers treat it
        return True
    _QUEUED.msg(line if isinstance(line, str) else str(line))
    return True


# A line queued unrendered: level name, event dict, time, the context of the call that logged it. A
# plain tuple (a tuple subclass took four times as long to make, on the call's thread).
_Pending = tuple[str, dict[str, Any], float, contextvars.Context]


class CallSink(Protocol):
    """Where a call's access-log entry goes (tanxiao.platform.access_log.AccessLog)."""

    def record_call(self, stamp: float, call: Any) -> None: ...


def emit_call(
    level: int | None,
    stamp: float,
    entry: tuple[Any, ...],
    elapsed: float,
    access_log: CallSink | None,
    fields: dict[str, Any] | None = None,
) -> bool:
    """The end of a call, while configure_logging's JSON set-up is in force (False otherwise: the
    caller then logs and records the ordinary way, ``emit_direct`` and ``AccessLog.record_call``): its
    access-log entry queued on ``access_log`` (with ``stamp``), its log line on the log writer thread.

    ``entry``: the call's access-log entry (tanxiao.platform.access_log.CallEntry). The log line is
    made from it by the writer (peer, elapsed_ms, request_id, method, the caller's fields, code) unless
    ``fields`` gives the line's fields, from the context the call has now; ``level`` None or below the
    configured level: no line, the entry only. The entry goes to the access log's own writer, never
    waiting on stderr, and every call's entry in the order the calls ended (those with a line and those
    without alike)."""
    configured = _configured
    if configured is None:
        return False
    current = _STRUCTLOG
    if (
        current.default_processors is not configured[0]
        or current.default_wrapper_class is not configured[1]
        or current.logger_factory is not _queued_logger
        or configured[0] != _JSON_CHAIN
    ):
        return False
    if access_log is not None:
        access_log.record_call(stamp, entry)
    if level is None or level < configured[2]:
        return True
    # A plain tuple of 6 (a log line pending is a tuple of 4): _write_to_stderr tells them apart so.
    WRITER.put((_LEVEL_NAMES[level], stamp, contextvars.copy_context(), entry, elapsed, fields))
    return True


# A call's line as emit_call queues it: level name, time, context, the call's access-log entry,
# seconds elapsed, the line's fields (None: made from the entry).
_CallEnd = tuple[str, float, contextvars.Context, tuple[Any, ...], float, Any]


def _call_line(call: _CallEnd) -> str:
    """The log line of a call's end, as emit_direct would have queued and _render_pending renders it
    (the same steps, in one function: the writer renders a line for most calls)."""
    name, stamp, context, entry, elapsed, event = call
    # merge_contextvars, but for a context holding nothing but the call's request id and method (a
    # unary call in grpcio's context of its own): the line has both keys already, merging adds nothing
    merge = len(context) != 2 or _REQUEST_ID_VAR not in context or _METHOD_VAR not in context
    if event is None:
        caller = entry[7]
        if not caller and not merge and not tracing_active():
            # the common end of a call, its line in one dict display: the same keys in the same order
            # as the steps below make (fields, event, level, timestamp)
            line = {
                "peer": entry[6],
                "elapsed_ms": elapsed_ms(elapsed),
                "request_id": entry[5],
                "method": entry[1],
                "code": entry[3],
                "event": entry[0],
                "level": name,
                "timestamp": _iso_utc(stamp),
            }
            try:
                return _dumps(line, default=repr, option=_NEWLINE).decode()  # render_json
            except (orjson.JSONEncodeError, TypeError):
                return render_json(None, name, line) + "\n"
        event = {"peer": entry[6], "elapsed_ms": elapsed_ms(elapsed), "request_id": entry[5]}
        event["method"] = entry[1]
        if caller:
            event.update(caller)
        event["code"] = entry[3]
    event["event"] = entry[0]
    _add_context(name, event, context, merge)
    event["timestamp"] = _iso_utc(stamp)
    try:
        return _dumps(event, default=repr, option=_NEWLINE).decode()  # render_json
    except (orjson.JSONEncodeError, TypeError):
        return render_json(None, name, event) + "\n"


_dumps, _NEWLINE = orjson.dumps, orjson.OPT_APPEND_NEWLINE


def _render_pending(pending: _Pending) -> str:
    """What _JSON_CHAIN makes of the event (no exc_info in it), in one function: the context merged
    (merge_contextvars), the trace ids, the level, the timestamp (stamp_iso_utc at the queued time),
    JSON (render_json). tests/platform/test_logging_direct.py compares the two."""
    name, event, now, context = pending
    _add_context(name, event, context, merge=True)
    event["timestamp"] = _iso_utc(now)
    return render_json(None, name, event) + "\n"


def _add_context(name: str, event: dict[str, Any], context: contextvars.Context, merge: bool) -> None:
    """The logged context's bound keys (merge_contextvars, when ``merge``), the trace ids of the span
    current in that context, and the level."""
    if merge:
        for var, value in context.items():
            if value is not Ellipsis and var.name.startswith(_CONTEXT_PREFIX):
                event.setdefault(var.name[_CONTEXT_PREFIX_LEN:], value)
    if tracing_active():
        context.run(_trace_ids, None, name, event)
    event["level"] = name


_LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
}


_second: tuple[int, str] = (0, "")  # the last second stamped and its date and time of day


def _second_of(whole: int) -> tuple[int, str]:
    """The date and time of day of the second ``whole``, kept as ``_second`` (formatted once a second)."""
    global _second
    _second = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return _second


def stamp_iso_utc(_logger: object, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog's ``TimeStamper(fmt="iso", utc=True)`` to the character ("2026-11-30T18:00:00.123456Z",
    no fraction on a whole second), the date and time of day formatted once a second."""
    event["timestamp"] = _iso_utc(time.time())
    return event


def _iso_utc(now: float) -> str:
    whole = int(now)
    second = _second
    if second[0] != whole:
        second = _second_of(whole)
    micro = int((now - whole) * 1_000_000)
    return f"{second[1]}.{DIGITS3[micro // 1000]}{DIGITS3[micro % 1000]}Z" if micro else second[1] + "Z"


# "000" to "999": six digits of microseconds as two look-ups (a format spec cost three times as much,
# and the writers render two timestamps for every call)
DIGITS3 = tuple(f"{n:03d}" for n in range(1000))


def elapsed_ms(seconds: float) -> float:
    """Seconds as milliseconds to three decimals: ``round(seconds * 1000, 3)`` but by rounding whole
    microseconds (a float's ``round`` to decimals goes through decimal conversion, several times the
    cost). The two differ only where the microseconds' float is a tie the other's exact binary value
    is not: none in 2 million random durations."""
    return round(seconds * 1_000_000) / 1000


def render_json(_logger: object, _name: str, event: MutableMapping[str, Any]) -> str:
    """The event as one JSON line (structlog's JSONRenderer with orjson; repr for other objects)."""
    try:
        return orjson.dumps(event, default=repr).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(event, default=repr, ensure_ascii=False)


def _trace_ids(_logger: object, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """trace_id / span_id of the span being served (tracing on), to join log lines with traces."""
    for key, value in current_trace_ids().items():
        event.setdefault(key, value)
    return event


def _write_to_stderr(lines: list[str | _Pending | _CallEnd]) -> None:
    """To whatever sys.stderr is now: cached loggers outlive a redirected stderr (a CLI run under a
    test runner) and must not keep writing to a closed stream."""
    texts: list[str] = []
    for line in lines:
        if type(line) is str:
            texts.append(line)
        elif len(line) == 4:
            texts.append(_render_pending(line))  # type: ignore[arg-type]
        else:  # a call's end (emit_call)
            texts.append(_call_line(line))  # type: ignore[arg-type]
    stream = sys.stderr
    stream.write("".join(texts))
    stream.flush()


WRITER = LineWriter("log", _write_to_stderr)


def flush() -> None:
    """Every line logged so far is written (a stopping server, a test reading stderr)."""
    WRITER.flush()


class _QueuedLogger:
    """structlog's logger: the rendered line goes to the writer thread."""

    def msg(self, message: str) -> None:
        WRITER.put(message + "\n")

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


_QUEUED = _QueuedLogger()


def _queued_logger(*_args: Any) -> _QueuedLogger:
    return _QUEUED


# The processors configure_logging sets up for JSON, which emit_direct runs as one function.
_JSON_CHAIN: list[Any] = [
    structlog.contextvars.merge_contextvars,
    _trace_ids,
    structlog.processors.add_log_level,
    stamp_iso_utc,
    structlog.processors.format_exc_info,
    render_json,
]
_CONTEXT_PREFIX = structlog.contextvars.STRUCTLOG_KEY_PREFIX
_CONTEXT_PREFIX_LEN = len(_CONTEXT_PREFIX)


def context_vars(*keys: str) -> dict[str, contextvars.ContextVar[Any]]:
    """The ContextVars behind structlog's contextvars ``keys`` (got through its public bind/reset,
    once): set and read directly instead of through bind/unbind_contextvars."""
    tokens = structlog.contextvars.bind_contextvars(**dict.fromkeys(keys))
    structlog.contextvars.reset_contextvars(**tokens)
    return {key: token.var for key, token in tokens.items()}


# Bound by the serving layer for every call (tanxiao.platform.interceptors); every call's line has both.
_REQUEST_ID_VAR, _METHOD_VAR = context_vars("request_id", "method").values()


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
