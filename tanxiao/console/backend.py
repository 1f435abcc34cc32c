"""The console's calls to the services, each made with the signed-in user's token.

Nothing here decides who may see what: the services' authorization table does, and a refusal comes
back as ``ConsoleError`` with the gRPC status, which the pages turn into 403/404/503.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc

from tanxiao.client import Dialer, describe_error, with_token
from tanxiao.platform.config import Settings
from tanxiao.portfolio.v1 import portfolio_pb2, portfolio_pb2_grpc
from tanxiao.registry.v1 import registry_pb2, registry_pb2_grpc
from tanxiao.scoring.v1 import scoring_pb2, scoring_pb2_grpc

TIMEOUT = 30.0


class ConsoleError(Exception):
    """A call the services refused or could not answer."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason  # the ErrorInfo reason, e.g. CONSENT_REQUIRED


@dataclass
class EnterprisePage:
    enterprise: Any
    profiles: list[Any]  # graded yearly profiles, oldest first
    commitments: list[tuple[Any, Any | None]] = field(default_factory=list)  # (commitment, progress)
    consents: list[Any] | None = None  # active grants; None when the caller may not see them


class Channels:
    """One channel per service for the whole console; the user's token is attached per call."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        dialer = Dialer(settings)
        self.scoring = dialer.scoring()
        self.registry = dialer.registry()

    def close(self) -> None:
        self.scoring.close()
        self.registry.close()

    def for_user(self, token: str) -> Backend:
        return Backend(self, token)


class Backend:
    def __init__(self, channels: Channels, token: str) -> None:
        self._channels = channels
        scoring = with_token(channels.scoring, token)
        registry = with_token(channels.registry, token)
        self.scoring = scoring_pb2_grpc.LoanScoringStub(scoring)
        self.portfolio = portfolio_pb2_grpc.PortfolioReportingStub(scoring)
        self.registry = registry_pb2_grpc.CarbonRegistryStub(registry)
        self._scoring_channel = scoring
        self._registry_channel = registry

    def _call(self, target: str, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=TIMEOUT)
        except grpc.RpcError as exc:
            raise _error(exc, target, self._channels.settings) from exc

    def _s(self, method: Any, request: Any) -> Any:
        return self._call(self._channels.settings.scoring_addr, method, request)

    def _r(self, method: Any, request: Any) -> Any:
        return self._call(self._channels.settings.registry_addr, method, request)

    # --- decisions --------------------------------------------------------------------------------

    def explanation(self, name: str) -> Any:
        return self._s(self.scoring.ExplainDecision, scoring_pb2.ExplainDecisionRequest(name=name))

    def quote(self, request: Any) -> Any:
        return self._s(self.scoring.QuoteLoanTerms, request)

    def has(self, method: str) -> bool:
        """Whether this build's scoring contract has ``method`` (review RPCs arrive separately)."""
        return method in scoring_pb2.DESCRIPTOR.services_by_name["LoanScoring"].methods_by_name

    def call_scoring(self, method: str, request: Any) -> Any:
        return self._s(getattr(self.scoring, method), request)

    # --- enterprises ------------------------------------------------------------------------------

    def enterprises(self, industry: str, region: str, page_token: str, page_size: int = 50) -> Any:
        request = registry_pb2.ListEnterprisesRequest(
            page_size=page_size, page_token=page_token,
            industry_code_prefix=industry, region_code_prefix=region,
        )  # fmt: skip
        return self._r(self.registry.ListEnterprises, request)

    def enterprise_page(self, uscc: str, tenant: str = "", years: int = 4) -> EnterprisePage:
        name = f"enterprises/{uscc}"
        enterprise = self._r(self.registry.GetEnterprise, registry_pb2.GetEnterpriseRequest(name=name))
        last = dt.date.today().year - 1
        names = [f"{name}/profiles/{year}" for year in range(last - years + 1, last + 1)]
        batch = self._r(
            self.registry.BatchGetCarbonProfiles,
            registry_pb2.BatchGetCarbonProfilesRequest(names=names, allow_missing=True),
        )
        profiles = sorted(batch.profiles, key=lambda p: p.period)
        listed = self._r(self.registry.ListCommitments, registry_pb2.ListCommitmentsRequest(parent=name))
        commitments = [(c, self._progress(c.name)) for c in listed.commitments]
        return EnterprisePage(enterprise, profiles, commitments, self._consents(name, tenant))

    def _consents(self, name: str, tenant: str) -> list[Any] | None:
        from tanxiao.registry.v1 import consent_pb2, consent_pb2_grpc

        stub = consent_pb2_grpc.ConsentsStub(self._registry_channel)
        try:
            listed = self._r(stub.ListConsents, consent_pb2.ListConsentsRequest(parent=name, lender=tenant))
        except ConsoleError as exc:
            if exc.code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNIMPLEMENTED):
                return None  # the consent register is the operator's (and the lender's own grants)
            raise
        return list(listed.consents)

    def _progress(self, name: str) -> Any | None:
        try:
            return self._r(
                self.registry.GetCommitmentProgress, registry_pb2.GetCommitmentProgressRequest(name=name)
            )
        except ConsoleError as exc:
            if exc.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                return None  # no measured year yet: the page says "not assessed"
            raise

    # --- reports ----------------------------------------------------------------------------------

    def portfolio_report(self, lender: str, as_of: str) -> Any:
        request = portfolio_pb2.GetPortfolioReportRequest(lender=lender, as_of_date=as_of, top_n=10)
        return self._s(self.portfolio.GetPortfolioReport, request)

    def regulatory_report(self, as_of: str, region: str) -> Any:
        request = portfolio_pb2.GetRegulatoryReportRequest(as_of_date=as_of, region_code_prefix=region)
        return self._s(self.portfolio.GetRegulatoryReport, request)

    def export(self, *, lender: str, regulatory: bool, as_of: str, fmt: str) -> tuple[bytes, str, str]:
        """(data, content type, file name) of an exported report; ConsoleError(UNIMPLEMENTED) for a
        format this build's contract lacks."""
        value = portfolio_pb2.ExportFormat.DESCRIPTOR.values_by_name.get(fmt.upper())
        if value is None:
            raise ConsoleError(grpc.StatusCode.UNIMPLEMENTED, f"{fmt}: no such export in this build")
        request = portfolio_pb2.ExportPortfolioReportRequest(
            lender=lender, as_of_date=as_of, format=value.number, regulatory=regulatory
        )
        data, content_type, filename = bytearray(), "application/octet-stream", f"report.{fmt}"
        try:
            for chunk in self._chunks(request):
                data += chunk.data
                content_type = chunk.content_type or content_type
                filename = chunk.filename or filename
        except grpc.RpcError as exc:
            raise _error(exc, self._channels.settings.scoring_addr, self._channels.settings) from exc
        return bytes(data), content_type, filename

    def _chunks(self, request: Any) -> Iterator[Any]:
        yield from self.portfolio.ExportPortfolioReport(request, timeout=120)


def available_formats() -> list[str]:
    """Export formats this build's contract offers, lower case, in the enum's order."""
    return [v.name.lower() for v in portfolio_pb2.ExportFormat.DESCRIPTOR.values if v.number != 0]


def _error(exc: grpc.RpcError, target: str, settings: Settings) -> ConsoleError:
    code = exc.code()  # type: ignore[attr-defined]
    if code == grpc.StatusCode.UNAVAILABLE:
        return ConsoleError(code, describe_error(exc, target, settings))
    return ConsoleError(code, exc.details() or code.name, _reason(exc))  # type: ignore[attr-defined]


def _reason(exc: grpc.RpcError) -> str:
    """The ErrorInfo reason of a failed call ("" when it has none)."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""
