"""OpenTelemetry tracing with the official gRPC instrumentation; off unless the OTEL_* variables ask.

Tracing is on when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``console``; ``none`` or unset:
off) and ``OTEL_SDK_DISABLED`` is not true. Everything else is the standard OpenTelemetry configuration,
read by the SDK and the exporter themselves: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (a collector, SkyWalking's
OAP or Jaeger's OTLP port), ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``, ``OTEL_RESOURCE_ATTRIBUTES``;
``OTEL_SERVICE_NAME`` defaults to ``tanxiao-<server>``. Context travels in W3C ``traceparent`` headers
(the default ``OTEL_PROPAGATORS``): client -> scoring -> registry is one trace.

Each server gets its own TracerProvider (its own service name); ``use_provider`` replaces them all
with one the caller made (tests collect spans with the SDK's in-memory exporter this way).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import client_interceptor, filters, grpcext, server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_lock = threading.Lock()
_providers: dict[str, TracerProvider] = {}
_override: TracerProvider | None = None

# Health checks and reflection are not traced: a probe every few seconds would drown the real calls.
_TRACED = filters.negate(filters.any_of(filters.health_check(), filters.service_prefix("grpc.reflection.")))


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return exporter_names(env) != []


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    raw = environ.get("OTEL_TRACES_EXPORTER", "none")
    return [n.strip().lower() for n in raw.split(",") if n.strip() and n.strip().lower() != "none"]


def active() -> bool:
    """Whether any span can exist in this process (a provider was made or injected): when not, the log
    processors skip asking OpenTelemetry for the current span on every line."""
    return _override is not None or bool(_providers)


def use_provider(provider: TracerProvider | None) -> None:
    """Trace every server and client of this process with ``provider`` (None: back to OTEL_*)."""
    global _override
    with _lock:
        _override = provider


def provider_for(server: str) -> TracerProvider | None:
    """The provider of ``server`` ("registry", "scoring"), made on first use; None when tracing is off."""
    with _lock:
        if _override is not None:
            return _override
        if not enabled():
            return None
        if server not in _providers:
            _providers[server] = _make_provider(server)
        return _providers[server]


def _make_provider(server: str) -> TracerProvider:
    name = os.environ.get("OTEL_SERVICE_NAME") or f"tanxiao-{server}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    for exporter in exporter_names(os.environ):
        provider.add_span_processor(BatchSpanProcessor(_exporter(exporter)))
    return provider


def _exporter(name: str) -> Any:
    """The span exporter registered under ``name`` by its package (the SDK's own mechanism)."""
    found = entry_points(group="opentelemetry_traces_exporter", name=name)
    if not found:
        raise ValueError(f"OTEL_TRACES_EXPORTER: no span exporter named {name!r} is installed")
    return next(iter(found)).load()()


def server_interceptors(server: str) -> list[grpc.ServerInterceptor]:
    provider = provider_for(server)
    if provider is None:
        return []
    return [server_interceptor(tracer_provider=provider, filter_=_TRACED)]


def traced_channel(server: str, channel: grpc.Channel) -> grpc.Channel:
    """A channel ``server`` dials (scoring -> registry) whose calls get a client span and carry its
    traceparent; ``channel`` itself when tracing is off."""
    provider = provider_for(server)
    if provider is None:
        return channel
    interceptor = client_interceptor(tracer_provider=provider, filter_=_TRACED)
    return grpcext.intercept_channel(channel, interceptor)  # the instrumentation's own interceptor API


def flush(server: str) -> None:
    """Export what ``server``'s provider still buffers (a stopping server); the provider itself lives
    on for other servers of the same name in this process and shuts down at exit."""
    with _lock:
        provider = _providers.get(server)
    if provider is not None:
        provider.force_flush()


def shutdown(server: str) -> None:
    """Flush and stop ``server``'s own provider (not an injected one: its owner stops it)."""
    with _lock:
        provider = _providers.pop(server, None)
    if provider is not None:
        provider.shutdown()


def current_trace_ids() -> dict[str, str]:
    """trace_id and span_id of the current span, for log lines; empty outside a sampled span."""
    if not active():
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
