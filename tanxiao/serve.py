"""`tanxiao serve`: start the requested services and block until SIGTERM/SIGINT."""

from __future__ import annotations

import structlog

from tanxiao.platform.config import Settings
from tanxiao.platform.db import safe_url
from tanxiao.platform.server import RunningServer, serve_until_signalled, stop_on_signals
from tanxiao.platform.tls import transport

log = structlog.get_logger("tanxiao.serve")


def run(settings: Settings, service: str) -> None:
    stop = stop_on_signals()
    servers: list[RunningServer] = []
    try:
        if service in ("registry", "all"):
            from registry_service.app import start_registry

            servers.append(start_registry(settings))
        if service in ("scoring", "all"):
            registry_addr = servers[0].address if servers else settings.registry_addr
            servers.extend(_scoring(settings, registry_addr))
        log.info(
            "tanxiao.ready",
            services={s.name: s.address for s in servers},
            database=safe_url(settings.database_url),
            transport=transport(settings),
        )
        serve_until_signalled(servers, settings.shutdown_grace_seconds, stop)
    except BaseException:
        for running in servers:
            running.stop(0)
        raise


def _scoring(settings: Settings, registry_addr: str) -> list[RunningServer]:
    from scoring_service.app import start_scoring

    return [start_scoring(settings, registry_addr=registry_addr)]
