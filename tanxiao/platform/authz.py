"""THE authorization rules: every RPC of the three services, who may call it, and on whose data.

``RULES`` maps each full method name to a ``Rule``: for every role allowed to call the method, an
``Access`` saying which grant it needs and how tenancy is checked:

- on the request, before the handler runs (the ``lender``/``parent`` field, the lender prefix of a loan
  name, every ingested record's ``source``); for client streams, on every message as it is read;
- on the response, for reads whose owner is only known once loaded (decisions): the handler runs, then
  the response is withheld. Only read-only RPCs have response checks, so nothing is changed for a
  caller who is then denied. Such a denial is answered as the method answers a missing resource
  (``Access.conceal``: NOT_FOUND, same reason and text), so existence does not leak.

A role absent from a rule is denied (``ROLE_NOT_ALLOWED``). ``admin`` may call everything. A method
without a rule is denied to everyone but admin (fail closed), and tests/platform/test_authz_matrix.py
fails on it. Health checking and reflection are public (no token).

Who may do what (the matrix test is the executable form of this summary):

- data_provider: IngestRecords / BatchIngestRecords of records of its own source only; the data
  catalog (ListDataCategories, reference data every caller may read). Within a call, each record is
  scoped (``record_scope_denial``, applied per row by the ingest: an out-of-scope row is REJECTED with
  reason code OUT_OF_SCOPE_CATEGORY / OUT_OF_SCOPE_ENTERPRISE, the rest of the batch is kept): a source
  writes only the categories it meters or collects (``PROVIDER_CATEGORIES``), and SELF_REPORTED and
  THIRD_PARTY_VERIFIED write only for the enterprises granted on the token (``enterprise:<USCC>``).
- lender: its own quotes (QuoteLoanTerms, BatchQuote, BatchQuoteLoanTerms), decisions
  (Get/Explain/Replay), SimulatePolicy, loans (Record/UpdateBalance/Close/Get/List),
  GetPortfolioReport, ExportPortfolioReport (its own, never the regulatory view).
- credit_officer (of one lender): Get/Explain/ReplayDecision, GetLoan, ListLoans and
  GetPortfolioReport of its lender; ListDecisions, ListReviewQueue and SubmitReviewAction (approve,
  decline, override, book) on its lender's decisions. No quotes, no exports, no policy what-ifs.
  Enterprise reads (GetEnterprise, Get/BatchGetCarbonProfile(s), ListCommitments,
  GetCommitmentProgress; ListEnterprises lists the consenting ones) under the enterprise's consent:
  ``Access.consent`` names the scope the enterprise must have granted the officer's lender. The table
  only declares it; the registry, which holds the grants, enforces it on every call
  (registry_service.consent_gate: PERMISSION_DENIED, reason CONSENT_REQUIRED). ListConsents of its own
  lender's grants.
- approver (of one lender): what a credit officer may do on decisions (reads, lists, review actions),
  and the second approval of overrides (the state machine in scoring_service.review says which action
  which role may take; the same officer cannot confirm his own override). No loans or reports.
- lender: also ListDecisions, ListReviewQueue, and SubmitReviewAction (submit for review, book).
- regulator: GetRegulatoryReport, ExportPortfolioReport with regulatory = true, ListBenchmarks,
  ListDataCategories; enterprise-level registry reads (enterprises, records, profiles, commitments)
  only with the grant ``enterprise_data``; ListSupervisedLoans (loan lines across lenders) only with the
  grant ``loan_level``; no lender-level reports or decisions. The regional registry dashboard
  (RegistryDashboard): grade distribution, grade migration and the savings pipeline are aggregates
  under disclosure control, for every regulator; the grade-5 list names enterprises, so only with the
  grant ``loan_level`` (like ListSupervisedLoans). Lenders get no dashboard call: it is regional
  supervision over every registered enterprise, not their book.
- service (the scoring service calling the registry): GetEnterprise, GetCarbonProfile,
  BatchGetCarbonProfiles, WatchProfileChanges, ListCommitments, GetCommitmentProgress,
  ListDataCategories.
- decision log: GetSignedTreeHead and GetConsistencyProof for lender, credit_officer and regulator
  (hashes and sizes only); GetInclusionProof (it carries the decision's content) for the decision's
  lender and its credit officers, checked on the response like GetDecision.
- admin: everything, including registry writes (enterprises, commitments, verifications,
  benchmark recomputes).

Pure functions of (method, principal, message): no I/O, no grpc.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tanxiao.platform.auth import (
    ADMIN,
    APPROVER,
    CREDIT_OFFICER,
    DATA_PROVIDER,
    ENTERPRISE_DATA,
    ENTERPRISE_SCOPED_SOURCES,
    LENDER,
    LOAN_LEVEL,
    REGULATOR,
    SERVICE,
    Principal,
    granted_enterprises,
)

REGISTRY = "tanxiao.registry.v1.CarbonRegistry"
SCORING = "tanxiao.scoring.v1.LoanScoring"
PORTFOLIO = "tanxiao.portfolio.v1.PortfolioReporting"
DECISION_LOG = "tanxiao.scoring.v1.DecisionLog"
CONSENTS = "tanxiao.registry.v1.Consents"
DASHBOARD = "tanxiao.registry.v1.RegistryDashboard"

# Services any caller may use without a token.
PUBLIC_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
)

# Denial reasons (they become google.rpc.ErrorInfo.reason of PERMISSION_DENIED).
NO_RULE = "NO_RULE"
ROLE_NOT_ALLOWED = "ROLE_NOT_ALLOWED"
GRANT_REQUIRED = "GRANT_REQUIRED"
OTHER_TENANT = "OTHER_TENANT"
OTHER_SOURCE = "OTHER_SOURCE"
SCOPE_NOT_ALLOWED = "SCOPE_NOT_ALLOWED"
CONSENT_REQUIRED = "CONSENT_REQUIRED"  # raised by the services that hold/read the grants

CARBON_DATA = "CARBON_DATA"


@dataclass(frozen=True)
class Denial:
    """Why a call is refused: a stable reason code, a message for the caller (no secrets), and the
    request/response field at fault, if any."""

    reason: str
    message: str
    field: str = ""


# A check of one message for one principal: None = fine.
Check = Callable[[Principal, Any], Denial | None]


@dataclass(frozen=True)
class Access:
    """How one role may call one method."""

    grant: str | None = None  # a grant the principal must hold
    request: Check | None = None  # run on the request (each message of a client stream)
    response: Check | None = None  # run on the response (each message of a server stream)
    # For a response check: how the method answers a resource that does not exist, given the request.
    # A denied response is answered exactly so (code NOT_FOUND, same reason and text): another tenant's
    # resource and a missing one are indistinguishable.
    conceal: Callable[[Any], tuple[str, str]] | None = None
    # A consent scope (e.g. "CARBON_DATA") the enterprise the call reads must have granted the caller's
    # tenant. Not checkable here (the grants are in the registry's database): the registry enforces it
    # for every method whose rule declares it (registry_service.consent_gate), and
    # tests/integration/test_consent_reads.py calls each such method without a grant.
    consent: str | None = None


@dataclass(frozen=True)
class Rule:
    access: Mapping[str, Access] = field(default_factory=dict)  # role -> access; absent = denied

    def roles(self) -> frozenset[str]:
        return frozenset(self.access)


# --- checks ---------------------------------------------------------------------------------------


def _get(message: Any, path: str) -> Any:
    for part in path.split("."):
        message = getattr(message, part)
    return message


def owned(*paths: str) -> Check:
    """Each string field at ``paths`` (dotted) must equal the principal's tenant."""

    def check(principal: Principal, message: Any) -> Denial | None:
        for path in paths:
            owner = _get(message, path)
            if not principal.tenant or owner != principal.tenant:
                return Denial(
                    OTHER_TENANT,
                    f"{path} {owner!r} is not this token's tenant {principal.tenant!r}",
                    path,
                )
        return None

    return check


def loan_owned(path: str = "name") -> Check:
    """The lender part of a loan name "lenders/{lender}/loans/{id}" must be the principal's tenant.
    Parsed as the portfolio service parses it (stripped, split at "/loans/")."""

    def check(principal: Principal, message: Any) -> Denial | None:
        name = str(_get(message, path))
        lender, sep, _loan = name.strip().partition("/loans/")
        if not sep or not principal.tenant or lender != principal.tenant:
            return Denial(
                OTHER_TENANT,
                f"{path} {name!r} is not a loan of this token's tenant {principal.tenant!r}",
                path,
            )
        return None

    return check


def _source_name(record: Any) -> str:
    """The enum name of an EnergyRecord's ``source`` (its number when the sender used an unknown value)."""
    value = record.source
    enum_value = record.DESCRIPTOR.fields_by_name["source"].enum_type.values_by_number.get(value)
    return str(enum_value.name) if enum_value is not None else str(value)


def sources_owned(principal: Principal, message: Any) -> Denial | None:
    """Every record's ``source`` must be the data provider's own source (its tenant)."""
    for index, record in enumerate(message.records):
        source = _source_name(record)
        if not principal.tenant or source != principal.tenant:
            external = f" (external_id {record.external_id!r})" if record.external_id else ""
            return Denial(
                OTHER_SOURCE,
                f"records[{index}]{external} has source {source}; this token may only ingest"
                f" {principal.tenant}",
                f"records[{index}].source",
            )
    return None


# The categories each data source may write. None = any category. A grid company meters electricity
# (and own generation / export behind its meters, green-power contracts it settles), a gas company gas;
# statistics returns cover energy use and output, the tax bureau output, value added, revenue and tax.
_ELECTRICITY = frozenset(
    {"ELECTRICITY", "PV_SELF_GENERATION", "PV_EXPORT", "GREEN_POWER_PURCHASE",
     # catalog 2026.2: its tariff meters' breakdowns of ELECTRICITY and grid-connected PV capacity
     "ELECTRICITY_BELOW_1KV", "ELECTRICITY_1_10KV", "ELECTRICITY_35KV", "ELECTRICITY_110KV_AND_ABOVE",
     "ELECTRICITY_SHARP_PEAK", "ELECTRICITY_PEAK", "ELECTRICITY_FLAT", "ELECTRICITY_VALLEY",
     "PV_INSTALLED_CAPACITY"}
)  # fmt: skip
_ECONOMIC = frozenset({"OUTPUT_VALUE", "INDUSTRIAL_ADDED_VALUE", "REVENUE", "TAX"})
PROVIDER_CATEGORIES: Mapping[str, frozenset[str] | None] = {
    "GRID_UTILITY": _ELECTRICITY,
    "GAS_UTILITY": frozenset({"NATURAL_GAS"}),
    "STATISTICS": None,
    "TAX": _ECONOMIC,
    "SELF_REPORTED": None,
    "THIRD_PARTY_VERIFIED": None,
}
OUT_OF_SCOPE_CATEGORY = "OUT_OF_SCOPE_CATEGORY"
OUT_OF_SCOPE_ENTERPRISE = "OUT_OF_SCOPE_ENTERPRISE"


def record_scope_denial(principal: Principal | None, source: str, category: str, uscc: str) -> Denial | None:
    """Whether the caller may write this one record (checked per row: the rest of a batch is kept).
    Only data providers are scoped; admin (and the CLI import, without a principal) are not."""
    if principal is None or principal.role != DATA_PROVIDER:
        return None
    allowed = PROVIDER_CATEGORIES.get(source, frozenset())
    if allowed is not None and category not in allowed:
        return Denial(
            OUT_OF_SCOPE_CATEGORY,
            f"PERMISSION_DENIED: a {source} token may not write {category}"
            f" (it writes {', '.join(sorted(allowed))})",
            "category",
        )
    if source in ENTERPRISE_SCOPED_SOURCES and uscc not in granted_enterprises(principal):
        return Denial(
            OUT_OF_SCOPE_ENTERPRISE,
            f"PERMISSION_DENIED: this {source} token may not report for enterprise {uscc} (not granted)",
            "uscc",
        )
    return None


def flag(path: str, required: bool, why: str) -> Check:
    """A boolean request field must have the value ``required``."""

    def check(principal: Principal, message: Any) -> Denial | None:
        if bool(_get(message, path)) is not required:
            return Denial(SCOPE_NOT_ALLOWED, why, path)
        return None

    return check


def all_of(*checks: Check) -> Check:
    def check(principal: Principal, message: Any) -> Denial | None:
        for each in checks:
            denial = each(principal, message)
            if denial is not None:
                return denial
        return None

    return check


def decision_not_found(request: Any) -> tuple[str, str]:
    """(reason, message) of NOT_FOUND for a missing decision, as scoring_service.storage.decisions
    words it (tests/integration/test_hardening_denial.py compares the two)."""
    decision_id = str(request.name).strip().removeprefix("decisions/")
    return "DECISION_NOT_FOUND", f"decision {decision_id!r} not found"


# --- the rules ------------------------------------------------------------------------------------

ANY = Access()  # the role may call it, on anything the method reaches
WITH_ENTERPRISE_DATA = Access(grant=ENTERPRISE_DATA)


def _rule(**access: Access) -> Rule:
    """A rule; admin may always call (and is never tenant-checked)."""
    return Rule({ADMIN: ANY, **access})


_ADMIN_ONLY = _rule()
UNDER_CONSENT = Access(consent=CARBON_DATA)
_ENTERPRISE_READ = _rule(**{REGULATOR: WITH_ENTERPRISE_DATA, SERVICE: ANY, CREDIT_OFFICER: UNDER_CONSENT})
_INGEST = _rule(**{DATA_PROVIDER: Access(request=sources_owned)})
_LENDER_REQUEST = _rule(**{LENDER: Access(request=owned("lender"))})


def _decision_read(path: str) -> Rule:
    access = Access(response=owned(path), conceal=decision_not_found)
    return _rule(**{LENDER: access, CREDIT_OFFICER: access, APPROVER: access})


_DECISION_READ = _decision_read("lender")
# Review: the request names the lender, checked before the handler (which refuses a decision of
# another lender as NOT_FOUND); which action a role may take is the state machine's rule.
_REVIEW = _rule(**{role: Access(request=owned("lender")) for role in (LENDER, CREDIT_OFFICER, APPROVER)})

_REGISTRY_RULES: dict[str, Rule] = {
    "CreateEnterprise": _ADMIN_ONLY,
    "GetEnterprise": _ENTERPRISE_READ,
    # a credit officer lists the enterprises that consented to its lender (the registry filters)
    "ListEnterprises": _rule(**{REGULATOR: WITH_ENTERPRISE_DATA, CREDIT_OFFICER: UNDER_CONSENT}),
    "UpdateEnterprise": _ADMIN_ONLY,
    # The catalog is reference data (categories, units, grid factors): every authenticated caller.
    "ListDataCategories": _rule(
        **{role: ANY for role in (DATA_PROVIDER, LENDER, CREDIT_OFFICER, REGULATOR, SERVICE)}
    ),
    "IngestRecords": _INGEST,
    "BatchIngestRecords": _INGEST,
    "ListRecords": _rule(**{REGULATOR: WITH_ENTERPRISE_DATA}),
    # Utility accounts map meters to enterprises: registering and moving them is the registry
    # operator's; reading them (and the reconciliation report) is enterprise data.
    "CreateUtilityAccount": _ADMIN_ONLY,
    "TransferUtilityAccount": _ADMIN_ONLY,
    "ListUtilityAccounts": _rule(**{REGULATOR: WITH_ENTERPRISE_DATA}),
    "GetUtilityAccountReconciliation": _rule(**{REGULATOR: WITH_ENTERPRISE_DATA}),
    "GetCarbonProfile": _ENTERPRISE_READ,
    "BatchGetCarbonProfiles": _ENTERPRISE_READ,
    # Which profiles changed (enterprise names only): the scoring service's profile cache.
    "WatchProfileChanges": _rule(**{SERVICE: ANY}),
    # Industry aggregates, no enterprise rows.
    "ListBenchmarks": _rule(**{REGULATOR: ANY}),
    "RecomputeBenchmarks": _ADMIN_ONLY,
    "RegisterCommitment": _ADMIN_ONLY,
    "RecordVerification": _ADMIN_ONLY,
    "ListCommitments": _ENTERPRISE_READ,
    "GetCommitmentProgress": _ENTERPRISE_READ,
}

_SCORING_RULES: dict[str, Rule] = {
    "QuoteLoanTerms": _LENDER_REQUEST,
    "GetDecision": _DECISION_READ,
    "ExplainDecision": _decision_read("decision.lender"),
    "ReplayDecision": _decision_read("original.lender"),
    "ListDecisions": _REVIEW,
    "ListReviewQueue": _REVIEW,
    "SubmitReviewAction": _REVIEW,
    # Repricing stores new decisions for the lender's book: the lender (its system) only; the watch
    # list is a read for the lender and its officers.
    "RepriceDecisions": _LENDER_REQUEST,
    "ListWatchList": _REVIEW,
    "BatchQuote": _rule(**{LENDER: Access(request=owned("quote.lender"))}),
    # the batch's lender; each request's own lender must be empty or the same (checked by the service)
    "BatchQuoteLoanTerms": _LENDER_REQUEST,
    "SimulatePolicy": _LENDER_REQUEST,
}

# A lender (and its credit officers) its own book; a regulator any lender's or every lender's.
_OWN_BOOK = Access(request=owned("lender"))
_OWN_BOOK_OR_REGULATOR = _rule(**{LENDER: _OWN_BOOK, CREDIT_OFFICER: _OWN_BOOK, REGULATOR: ANY})

_PORTFOLIO_RULES: dict[str, Rule] = {
    "RecordLoan": _LENDER_REQUEST,
    "UpdateLoanBalance": _rule(**{LENDER: Access(request=loan_owned())}),
    "CloseLoan": _rule(**{LENDER: Access(request=loan_owned())}),
    "GetLoan": _rule(**{LENDER: Access(request=loan_owned()), CREDIT_OFFICER: Access(request=loan_owned())}),
    "ListLoans": _rule(
        **{LENDER: Access(request=owned("parent")), CREDIT_OFFICER: Access(request=owned("parent"))}
    ),
    "GetPortfolioReport": _rule(
        **{LENDER: Access(request=owned("lender")), CREDIT_OFFICER: Access(request=owned("lender"))}
    ),
    "GetRegulatoryReport": _rule(**{REGULATOR: ANY}),
    "ListSupervisedLoans": _rule(**{REGULATOR: Access(grant=LOAN_LEVEL)}),
    # lenders their own book; regulators any lender or all (aggregates under disclosure control)
    "GetCarbonLoanStatistics": _OWN_BOOK_OR_REGULATOR,
    "GetGreenLoanStatistics": _OWN_BOOK_OR_REGULATOR,
    # the facility ledger: the same, loan lines for a regulator only with the loan_level grant (the
    # servicer checks it and logs the access), else totals under disclosure control
    "GetFacilityLedger": _OWN_BOOK_OR_REGULATOR,
    "ExportFacilityLedger": _OWN_BOOK_OR_REGULATOR,
    # regulatory = true ignores `lender` and reports across lenders: regulators only.
    "ExportPortfolioReport": _rule(
        **{
            LENDER: Access(
                request=all_of(
                    flag("regulatory", False, "lenders export their own report, not the regulatory view"),
                    owned("lender"),
                )
            ),
            REGULATOR: Access(
                request=flag("regulatory", True, "regulators export the regulatory report only")
            ),
        }
    ),
}


# Heads and consistency proofs are sizes and hashes, no borrower data: every reader of decisions and the
# regulator (who keeps heads as a witness). An inclusion proof carries the decision's content: its
# lender's callers only, like GetDecision.
_LOG_PUBLIC = _rule(**{role: ANY for role in (LENDER, CREDIT_OFFICER, APPROVER, REGULATOR)})
_DECISION_LOG_RULES: dict[str, Rule] = {
    "GetSignedTreeHead": _LOG_PUBLIC,
    "GetConsistencyProof": _LOG_PUBLIC,
    "GetInclusionProof": _DECISION_READ,
}


# Consent grants: recorded and revoked by the registry operator (admin) on the enterprise's behalf;
# read by the scoring service (it checks them before quoting) and by a lender for its own grants.
_OWN_LENDER = Access(request=owned("lender"))
_CONSENT_RULES: dict[str, Rule] = {
    "GrantConsent": _ADMIN_ONLY,
    "RevokeConsent": _ADMIN_ONLY,
    "ListConsents": _rule(**{SERVICE: ANY, LENDER: _OWN_LENDER, CREDIT_OFFICER: _OWN_LENDER}),
}


# The regional dashboard: aggregates (minimum cell size applied by the service) for regulators; the
# named grade-5 list is loan-level-like data, behind the explicit loan_level grant.
_DASHBOARD_RULES: dict[str, Rule] = {
    "GetGradeDistribution": _rule(**{REGULATOR: ANY}),
    "GetGradeMigration": _rule(**{REGULATOR: ANY}),
    "GetSavingsPipeline": _rule(**{REGULATOR: ANY}),
    "ListGradeFiveEnterprises": _rule(**{REGULATOR: Access(grant=LOAN_LEVEL)}),
}


def _full(service: str, rules: Mapping[str, Rule]) -> dict[str, Rule]:
    return {f"/{service}/{method}": rule for method, rule in rules.items()}


RULES: dict[str, Rule] = {
    **_full(REGISTRY, _REGISTRY_RULES),
    **_full(SCORING, _SCORING_RULES),
    **_full(PORTFOLIO, _PORTFOLIO_RULES),
    **_full(DECISION_LOG, _DECISION_LOG_RULES),
    **_full(CONSENTS, _CONSENT_RULES),
    **_full(DASHBOARD, _DASHBOARD_RULES),
}


# --- decisions ------------------------------------------------------------------------------------


def service_of(method: str) -> str:
    """ "/pkg.Service/Method" -> "pkg.Service"."""
    return method.strip("/").partition("/")[0]


def is_public(method: str) -> bool:
    return service_of(method) in PUBLIC_SERVICES


def _access(method: str, principal: Principal) -> Access | Denial:
    rule = RULES.get(method)
    if rule is None:
        if principal.role == ADMIN:
            return ANY
        return Denial(NO_RULE, f"{method} has no authorization rule; only admin may call it")
    access = rule.access.get(principal.role)
    if access is None:
        return Denial(ROLE_NOT_ALLOWED, f"role {principal.role} may not call {method}")
    if access.grant is not None and not principal.has_grant(access.grant):
        return Denial(GRANT_REQUIRED, f"role {principal.role} needs the grant {access.grant!r} for {method}")
    return access


def authorize_call(method: str, principal: Principal) -> Denial | None:
    """Role and grant only: may this principal call ``method`` at all (before any message is read)?"""
    access = _access(method, principal)
    return access if isinstance(access, Denial) else None


def authorize_request(method: str, principal: Principal, request: Any) -> Denial | None:
    """May this principal send this request (one message of a client stream) to ``method``?"""
    access = _access(method, principal)
    if isinstance(access, Denial):
        return access
    return access.request(principal, request) if access.request is not None else None


def authorize_response(method: str, principal: Principal, response: Any) -> Denial | None:
    """May this principal receive this response (one message of a server stream) of ``method``?"""
    access = _access(method, principal)
    if isinstance(access, Denial):
        return access
    return access.response(principal, response) if access.response is not None else None


def concealment(method: str, principal: Principal) -> Callable[[Any], tuple[str, str]] | None:
    """How a denied response of ``method`` is answered instead (as a missing resource), if so."""
    access = _access(method, principal)
    return access.conceal if isinstance(access, Access) else None


def consent_required(method: str, principal: Principal) -> str | None:
    """The consent scope the enterprise read by ``method`` must have granted ``principal``'s tenant, or
    None when the rule asks for none (enforced by the registry: registry_service.consent_gate)."""
    access = _access(method, principal)
    return access.consent if isinstance(access, Access) else None


def consent_denial(principal: Principal, enterprise: str, scope: str) -> Denial:
    """The refusal of a read of ``enterprise`` (enterprises/{uscc}) that ``principal``'s lender holds
    no active ``scope`` grant for; worded as the scoring service words a quote without consent."""
    return Denial(
        CONSENT_REQUIRED,
        f"{enterprise} has not granted {principal.tenant or 'this caller'} consent to use its carbon data"
        f" (scope {scope}); the enterprise (or the registry operator on its behalf) must record a grant"
        " first",
        "enterprise",
    )


def has_response_check(method: str, principal: Principal) -> bool:
    access = _access(method, principal)
    return isinstance(access, Access) and access.response is not None


def roles_allowed(method: str) -> Iterable[str]:
    """The roles a rule lets call ``method`` at all (admin always)."""
    rule = RULES.get(method)
    return sorted(rule.roles()) if rule is not None else [ADMIN]
