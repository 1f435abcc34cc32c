"""Serving the console: uvicorn on TANXIAO_CONSOLE_LISTEN, HTTPS with the services' certificate when TLS
is configured, plain HTTP only on loopback (the same rule as the gRPC servers)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import structlog
import uvicorn

from tanxiao.console.app import ConsoleConfig, create_app
from tanxiao.console.backend import Channels
from tanxiao.console.identity import Identities
from tanxiao.platform.config import Settings
from tanxiao.platform.tls import ConfigError, is_loopback

log = structlog.get_logger("tanxiao.console")


@dataclass
class RunningConsole:
    server: uvicorn.Server
    thread: threading.Thread | None
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)


def _split(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        raise ConfigError(f"TANXIAO_CONSOLE_LISTEN: expected host:port, got {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def console_server(settings: Settings) -> tuple[uvicorn.Server, str]:
    """The configured server and its URL; ConfigError for plain HTTP off loopback."""
    host, port = _split(settings.console_listen)
    tls = bool(settings.tls_cert_file and settings.tls_key_file)
    if not tls and not is_loopback(settings.console_listen):
        raise ConfigError(
            f"console: plain HTTP is for development on loopback only, not on {settings.console_listen}; "
            "set TANXIAO_TLS_CERT_FILE and TANXIAO_TLS_KEY_FILE"
        )
    engine = None
    if settings.auth_required:
        from tanxiao.platform.db import make_engine

        engine = make_engine(settings.database_url, pool_size=4)
    app = create_app(
        Channels(settings),
        Identities(engine, settings.auth_required),
        ConsoleConfig(
            secure_cookies=tls,
            secret=settings.console_secret_key,
            trusted_proxies=settings.http_trusted_proxies,
            auth_failures_per_minute=settings.auth_failures_per_minute,
        ),
    )
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, server_header=False,
        ssl_certfile=settings.tls_cert_file or None, ssl_keyfile=settings.tls_key_file or None,
        lifespan="on",
        proxy_headers=False,  # the client address is the gateway's business (tanxiao/httpapi/forwarded.py)
    )  # fmt: skip
    scheme = "https" if tls else "http"
    return uvicorn.Server(config), f"{scheme}://{settings.console_listen}/"


def run_console(settings: Settings) -> None:
    """Serve in the foreground until SIGTERM/SIGINT (uvicorn's own signal handling)."""
    server, url = console_server(settings)
    log.info("console.ready", url=url)
    server.run()


def start_console(settings: Settings) -> RunningConsole:
    """Serve in a background thread (beside the gRPC servers of `serve all`)."""
    server, url = console_server(settings)
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # the URL is printed only once it answers
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigError(f"console: could not serve on {settings.console_listen} (address in use?)")
        time.sleep(0.05)
    log.info("console.ready", url=url)
    return RunningConsole(server, thread, url)
