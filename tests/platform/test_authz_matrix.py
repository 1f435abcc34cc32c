"""The authorization matrix: every RPC x every role x (own, other) tenant, allowed or denied.

``EXPECTED`` is the specification a reviewer reads. RPCs are enumerated from the generated
descriptors, so a new RPC without a rule in tanxiao.platform.authz (or without a row here) fails.

Cells: ``A`` allowed on anyone's data, ``O`` allowed on its own tenant's data only (own lender, own
data source), ``C`` allowed only on an enterprise that granted the caller's lender consent (scope
CARBON_DATA; the table declares it, the registry enforces it: tests/integration/test_consent_reads.py
calls each such RPC with and without a grant over gRPC), ``-`` denied. The ``regulator+`` column is a
regulator holding the grant ``enterprise_data``.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor

from tanxiao.common.v1 import common_pb2
from tanxiao.platform import auth, authz
from tanxiao.platform.auth import Principal
from tanxiao.portfolio.v1 import portfolio_pb2
from tanxiao.registry.v1 import consent_pb2, dashboard_pb2, registry_pb2
from tanxiao.scoring.v1 import decision_log_pb2, scoring_pb2

SERVICES = {
    authz.REGISTRY: registry_pb2.DESCRIPTOR.services_by_name["CarbonRegistry"],
    authz.SCORING: scoring_pb2.DESCRIPTOR.services_by_name["LoanScoring"],
    authz.PORTFOLIO: portfolio_pb2.DESCRIPTOR.services_by_name["PortfolioReporting"],
    authz.DECISION_LOG: decision_log_pb2.DESCRIPTOR.services_by_name["DecisionLog"],
    authz.CONSENTS: consent_pb2.DESCRIPTOR.services_by_name["Consents"],
    authz.DASHBOARD: dashboard_pb2.DESCRIPTOR.services_by_name["RegistryDashboard"],
}
ALL_METHODS = {
    f"/{name}/{method.name}": method for name, service in SERVICES.items() for method in service.methods
}

COLUMNS = (
    "data_provider",
    "lender",
    "credit_officer",
    "approver",
    "regulator",
    "regulator+",
    "service",
    "admin",
)

# fmt: off
# Variants: ExportPortfolioReport is two rows, the lender's own report and the regulatory view.
EXPECTED: dict[str, str] = {
    #                                          dp lender co ap reg reg+ svc admin
    "CarbonRegistry/CreateEnterprise":        "-  -  -  -  -  -  -  A",
    "CarbonRegistry/GetEnterprise":           "-  -  C  -  -  A  A  A",
    "CarbonRegistry/ListEnterprises":         "-  -  C  -  -  A  -  A",
    "CarbonRegistry/UpdateEnterprise":        "-  -  -  -  -  -  -  A",
    "CarbonRegistry/ListDataCategories":      "A  A  A  -  A  A  A  A",
    "CarbonRegistry/IngestRecords":           "O  -  -  -  -  -  -  A",
    "CarbonRegistry/BatchIngestRecords":      "O  -  -  -  -  -  -  A",
    "CarbonRegistry/ListRecords":             "-  -  -  -  -  A  -  A",
    "CarbonRegistry/GetCarbonProfile":        "-  -  C  -  -  A  A  A",
    "CarbonRegistry/BatchGetCarbonProfiles":  "-  -  C  -  -  A  A  A",
    "CarbonRegistry/WatchProfileChanges":     "-  -  -  -  -  -  A  A",
    "CarbonRegistry/ListBenchmarks":          "-  -  -  -  A  A  -  A",
    "CarbonRegistry/RecomputeBenchmarks":     "-  -  -  -  -  -  -  A",
    "CarbonRegistry/RegisterCommitment":      "-  -  -  -  -  -  -  A",
    "CarbonRegistry/RecordVerification":      "-  -  -  -  -  -  -  A",
    "CarbonRegistry/ListCommitments":         "-  -  C  -  -  A  A  A",
    "CarbonRegistry/GetCommitmentProgress":   "-  -  C  -  -  A  A  A",
    "CarbonRegistry/CreateUtilityAccount":    "-  -  -  -  -  -  -  A",
    "CarbonRegistry/ListUtilityAccounts":     "-  -  -  -  -  A  -  A",
    "CarbonRegistry/TransferUtilityAccount":  "-  -  -  -  -  -  -  A",
    "CarbonRegistry/GetUtilityAccountReconciliation": "-  -  -  -  -  A  -  A",
    "LoanScoring/QuoteLoanTerms":             "-  O  -  -  -  -  -  A",
    "LoanScoring/GetDecision":                "-  O  O  O  -  -  -  A",
    "LoanScoring/ExplainDecision":            "-  O  O  O  -  -  -  A",
    "LoanScoring/ReplayDecision":             "-  O  O  O  -  -  -  A",
    "LoanScoring/BatchQuote":                 "-  O  -  -  -  -  -  A",
    "LoanScoring/BatchQuoteLoanTerms":        "-  O  -  -  -  -  -  A",
    "LoanScoring/SimulatePolicy":             "-  O  -  -  -  -  -  A",
    "PortfolioReporting/RecordLoan":          "-  O  -  -  -  -  -  A",
    "PortfolioReporting/UpdateLoanBalance":   "-  O  -  -  -  -  -  A",
    "PortfolioReporting/CloseLoan":           "-  O  -  -  -  -  -  A",
    "PortfolioReporting/GetLoan":             "-  O  O  -  -  -  -  A",
    "PortfolioReporting/ListLoans":           "-  O  O  -  -  -  -  A",
    "PortfolioReporting/GetPortfolioReport":  "-  O  O  -  -  -  -  A",
    "PortfolioReporting/GetRegulatoryReport": "-  -  -  -  A  A  -  A",
    "PortfolioReporting/ExportPortfolioReport":            "-  O  -  -  -  -  -  A",
    "PortfolioReporting/ExportPortfolioReport?regulatory": "-  -  -  -  A  A  -  A",
    "DecisionLog/GetSignedTreeHead":          "-  A  A  A  A  A  -  A",
    "DecisionLog/GetInclusionProof":          "-  O  O  O  -  -  -  A",
    "LoanScoring/ListDecisions":              "-  O  O  O  -  -  -  A",
    "LoanScoring/ListReviewQueue":            "-  O  O  O  -  -  -  A",
    "LoanScoring/SubmitReviewAction":         "-  O  O  O  -  -  -  A",
    "LoanScoring/RepriceDecisions":           "-  O  -  -  -  -  -  A",
    "LoanScoring/ListWatchList":              "-  O  O  O  -  -  -  A",
    "DecisionLog/GetConsistencyProof":        "-  A  A  A  A  A  -  A",
    "Consents/GrantConsent":                  "-  -  -  -  -  -  -  A",
    "Consents/RevokeConsent":                 "-  -  -  -  -  -  -  A",
    "Consents/ListConsents":                  "-  O  O  -  -  -  A  A",
    # regulator+ holds enterprise_data, not loan_level: see test_loan_level_view_needs_its_own_grant
    "PortfolioReporting/ListSupervisedLoans":  "-  -  -  -  -  -  -  A",
    "PortfolioReporting/GetGreenLoanStatistics": "-  O  O  -  A  A  -  A",
    "PortfolioReporting/GetCarbonLoanStatistics": "-  O  O  -  A  A  -  A",
    "RegistryDashboard/GetGradeDistribution":  "-  -  -  -  A  A  -  A",
    "RegistryDashboard/GetGradeMigration":     "-  -  -  -  A  A  -  A",
    "RegistryDashboard/GetSavingsPipeline":    "-  -  -  -  A  A  -  A",
    # named enterprises: loan_level only (regulator+ holds enterprise_data), see the grant test below
    "RegistryDashboard/ListGradeFiveEnterprises": "-  -  -  -  -  -  -  A",
    "PortfolioReporting/GetFacilityLedger":       "-  O  O  -  A  A  -  A",
    "PortfolioReporting/ExportFacilityLedger":    "-  O  O  -  A  A  -  A",
}
# fmt: on

OWN_LENDER, OTHER_LENDER = "lenders/huzhou-bank", "lenders/anji-rcb"
OWN_SOURCE, OTHER_SOURCE = "GRID_UTILITY", "GAS_UTILITY"

PRINCIPALS = {
    "data_provider": Principal("dp", "data_provider", OWN_SOURCE),
    "lender": Principal("ln", "lender", OWN_LENDER),
    "credit_officer": Principal("co", "credit_officer", OWN_LENDER),
    "approver": Principal("ap", "approver", OWN_LENDER),
    "regulator": Principal("rg", "regulator", ""),
    "regulator+": Principal("rg+", "regulator", "", frozenset({auth.ENTERPRISE_DATA})),
    "service": Principal("sv", "service", ""),
    "admin": Principal("ad", "admin", ""),
}


def _full_name(row: str) -> tuple[str, bool]:
    short, _, variant = row.partition("?")
    service, _, method = short.partition("/")
    package = {
        "CarbonRegistry": "registry",
        "LoanScoring": "scoring",
        "PortfolioReporting": "portfolio",
        "DecisionLog": "scoring",
        "Consents": "registry",
        "RegistryDashboard": "registry",
    }
    return f"/tanxiao.{package[service]}.v1.{service}/{method}", variant == "regulatory"


def _fill(message: Any, service: str, lender: str, source: str, depth: int = 0) -> Any:
    """Set, by field name, every field that says whose data a message is about: ``lender``, ``parent``,
    ``name`` (a loan name in the portfolio service), ``records[].source``; recursing into singular
    message fields (``quote``, ``decision``, ``original``, ...)."""
    descriptor: Descriptor = message.DESCRIPTOR
    for field in descriptor.fields:
        repeated = field.is_repeated
        if field.type == FieldDescriptor.TYPE_STRING and not repeated:
            if field.name == "lender":
                setattr(message, field.name, lender)
            elif field.name == "parent":
                is_registry = service == authz.REGISTRY
                setattr(message, field.name, "enterprises/91330500MA2B3C4D5E" if is_registry else lender)
            elif field.name == "name" and service == authz.PORTFOLIO:
                setattr(message, field.name, f"{lender}/loans/l-1")
        elif field.type == FieldDescriptor.TYPE_MESSAGE and repeated and field.name == "records":
            record = getattr(message, field.name).add()
            if "source" in record.DESCRIPTOR.fields_by_name:
                record.source = common_pb2.DataSource.Value(source)
                record.external_id = "meter-1"
        elif (
            field.type == FieldDescriptor.TYPE_MESSAGE
            and not repeated
            and depth < 2
            and field.message_type.full_name.startswith("tanxiao.")
        ):
            _fill(getattr(message, field.name), service, lender, source, depth + 1)
    return message


def _message(descriptor: Descriptor) -> Any:
    return message_factory.GetMessageClass(descriptor)()


def _allowed(method: str, principal: Principal, own: bool, regulatory: bool) -> tuple[bool, str]:
    descriptor: MethodDescriptor = ALL_METHODS[method]
    service = authz.service_of(method)
    lender = OWN_LENDER if own else OTHER_LENDER
    source = OWN_SOURCE if own else OTHER_SOURCE
    request = _fill(_message(descriptor.input_type), service, lender, source)
    if "regulatory" in request.DESCRIPTOR.fields_by_name:
        request.regulatory = regulatory
    response = _fill(_message(descriptor.output_type), service, lender, source)
    if descriptor.client_streaming and (denial := authz.authorize_call(method, principal)):
        return False, denial.reason
    denial = authz.authorize_request(method, principal, request) or authz.authorize_response(
        method, principal, response
    )
    return denial is None, denial.reason if denial else ""


def test_every_rpc_has_a_rule_and_a_row() -> None:
    assert set(authz.RULES) == set(ALL_METHODS), "every RPC needs exactly one rule in authz.RULES"
    rows = {_full_name(row)[0] for row in EXPECTED}
    assert rows == set(ALL_METHODS), "every RPC needs a row in EXPECTED"


def test_every_role_is_a_column() -> None:
    assert {p.role for p in PRINCIPALS.values()} == set(auth.ROLES)


def test_data_sources_match_the_proto_enum() -> None:
    assert set(auth.DATA_SOURCES) == set(common_pb2.DataSource.keys()) - {"DATA_SOURCE_UNSPECIFIED"}


CASES = [
    pytest.param(row, column, own, id=f"{row.split('/')[1]}-{column}-{'own' if own else 'other'}")
    for row in EXPECTED
    for column in COLUMNS
    for own in (True, False)
]


@pytest.mark.parametrize(("row", "column", "own"), CASES)
def test_matrix(row: str, column: str, own: bool) -> None:
    method, regulatory = _full_name(row)
    cell = EXPECTED[row].split()[COLUMNS.index(column)]
    expected = cell in ("A", "C") or (cell == "O" and own)
    allowed, reason = _allowed(method, PRINCIPALS[column], own, regulatory)
    assert allowed == expected, f"{method} {column} {'own' if own else 'other'}: denied with {reason!r}"
    consent = authz.consent_required(method, PRINCIPALS[column])
    assert consent == (authz.CARBON_DATA if cell == "C" else None), f"{method} {column}: consent {consent!r}"
    if not allowed:
        assert reason in {
            authz.ROLE_NOT_ALLOWED,
            authz.GRANT_REQUIRED,
            authz.OTHER_TENANT,
            authz.OTHER_SOURCE,
            authz.SCOPE_NOT_ALLOWED,
        }


def test_a_method_without_a_rule_is_admin_only() -> None:
    method = "/tanxiao.registry.v1.CarbonRegistry/DropEverything"
    assert authz.authorize_request(method, PRINCIPALS["admin"], None) is None
    for column in COLUMNS[:-1]:
        denial = authz.authorize_request(method, PRINCIPALS[column], None)
        assert denial is not None and denial.reason == authz.NO_RULE


def test_health_and_reflection_are_public_and_ours_are_not() -> None:
    assert authz.is_public("/grpc.health.v1.Health/Check")
    assert authz.is_public("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    assert not any(authz.is_public(method) for method in ALL_METHODS)


def test_the_denial_names_the_record_of_another_source() -> None:
    request = registry_pb2.BatchIngestRecordsRequest(
        records=[
            registry_pb2.EnergyRecord(uscc="X", source=common_pb2.GRID_UTILITY, external_id="ok-1"),
            registry_pb2.EnergyRecord(uscc="X", source=common_pb2.GAS_UTILITY, external_id="gas-7"),
        ]
    )
    denial = authz.authorize_request(
        "/tanxiao.registry.v1.CarbonRegistry/BatchIngestRecords", PRINCIPALS["data_provider"], request
    )
    assert denial is not None and denial.reason == authz.OTHER_SOURCE
    assert denial.field == "records[1].source"
    assert "records[1]" in denial.message and "gas-7" in denial.message and "GAS_UTILITY" in denial.message


def test_loan_names_are_parsed_as_the_portfolio_service_parses_them() -> None:
    method = "/tanxiao.portfolio.v1.PortfolioReporting/GetLoan"
    lender = PRINCIPALS["lender"]
    own = portfolio_pb2.GetLoanRequest(name=f" {OWN_LENDER}/loans/l-1 ")
    assert authz.authorize_request(method, lender, own) is None
    for name in (OWN_LENDER, f"{OTHER_LENDER}/loans/{OWN_LENDER}", f"{OWN_LENDER}x/loans/l-1", ""):
        denial = authz.authorize_request(method, lender, portfolio_pb2.GetLoanRequest(name=name))
        assert denial is not None and denial.reason == authz.OTHER_TENANT, name


def test_a_principal_without_a_tenant_owns_nothing() -> None:
    nobody = Principal("x", "lender", "")
    method = "/tanxiao.scoring.v1.LoanScoring/QuoteLoanTerms"
    assert authz.authorize_request(method, nobody, scoring_pb2.QuoteLoanTermsRequest()) is not None


@pytest.mark.parametrize(
    ("role", "tenant", "grants", "field"),
    [
        ("root", "", (), "role"),
        ("lender", "", (), "tenant"),
        ("lender", "lenders/Bad_Name", (), "tenant"),
        ("credit_officer", "huzhou-bank", (), "tenant"),
        ("data_provider", "DATA_SOURCE_UNSPECIFIED", (), "tenant"),
        ("data_provider", "lenders/x", (), "tenant"),
        ("admin", "lenders/x", (), "tenant"),
        ("service", "GRID_UTILITY", (), "tenant"),
        ("regulator", "", ("everything",), "grants"),
        ("lender", "lenders/x", ("enterprise_data",), "grants"),
    ],
)
def test_token_shapes_are_validated(role: str, tenant: str, grants: tuple[str, ...], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        auth.validate(role, tenant, grants)


# --- per-record scope of a data provider (applied row by row by the registry ingest) ---------------

_OWN_FIRM, _OTHER_FIRM = "91330502MA2B3C4D58", "91330502MA2B3C4D9X"


@pytest.mark.parametrize(
    ("source", "grants", "category", "uscc", "reason"),
    [
        ("GRID_UTILITY", (), "ELECTRICITY", _OWN_FIRM, None),
        ("GRID_UTILITY", (), "PV_EXPORT", _OWN_FIRM, None),
        ("GRID_UTILITY", (), "RAW_COAL", _OWN_FIRM, authz.OUT_OF_SCOPE_CATEGORY),
        ("GAS_UTILITY", (), "NATURAL_GAS", _OWN_FIRM, None),
        ("GAS_UTILITY", (), "ELECTRICITY", _OWN_FIRM, authz.OUT_OF_SCOPE_CATEGORY),
        ("TAX", (), "REVENUE", _OWN_FIRM, None),
        ("TAX", (), "RAW_COAL", _OWN_FIRM, authz.OUT_OF_SCOPE_CATEGORY),
        ("STATISTICS", (), "RAW_COAL", _OTHER_FIRM, None),
        ("SELF_REPORTED", (f"enterprise:{_OWN_FIRM}",), "RAW_COAL", _OWN_FIRM, None),
        (
            "SELF_REPORTED",
            (f"enterprise:{_OWN_FIRM}",),
            "RAW_COAL",
            _OTHER_FIRM,
            authz.OUT_OF_SCOPE_ENTERPRISE,
        ),
        ("SELF_REPORTED", (), "RAW_COAL", _OWN_FIRM, authz.OUT_OF_SCOPE_ENTERPRISE),
        ("THIRD_PARTY_VERIFIED", (f"enterprise:{_OTHER_FIRM}",), "ELECTRICITY", _OTHER_FIRM, None),
        ("THIRD_PARTY_VERIFIED", (), "ELECTRICITY", _OTHER_FIRM, authz.OUT_OF_SCOPE_ENTERPRISE),
    ],
)
def test_a_data_provider_record_is_scoped_by_category_and_enterprise(
    source: str, grants: tuple[str, ...], category: str, uscc: str, reason: str | None
) -> None:
    principal = Principal("t", auth.DATA_PROVIDER, source, auth.validate(auth.DATA_PROVIDER, source, grants))
    denial = authz.record_scope_denial(principal, source, category, uscc)
    assert (denial.reason if denial else None) == reason
    if denial:
        assert denial.message.startswith("PERMISSION_DENIED:") and denial.field in ("category", "uscc")


def test_record_scope_covers_every_source_and_spares_admin() -> None:
    assert set(authz.PROVIDER_CATEGORIES) == set(auth.DATA_SOURCES)
    admin = Principal("a", auth.ADMIN, "")
    assert authz.record_scope_denial(admin, "GRID_UTILITY", "RAW_COAL", _OWN_FIRM) is None
    assert authz.record_scope_denial(None, "SELF_REPORTED", "RAW_COAL", _OWN_FIRM) is None


@pytest.mark.parametrize(
    ("role", "tenant", "grant"),
    [
        ("data_provider", "GRID_UTILITY", f"enterprise:{_OWN_FIRM}"),
        ("lender", "lenders/x", f"enterprise:{_OWN_FIRM}"),
        ("data_provider", "SELF_REPORTED", "enterprise:not-a-uscc"),
    ],
)
def test_enterprise_grants_only_for_enterprise_scoped_providers(role: str, tenant: str, grant: str) -> None:
    with pytest.raises(ValueError, match=r"^grants:"):
        auth.validate(role, tenant, (grant,))


@pytest.mark.parametrize(
    "method",
    [
        "/tanxiao.portfolio.v1.PortfolioReporting/ListSupervisedLoans",
        "/tanxiao.registry.v1.RegistryDashboard/ListGradeFiveEnterprises",
    ],
)
def test_loan_level_view_needs_its_own_grant(method: str) -> None:
    supervisor = Principal("rg-ll", "regulator", "", frozenset({auth.LOAN_LEVEL}))
    assert authz.authorize_call(method, supervisor) is None
    denial = authz.authorize_call(method, PRINCIPALS["regulator+"])
    assert denial is not None and denial.reason == authz.GRANT_REQUIRED
