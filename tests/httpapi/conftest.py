"""Real servers for the HTTP/JSON tests: `tanxiao serve all` and `tanxiao serve console` (which serves
/v1/...) as processes on a migrated demo database (12 enterprises), plaintext on loopback, tokens required.
Tokens: a lender of huzhou-bank, a lender of another bank, an admin, and the scoring service's own.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import sqlalchemy as sa
from http_site import Site

TANXIAO = str(Path(sys.executable).with_name("tanxiao"))


def _ok(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([TANXIAO, *args], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _wait_ready(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"server exited: {process.wait()}")
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("event") == "tanxiao.ready":
            # Keep draining the log: a full pipe would block every server thread that logs a call.
            threading.Thread(target=_drain, args=(process.stderr,), daemon=True).start()
            return dict(entry["services"])
    raise AssertionError("not ready in time")


def _drain(stream: IO[str]) -> None:
    for _line in stream:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"console at {url} not up")


def _graded(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SELECT MIN(uscc) FROM carbon_profiles")).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture(scope="package")
def http_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("http")
    url = f"sqlite:///{directory / 'tanxiao.db'}"
    env = {**os.environ, "TANXIAO_DATABASE_URL": url, "TANXIAO_LOG_FORMAT": "json",
           "TANXIAO_ALLOW_PLAINTEXT": "true", "TANXIAO_AUTH_REQUIRED": "true"}  # fmt: skip
    _ok(env, "db", "upgrade")
    _ok(env, "demo-data", "--enterprises", "12")

    def token(role: str, tenant: str = "", *grants: str) -> str:
        extra = [arg for grant in grants for arg in ("--grant", grant)]
        return _ok(env, "token", "create", "--role", role, "--tenant", tenant, *extra).splitlines()[-1]

    tokens = {
        "service": token("service"),
        "lender": token("lender", "lenders/huzhou-bank"),
        "other_lender": token("lender", "lenders/other-bank"),
        "admin": token("admin"),
    }
    served = {**env, "TANXIAO_SERVICE_TOKEN": tokens["service"], "TANXIAO_REGISTRY_LISTEN": "127.0.0.1:0",
              "TANXIAO_SCORING_LISTEN": "127.0.0.1:0"}  # fmt: skip
    services = subprocess.Popen([TANXIAO, "serve", "all", "--no-console"], env=served, stderr=subprocess.PIPE,
                                text=True)  # fmt: skip
    processes = [services]
    try:
        addresses = _wait_ready(services)
        port = _free_port()
        console_env = {**env, "TANXIAO_SCORING_ADDR": addresses["scoring"],
                       "TANXIAO_REGISTRY_ADDR": addresses["registry"],
                       "TANXIAO_CONSOLE_LISTEN": f"127.0.0.1:{port}",
                       # the tests stand in for a reverse proxy on loopback (test_http_gateway.py)
                       "TANXIAO_HTTP_TRUSTED_PROXIES": "127.0.0.1"}  # fmt: skip
        console = subprocess.Popen([TANXIAO, "serve", "console"], env=console_env, stderr=subprocess.DEVNULL)
        processes.append(console)  # type: ignore[arg-type]
        site_url = f"http://127.0.0.1:{port}"
        _wait_http(site_url)
        yield Site(site_url, tokens, _graded(url))
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(30)
