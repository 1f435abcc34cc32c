"""Hostile input over gRPC: malformed USCCs, unicode (NUL, RTL, full-width digits) and overlong strings,
NaN/±inf/negative/huge numbers, periods and dates out of range, raw enum ints outside their enums,
malformed resource names, oversize messages and batches beyond the limits.

Hypothesis builds registry, scoring and portfolio requests and sends them to in-process servers on one
SQLite database (seeded with graded enterprises, a commitment, a decision and a loan, so valid-looking
requests get deep). Every failure must be an expected status (never INTERNAL or UNKNOWN) and every
INVALID_ARGUMENT must name at least one field in a google.rpc.BadRequest. Each family is bounded by
``max_examples``, so the file runs in well under a minute. An explicit corpus checks the exact field
named for the classic bad values, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from helpers import error_details, graded_year_records, make_uscc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry_service.app import start_registry
from registry_service.domain.enterprise import AnnualFinancials, Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from scoring_service.app import start_scoring
from tanxiao.common.v1 import common_pb2
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine
from tanxiao.platform.server import RunningServer
from tanxiao.portfolio.v1 import portfolio_pb2 as ppb
from tanxiao.portfolio.v1 import portfolio_pb2_grpc
from tanxiao.registry.v1 import registry_pb2 as rpb
from tanxiao.registry.v1 import registry_pb2_grpc
from tanxiao.scoring.v1 import scoring_pb2 as spb
from tanxiao.scoring.v1 import scoring_pb2_grpc

Code = grpc.StatusCode
# What hostile input may get back. UNAVAILABLE would mean a dependency failed (never expected here, but it
# is a deliberate answer, not a crash); INTERNAL and UNKNOWN are bugs.
EXPECTED = {
    Code.INVALID_ARGUMENT,
    Code.NOT_FOUND,
    Code.FAILED_PRECONDITION,
    Code.ALREADY_EXISTS,
    Code.RESOURCE_EXHAUSTED,
    Code.OUT_OF_RANGE,
    Code.UNAVAILABLE,
}
MAX_MESSAGE_BYTES = 256 * 1024
MAX_BATCH_RECORDS = 20
MAX_STREAM_RECORDS = 400
INTENSITIES = [0.3, 1.0, 2.0, 8.0]
FIRMS = [make_uscc(800 + i) for i in range(len(INTENSITIES))]
UNREGISTERED = make_uscc(899)
# Ingest and enterprise writes go to these, never to the priced FIRMS, so that the quote and report
# examples price the seeded profiles only.
FEEDS = [make_uscc(820), make_uscc(821)]
LENDER = "lenders/fuzz-bank"
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # hostile examples are regenerated each run; no example files written to the repo
)


def fuzz_settings(url: str) -> Settings:
    return Settings.from_env(
        {
            "TANXIAO_DATABASE_URL": url,
            "TANXIAO_MAX_BATCH_RECORDS": str(MAX_BATCH_RECORDS),
            "TANXIAO_MAX_STREAM_RECORDS": str(MAX_STREAM_RECORDS),
            "TANXIAO_MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES),
            "TANXIAO_MAX_WORKERS": "4",
            "TANXIAO_PROFILE_CACHE_SECONDS": "0",
            # The fuzz asks "never INTERNAL", not "fast": a loaded CI machine must not turn a slow
            # registry into DEADLINE_EXCEEDED (seen once under load).
            "TANXIAO_REGISTRY_DEADLINE_SECONDS": "30",
            "TANXIAO_ALLOW_PLAINTEXT": "true",
            "TANXIAO_AUTH_REQUIRED": "false",
        }
    )


@dataclass
class Suite:
    registry: registry_pb2_grpc.CarbonRegistryStub
    scoring: scoring_pb2_grpc.LoanScoringStub
    portfolio: portfolio_pb2_grpc.PortfolioReportingStub
    registry_address: str
    commitment: str = ""
    decision: str = ""
    loan: str = ""


# Error messages echo the offending value, so the status of a rejected 10k-character value can exceed the
# 8 KiB metadata limit of a default client (see test_a_default_client_gets_the_field_of_an_overlong_value):
# the fuzz client accepts large trailers so that what the server answers is what gets checked.
TOLERANT_CLIENT = [("grpc.max_metadata_size", 4 << 20), ("grpc.absolute_max_metadata_size", 4 << 20)]


def _start(url: str, *, seed: bool = True) -> tuple[list[RunningServer], list[grpc.Channel], Suite]:
    """Registry and scoring servers on ``url`` with the fuzz limits; ``seed`` adds graded profiles, a
    commitment, a decision and a loan (slower) for requests to get deep."""
    engine = make_engine(url)
    financials = (AnnualFinancials(2022, 3_000_000_000, 12_000_000_000, 4_000_000_000, 6_000_000_000),)
    try:
        EnterpriseRepository(engine).create_many(
            [
                Enterprise(u, f"湖州化纤{i}", "2822", "330502", financials=financials)
                for i, u in enumerate(FIRMS)
            ]
        )
    finally:
        engine.dispose()
    config = fuzz_settings(url)
    registry = start_registry(config, "127.0.0.1:0")
    scoring = start_scoring(config, "127.0.0.1:0", registry_addr=registry.address)
    channels = [
        grpc.insecure_channel(registry.address, options=TOLERANT_CLIENT),
        grpc.insecure_channel(scoring.address, options=TOLERANT_CLIENT),
    ]
    registry_stub = registry_pb2_grpc.CarbonRegistryStub(channels[0])
    scoring_stub = scoring_pb2_grpc.LoanScoringStub(channels[1])
    portfolio_stub = portfolio_pb2_grpc.PortfolioReportingStub(channels[1])
    if not seed:
        return (
            [scoring, registry],
            channels,
            Suite(registry_stub, scoring_stub, portfolio_stub, registry.address),
        )
    rows = [r for u, i in zip(FIRMS, INTENSITIES, strict=True) for r in graded_year_records(u, i)]
    chunks = (rpb.IngestRecordsRequest(records=rows[i : i + 20]) for i in range(0, len(rows), 20))
    assert registry_stub.IngestRecords(chunks, timeout=60).accepted == len(rows)
    registry_stub.RecomputeBenchmarks(rpb.RecomputeBenchmarksRequest(year=2022), timeout=60)
    commitment = registry_stub.RegisterCommitment(
        rpb.RegisterCommitmentRequest(
            parent=f"enterprises/{FIRMS[-1]}",
            commitment=rpb.Commitment(
                project_type=rpb.PV, title="屋顶光伏", baseline_year=2022, target_savings_tce_per_year=900,
                target_savings_tco2_per_year=4_000, capex_fen=800_000_000, start_date="2023-01-01",
                milestones=[rpb.Milestone(title="并网", due_date="2023-12-31", target_fraction=1.0)],
                verifier="浙江省节能监测中心",
            ),
        ),
        timeout=30,
    )  # fmt: skip
    decision = scoring_stub.QuoteLoanTerms(
        spb.QuoteLoanTermsRequest(
            request_id="seed", lender=LENDER, enterprise=f"enterprises/{FIRMS[0]}", product=spb.GENERAL,
            requested_amount_fen=500_000_000, tenor_months=36, profile_period="2022",
        ),
        timeout=30,
    )  # fmt: skip
    loan = portfolio_stub.RecordLoan(
        ppb.RecordLoanRequest(
            request_id="seed-loan", lender=LENDER, loan_id="L1", decision=decision.name,
            committed_amount_fen=500_000_000, outstanding_fen=400_000_000, start_date="2023-01-15",
            maturity_date="2026-01-15",
        ),
        timeout=30,
    )  # fmt: skip
    suite = Suite(
        registry_stub,
        scoring_stub,
        portfolio_stub,
        registry.address,
        commitment.name,
        decision.name,
        loan.name,
    )
    return [scoring, registry], channels, suite


@pytest.fixture(scope="module")
def fuzz(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    shutil.copyfile(sqlite_template, path)
    servers, channels, suite = _start(f"sqlite:///{path}")
    try:
        yield suite
    finally:
        for channel in channels:
            channel.close()
        for server in servers:
            server.stop(None)


def expect_handled(call: Callable[[], Any]) -> Any:
    """Run one call: return its response, or the ErrorDetails of an expected failure; fail on a crash."""
    try:
        return call()
    except grpc.RpcError as error:
        details = error_details(error)
        assert details.code in EXPECTED, f"{details.code.name}: {details.message!r}"
        if details.code == Code.INVALID_ARGUMENT:
            assert details.fields, f"INVALID_ARGUMENT without a field violation: {details.message!r}"
            assert all(details.fields), details.violations
        return details


# --- strategies ----------------------------------------------------------------------------------------

CHARACTERS = st.characters(codec="utf-8")  # any encodable code point (no lone surrogates), NUL included
SPECIAL_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202eRTL\u202c",
    "\u200f\u05e9\u05dc\u05d5\u05dd",
    "\ufeffBOM",
    "２０２４-０１",
    "９１３３０５０２",
    "😀" * 40,
    "'; DROP TABLE records; --",
    "%s%n{0}{}",
    "../../etc/passwd",
    "\r\n\t",
    "A" * 10_000,
    "中" * 10_000,
]
LONG_TEXT = st.builds(lambda c, n: c * n, CHARACTERS, st.integers(min_value=65, max_value=10_000))


def text(*valid: str) -> st.SearchStrategy[str]:
    options = [st.sampled_from(SPECIAL_TEXT), st.text(CHARACTERS, max_size=30), LONG_TEXT]
    if valid:
        options.insert(0, st.sampled_from(valid))
    return st.one_of(options)


FLOATS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -0.0, 0.0, 1e308, -1e308, 5e-324, 5e6, 2.0**63]),
    st.floats(),
)
# Money in fen (int64): the extremes, the loan book's plausible-bound edges and anything in between.
FEN = st.one_of(
    st.sampled_from([0, -1, 1, 500_000_000, 10**13, 10**13 + 1, 2**63 - 1, -(2**63)]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
INT64 = st.one_of(
    st.sampled_from([0, -1, 1, 500_000_000, 10**14, 10**14 + 1, 2**63 - 1, -(2**63)]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
INT32 = st.one_of(
    st.sampled_from([0, -1, 1, 2022, 2023, 1899, 2_147_483_647, -2_147_483_648]),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
)


def enum(values: Any) -> st.SearchStrategy[int]:
    """A raw enum int: a declared value or anything an int32 can hold."""
    return st.one_of(st.sampled_from(list(values.values())), INT32)


USCCS = text(*FIRMS, FIRMS[0].lower(), UNREGISTERED, "91110000600037341N", "91330502" + "O" * 10)
RECORD_USCCS = text(*FEEDS, FEEDS[0].lower(), UNREGISTERED, "91110000600037341N", "91330502" + "O" * 10)
# Full-width digits have their own test (test_a_period_in_full_width_digits_is_rejected).
RECORD_PERIODS = text(
    "2022-06", "2024-03", "0000-00", "9999-12", "2024-13", "2024-00", "2024-3", "2024-03\x00"
)
PERIODS = st.one_of(RECORD_PERIODS, st.just("２０２４-０１"))
PROFILE_PERIODS = text("2022", "R12-2022-12", "R12-2024-13", "0000", "9999", "1899", "-2022", "２０２２")
DATES = text("2023-01-15", "2023-02-30", "0000-00-00", "9999-12-31", "2023-1-5", "２０２３-０１-１５")
CATEGORIES = text("ELECTRICITY", "NATURAL_GAS", "INDUSTRIAL_ADDED_VALUE", "electricity", "UNOBTAINIUM")
UNITS = text("", "kWh", "MWh", "万m3", "t", "m3")
ENTERPRISE_NAMES = st.one_of(
    st.builds(lambda u: f"enterprises/{u}", USCCS), text("enterprises/", "enterprise/x", "enterprises//")
)
LENDERS = text(LENDER, "lenders/", "lenders/a/b", "lenders/../x", "lenders/" + "x" * 65, "banks/x")


def commitment_names(suite_name: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([suite_name, suite_name + "x", suite_name.rsplit("/", 1)[0] + "/", "commitments/1"]),
        st.builds(lambda e, c: f"{e}/commitments/{c}", ENTERPRISE_NAMES, text("1", "0", "-1")),
        text(),
    )


ACCOUNT_NAMES = text(
    "utilityAccounts/electricity/3300123456",
    "utilityAccounts/gas/G-1",
    "utilityAccounts/oil/1",
    "utilityAccounts/",
)
DATES = text("2025-07-01", "2025-02-30", "20250701", "0001-01-01", "9999-12-31")


def utility_account_writes() -> st.SearchStrategy[tuple[str, Any]]:
    holding = st.builds(
        rpb.UtilityAccountHolding, enterprise=ENTERPRISE_NAMES, valid_from=DATES, valid_to=DATES
    )
    account = st.builds(
        rpb.UtilityAccount,
        kind=enum(rpb.UtilityKind),
        number=text("3300123456", "G-1", "x" * 64, "x" * 65),
        holdings=st.lists(holding, max_size=3),
    )
    return st.one_of(
        st.tuples(
            st.just("CreateUtilityAccount"),
            st.builds(rpb.CreateUtilityAccountRequest, utility_account=account, request_id=text("", "r1")),
        ),
        st.tuples(
            st.just("TransferUtilityAccount"),
            st.builds(
                rpb.TransferUtilityAccountRequest,
                name=ACCOUNT_NAMES,
                to_enterprise=ENTERPRISE_NAMES,
                effective_date=DATES,
                request_id=text("", "r2"),
            ),
        ),
        st.tuples(
            st.just("ListUtilityAccounts"),
            st.builds(
                rpb.ListUtilityAccountsRequest,
                page_size=INT32,
                page_token=text("", "AAAA"),
                enterprise=st.one_of(st.just(""), ENTERPRISE_NAMES),
                kind=enum(rpb.UtilityKind),
            ),
        ),
        st.tuples(
            st.just("GetUtilityAccountReconciliation"),
            st.builds(rpb.GetUtilityAccountReconciliationRequest, kind=enum(rpb.UtilityKind)),
        ),
    )


def records() -> st.SearchStrategy[rpb.EnergyRecord]:
    return st.builds(
        rpb.EnergyRecord,
        uscc=RECORD_USCCS,
        period=RECORD_PERIODS,
        category=CATEGORIES,
        quantity=FLOATS,
        unit=UNITS,
        source=enum(common_pb2.DataSource),
        external_id=text("fuzz-1", "fuzz-2", "x" * 128, "x" * 129),
        utility_account=st.one_of(st.just(""), ACCOUNT_NAMES),
    )


def financials() -> st.SearchStrategy[rpb.AnnualFinancials]:
    return st.builds(
        rpb.AnnualFinancials,
        year=INT32,
        industrial_added_value_fen=INT64,
        revenue_fen=INT64,
        total_equity_fen=INT64,
        total_debt_fen=INT64,
        listed=st.booleans(),
        evic_fen=INT64,
    )


def enterprises() -> st.SearchStrategy[rpb.Enterprise]:
    return st.builds(
        rpb.Enterprise,
        name=st.one_of(
            st.builds(lambda u: f"enterprises/{u}", RECORD_USCCS),
            ENTERPRISE_NAMES.filter(lambda n: not any(f in n.upper() for f in FIRMS)),
        ),
        uscc=text(make_uscc(850), make_uscc(851), *FEEDS, "91110000600037341N"),
        display_name=text("湖州模糊测试有限公司"),
        industry_code=text("2822", "28", "C", "99999", "２８"),
        region_code=text("330502", "3305", "000000", "３３０５０２"),
        size_class=enum(rpb.SizeClass),
        financials=st.lists(financials(), max_size=3),
    )


# --- registry --------------------------------------------------------------------------------------------


@FUZZ
@given(
    enterprise=enterprises(),
    request_id=text("req-1", "r" * 64, "r" * 65),
    paths=st.lists(text("display_name", "financials", "uscc", "size_class", "name"), max_size=3),
    update=st.booleans(),
)
def test_enterprise_writes(
    fuzz: Suite, enterprise: rpb.Enterprise, request_id: str, paths: list[str], update: bool
) -> None:
    if update:
        request = rpb.UpdateEnterpriseRequest(
            enterprise=enterprise, update_mask=field_mask_pb2.FieldMask(paths=paths), request_id=request_id
        )
        expect_handled(lambda: fuzz.registry.UpdateEnterprise(request, timeout=30))
    else:
        create = rpb.CreateEnterpriseRequest(enterprise=enterprise, request_id=request_id)
        expect_handled(lambda: fuzz.registry.CreateEnterprise(create, timeout=30))


def _check_results(response: Any) -> None:
    if not isinstance(response, rpb.IngestRecordsResponse):
        return
    for result in response.results:
        if result.status == rpb.REJECTED:
            assert result.field.startswith(f"records[{result.index}]."), result
            assert result.reason and result.reason_code, result


@FUZZ
@given(chunks=st.lists(st.lists(records(), max_size=6), min_size=1, max_size=3), stream=st.booleans())
def test_record_ingest(fuzz: Suite, chunks: list[list[rpb.EnergyRecord]], stream: bool) -> None:
    if stream:
        requests = [rpb.IngestRecordsRequest(records=c, include_accepted_results=True) for c in chunks]
        response = expect_handled(lambda: fuzz.registry.IngestRecords(iter(requests), timeout=30))
    else:
        batch = rpb.BatchIngestRecordsRequest(records=[r for c in chunks for r in c])
        response = expect_handled(lambda: fuzz.registry.BatchIngestRecords(batch, timeout=30))
    _check_results(response)


def registry_reads() -> st.SearchStrategy[tuple[str, Any]]:
    profile_names = st.one_of(
        st.builds(lambda e, p: f"{e}/profiles/{p}", ENTERPRISE_NAMES, PROFILE_PERIODS), text()
    )
    return st.one_of(
        st.tuples(st.just("GetEnterprise"), st.builds(rpb.GetEnterpriseRequest, name=ENTERPRISE_NAMES)),
        st.tuples(
            st.just("ListEnterprises"),
            st.builds(
                rpb.ListEnterprisesRequest,
                page_size=INT32,
                page_token=text("", "AAAA", "eyJ4IjoxfQ=="),
                industry_code_prefix=text("28", "%", "_"),
                region_code_prefix=text("3305", "%"),
            ),
        ),
        st.tuples(
            st.just("ListRecords"),
            st.builds(
                rpb.ListRecordsRequest,
                parent=ENTERPRISE_NAMES,
                period=PERIODS,
                category=CATEGORIES,
                include_history=st.booleans(),
                page_size=INT32,
                page_token=text("", "AAAA", "bnVsbA=="),
            ),
        ),
        st.tuples(st.just("GetCarbonProfile"), st.builds(rpb.GetCarbonProfileRequest, name=profile_names)),
        st.tuples(
            st.just("BatchGetCarbonProfiles"),
            st.builds(
                rpb.BatchGetCarbonProfilesRequest,
                names=st.lists(profile_names, max_size=4),
                allow_missing=st.booleans(),
            ),
        ),
        st.tuples(
            st.just("ListBenchmarks"),
            st.builds(
                rpb.ListBenchmarksRequest,
                year=INT32,
                industry_code_prefix=text("28"),
                region_level=enum(common_pb2.RegionLevel),
                page_size=INT32,
                page_token=text("", "AAAA"),
            ),
        ),
        st.tuples(
            st.just("RecomputeBenchmarks"),
            # Valid years recompute for real (slow): mostly hostile ones.
            st.builds(rpb.RecomputeBenchmarksRequest, year=INT32.filter(lambda y: not 2000 <= y <= 2100)),
        ),
        st.tuples(
            st.just("ListDataCategories"),
            st.builds(rpb.ListDataCategoriesRequest, catalog_version=text("1900.1", "")),
        ),
    )


@FUZZ
@given(call=utility_account_writes())
def test_utility_accounts(fuzz: Suite, call: tuple[str, Any]) -> None:
    method, request = call
    expect_handled(lambda: getattr(fuzz.registry, method)(request, timeout=30))


@FUZZ
@given(call=registry_reads())
def test_registry_reads(fuzz: Suite, call: tuple[str, Any]) -> None:
    method, request = call
    expect_handled(lambda: getattr(fuzz.registry, method)(request, timeout=30))


@FUZZ
@given(data=st.data())
def test_commitments(fuzz: Suite, data: st.DataObject) -> None:
    names = commitment_names(fuzz.commitment)
    method = data.draw(st.sampled_from(["Register", "Verify", "List", "Progress"]))
    if method == "Register":
        commitment = data.draw(
            st.builds(
                rpb.Commitment,
                project_type=enum(rpb.ProjectType),
                title=text("余热回收"),
                baseline_year=INT32,
                target_savings_tce_per_year=FLOATS,
                target_savings_tco2_per_year=FLOATS,
                capex_fen=INT64,
                start_date=DATES,
                milestones=st.lists(
                    st.builds(rpb.Milestone, title=text("m"), due_date=DATES, target_fraction=FLOATS),
                    max_size=3,
                ),
                verifier=text("浙江省节能监测中心"),
            )
        )
        request: Any = rpb.RegisterCommitmentRequest(
            parent=data.draw(ENTERPRISE_NAMES), commitment=commitment, request_id=data.draw(text("c-1"))
        )
        expect_handled(lambda: fuzz.registry.RegisterCommitment(request, timeout=30))
    elif method == "Verify":
        verification = data.draw(
            st.builds(
                rpb.Verification,
                verification_date=DATES,
                verifier=text("v"),
                verified_savings_tco2=FLOATS,
                verified_savings_tce=FLOATS,
                passed=st.booleans(),
                note=text(),
            )
        )
        request = rpb.RecordVerificationRequest(
            name=data.draw(names), verification=verification, request_id=data.draw(text("v-1"))
        )
        expect_handled(lambda: fuzz.registry.RecordVerification(request, timeout=30))
    elif method == "List":
        request = rpb.ListCommitmentsRequest(
            parent=data.draw(ENTERPRISE_NAMES), page_size=data.draw(INT32), page_token=data.draw(text(""))
        )
        expect_handled(lambda: fuzz.registry.ListCommitments(request, timeout=30))
    else:
        request = rpb.GetCommitmentProgressRequest(name=data.draw(names), as_of_date=data.draw(DATES))
        expect_handled(lambda: fuzz.registry.GetCommitmentProgress(request, timeout=30))


# --- scoring ---------------------------------------------------------------------------------------------


def quotes(commitment: str) -> st.SearchStrategy[spb.QuoteLoanTermsRequest]:
    return st.builds(
        spb.QuoteLoanTermsRequest,
        request_id=text("q-1", "q-2", "r" * 128, "r" * 129),
        lender=LENDERS,
        enterprise=ENTERPRISE_NAMES,
        product=enum(spb.Product),
        requested_amount_fen=INT64,
        bank_limit_fen=INT64,
        tenor_months=INT32,
        base_rate_bp=FLOATS,
        commitment=commitment_names(commitment),
        profile_period=PROFILE_PERIODS,
    )


@FUZZ
@given(data=st.data())
def test_quotes(fuzz: Suite, data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        request = data.draw(quotes(fuzz.commitment))
        expect_handled(lambda: fuzz.scoring.QuoteLoanTerms(request, timeout=30))
    else:
        batch = data.draw(st.lists(quotes(fuzz.commitment), min_size=1, max_size=3))
        requests = [spb.BatchQuoteRequest(quote=q) for q in batch]
        expect_handled(lambda: list(fuzz.scoring.BatchQuote(iter(requests), timeout=30)))


POLICY_YAML = [
    "",
    "version: 1",
    "- a\n- b",
    "!!python/object/apply:os.system ['true']",
    "a: &a [1, 1]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: &d [*c, *c]\ne: [*d, *d]",
    "{{{{",
    "version: '2099.1'\nrules: {}",
    "\x00",
]


def decision_calls(decision: str) -> st.SearchStrategy[tuple[str, Any]]:
    names = st.one_of(
        st.sampled_from([decision, decision + "0", "decisions/", "decisions/../x"]),
        st.builds(lambda t: f"decisions/{t}", text()),
        text(),
    )
    return st.one_of(
        st.tuples(st.just("GetDecision"), st.builds(spb.GetDecisionRequest, name=names)),
        st.tuples(st.just("ExplainDecision"), st.builds(spb.ExplainDecisionRequest, name=names)),
        st.tuples(st.just("ReplayDecision"), st.builds(spb.ReplayDecisionRequest, name=names)),
        st.tuples(
            st.just("SimulatePolicy"),
            st.builds(
                spb.SimulatePolicyRequest,
                lender=LENDERS,
                policy_yaml=st.one_of(st.sampled_from(POLICY_YAML), text()),
                top_changes=INT32,
            ),
        ),
    )


@FUZZ
@given(data=st.data())
def test_decision_reads_and_simulation(fuzz: Suite, data: st.DataObject) -> None:
    method, request = data.draw(decision_calls(fuzz.decision))
    expect_handled(lambda: getattr(fuzz.scoring, method)(request, timeout=30))


# --- portfolio -------------------------------------------------------------------------------------------


def loan_names(loan: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([loan, loan + "x", f"{LENDER}/loans/", "loans/L1"]),
        st.builds(lambda lender, i: f"{lender}/loans/{i}", LENDERS, text("L1", "L-2")),
        text(),
    )


@FUZZ
@given(data=st.data())
def test_loan_book_writes(fuzz: Suite, data: st.DataObject) -> None:
    method = data.draw(st.sampled_from(["Record", "Update", "Close", "Get", "List"]))
    request_id = data.draw(text("w-1", "w-2"))
    if method == "Record":
        request: Any = data.draw(
            st.builds(
                ppb.RecordLoanRequest,
                request_id=st.just(request_id),
                lender=LENDERS,
                loan_id=text("L2", "L-3_x", "x" * 65, "a/b"),
                enterprise=st.one_of(st.just(""), ENTERPRISE_NAMES),
                product=enum(spb.Product),
                decision=st.sampled_from(["", fuzz.decision, "decisions/none"]),
                committed_amount_fen=FEN,
                outstanding_fen=FEN,
                currency=text("", "CNY", "USD", "cny"),
                start_date=DATES,
                maturity_date=DATES,
                rate_bp=FLOATS,
                commitment=st.one_of(st.just(""), commitment_names(fuzz.commitment)),
            )
        )
        expect_handled(lambda: fuzz.portfolio.RecordLoan(request, timeout=30))
    elif method == "Update":
        change = data.draw(st.sampled_from(["drawdown_fen", "repayment_fen", "outstanding_fen", ""]))
        fields: dict[str, Any] = {change: data.draw(FEN)} if change else {}
        request = ppb.UpdateLoanBalanceRequest(
            request_id=request_id,
            name=data.draw(loan_names(fuzz.loan)),
            as_of_date=data.draw(DATES),
            **fields,
        )
        expect_handled(lambda: fuzz.portfolio.UpdateLoanBalance(request, timeout=30))
    elif method == "Close":
        request = ppb.CloseLoanRequest(
            request_id=request_id, name=data.draw(loan_names(fuzz.loan)), close_date=data.draw(DATES)
        )
        expect_handled(lambda: fuzz.portfolio.CloseLoan(request, timeout=30))
    elif method == "Get":
        request = ppb.GetLoanRequest(name=data.draw(loan_names(fuzz.loan)))
        expect_handled(lambda: fuzz.portfolio.GetLoan(request, timeout=30))
    else:
        request = ppb.ListLoansRequest(
            parent=data.draw(LENDERS), page_size=data.draw(INT32), page_token=data.draw(text("", "AAAA"))
        )
        expect_handled(lambda: fuzz.portfolio.ListLoans(request, timeout=30))


DIMENSIONS = st.lists(enum(ppb.Dimension), max_size=4)


@FUZZ
@given(data=st.data())
def test_reports(fuzz: Suite, data: st.DataObject) -> None:
    methods = ["Portfolio", "Regulatory", "Export", "Green", "Carbon", "Supervised"]
    methods += ["Facility", "FacilityExport"]
    method = data.draw(st.sampled_from(methods))
    if method == "Portfolio":
        request: Any = ppb.GetPortfolioReportRequest(
            lender=data.draw(LENDERS),
            as_of_date=data.draw(DATES),
            group_by=data.draw(DIMENSIONS),
            compare_date=data.draw(DATES),
            top_n=data.draw(INT32),
        )
        expect_handled(lambda: fuzz.portfolio.GetPortfolioReport(request, timeout=30))
    elif method == "Regulatory":
        request = ppb.GetRegulatoryReportRequest(
            as_of_date=data.draw(DATES),
            group_by=data.draw(DIMENSIONS),
            compare_date=data.draw(DATES),
            region_code_prefix=data.draw(text("3305", "%")),
        )
        expect_handled(lambda: fuzz.portfolio.GetRegulatoryReport(request, timeout=30))
    elif method == "Green":
        request = ppb.GetGreenLoanStatisticsRequest(
            lender=data.draw(st.one_of(st.just(""), LENDERS)), as_of_date=data.draw(DATES),
            period_start=data.draw(DATES), group_by=data.draw(enum(ppb.GreenDimension)),
        )  # fmt: skip
        expect_handled(lambda: fuzz.portfolio.GetGreenLoanStatistics(request, timeout=30))
    elif method == "Carbon":
        request = ppb.GetCarbonLoanStatisticsRequest(
            lender=data.draw(st.one_of(st.just(""), LENDERS)), as_of_date=data.draw(DATES),
            group_by=data.draw(enum(ppb.Dimension)),
        )  # fmt: skip
        expect_handled(lambda: fuzz.portfolio.GetCarbonLoanStatistics(request, timeout=30))
    elif method == "Supervised":
        request = ppb.ListSupervisedLoansRequest(
            as_of_date=data.draw(DATES), lender=data.draw(st.one_of(st.just(""), LENDERS)),
            region_code_prefix=data.draw(text("3305", "%")), purpose=data.draw(text("inspection", "")),
            page_size=data.draw(INT32), page_token=data.draw(text("", "x")),
        )  # fmt: skip
        expect_handled(lambda: fuzz.portfolio.ListSupervisedLoans(request, timeout=30))
    elif method == "Facility":
        quarter = data.draw(text("2023Q2", "2023Q5", "0000Q1", "9999Q4", "1899Q4", "２０２３Q1"))
        lender = data.draw(st.one_of(st.just(""), LENDERS))
        request = ppb.GetFacilityLedgerRequest(lender=lender, quarter=quarter)
        expect_handled(lambda: fuzz.portfolio.GetFacilityLedger(request, timeout=30))
    elif method == "FacilityExport":
        request = ppb.ExportFacilityLedgerRequest(
            lender=data.draw(st.one_of(st.just(""), LENDERS)), quarter=data.draw(text("2023Q2", "2023Q4")),
            format=data.draw(enum(ppb.ExportFormat)), language=data.draw(text("zh", "en", "fr")),
        )  # fmt: skip
        expect_handled(lambda: list(fuzz.portfolio.ExportFacilityLedger(request, timeout=30)))
    else:
        request = ppb.ExportPortfolioReportRequest(
            lender=data.draw(st.one_of(st.just(""), LENDERS)),
            as_of_date=data.draw(DATES),
            format=data.draw(enum(ppb.ExportFormat)),
            group_by=data.draw(DIMENSIONS),
            regulatory=data.draw(st.booleans()),
            compare_date=data.draw(DATES),
        )
        expect_handled(lambda: list(fuzz.portfolio.ExportPortfolioReport(request, timeout=30)))


# --- explicit corpus -------------------------------------------------------------------------------------


def test_an_oversize_message_is_resource_exhausted(fuzz: Suite) -> None:
    huge = "碳" * (MAX_MESSAGE_BYTES // 3 + 1_000)  # 3 bytes each in UTF-8: over the limit
    calls: list[Callable[[], Any]] = [
        lambda: fuzz.registry.CreateEnterprise(
            rpb.CreateEnterpriseRequest(enterprise=rpb.Enterprise(uscc=make_uscc(860), display_name=huge)),
            timeout=30,
        ),
        lambda: fuzz.registry.IngestRecords(
            iter([rpb.IngestRecordsRequest(records=[rpb.EnergyRecord(uscc=FIRMS[0], external_id=huge)])]),
            timeout=30,
        ),
        lambda: fuzz.scoring.QuoteLoanTerms(spb.QuoteLoanTermsRequest(request_id=huge), timeout=30),
        lambda: fuzz.scoring.SimulatePolicy(
            spb.SimulatePolicyRequest(lender=LENDER, policy_yaml=huge), timeout=30
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as excinfo:
            call()
        assert excinfo.value.code() == Code.RESOURCE_EXHAUSTED, excinfo.value.details()
    listed = fuzz.registry.ListEnterprises(rpb.ListEnterprisesRequest(page_size=100), timeout=30)
    assert make_uscc(860) not in {e.uscc for e in listed.enterprises}


def test_a_batch_beyond_the_limit_is_resource_exhausted_naming_records(fuzz: Suite) -> None:
    rows = [
        rpb.EnergyRecord(uscc=FIRMS[0], period="2022-01", category="ELECTRICITY", quantity=1.0,
                   source=common_pb2.SELF_REPORTED, external_id=f"over-{i}")
        for i in range(MAX_BATCH_RECORDS + 1)
    ]  # fmt: skip
    with pytest.raises(grpc.RpcError) as excinfo:
        fuzz.registry.BatchIngestRecords(rpb.BatchIngestRecordsRequest(records=rows), timeout=30)
    details = error_details(excinfo.value)
    assert details.code == Code.RESOURCE_EXHAUSTED and details.fields == ["records"]
    chunks = [rpb.IngestRecordsRequest(records=rows) for _ in range(MAX_STREAM_RECORDS // len(rows) + 1)]
    with pytest.raises(grpc.RpcError) as excinfo:
        fuzz.registry.IngestRecords(iter(chunks), timeout=30)
    details = error_details(excinfo.value)
    assert details.code == Code.RESOURCE_EXHAUSTED and details.fields == ["records"]


BAD_RECORDS = [
    ({"uscc": "91110000600037341N"}, "uscc"),  # wrong check character
    ({"uscc": "９１３３０５０２"}, "uscc"),  # full-width digits
    ({"uscc": "\u202e" + FIRMS[0]}, "uscc"),
    ({"uscc": "a\x00b"}, "uscc"),
    ({"quantity": math.nan}, "quantity"),
    ({"quantity": math.inf}, "quantity"),
    ({"quantity": -math.inf}, "quantity"),
    ({"quantity": -0.5}, "quantity"),
    ({"period": "0000-00"}, "period"),
    ({"period": "9999-12"}, "period"),
    ({"period": "2024-13"}, "period"),
    ({"period": "2024-03\x00"}, "period"),
    ({"category": "ELECTRICITY\x00"}, "category"),
    ({"category": "电" * 10_000}, "category"),
    ({"unit": "u" * 10_000}, "unit"),
    ({"source": 99}, "source"),
    ({"source": -1}, "source"),
    ({"external_id": "x" * 10_000}, "external_id"),
    ({"external_id": ""}, "external_id"),
]


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_corpus_of_bad_records_is_rejected_row_by_row_naming_the_field(
    db: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(f"{db}_url"))
    servers, channels, suite = _start(url, seed=False)
    try:
        good = {"uscc": FIRMS[0], "period": "2023-05", "category": "ELECTRICITY", "quantity": 10.0,
                "unit": "", "source": common_pb2.SELF_REPORTED}  # fmt: skip
        rows = [
            rpb.EnergyRecord(**{**good, "external_id": f"bad-{i}", **fields})
            for i, (fields, _) in enumerate(BAD_RECORDS)
        ]
        rows.append(rpb.EnergyRecord(**{**good, "external_id": "ok-\u202e\u05e9-😀"}))  # odd but valid
        stream = iter([rpb.IngestRecordsRequest(records=rows, include_accepted_results=True)])
        response = suite.registry.IngestRecords(stream, timeout=30)
        rejected = {r.index: r.field for r in response.results if r.status == rpb.REJECTED}
        assert rejected == {i: f"records[{i}].{field}" for i, (_, field) in enumerate(BAD_RECORDS)}
        assert response.accepted == 1
        # RTL and overlong text in every kind of request: an answer naming the field, never INTERNAL (NUL:
        # test_nul_characters_are_rejected_or_stored_never_internal).
        for value in ("\u202e", "x" * 10_000):
            _free_text_calls(suite, value, make_uscc(870))
    finally:
        for channel in channels:
            channel.close()
        for server in servers:
            server.stop(None)


def _free_text_calls(suite: Suite, value: str, uscc: str) -> None:
    """``value`` in the free-text fields (names, titles, request ids, external ids) of each service."""
    enterprise = rpb.Enterprise(uscc=uscc, display_name=value, industry_code="2822", region_code="330502")
    quote = spb.QuoteLoanTermsRequest(
        request_id=value, lender=LENDER, enterprise=f"enterprises/{FIRMS[0]}", product=spb.GENERAL,
        requested_amount_fen=100_000_000, tenor_months=12, profile_period="2022",
    )  # fmt: skip
    loan = ppb.RecordLoanRequest(
        request_id=value, lender=LENDER, loan_id="L9", enterprise=f"enterprises/{FIRMS[0]}",
        product=spb.GENERAL, committed_amount_fen=100_000_000, start_date="2023-01-15",
        maturity_date="2026-01-15",
        rate_bp=345,
    )  # fmt: skip
    commitment = rpb.Commitment(
        project_type=rpb.PV, title=value, baseline_year=2022, target_savings_tce_per_year=1.0,
        target_savings_tco2_per_year=1.0, capex_fen=1_000_000, start_date="2023-01-01", verifier=value,
        milestones=[rpb.Milestone(title=value, due_date="2023-12-31", target_fraction=1.0)],
    )  # fmt: skip
    calls: list[Callable[[], Any]] = [
        lambda: suite.registry.CreateEnterprise(
            rpb.CreateEnterpriseRequest(enterprise=enterprise), timeout=30
        ),
        lambda: suite.registry.CreateEnterprise(
            rpb.CreateEnterpriseRequest(enterprise=rpb.Enterprise(uscc=uscc), request_id=value), timeout=30
        ),
        lambda: suite.registry.ListRecords(
            rpb.ListRecordsRequest(parent=f"enterprises/{FIRMS[0]}", category=value), timeout=30
        ),
        lambda: suite.registry.BatchIngestRecords(
            rpb.BatchIngestRecordsRequest(records=[_record("2023-01", value)]), timeout=30
        ),
        lambda: suite.registry.BatchIngestRecords(
            rpb.BatchIngestRecordsRequest(request_id=value), timeout=30
        ),
        lambda: suite.registry.RegisterCommitment(
            # FIRMS[1] has no records; FIRMS[0] would hit test_a_profile_before_any_benchmark_is_not_internal
            rpb.RegisterCommitmentRequest(parent=f"enterprises/{FIRMS[1]}", commitment=commitment),
            timeout=30,
        ),
        lambda: suite.scoring.QuoteLoanTerms(quote, timeout=30),
        lambda: suite.portfolio.RecordLoan(loan, timeout=30),
    ]
    for call in calls:
        expect_handled(call)


@pytest.mark.parametrize(
    "db",
    [
        "sqlite",
        pytest.param(
            "postgres",
            marks=pytest.mark.postgres,
        ),
    ],
)
def test_nul_characters_are_rejected_or_stored_never_internal(
    db: str, request: pytest.FixtureRequest
) -> None:
    servers, channels, suite = _start(str(request.getfixturevalue(f"{db}_url")), seed=False)
    try:
        _free_text_calls(suite, "a\x00b", make_uscc(880))
    finally:
        for channel in channels:
            channel.close()
        for server in servers:
            server.stop(None)


QUOTE_CORPUS = [
    ({"requested_amount_fen": 0}, "requested_amount_fen"),
    ({"requested_amount_fen": -1}, "requested_amount_fen"),
    ({"requested_amount_fen": 2**63 - 1}, "requested_amount_fen"),
    ({"bank_limit_fen": -1}, "bank_limit_fen"),
    ({"base_rate_bp": math.nan}, "base_rate_bp"),
    ({"base_rate_bp": -math.inf}, "base_rate_bp"),
    ({"tenor_months": 0}, "tenor_months"),
    ({"tenor_months": 361}, "tenor_months"),
    ({"tenor_months": -2_147_483_648}, "tenor_months"),
    ({"product": 99}, "product"),
    ({"product": -1}, "product"),
    ({"product": spb.PRODUCT_UNSPECIFIED}, "product"),
    ({"profile_period": "0000"}, "profile_period"),
    ({"profile_period": "R12-2024-13"}, "profile_period"),
    ({"profile_period": "２０２２"}, "profile_period"),
    ({"enterprise": "enterprises/91110000600037341N"}, "enterprise"),
    ({"enterprise": "enterprise/x"}, "enterprise"),
    ({"lender": "banks/x"}, "lender"),
    ({"lender": "lenders/"}, "lender"),
    ({"request_id": ""}, "request_id"),
    ({"request_id": "r" * 10_000}, "request_id"),
]


@pytest.mark.parametrize(("fields", "field"), QUOTE_CORPUS)
def test_a_bad_quote_names_its_field(fuzz: Suite, fields: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {
        "request_id": "corpus", "lender": LENDER, "enterprise": f"enterprises/{FIRMS[1]}",
        "product": spb.GENERAL, "requested_amount_fen": 500_000_000, "tenor_months": 36,
        "profile_period": "2022",
    }  # fmt: skip
    with pytest.raises(grpc.RpcError) as excinfo:
        fuzz.scoring.QuoteLoanTerms(spb.QuoteLoanTermsRequest(**{**values, **fields}), timeout=30)
    details = error_details(excinfo.value)
    assert details.code == Code.INVALID_ARGUMENT, (details.code, details.message)
    assert field in details.fields, details.violations


# --- bugs the fuzz found (fixed; kept as regression tests) -------------------------------------------


@pytest.fixture
def plain(sqlite_url: str) -> Iterator[Suite]:
    servers, channels, suite = _start(sqlite_url, seed=False)
    try:
        yield suite
    finally:
        for channel in channels:
            channel.close()
        for server in servers:
            server.stop(None)


def _record(period: str, external_id: str) -> rpb.EnergyRecord:
    return rpb.EnergyRecord(uscc=FIRMS[0], period=period, category="ELECTRICITY", quantity=1.0,
                      source=common_pb2.SELF_REPORTED, external_id=external_id)  # fmt: skip


def test_a_period_in_full_width_digits_is_rejected(plain: Suite) -> None:
    response = plain.registry.BatchIngestRecords(
        rpb.BatchIngestRecordsRequest(records=[_record("2022-01", "fw-ok"), _record("２０２４-０１", "fw")]),
        timeout=30,
    )
    assert [(r.status, r.field) for r in response.results] == [
        (rpb.ACCEPTED, ""),
        (rpb.REJECTED, "records[1].period"),
    ]


def test_a_profile_before_any_benchmark_is_not_internal(plain: Suite) -> None:
    rows = [
        _record("2022-01", "e-1"),
        rpb.EnergyRecord(uscc=FIRMS[0], period="2022-01", category="INDUSTRIAL_ADDED_VALUE", quantity=250.0,
                   source=common_pb2.STATISTICS, external_id="v-1"),
    ]  # fmt: skip
    assert (
        plain.registry.BatchIngestRecords(rpb.BatchIngestRecordsRequest(records=rows), timeout=30).accepted
        == 2
    )
    profile = rpb.GetCarbonProfileRequest(name=f"enterprises/{FIRMS[0]}/profiles/2022")
    expect_handled(lambda: plain.registry.GetCarbonProfile(profile, timeout=30))


def test_a_period_in_superscript_digits_is_rejected(plain: Suite) -> None:
    listed = rpb.ListRecordsRequest(parent=f"enterprises/{FIRMS[0]}", period="²⁰²⁴-⁰¹")
    details = expect_handled(lambda: plain.registry.ListRecords(listed, timeout=30))
    assert details.fields == ["period"]
    batch = rpb.BatchIngestRecordsRequest(records=[_record("²⁰²⁴-⁰¹", "sup")])
    response = expect_handled(lambda: plain.registry.BatchIngestRecords(batch, timeout=30))
    assert [(r.status, r.field) for r in response.results] == [(rpb.REJECTED, "records[0].period")]


def test_a_default_client_gets_the_field_of_an_overlong_value(plain: Suite) -> None:
    overlong = "中" * 10_000
    with grpc.insecure_channel(plain.registry_address) as channel:  # default options, like any client
        stub = registry_pb2_grpc.CarbonRegistryStub(channel)
        with pytest.raises(grpc.RpcError) as excinfo:
            stub.ListCommitments(rpb.ListCommitmentsRequest(parent=overlong), timeout=30)
    assert excinfo.value.code() == Code.INVALID_ARGUMENT, excinfo.value.details()
    assert error_details(excinfo.value).fields == ["parent"]


# --- the profile path on sparse and single-category registries ------------------------------------
# The hostile families above seed complete, graded enterprises; a firm with only added-value records,
# one category, or a few scattered months took paths they never reached (pandas 3 string dtype on an
# empty peer group answered INTERNAL). Each example registers new enterprises in a fresh registry.

SPARSE_CATEGORIES = ["ELECTRICITY", "NATURAL_GAS", "RAW_COAL", "PV_SELF_GENERATION", "INDUSTRIAL_ADDED_VALUE",
                     "REVENUE", "WATER", "STEAM"]  # fmt: skip
_sparse_serial = iter(range(1_000, 100_000))


@st.composite
def sparse_firms(draw: st.DrawFn) -> list[tuple[str, list[tuple[int, str, float]]]]:
    """1-3 firms, each with a single category or a few, in a random subset of 2022's months."""
    firms = []
    for _ in range(draw(st.integers(1, 3))):
        industry = draw(st.sampled_from(["2822", "3011", "28", "3841"]))
        single = draw(st.booleans())
        categories = (
            [draw(st.sampled_from(SPARSE_CATEGORIES))]
            if single
            else draw(st.lists(st.sampled_from(SPARSE_CATEGORIES), min_size=1, max_size=4, unique=True))
        )
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=12, unique=True))
        quantity = st.sampled_from([0.0, 1.0, 250.0, 1e6])
        firms.append((industry, [(m, c, draw(quantity)) for m in months for c in categories]))
    return firms


@pytest.mark.parametrize("recompute", [False, True])
@settings(max_examples=6, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
@given(registry=sparse_firms())
def test_profiles_of_sparse_registries_are_never_internal(
    plain: Suite, recompute: bool, registry: list[tuple[str, list[tuple[int, str, float]]]]
) -> None:
    names = []
    for industry, rows in registry:
        uscc = make_uscc(next(_sparse_serial))
        enterprise = rpb.Enterprise(
            uscc=uscc, display_name=f"稀疏{uscc[-4:]}", industry_code=industry, region_code="330502"
        )
        plain.registry.CreateEnterprise(rpb.CreateEnterpriseRequest(enterprise=enterprise), timeout=30)
        source = common_pb2.STATISTICS
        records = [
            rpb.EnergyRecord(uscc=uscc, period=f"2022-{m:02d}", category=c, quantity=q, source=source,
                       external_id=f"s-{uscc}-{c}-{m}")
            for m, c, q in rows
        ]  # fmt: skip
        for start in range(0, len(records), MAX_BATCH_RECORDS):
            batch = rpb.BatchIngestRecordsRequest(records=records[start : start + MAX_BATCH_RECORDS])
            plain.registry.BatchIngestRecords(batch, timeout=30)
        last = max(m for m, _, _ in rows)
        names += [f"enterprises/{uscc}/profiles/{p}" for p in ("2022", f"R12-2022-{last:02d}", "2022-Q1")]
    if recompute:
        expect_handled(lambda: plain.registry.RecomputeBenchmarks(rpb.RecomputeBenchmarksRequest(year=2022)))
    for name in names:
        request = rpb.GetCarbonProfileRequest(name=name)
        expect_handled(lambda r=request: plain.registry.GetCarbonProfile(r, timeout=30))  # type: ignore[misc]
    batch_get = rpb.BatchGetCarbonProfilesRequest(names=names, allow_missing=True)
    expect_handled(lambda: plain.registry.BatchGetCarbonProfiles(batch_get, timeout=60))


# --- hardening (issue 13): aliases, deep YAML, forged page tokens, extreme dates, repeats ----------------

# 405 bytes that PyYAML expands to 9^9 strings (~390 million): took 2.7 s and 600 MB before the bound.
BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{n}: &{n} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)


@pytest.mark.parametrize(
    "text",
    [BILLION_LAUGHS, "[" * 5_000 + "]" * 5_000, "a: " + "{b: " * 3_000 + "1" + "}" * 3_000, "&a [*a]"],
    ids=["aliases", "deep-flow", "deep-mapping", "recursive"],
)
def test_hostile_yaml_is_refused_quickly_with_a_short_message(fuzz: Suite, text: str) -> None:
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as excinfo:
        fuzz.scoring.SimulatePolicy(spb.SimulatePolicyRequest(lender=LENDER, policy_yaml=text), timeout=30)
    details = error_details(excinfo.value)
    assert details.code == Code.INVALID_ARGUMENT and details.fields == ["policy_yaml"], details.message
    assert time.monotonic() - started < 2.0
    assert len(details.message) <= 300 and all(len(d) <= 300 for _, d in details.violations)


def _forge(token: str, after: Any) -> str:
    """A page token with the real filter fingerprint (it is not secret) and any position."""
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw = json.dumps({"a": after, "f": payload["f"]}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


FORGED_POSITIONS: list[Any] = [
    [], [1], ["x"], [None], [True], [[1]], [{"k": 1}], [1e308], [-(2**70)], ["x" * 10_000],
    ["2022-01", "ELECTRICITY"], ["2022-01", "ELECTRICITY", "1"], ["2022-01", "ELECTRICITY", 2**80],
    [2022, "28", None], ["0001-01-01T00:00:00", 5], ["not a time", "id"], "a string", {"a": 1}, None, 12,
]  # fmt: skip


def test_forged_page_tokens_of_every_shape_are_never_internal(fuzz: Suite) -> None:
    listings: list[tuple[Callable[[str], Any], str]] = []
    first = fuzz.registry.ListEnterprises(rpb.ListEnterprisesRequest(page_size=1), timeout=30)
    listings.append(
        (
            lambda t: fuzz.registry.ListEnterprises(
                rpb.ListEnterprisesRequest(page_size=1, page_token=t), timeout=30
            ),
            first.next_page_token,
        )
    )
    parent = f"enterprises/{FIRMS[0]}"
    records = fuzz.registry.ListRecords(rpb.ListRecordsRequest(parent=parent, page_size=1), timeout=30)
    listings.append(
        (
            lambda t: fuzz.registry.ListRecords(
                rpb.ListRecordsRequest(parent=parent, page_size=1, page_token=t), timeout=30
            ),
            records.next_page_token,
        )
    )
    marks = fuzz.registry.ListBenchmarks(rpb.ListBenchmarksRequest(page_size=1), timeout=30)
    if marks.next_page_token:
        listings.append(
            (
                lambda t: fuzz.registry.ListBenchmarks(
                    rpb.ListBenchmarksRequest(page_size=1, page_token=t), timeout=30
                ),
                marks.next_page_token,
            )
        )
    assert all(token for _, token in listings)
    for call, token in listings:
        for after in FORGED_POSITIONS:
            outcome = expect_handled(lambda call=call, after=after, token=token: call(_forge(token, after)))
            if not hasattr(outcome, "code"):
                continue
            assert outcome.code == Code.INVALID_ARGUMENT and outcome.fields == ["page_token"], after


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31", "0000-01-01", "1-1-1"])
def test_extreme_report_dates_are_never_internal(fuzz: Suite, date: str) -> None:
    expect_handled(
        lambda: fuzz.portfolio.GetRegulatoryReport(
            ppb.GetRegulatoryReportRequest(as_of_date=date), timeout=30
        )
    )
    expect_handled(
        lambda: fuzz.portfolio.GetRegulatoryReport(
            ppb.GetRegulatoryReportRequest(as_of_date="2024-06-30", compare_date=date), timeout=30
        )
    )
    expect_handled(
        lambda: fuzz.portfolio.GetPortfolioReport(
            ppb.GetPortfolioReportRequest(lender=LENDER, as_of_date=date), timeout=30
        )
    )
    expect_handled(
        lambda: list(
            fuzz.portfolio.ExportPortfolioReport(
                ppb.ExportPortfolioReportRequest(lender=LENDER, as_of_date=date, compare_date=date),
                timeout=30,
            )
        )
    )


def test_ten_thousand_repeated_group_by_is_refused_before_work(fuzz: Suite) -> None:
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as excinfo:
        fuzz.portfolio.GetRegulatoryReport(
            ppb.GetRegulatoryReportRequest(as_of_date="2024-06-30", group_by=[ppb.GRADE] * 10_000), timeout=30
        )
    details = error_details(excinfo.value)
    assert details.code == Code.INVALID_ARGUMENT and details.fields == ["group_by"]
    assert "at most 8 items" in details.violations[0][1]
    assert time.monotonic() - started < 1.0


def test_a_one_mebibyte_string_is_refused_before_work(fuzz: Suite) -> None:
    huge = "x" * (200 * 1024)  # over MAX_STRING_CHARS (16 Ki), under the fuzz suite's 256 KiB message cap
    with pytest.raises(grpc.RpcError) as excinfo:
        fuzz.scoring.QuoteLoanTerms(spb.QuoteLoanTermsRequest(request_id=huge, lender=LENDER), timeout=30)
    details = error_details(excinfo.value)
    assert details.code == Code.INVALID_ARGUMENT and details.fields == ["request_id"]
    assert "at most 16384 characters" in details.violations[0][1]


def test_an_unknown_export_format_number_is_a_bad_request(fuzz: Suite) -> None:
    """A format number the contract does not define (a newer client's, or garbage) is INVALID_ARGUMENT
    naming `format`, before any report is computed (it was INTERNAL after computing it)."""
    request = ppb.ExportPortfolioReportRequest(regulatory=True, as_of_date="2025-07-01", format=2023)
    with pytest.raises(grpc.RpcError) as caught:
        list(fuzz.portfolio.ExportPortfolioReport(request, timeout=30))
    details = error_details(caught.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT and details.fields == ["format"]
