"""The suite on several hosts: the registry, two scoring replicas and the console each in a network
namespace of this test's own (iproute2 `ip netns` + veth on a bridge), PostgreSQL on the host's
loopback reached through a relay on the bridge address, mutual TLS and tokens between every pair. A
load run quotes through both replicas (client-side round robin, as a gRPC-aware balancer would); one
replica is SIGKILLed mid-run. No decision is lost or duplicated, the clients recover onto the other
replica, the surviving replica's sequencer integrates every decision and every inclusion proof
verifies against a signed head; `tanxiao audit verify` passes.

Needs root (network namespaces): run by `make test-deploy`, which CI runs; outside CI it skips when not
root. Not part of `make test` (it takes about a minute).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.engine import make_url

from tanxiao.platform.config import Settings
from tanxiao.platform.tls import secure_channel
from tanxiao.registry.v1 import consent_pb2, consent_pb2_grpc
from tanxiao.scoring.v1 import decision_log_pb2 as lpb
from tanxiao.scoring.v1 import decision_log_pb2_grpc, scoring_pb2_grpc
from tanxiao.scoring.v1 import scoring_pb2 as spb
from tanxiao.translog import verify_inclusion

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

TANXIAO = str(Path(sys.executable).with_name("tanxiao"))
POSTGRES_URL = os.environ.get(
    "TANXIAO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
LENDER = "lenders/huzhou-bank"
THREADS, PER_THREAD = 4, 40
HOSTS = {"registry": 10, "scoring1": 11, "scoring2": 12, "console": 13}


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=30)


@dataclass
class Network:
    """A bridge on the host (the `.1` address) and one namespace per host, each with a veth on it."""

    tag: str = field(default_factory=lambda: f"{os.getpid() % 10000:04d}")
    subnet: str = field(default_factory=lambda: f"10.{100 + os.getpid() % 100}.{os.getpid() % 250}")

    @property
    def bridge(self) -> str:
        return f"txbr{self.tag}"

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"

    def ip(self, host: str) -> str:
        return f"{self.subnet}.{HOSTS[host]}"

    def namespace(self, host: str) -> str:
        return f"tx{self.tag}-{host}"

    def up(self) -> None:
        _sh("ip", "link", "add", self.bridge, "type", "bridge")
        _sh("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _sh("ip", "link", "set", self.bridge, "up")
        for number, host in enumerate(HOSTS):
            ns, veth = self.namespace(host), f"txv{self.tag}{number}"
            _sh("ip", "netns", "add", ns)
            _sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _sh("ip", "link", "set", veth, "master", self.bridge, "up")
            _sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.ip(host)}/24", "dev", "eth0")
            _sh("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
            _sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

    def down(self) -> None:
        for host in HOSTS:
            subprocess.run(["ip", "netns", "del", self.namespace(host)], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, timeout=30)


class TcpRelay:
    """Forwards `listen` to `target` (PostgreSQL listens on the host's loopback only; the namespaces
    reach it through the bridge address, as hosts reach a database through a proxy)."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(listen, reuse_port=False)
        self.server.settimeout(0.5)
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.closed.set()
        self.server.close()


class Host:
    """`tanxiao serve <service>` inside a namespace; its JSON log lines read on a thread."""

    def __init__(self, network: Network, host: str, service: str, env: dict[str, str]) -> None:
        self.name = host
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", network.namespace(host), TANXIAO, "serve", service],
            env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: queue.Queue[dict[str, object]] = queue.Queue()
        self.seen: list[dict[str, object]] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                self.lines.put(json.loads(line))
            except json.JSONDecodeError:
                self.lines.put({"event": "text", "line": line.rstrip()})

    def wait_for(self, event: str, timeout: float = 90) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None and self.lines.empty():
                break
            try:
                entry = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(entry)
            if entry.get("event") == event:
                return entry
        raise AssertionError(f"{self.name}: no {event!r} within {timeout}s (exit {self.process.poll()}): "
                             f"{self.seen[-20:]}")  # fmt: skip

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(20)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([TANXIAO, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"tanxiao {' '.join(args)}: {done.stderr[-2000:]}"
    return done.stdout.strip()


@pytest.fixture
def database() -> Iterator[str]:
    """A database of this test's own on the host's PostgreSQL."""
    server = make_url(POSTGRES_URL)
    name = f"tanxiao_deploy_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        message = f"PostgreSQL unreachable: {str(exc).splitlines()[0]}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    yield name
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def network() -> Iterator[Network]:
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("the multi-host test needs root for network namespaces (CI runs as root)")
        pytest.skip("needs root for network namespaces")
    net = Network()
    net.down()  # leftovers of an interrupted run with the same pid
    try:
        net.up()
        yield net
    finally:
        net.down()


@dataclass
class Deployment:
    network: Network
    env: dict[str, str]  # what a client on the host uses (mutual TLS files)
    lender_token: str
    admin_token: str
    hosts: dict[str, Host]


@pytest.fixture
def deployment(network: Network, database: str, tmp_path: Path) -> Iterator[Deployment]:
    host_url = make_url(POSTGRES_URL).set(database=database)
    base = {**os.environ, "TANXIAO_LOG_FORMAT": "json",
            "TANXIAO_DATABASE_URL": host_url.render_as_string(hide_password=False)}  # fmt: skip
    _run(base, "db", "upgrade")
    hosts_ips = [network.ip(h) for h in HOSTS]
    certs_out = _run(
        base, "dev-certs", str(tmp_path / "certs"), *[a for ip in hosts_ips for a in ("--host", ip)]
    )
    certs = dict(line.split("=", 1) for line in certs_out.splitlines() if line.startswith("TANXIAO_"))
    env = {**base, **certs, "TANXIAO_LOG_SIGNING_KEY_FILE": str(tmp_path / "log.pem")}
    _run(env, "log", "keygen", "--out", env["TANXIAO_LOG_SIGNING_KEY_FILE"])
    service = _run(env, "token", "create", "--role", "service").splitlines()[-1]
    lender = _run(env, "token", "create", "--role", "lender", "--tenant", LENDER).splitlines()[-1]
    admin = _run(env, "token", "create", "--role", "admin").splitlines()[-1]
    _run(env, "demo-data", "--enterprises", "12")

    relay = TcpRelay(
        (network.gateway, host_url.port or 5432), (host_url.host or "127.0.0.1", host_url.port or 5432)
    )
    in_ns_url = host_url.set(host=network.gateway).render_as_string(hide_password=False)
    served = {**env, "TANXIAO_DATABASE_URL": in_ns_url, "TANXIAO_SERVICE_TOKEN": service,
              "TANXIAO_REGISTRY_ADDR": f"{network.ip('registry')}:50051",
              "TANXIAO_LOG_MERGE_DELAY_SECONDS": "0.5",
              # the load is one lender's: above the per-caller defaults, which are for fairness
              "TANXIAO_RATE_LIMITS": "anonymous=1000,lender=2000,service=5000,admin=100",
              "TANXIAO_CONCURRENCY_QUOTAS": "anonymous=32,lender=64,service=64,admin=8"}  # fmt: skip
    hosts: dict[str, Host] = {}
    with ExitStack() as stack:
        stack.callback(relay.close)

        def start(host: str, service: str, **extra: str) -> Host:
            started = Host(network, host, service, {**served, "TANXIAO_ACCESS_LOG_DIR": str(tmp_path / host),
                                                    **extra})  # fmt: skip
            stack.callback(started.stop)
            hosts[host] = started
            return started

        start("registry", "registry", TANXIAO_REGISTRY_LISTEN=f"{network.ip('registry')}:50051")
        hosts["registry"].wait_for("tanxiao.ready")
        for replica in ("scoring1", "scoring2"):
            start(replica, "scoring", TANXIAO_SCORING_LISTEN=f"{network.ip(replica)}:50052")
        for replica in ("scoring1", "scoring2"):
            hosts[replica].wait_for("tanxiao.ready")
        start("console", "console", TANXIAO_CONSOLE_LISTEN=f"{network.ip('console')}:50080",
              TANXIAO_SCORING_ADDR=f"{network.ip('scoring2')}:50052")  # fmt: skip
        hosts["console"].wait_for("console.ready")
        yield Deployment(network, env, lender, admin, hosts)


def _grant_consents(deployment: Deployment, enterprises: list[str]) -> None:
    settings = Settings.from_env(deployment.env)
    expire = Timestamp()
    expire.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    with secure_channel(f"{deployment.network.ip('registry')}:50051", settings) as channel:
        stub = consent_pb2_grpc.ConsentsStub(channel)
        for enterprise in enterprises:
            stub.GrantConsent(
                consent_pb2.GrantConsentRequest(
                    enterprise=enterprise, lender=LENDER, scopes=[consent_pb2.CARBON_DATA], expire_time=expire
                ),
                timeout=30,
                metadata=[("authorization", f"Bearer {deployment.admin_token}")],
            )


def _graded_enterprises(deployment: Deployment) -> list[str]:
    engine = sa.create_engine(deployment.env["TANXIAO_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT DISTINCT uscc FROM carbon_profiles ORDER BY uscc LIMIT 6"))
            return [f"enterprises/{row[0]}" for row in rows]
    finally:
        engine.dispose()


def _quote_with_retries(
    stub: scoring_pb2_grpc.LoanScoringStub, request: spb.QuoteLoanTermsRequest, token: str
) -> tuple[spb.Decision, int]:
    """What a loan system does: the same request_id again after UNAVAILABLE (idempotent server side)."""
    retries = 0
    deadline = time.monotonic() + 60
    while True:
        try:
            decision = stub.QuoteLoanTerms(
                request, timeout=10, metadata=[("authorization", f"Bearer {token}")]
            )
            return decision, retries
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            if code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            if time.monotonic() > deadline:
                raise
            retries += 1
            time.sleep(0.2)


def _served_quotes(directory: Path) -> int:
    """QuoteLoanTerms calls in a replica's access log."""
    count = 0
    for path in directory.glob("access-*.jsonl"):
        for line in path.read_text().splitlines():
            if '"QuoteLoanTerms"' in line or "/QuoteLoanTerms" in line:
                count += 1
    return count


def test_replica_killed_mid_load_loses_and_duplicates_nothing(deployment: Deployment, tmp_path: Path) -> None:
    net = deployment.network
    enterprises = _graded_enterprises(deployment)
    assert len(enterprises) >= 3
    _grant_consents(deployment, enterprises)

    settings = Settings.from_env(deployment.env)
    target = f"ipv4:{net.ip('scoring1')}:50052,{net.ip('scoring2')}:50052"
    options = [("grpc.lb_policy_name", "round_robin"), ("grpc.ssl_target_name_override", net.ip("scoring1"))]
    results: dict[str, str] = {}
    retried = 0
    lock = threading.Lock()
    done_count = 0
    half = threading.Event()
    failures: list[BaseException] = []

    with secure_channel(target, settings, options) as channel:
        stub = scoring_pb2_grpc.LoanScoringStub(channel)

        def worker(number: int) -> None:
            nonlocal retried, done_count
            try:
                for i in range(PER_THREAD):
                    request_id = f"deploy-{number}-{i}"
                    request = spb.QuoteLoanTermsRequest(
                        request_id=request_id, lender=LENDER, enterprise=enterprises[i % len(enterprises)],
                        product=spb.GENERAL, requested_amount_fen=300_000_000 + i, tenor_months=36,
                    )  # fmt: skip
                    decision, retries = _quote_with_retries(stub, request, deployment.lender_token)
                    with lock:
                        assert request_id not in results
                        results[request_id] = decision.name
                        retried += retries
                        done_count += 1
                        if done_count >= THREADS * PER_THREAD // 3:
                            half.set()
            except BaseException as exc:
                failures.append(exc)
                half.set()

        workers = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for w in workers:
            w.start()
        assert half.wait(180), "the load made no progress"
        deployment.hosts["scoring1"].kill()  # mid-run, no graceful shutdown
        for w in workers:
            w.join(300)
        assert not failures, failures

        assert len(results) == THREADS * PER_THREAD
        assert len(set(results.values())) == THREADS * PER_THREAD  # one decision per request id
        # Both replicas served quotes before the kill (the balancer spread the load).
        assert _served_quotes(tmp_path / "scoring1") > 0
        assert _served_quotes(tmp_path / "scoring2") > 0

        # The survivor's view: each request id once, nothing extra (ListDecisions, paged).
        listed: list[str] = []
        token = ""
        auth = [("authorization", f"Bearer {deployment.lender_token}")]
        while True:
            page = stub.ListDecisions(
                spb.ListDecisionsRequest(lender=LENDER, page_size=1000, page_token=token),
                timeout=30,
                metadata=auth,
            )
            listed += [d.name for d in page.decisions]
            token = page.next_page_token
            if not token:
                break
        assert sorted(listed) == sorted(results.values())

        # The survivor's sequencer integrates everything; every inclusion proof verifies.
        log = decision_log_pb2_grpc.DecisionLogStub(channel)
        deadline = time.monotonic() + 60
        while True:
            head = log.GetSignedTreeHead(lpb.GetSignedTreeHeadRequest(), timeout=10, metadata=auth)
            if head.tree_size >= len(results) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert head.tree_size >= len(results)
        for name in results.values():
            proof = log.GetInclusionProof(
                lpb.GetInclusionProofRequest(decision=name), timeout=10, metadata=auth
            )
            signed = proof.signed_tree_head
            verify_inclusion(
                proof.leaf_index, signed.tree_size, proof.leaf_hash, list(proof.hashes), signed.root_hash
            )

    verified = subprocess.run(
        [TANXIAO, "audit", "verify"], env=deployment.env, capture_output=True, text=True, timeout=300
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # The console, on its own host, serves HTTPS and reaches the surviving replica over mutual TLS with
    # the signed-in lender's token: the lender opens one of the decisions.
    context = ssl.create_default_context(cafile=deployment.env["TANXIAO_TLS_CA_FILE"])
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), urllib.request.HTTPCookieProcessor()
    )
    base = f"https://{net.ip('console')}:50080"
    with opener.open(f"{base}/signin", timeout=30) as reply:
        csrf = re.search(r'name="csrf" value="([^"]+)"', reply.read().decode())
    assert csrf, "no CSRF field on the sign-in page"
    form = urllib.parse.urlencode({"csrf": csrf.group(1), "token": deployment.lender_token}).encode()
    opener.open(f"{base}/signin", data=form, timeout=30).close()
    decision_id = next(iter(results.values())).split("/", 1)[1]
    with opener.open(f"{base}/decisions/{decision_id}", timeout=60) as reply:
        assert reply.status == 200 and decision_id in reply.read().decode()
