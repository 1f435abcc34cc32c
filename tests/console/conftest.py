"""Real servers for the console tests: the gRPC services (plaintext on loopback, tokens required, as
the rules allow) and `tanxiao serve console`, each a `tanxiao` process on a migrated demo database.

Tokens: two credit officers and a lender of huzhou-bank (the demo book's owner), a lender of another
bank, a credit officer of anji-rcb (the demo's other lender), and a regulator with the enterprise_data
grant. One decision of huzhou-bank is quoted up front.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from console_site import ConsoleSite

from tanxiao.console.views import has_reviews

TANXIAO = str(Path(sys.executable).with_name("tanxiao"))


def _ok(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([TANXIAO, *args], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"server exited: {process.wait()}")
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("event") == "tanxiao.ready":
            return dict(entry["services"])
    raise AssertionError("not ready in time")


def _wait_http(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"console at {url} not up")


def _graded(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT DISTINCT uscc FROM carbon_profiles ORDER BY uscc")
            return [str(uscc) for uscc in conn.execute(query).scalars()]
    finally:
        engine.dispose()


def _borrower(url: str, lender: str = "lenders/huzhou-bank") -> str:
    """A demo borrower of ``lender``, one with a retrofit commitment when there is one; its consent to the
    lender comes from the demo data itself (tanxiao demo-data), not from this test."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text(
                "SELECT l.uscc FROM loans l LEFT JOIN commitments c ON c.uscc = l.uscc "
                "WHERE l.lender = :lender ORDER BY c.uscc IS NULL, l.uscc LIMIT 1"
            )
            return str(conn.execute(query, {"lender": lender}).scalar_one())
    finally:
        engine.dispose()


def _decision_for_review(url: str, lender: dict[str, str], admin: dict[str, str]) -> tuple[str, str]:
    """(USCC, decision name) of a huzhou-bank quote that is eligible but needs a credit officer's review:
    a large amount, or no bank limit of its own, depending on the policy in force. The enterprise's
    consent to huzhou-bank is recorded first (by the registry operator), as quotes need it."""
    for uscc in _graded(url)[:8]:
        _ok(admin, "consent", "grant", "--enterprise", uscc, "--lender", "huzhou-bank")
        for amount in ("80000000", "3000000"):
            quoted = json.loads(
                _ok(lender, "quote", "--lender", "huzhou-bank", "--enterprise", uscc, "--amount", amount,
                    "--base-rate-bp", "300", "--request-id", f"console-{uscc}-{amount}", "--json")
            )  # fmt: skip
            if quoted.get("eligible") and quoted.get("manualReview"):
                return uscc, str(quoted["name"])
    raise AssertionError("no demo enterprise gets an eligible quote that needs review")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    directory = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{directory / 'tanxiao.db'}"
    env = {**os.environ, "TANXIAO_DATABASE_URL": url, "TANXIAO_LOG_FORMAT": "json",
           "TANXIAO_ALLOW_PLAINTEXT": "true", "TANXIAO_AUTH_REQUIRED": "true"}  # fmt: skip
    _ok(env, "db", "upgrade")
    _ok(env, "demo-data", "--enterprises", "12")

    def token(role: str, tenant: str = "", *grants: str) -> str:
        extra = [arg for grant in grants for arg in ("--grant", grant)]
        return _ok(env, "token", "create", "--role", role, "--tenant", tenant, *extra).splitlines()[-1]

    tokens = {
        **({"approver": token("approver", "lenders/huzhou-bank")} if has_reviews() else {}),
        "service": token("service"),
        "officer": token("credit_officer", "lenders/huzhou-bank"),
        "officer2": token("credit_officer", "lenders/huzhou-bank"),
        "lender": token("lender", "lenders/huzhou-bank"),
        "other_lender": token("lender", "lenders/other-bank"),
        "other_officer": token("credit_officer", "lenders/anji-rcb"),
        "regulator": token("regulator", "", "enterprise_data"),
        "admin": token("admin"),
    }
    served = {**env, "TANXIAO_SERVICE_TOKEN": tokens["service"], "TANXIAO_REGISTRY_LISTEN": "127.0.0.1:0",
              "TANXIAO_SCORING_LISTEN": "127.0.0.1:0"}  # fmt: skip
    services = subprocess.Popen(
        [TANXIAO, "serve", "all", "--no-console"], env=served, stderr=subprocess.PIPE, text=True
    )
    processes = [services]
    try:
        addresses = _wait_ready(services)
        client = {**env, "TANXIAO_SCORING_ADDR": addresses["scoring"],
                  "TANXIAO_REGISTRY_ADDR": addresses["registry"]}  # fmt: skip
        uscc, decision = _decision_for_review(
            url, {**client, "TANXIAO_TOKEN": tokens["lender"]}, {**client, "TANXIAO_TOKEN": tokens["admin"]}
        )
        port = _free_port()
        console_env = {**client, "TANXIAO_CONSOLE_LISTEN": f"127.0.0.1:{port}"}
        console = subprocess.Popen(
            [TANXIAO, "serve", "console"], env=console_env, stderr=subprocess.DEVNULL, text=True
        )
        processes.append(console)
        site_url = f"http://127.0.0.1:{port}/"
        _wait_http(site_url)
        yield ConsoleSite(
            site_url, client, tokens, decision.removeprefix("decisions/"), uscc, _borrower(url), processes
        )
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(30)
