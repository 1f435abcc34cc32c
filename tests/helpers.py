"""Test helpers: the registry-under-test handle, rich gRPC error details, valid USCCs."""

from __future__ import annotations

import contextlib
import gc
import logging
import socket
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
import structlog
import structlog.testing
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from registry_service.app import start_registry
from registry_service.storage.tables import record_keys, records
from tanxiao.common.v1 import common_pb2
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine
from tanxiao.platform.server import RunningServer
from tanxiao.registry.v1 import registry_pb2, registry_pb2_grpc

# Plaintext and no tokens on loopback: TLS and authentication have their own tests.
DEVELOPMENT = {"TANXIAO_ALLOW_PLAINTEXT": "true", "TANXIAO_AUTH_REQUIRED": "false"}
_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@dataclass
class Registry:
    """The registry under test (fixture ``registry``): a stub on its channel and our own engine on the
    same database for direct assertions."""

    stub: registry_pb2_grpc.CarbonRegistryStub
    channel: grpc.Channel
    engine: sa.Engine
    url: str
    server: RunningServer
    settings: Settings


@dataclass
class ErrorDetails:
    """What a client sees of a failed call: code, message, ErrorInfo and BadRequest violations."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[tuple[str, str]] = field(default_factory=list)
    violation_reasons: list[str] = field(default_factory=list)  # BadRequest field_violations[].reason
    retry_after: float | None = None  # seconds, from google.rpc.RetryInfo

    @property
    def fields(self) -> list[str]:
        return [name for name, _ in self.violations]


def error_details(error: grpc.RpcError) -> ErrorDetails:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    details = ErrorDetails(code=error.code(), message=error.details() or "")  # type: ignore[attr-defined]
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            details.reason, details.domain, details.metadata = info.reason, info.domain, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            details.violations.extend((v.field, v.description) for v in bad.field_violations)
            details.violation_reasons.extend(v.reason for v in bad.field_violations)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            details.retry_after = retry.retry_delay.ToNanoseconds() / 1e9
    return details


def current_keys(dialect: str) -> sa.Select[Any]:
    """(external_id, record_id, period, revision) of every key's current revision where the ingest keeps
    it: record_keys on PostgreSQL, records' current rows on SQLite (its partial unique index,
    0018_ingest8_sqlite_key)."""
    if dialect == "postgresql":
        k = record_keys.c
        return sa.select(k.external_id, k.record_id, k.period, k.revision)
    r = records.c
    return sa.select(r.external_id, r.id.label("record_id"), r.period, r.revision).where(r.is_current)


def make_uscc(serial: int, region: str = "330502") -> str:
    """A valid enterprise USCC (91 + region + 9-character organisation code + check character)."""
    organisation = "".join(_USCC_CHARSET[(serial // 31**i) % 31] for i in range(9))[::-1]
    body = f"91{region}{organisation}"
    total = sum(_USCC_CHARSET.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_CHARSET[(31 - total % 31) % 31]


def energy_record(external_id: str, quantity: float = 100.0, **fields: object) -> registry_pb2.EnergyRecord:
    """A March-2024 grid electricity record of enterprise ``make_uscc(1)``; ``fields`` override any field."""
    values: dict[str, object] = {
        "uscc": make_uscc(1),
        "period": "2024-03",
        "category": "ELECTRICITY",
        "quantity": quantity,
        "unit": "",
        "source": common_pb2.GRID_UTILITY,
        "external_id": external_id,
    }
    return registry_pb2.EnergyRecord(**{**values, **fields})


@contextlib.contextmanager
def serving_registry(settings: Settings, url: str) -> Iterator[Registry]:
    """The registry served in this process on port 0 with ``settings``, a stub ready on its channel and an
    engine of our own on ``url``; stopped and disposed on exit."""
    running = start_registry(settings, "127.0.0.1:0")
    engine = make_engine(url)
    channel = grpc.insecure_channel(running.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
        yield Registry(registry_pb2_grpc.CarbonRegistryStub(channel), channel, engine, url, running, settings)
    finally:
        channel.close()
        running.stop(None)
        engine.dispose()


@contextlib.contextmanager
def stopped_and_refusing(server: RunningServer) -> Iterator[None]:
    """``server`` stopped, its port kept bound but not listening inside the block: a connect to it is
    refused at once (UNAVAILABLE). A port merely closed can be taken meanwhile by another test's server or
    picked as a client's own source port (a TCP self-connect), and a call to it then hangs to its deadline
    (CI saw DEADLINE_EXCEEDED after 10 s instead of UNAVAILABLE)."""
    server.stop(None)
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the server's TIME_WAIT connections
    try:
        holder.bind(("127.0.0.1", server.port))
        yield
    finally:
        holder.close()


def run_in_threads(target: Callable[[int], None], count: int, timeout: float = 120.0) -> None:
    """``target(0)`` .. ``target(count - 1)``, each on its own thread at once; re-raises the first failure."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        for future in [pool.submit(target, i) for i in range(count)]:
            future.result(timeout=timeout)


def graded_year_records(uscc: str, intensity: float, year: int = 2022) -> list[registry_pb2.EnergyRecord]:
    """A year of records giving carbon intensity ``intensity`` (tCO2/万元) on 3,000 万元 of added value:
    grid electricity only, at Zhejiang's 2022 factor 0.5153 tCO2/MWh."""
    kwh = intensity * 3_000 / 0.5153 * 1000 / 12
    grid, stats = common_pb2.GRID_UTILITY, common_pb2.STATISTICS
    rows = []
    for month in range(1, 13):
        period = f"{year}-{month:02d}"
        rows += [
            registry_pb2.EnergyRecord(uscc=uscc, period=period, category="ELECTRICITY", quantity=kwh,
                                      source=grid, external_id=f"e-{uscc}-{period}"),
            registry_pb2.EnergyRecord(uscc=uscc, period=period, category="INDUSTRIAL_ADDED_VALUE",
                                      quantity=250, source=stats, external_id=f"v-{uscc}-{period}"),
        ]  # fmt: skip
    return rows


class HtmlPage(HTMLParser):
    """A parsed HTML page for assertions: tags, attributes, text and the page language."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []
        self.html_lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, k, v) for k, v in attrs)
        if tag == "html":
            self.html_lang = dict(attrs).get("lang")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(html: str) -> HtmlPage:
    page = HtmlPage()
    page.feed(html)
    page.close()
    return page


@contextlib.contextmanager
def captured_rpc_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The interceptor's log entries (``rpc.*``) with the call's contextvars (request id) merged in,
    at every level (a call's ``rpc.ok`` is at debug when the server has an access log).

    A fresh logger, because loggers cached on first use keep the processors and level of whatever
    configuration was current then (an in-process CLI run reconfigures logging), whichever test ran
    earlier in the same worker; the level set for the capture only, whatever an earlier test set."""
    from tanxiao.platform import interceptors

    wrapper = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as entries:
            monkeypatch.setattr(interceptors, "log", structlog.get_logger("tanxiao.rpc"))
            yield entries
    finally:
        structlog.configure(wrapper_class=wrapper)


def unsequenced(message: Any) -> Any:
    """A copy of ``message`` with every Decision's ``log_index`` cleared: the sequencer may integrate a
    decision between two answers about it (a retry, a later read), which then name its leaf index;
    everything else must be the same."""
    copy = type(message)()
    copy.CopyFrom(message)
    _clear_log_index(copy)
    return copy


def _clear_log_index(message: Any) -> None:
    if "log_index" in message.DESCRIPTOR.fields_by_name and message.DESCRIPTOR.name == "Decision":
        message.ClearField("log_index")
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.is_repeated:
            if not descriptor.message_type.GetOptions().map_entry:
                for item in value:
                    _clear_log_index(item)
        else:
            _clear_log_index(value)


class _Cycle:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def check_start_up_heap_frozen(start: Callable[[], RunningServer]) -> None:
    """``start()``'s server freezes what is alive at its start for the cyclic collector while it serves
    (a cycle made before survives a collection, one made while serving does not) and unfreezes it at its
    stop (the cycle made before is collected then)."""
    old = _Cycle()
    old_ref = weakref.ref(old)
    running = start()
    try:
        assert gc.get_freeze_count() > 0
        del old
        gc.collect()
        assert old_ref() is not None  # alive at start-up: frozen, the collector does not see its cycle
        young = _Cycle()
        young_ref = weakref.ref(young)
        del young
        gc.collect()
        assert young_ref() is None  # made while serving: collected as usual
        assert running.on_stop.count(gc.unfreeze) == 1  # however often the service froze again
    finally:
        running.stop(None)
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert old_ref() is None
