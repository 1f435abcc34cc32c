"""The client examples (examples/python, examples/node, examples/java) as a bank's developer runs them,
against real servers started here: each quotes a loan and decodes the error of a bad request, and
agrees with what the contract's Python stub gets for the same calls. The Node and Java toolchains come
from npm and Debian (`make client-deps`, which `make test` runs); missing, the test skips (fails in CI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from helpers import DEVELOPMENT

from tanxiao.scoring.v1 import scoring_pb2, scoring_pb2_grpc

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TANXIAO = str(Path(sys.executable).with_name("tanxiao"))
REFLECTION_V1 = Path("/usr/share/grpc-proto/grpc/reflection/v1/reflection.proto")  # Debian grpc-proto


@dataclass(frozen=True)
class Served:
    scoring: str
    registry: str
    uscc: str


def _missing(what: str) -> None:
    message = f"{what} is not installed (`make client-deps` installs it; `make test` runs that)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    url = f"sqlite:///{tmp_path_factory.mktemp('examples') / 'tanxiao.db'}"
    env = {**os.environ, "TANXIAO_DATABASE_URL": url, "TANXIAO_LOG_FORMAT": "json", **DEVELOPMENT}
    _run(TANXIAO, "db", "upgrade", env=env)
    _run(TANXIAO, "demo-data", "--enterprises", "8", env=env)
    engine = sa.create_engine(url)
    with engine.connect() as conn:  # a graded demo enterprise, so the quote is priced
        uscc = str(
            conn.execute(sa.text("SELECT uscc FROM carbon_profiles ORDER BY uscc LIMIT 1")).scalar_one()
        )
    engine.dispose()
    listen = {"TANXIAO_REGISTRY_LISTEN": "127.0.0.1:0", "TANXIAO_SCORING_LISTEN": "127.0.0.1:0"}
    process = subprocess.Popen(
        [TANXIAO, "serve", "all", "--no-console"], env={**env, **listen}, stderr=subprocess.PIPE, text=True
    )
    try:
        services = _wait_ready(process)
        yield Served(services["scoring"], services["registry"], uscc)
    finally:
        process.terminate()
        process.wait(30)


def _wait_ready(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stderr is not None
    for line in process.stderr:
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("event") == "tanxiao.ready":
            return dict(entry["services"])
    raise AssertionError(f"server exited: {process.wait()}")


def _from_stub(served: Served, request_id: str) -> tuple[scoring_pb2.Decision, dict[str, Any]]:
    """The decision for the example's request id (idempotent: the same one) and the decoded error of
    the example's bad request, as the contract's own Python stub sees them."""
    with grpc.insecure_channel(served.scoring) as channel:
        stub = scoring_pb2_grpc.LoanScoringStub(channel)
        request = scoring_pb2.QuoteLoanTermsRequest(
            request_id=request_id, lender="lenders/huzhou-bank", enterprise=f"enterprises/{served.uscc}",
            product=scoring_pb2.GENERAL, requested_amount_fen=500_000_000, tenor_months=36,
        )  # fmt: skip
        decision = stub.QuoteLoanTerms(request, timeout=30)
        request.request_id, request.enterprise = f"{request_id}-bad", "enterprises/NOT-A-USCC"
        with pytest.raises(grpc.RpcError) as raised:
            stub.QuoteLoanTerms(request, timeout=30)
    status = rpc_status.from_call(raised.value)  # type: ignore[arg-type]
    assert status is not None
    error: dict[str, Any] = {"code": raised.value.code().name}  # type: ignore[attr-defined]
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            error.update(reason=info.reason, domain=info.domain, metadata_keys=sorted(info.metadata))
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            error["fields"] = [(v.field, v.description) for v in bad.field_violations]
    return decision, error


def _check(output: str, served: Served, request_id: str) -> None:
    """The example printed the quote and the decoded error, equal to what the stub gets."""
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert len(lines) == 2, output
    quoted, failed = lines[0], lines[1]["error"]
    decision, error = _from_stub(served, request_id)
    assert quoted["decision"] == decision.name and decision.name.startswith("decisions/")
    assert quoted["product"] == "GENERAL" and quoted["eligible"] == decision.eligible
    assert quoted["grade"] == decision.grade.grade
    assert float(quoted["final_rate_bp"]) == pytest.approx(decision.final_rate_bp)
    assert int(quoted["approved_limit_fen"]) == decision.approved_limit_fen  # int64: exact
    # The error model: the status code, one ErrorInfo and a BadRequest naming the field at fault.
    assert failed["code"] == error["code"] == "INVALID_ARGUMENT"
    assert (failed["reason"], failed["domain"]) == (error["reason"], error["domain"])
    assert error["domain"] == "tanxiao.io" and error["reason"]
    assert sorted(failed["metadata"]) == error["metadata_keys"]
    assert [(v["field"], v["description"]) for v in failed["field_violations"]] == error["fields"]
    assert "enterprise" in [field for field, _ in error["fields"]]


def test_python_example_quotes_and_decodes_errors(served: Served) -> None:
    script = EXAMPLES / "python" / "quote_loan.py"
    output = _run(sys.executable, str(script), served.scoring, served.uscc, "example-python")
    _check(output, served, "example-python")


def test_node_example_quotes_and_decodes_errors(served: Served) -> None:
    node = shutil.which("node")
    if node is None or not (EXAMPLES / "node" / "node_modules" / "@grpc" / "grpc-js").is_dir():
        _missing("node with examples/node/node_modules")
    assert node is not None
    output = _run(node, str(EXAMPLES / "node" / "quote_loan.js"), served.scoring, served.uscc, "example-node")
    _check(output, served, "example-node")


def test_node_reflection_client_lists_and_describes_over_v1(served: Served) -> None:
    """A client of grpc.reflection.v1 (the official v1 reflection.proto, Debian's grpc-proto) lists the
    services of both servers and describes their methods from the file descriptors it gets."""
    node = shutil.which("node")
    if node is None or not REFLECTION_V1.is_file() or not (EXAMPLES / "node" / "node_modules").is_dir():
        _missing("node, examples/node/node_modules or Debian's grpc-proto")
    assert node is not None
    script = str(EXAMPLES / "node" / "reflect.js")
    scoring = json.loads(_run(node, script, served.scoring, "tanxiao.scoring.v1.LoanScoring"))
    registry = json.loads(_run(node, script, served.registry, "tanxiao.registry.v1.CarbonRegistry"))
    assert scoring["version"] == registry["version"] == "v1"
    assert {"tanxiao.scoring.v1.LoanScoring", "tanxiao.portfolio.v1.PortfolioReporting",
            "grpc.reflection.v1.ServerReflection"} <= set(scoring["services"])  # fmt: skip
    assert {"tanxiao.registry.v1.CarbonRegistry", "grpc.reflection.v1.ServerReflection"} <= set(
        registry["services"]
    )
    assert set(scoring_pb2.DESCRIPTOR.services_by_name["LoanScoring"].methods_by_name) == set(
        scoring["methods"]
    )
    assert "IngestRecords" in registry["methods"]
    assert "tanxiao.registry.v1.EnergyRecord" in registry["messages"]


@pytest.fixture(scope="module")
def java_example(tmp_path_factory: pytest.TempPathFactory) -> str:
    """examples/java built with Debian's packages (build.sh); the classpath to run it with."""
    if shutil.which("javac") is None or shutil.which("grpc_java_plugin") is None:
        _missing("a JDK with Debian's grpc-java (protobuf-compiler-grpc-java-plugin, libgrpc-java)")
    out = tmp_path_factory.mktemp("java")
    _run(str(EXAMPLES / "java" / "build.sh"), str(out), timeout=900)
    generated = {p.stem for p in (out / "generated").rglob("*.java")}
    assert "EnergyRecord" in generated and "Record" not in generated  # no clash with java.lang.Record
    return (out / "classpath").read_text().strip()


@pytest.mark.heavy  # compiling the generated contract takes minutes on a loaded machine
@pytest.mark.timeout(1200)
def test_java_example_quotes_and_decodes_errors(served: Served, java_example: str) -> None:
    java = shutil.which("java")
    assert java is not None
    main = "io.tanxiao.examples.QuoteLoan"
    output = _run(java, "-cp", java_example, main, served.scoring, served.uscc, "example-java")
    _check(output, served, "example-java")
