"""Wiring of the registry service: engine, packaged catalog, servicer, server."""

from __future__ import annotations

from collections.abc import Callable

from grpc_health.v1 import health_pb2
from sqlalchemy import Engine

from registry_service.consent_rpcs import create_consent_binding
from registry_service.dashboard_rpcs import create_dashboard_binding
from registry_service.domain.catalog import load_catalog
from registry_service.ingest_workers import add_registry_servicer
from registry_service.servicer import SERVICE, CarbonRegistryServicer
from registry_service.storage.catalog import ensure_catalog
from tanxiao.platform.auth import TokenStore
from tanxiao.platform.config import Settings
from tanxiao.platform.db import WalCheckpointer, make_engine
from tanxiao.platform.server import RunningServer, ServiceBinding, freeze_start_up_heap, start_server


def registry_engine(settings: Settings, *, background_checkpoint: bool = False) -> Engine:
    """``background_checkpoint``: commits never checkpoint the SQLite WAL (a WalCheckpointer must run)."""
    return make_engine(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.max_workers,
        background_checkpoint=background_checkpoint,
    )


def create_registry_binding(settings: Settings, engine: Engine | None = None) -> ServiceBinding:
    """The CarbonRegistry servicer on ``engine`` (default: from settings.database_url).

    The schema must be migrated (``tanxiao db upgrade``); the packaged catalog is loaded into the
    database here, idempotently, so every replica serves the catalog version it validates with.
    """
    engine = engine if engine is not None else registry_engine(settings)
    catalog = load_catalog()
    ensure_catalog(engine, catalog)
    servicer = CarbonRegistryServicer(engine, settings, catalog)
    # IngestRecords receives its messages' bytes: its worker processes parse them (ingest_workers).
    return ServiceBinding(SERVICE, servicer, add_registry_servicer)


def _draining(running: RunningServer) -> Callable[[], bool]:
    """Whether the server has entered its graceful shutdown (health says NOT_SERVING then)."""
    request = health_pb2.HealthCheckRequest(service="")
    serving = health_pb2.HealthCheckResponse.SERVING
    return lambda: running.health.Check(request, None).status != serving


def start_registry(settings: Settings, listen: str | None = None) -> RunningServer:
    """Start the registry on ``listen`` (default settings.registry_listen; port 0 = any free port)."""
    # An ingest's commit would otherwise run SQLite's automatic checkpoint before the answer: copying a
    # 1M-record batch's ~95k WAL pages back into the database file and its fsync (docs/benchmarks.md,
    # ingestsq10). The checkpointer's thread does that after the answer, outside the writer lock.
    engine = registry_engine(settings, background_checkpoint=True)
    try:
        binding = create_registry_binding(settings, engine)
        dashboard = create_dashboard_binding(engine, binding.servicer.catalog, settings.min_cell_size)
        running = start_server(
            "registry",
            [binding, create_consent_binding(engine), dashboard],
            listen or settings.registry_listen,
            settings,
            authenticator=TokenStore(engine, ttl_seconds=settings.token_cache_seconds),
        )
    except BaseException:
        engine.dispose()
        raise
    binding.servicer.draining = _draining(running)
    checkpointer = WalCheckpointer(engine).start()  # SQLite only
    running.on_stop.extend([checkpointer.stop, engine.dispose])
    running.on_stop.append(binding.servicer.ingest_workers.close)
    binding.servicer.ingest_workers.warm()  # spawned now, not when the first stream waits for them
    if running.observability is not None:  # pool gauges and the readiness probe
        running.observability.watch_database(engine)
    freeze_start_up_heap(running)  # again: the catalogue, servicers and ingest workers made since
    return running
