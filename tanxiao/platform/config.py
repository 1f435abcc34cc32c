"""Settings from environment variables prefixed ``TANXIAO_``; the one place they are defined.

``docs/configuration.md`` is generated from ``SETTINGS`` (``python -m tanxiao.platform.config``) so the
documentation cannot drift from the code.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from tanxiao.platform.limits import LimitSettings, parse_role_numbers

PREFIX = "TANXIAO_"


def _bool(raw: str) -> bool:
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean, got {raw!r}")


def _networks(raw: str) -> str:
    """Comma-separated addresses or CIDR networks, checked here so that a typo fails at start-up."""
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"not an address or network: {entry!r}") from None
    return raw


def _setting(default: Any, doc: str, parse: Callable[[str], Any] = str) -> Any:
    return field(default=default, metadata={"doc": doc, "parse": parse})


@dataclass(frozen=True)
class Settings:
    database_url: str = _setting(
        "sqlite:///./var/tanxiao.db",
        "SQLAlchemy URL. SQLite under ./var by default; production: postgresql+psycopg://user@host/db",
    )
    registry_listen: str = _setting("127.0.0.1:50051", "Address the registry service binds")
    scoring_listen: str = _setting("127.0.0.1:50052", "Address the scoring service binds")
    registry_addr: str = _setting("127.0.0.1:50051", "Address clients (and the scoring service) dial")
    scoring_addr: str = _setting(
        "127.0.0.1:50052", "Address clients (e.g. `tanxiao explain`) dial for scoring"
    )
    log_level: str = _setting("INFO", "DEBUG, INFO, WARNING or ERROR")
    log_format: str = _setting("json", "json (one JSON object a line) or console")
    max_batch_records: int = _setting(10_000, "Most records in one BatchIngestRecords call", int)
    max_stream_records: int = _setting(5_000_000, "Most records in one IngestRecords stream", int)
    plausible_max_scale: float = _setting(
        1.0, "Multiplies every per-category plausible maximum of a record (registry data file)", float
    )
    max_message_bytes: int = _setting(16 * 1024 * 1024, "Largest gRPC message accepted or sent", int)
    max_workers: int = _setting(16, "Threads serving RPCs per server", int)
    max_streams_total: int = _setting(
        8,
        "Open streams per server (below max_workers: streams run on their own pool, unary calls never wait)",
        int,
    )
    max_streams_per_caller: int = _setting(
        4, "Open streams per caller (token; peer address when unauthenticated)", int
    )
    stream_idle_seconds: float = _setting(
        60.0, "A stream that moves no message either way for this long is cancelled", float
    )
    rate_limits: str = _setting(
        "anonymous=1000,data_provider=100,lender=50,credit_officer=20,regulator=20,service=500,admin=100",
        "Calls per second per caller, by role (bursts of twice that); anonymous = no authentication",
    )
    concurrency_quotas: str = _setting(
        "anonymous=32,data_provider=4,lender=8,credit_officer=4,regulator=4,service=16,admin=8",
        "Calls in flight per caller, by role",
    )
    auth_failures_per_minute: int = _setting(
        20, "Failed authentications per peer address a minute before it is refused (RESOURCE_EXHAUSTED)", int
    )
    keepalive_min_ping_seconds: int = _setting(
        20, "Clients pinging more often than this are disconnected (keepalive enforcement)", int
    )
    max_connection_age_seconds: int = _setting(
        1800, "Connections are closed (gracefully, 30 s for calls in flight) after this age", int
    )
    max_connection_idle_seconds: int = _setting(600, "Connections without calls are closed after this", int)
    access_log_dir: str = _setting(
        "./var/access-log",
        "Directory of the access audit log (access-YYYY-MM-DD.jsonl, 0600, append-only); empty = off",
    )
    access_log_retention_days: int = _setting(1825, "Access-log day files older than this are deleted", int)
    token_cache_seconds: float = _setting(
        10.0, "How long a server trusts a looked-up token (revocation takes effect within this + 1 s)", float
    )
    shutdown_grace_seconds: float = _setting(10.0, "On SIGTERM, time in-flight calls get", float)
    sqlite_busy_timeout_ms: int = _setting(30_000, "SQLite lock wait before 'database is locked'", int)
    allow_plaintext: bool = _setting(
        False, "Serve and dial without TLS (development on loopback only; `make run` sets it)", _bool
    )
    tls_cert_file: str = _setting("", "Server certificate (PEM) for TLS")
    tls_key_file: str = _setting("", "Server private key (PEM)")
    tls_client_ca_file: str = _setting("", "CA (PEM) of client certificates: set it to require mutual TLS")
    tls_ca_file: str = _setting("", "CA (PEM) clients trust for the servers they dial")
    tls_client_cert_file: str = _setting("", "Client certificate (PEM) for mutual TLS when dialling")
    tls_client_key_file: str = _setting("", "Client private key (PEM) for mutual TLS when dialling")
    auth_required: bool = _setting(
        True,
        "Require a bearer token on every call but health and reflection (false: development only)",
        _bool,
    )
    service_token: str = _setting("", "Bearer token the scoring service presents to the registry")
    loan_policy_path: str = _setting(
        "", "Loan policy file (YAML) the scoring service prices with; empty = packaged default"
    )
    registry_deadline_seconds: float = _setting(2.0, "Deadline of each scoring -> registry call", float)
    profile_cache_seconds: float = _setting(
        3600.0,
        "Longest the scoring service reuses a fetched profile (0 = never); the registry's change"
        " stream evicts a profile as soon as it changes, so this is only a backstop",
        float,
    )
    profile_cache_size: int = _setting(10_000, "Most profiles the scoring service keeps cached", int)
    max_loan_amount_fen: int = _setting(
        10**13,
        "Largest committed loan amount the loan book accepts, fen (10^13 fen = 1000 亿元); larger is refused",
        int,
    )
    min_cell_size: int = _setting(
        3,
        "Disclosure control: fewest distinct borrowers in any aggregate a regulator or the public sees",
        int,
    )
    registry_metrics_listen: str = _setting(
        "", "Address of the registry's Prometheus /metrics endpoint (empty = none; `make run`: :9464)"
    )
    scoring_metrics_listen: str = _setting(
        "", "Address of the scoring service's Prometheus /metrics endpoint (empty = none; `make run`: :9465)"
    )
    health_check_interval_seconds: float = _setting(
        5.0, "How often readiness probes the database (and, for scoring, the registry)", float
    )
    health_probe_timeout_seconds: float = _setting(
        2.0, "A readiness probe not answered in this time counts as failed", float
    )
    log_signing_key_file: str = _setting(
        "var/log_signing_key.pem",
        "Ed25519 private key (PEM) that signs decision-log tree heads; `tanxiao log keygen` writes one"
        " (created on first start when missing: development only)",
    )
    log_merge_delay_seconds: float = _setting(
        1.0, "Most seconds between a decision and its integration into the decision log (stated in it)", float
    )
    log_sequencer: bool = _setting(
        True, "Run the decision-log sequencer in this scoring process (one integrates at a time)", _bool
    )
    log_batch_size: int = _setting(10_000, "Most log entries the sequencer integrates per transaction", int)
    console_listen: str = _setting(
        "127.0.0.1:50080", "Address the web console binds (`tanxiao serve console`; on in `make run`)"
    )
    console_secret_key: str = _setting(
        "", "Key for the console's encrypted session cookies; empty = random per start (sign in again)"
    )
    http_trusted_proxies: str = _setting(
        "",
        "Reverse proxies in front of the console (addresses or CIDR networks, comma-separated) whose"
        " X-Forwarded-For is believed for the HTTP client's address; empty = none, the socket peer",
        _networks,
    )
    recompute_workers: int = _setting(
        0,
        "Processes a RecomputeBenchmarks year is split across by industry division (0 = one per CPU core,"
        " 1 = in the server process)",
        int,
    )
    ingest_workers: int = _setting(
        -1,
        "Processes that decode, validate and hash IngestRecords chunks while the server writes the previous"
        " ones (-1 = one per CPU core but one, 0 = in the server process)",
        int,
    )

    def limits(self) -> LimitSettings:
        return LimitSettings(
            max_streams_total=self.max_streams_total,
            max_streams_per_caller=self.max_streams_per_caller,
            rates=parse_role_numbers(self.rate_limits),
            concurrency=parse_role_numbers(self.concurrency_quotas),
            auth_failures_per_minute=self.auth_failures_per_minute,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            try:
                values[f.name] = f.metadata["parse"](raw)
            except ValueError as exc:
                raise ValueError(f"{PREFIX}{f.name.upper()}: {exc}") from exc
        return cls(**values)


def markdown_table() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for f in fields(Settings):
        rows.append(f"| `{PREFIX}{f.name.upper()}` | `{f.default}` | {f.metadata['doc']} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
