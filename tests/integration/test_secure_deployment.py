"""The suite deployed as a bank would: mutual TLS and bearer tokens, real processes. The scoring
service reaches the registry over mutual TLS with its own service token; callers without a client
certificate or a token, or with another lender's token, are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from helpers import error_details

from tanxiao.platform.config import Settings
from tanxiao.platform.tls import secure_channel
from tanxiao.registry.v1 import consent_pb2, consent_pb2_grpc
from tanxiao.scoring.v1 import scoring_pb2, scoring_pb2_grpc

pytestmark = pytest.mark.slow
TANXIAO = str(Path(sys.executable).with_name("tanxiao"))


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([TANXIAO, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def deployment(empty_db_url: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], str, str]]:
    base = {**os.environ, "TANXIAO_DATABASE_URL": empty_db_url, "TANXIAO_LOG_FORMAT": "json"}
    _run(base, "db", "upgrade")
    certs = dict(line.split("=", 1) for line in _run(base, "dev-certs", str(tmp_path / "certs")).splitlines())
    env = {**base, **certs}
    service = _run(env, "token", "create", "--role", "service").splitlines()[-1]
    lender = _run(env, "token", "create", "--role", "lender", "--tenant", "lenders/huzhou-bank").splitlines()[
        -1
    ]
    admin = _run(env, "token", "create", "--role", "admin").splitlines()[-1]
    _run(env, "demo-data", "--enterprises", "8")
    env |= {"TANXIAO_SERVICE_TOKEN": service, "TANXIAO_REGISTRY_LISTEN": "127.0.0.1:0",
            "TANXIAO_SCORING_LISTEN": "127.0.0.1:0"}  # fmt: skip
    process = subprocess.Popen(
        [TANXIAO, "serve", "all", "--no-console"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        scoring, registry = _wait_ready(process)
        yield {**env, "ADMIN_TOKEN": admin, "REGISTRY_ADDR": registry}, scoring, lender
    finally:
        process.terminate()
        process.wait(30)


def _wait_ready(process: subprocess.Popen[str]) -> tuple[str, str]:
    assert process.stderr is not None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"server exited: {process.wait()}")
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("event") == "tanxiao.ready":
            return str(entry["services"]["scoring"]), str(entry["services"]["registry"])
    raise AssertionError("not ready in time")


def _quote(request_id: str, lender: str = "lenders/huzhou-bank") -> scoring_pb2.QuoteLoanTermsRequest:
    return scoring_pb2.QuoteLoanTermsRequest(
        request_id=request_id, lender=lender, enterprise="", product=scoring_pb2.GENERAL,
        requested_amount_fen=500_000_000, tenor_months=36,
    )  # fmt: skip


def test_mutual_tls_and_tokens_end_to_end(deployment: tuple[dict[str, str], str, str]) -> None:
    env, address, lender = deployment
    settings = Settings.from_env(env)
    registry_settings = Settings.from_env(
        {**env, "TANXIAO_TLS_CLIENT_CERT_FILE": "", "TANXIAO_TLS_CLIENT_KEY_FILE": ""}
    )
    with secure_channel(address, settings) as channel:
        stub = scoring_pb2_grpc.LoanScoringStub(channel)
        uscc = _first_enterprise(env)
        request = _quote("secure-1")
        request.enterprise = f"enterprises/{uscc}"
        auth = [("authorization", f"Bearer {lender}")]
        with pytest.raises(grpc.RpcError) as caught:  # no consent of the enterprise yet
            stub.QuoteLoanTerms(request, timeout=30, metadata=auth)
        assert error_details(caught.value).reason == "CONSENT_REQUIRED"
        _grant_consent(env, settings, f"enterprises/{uscc}", "lenders/huzhou-bank")
        decision = stub.QuoteLoanTerms(request, timeout=30, metadata=auth)
        assert decision.name.startswith("decisions/")  # scoring -> registry worked over mTLS with its token
        with pytest.raises(grpc.RpcError) as caught:
            stub.QuoteLoanTerms(request, timeout=30)
        assert error_details(caught.value).code == grpc.StatusCode.UNAUTHENTICATED
        other = _quote("secure-2", lender="lenders/other-bank")
        other.enterprise = f"enterprises/{uscc}"
        with pytest.raises(grpc.RpcError) as caught:
            stub.QuoteLoanTerms(other, timeout=30, metadata=auth)
        assert error_details(caught.value).code == grpc.StatusCode.PERMISSION_DENIED
    with secure_channel(address, registry_settings) as channel:  # no client certificate: refused by TLS
        with pytest.raises(grpc.RpcError) as caught:
            scoring_pb2_grpc.LoanScoringStub(channel).GetDecision(
                scoring_pb2.GetDecisionRequest(name=decision.name), timeout=10, metadata=auth
            )
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]


def _grant_consent(env: dict[str, str], settings: Settings, enterprise: str, lender: str) -> None:
    """The registry operator (admin token, over mutual TLS) records the enterprise's consent."""
    expire = Timestamp()
    expire.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    with secure_channel(env["REGISTRY_ADDR"], settings) as channel:
        consent_pb2_grpc.ConsentsStub(channel).GrantConsent(
            consent_pb2.GrantConsentRequest(
                enterprise=enterprise, lender=lender, scopes=[consent_pb2.CARBON_DATA], expire_time=expire
            ),
            timeout=30,
            metadata=[("authorization", f"Bearer {env['ADMIN_TOKEN']}")],
        )


def _first_enterprise(env: dict[str, str]) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(env["TANXIAO_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(  # one that has not consented to huzhou-bank (the demo data's borrowers have)
                    sa.text(
                        "SELECT uscc FROM carbon_profiles WHERE uscc NOT IN (SELECT uscc FROM consents"
                        " WHERE lender = 'lenders/huzhou-bank') ORDER BY uscc LIMIT 1"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()
