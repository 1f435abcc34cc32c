"""structlog set-up: JSON lines with the request id of the current call bound via contextvars (and the
trace and span ids when tracing is on).

Every call writes a line, so the line is cheap: JSON by orjson (UTF-8 as is, like
``json.dumps(ensure_ascii=False)`` but compact), falling back to the standard library for what orjson
refuses (integers beyond 64 bits, keys that are not strings); no OpenTelemetry look-up while no tracer
exists in the process."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

from tanxiao.platform.tracing import current_trace_ids


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    renderer: structlog.types.Processor = (
        render_json
        if fmt == "json"
        else structlog.dev.ConsoleRenderer()
    )
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _trace_ids,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )


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


class _CurrentStderr:
    """Writes to whatever sys.stderr is now: cached loggers outlive a redirected stderr (a CLI run
    under a test runner) and must not keep writing to a closed stream."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
