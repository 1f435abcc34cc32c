"""The CarbonRegistry RPCs of utility accounts: CreateUtilityAccount, ListUtilityAccounts,
TransferUtilityAccount and GetUtilityAccountReconciliation. The rules (names, holdings, transfers,
overlaps) are registry_service.domain.accounts; this module parses, stores and converts."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import grpc
from sqlalchemy import Connection, Engine

from registry_service import convert
from registry_service.domain.accounts import (
    AMBIGUOUS,
    CONFLICT,
    KINDS,
    UNKNOWN,
    AccountProblem,
    Holding,
    account_name,
    holding_problems,
    overlaps,
    parse_account_name,
    transferred,
)
from registry_service.storage.accounts import AccountRepository, Sighting, StoredAccount
from tanxiao.errors import FailedPrecondition, FieldViolation, ValidationError
from tanxiao.registry.v1 import registry_pb2

if TYPE_CHECKING:
    from tanxiao.platform.idempotency import IdempotencyStore

_SERVICE = registry_pb2.DESCRIPTOR.services_by_name["CarbonRegistry"].full_name
_KIND_OF = {registry_pb2.UtilityKind.Value(k.upper()): k for k in KINDS}
_ENUM_OF = {k: v for v, k in _KIND_OF.items()}


class AccountRpcs:
    """Mixin of the utility-account RPCs for ``CarbonRegistryServicer`` (list it before the generated
    base). Expects ``engine`` and ``idempotency`` on ``self``."""

    if TYPE_CHECKING:
        engine: Engine
        idempotency: IdempotencyStore

    @property
    def _accounts(self) -> AccountRepository:
        repository = self.__dict__.get("_account_repository")
        if repository is None:
            repository = self.__dict__["_account_repository"] = AccountRepository(self.engine)
        return repository

    def CreateUtilityAccount(
        self, request: registry_pb2.CreateUtilityAccountRequest, context: grpc.ServicerContext
    ) -> registry_pb2.UtilityAccount:
        message = request.utility_account
        kind = _kind(message.kind, "utility_account.kind", required=True)
        number = message.number.strip()
        try:
            parse_account_name(account_name(kind, number))
        except AccountProblem as problem:
            raise ValidationError.for_field("utility_account.number", problem.message) from None
        holdings = [_holding(h, f"utility_account.holdings[{i}]") for i, h in enumerate(message.holdings)]
        problems = holding_problems(holdings, "utility_account.holdings")
        if problems:
            raise ValidationError.from_violations(FieldViolation(f, m) for f, m in problems)

        def create(conn: Connection) -> registry_pb2.UtilityAccount:
            return _to_proto(self._accounts.create(kind, number, holdings, connection=conn))

        return self.idempotency.run(
            f"/{_SERVICE}/CreateUtilityAccount",
            request.request_id,
            request,
            create,
            registry_pb2.UtilityAccount,
        )

    def ListUtilityAccounts(
        self, request: registry_pb2.ListUtilityAccountsRequest, context: grpc.ServicerContext
    ) -> registry_pb2.ListUtilityAccountsResponse:
        uscc = convert.parse_enterprise_name(request.enterprise, "enterprise") if request.enterprise else ""
        page = self._accounts.list(
            page_size=request.page_size,
            page_token=request.page_token,
            uscc=uscc,
            kind=_kind(request.kind, "kind"),
        )
        return registry_pb2.ListUtilityAccountsResponse(
            utility_accounts=[_to_proto(a) for a in page.accounts], next_page_token=page.next_page_token
        )

    def TransferUtilityAccount(
        self, request: registry_pb2.TransferUtilityAccountRequest, context: grpc.ServicerContext
    ) -> registry_pb2.UtilityAccount:
        name = _account_name(request.name, "name")
        to_uscc = convert.parse_enterprise_name(request.to_enterprise, "to_enterprise")
        effective = _date(request.effective_date, "effective_date", required=True)
        assert effective is not None

        def transfer(conn: Connection) -> registry_pb2.UtilityAccount:
            account = self._accounts.get(name, connection=conn)
            try:
                holdings = transferred(account.holdings, to_uscc, effective)
            except AccountProblem as problem:
                raise FailedPrecondition(
                    f"{problem.field}: {problem.message}",
                    reason="TRANSFER_REFUSED",
                    violations=[FieldViolation(problem.field, problem.message)],
                ) from None
            self._accounts.replace_holdings(name, holdings, connection=conn)
            return _to_proto(self._accounts.get(name, connection=conn))

        return self.idempotency.run(
            f"/{_SERVICE}/TransferUtilityAccount",
            request.request_id,
            request,
            transfer,
            registry_pb2.UtilityAccount,
        )

    def GetUtilityAccountReconciliation(
        self, request: registry_pb2.GetUtilityAccountReconciliationRequest, context: grpc.ServicerContext
    ) -> registry_pb2.UtilityAccountReconciliation:
        kind = _kind(request.kind, "kind")
        sightings = self._accounts.sightings(kind)
        ambiguous = [
            registry_pb2.AmbiguousUtilityAccount(
                utility_account=_to_proto(account),
                overlap_from=start.isoformat(),
                overlap_to=end.isoformat() if end else "",
            )
            for account in self._accounts.ambiguous_candidates(kind)
            for start, end in overlaps(account.holdings)
        ]
        return registry_pb2.UtilityAccountReconciliation(
            unmatched=[_sighting(s) for s in sightings if s.reason_code == UNKNOWN],
            ambiguous=ambiguous,
            ambiguous_sightings=[_sighting(s) for s in sightings if s.reason_code == AMBIGUOUS],
            conflicting=[_sighting(s) for s in sightings if s.reason_code == CONFLICT],
        )


def _kind(value: int, field: str, *, required: bool = False) -> str:
    if value == 0 and not required:
        return ""
    kind = _KIND_OF.get(value)
    if kind is None:
        raise ValidationError.for_field(field, f"must be one of {', '.join(k.upper() for k in KINDS)}")
    return kind


def _account_name(name: str, field: str) -> str:
    try:
        return account_name(*parse_account_name(name))
    except AccountProblem as problem:
        raise ValidationError.for_field(field, problem.message) from None


def _date(text: str, field: str, *, required: bool = False) -> date | None:
    text = text.strip()
    if not text and not required:
        return None
    problem = ValidationError.for_field(field, f"must be a date YYYY-MM-DD, got {text!r}")
    if len(text) != 10:  # fromisoformat also takes "20250701"
        raise problem
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise problem from None


def _holding(message: registry_pb2.UtilityAccountHolding, field: str) -> Holding:
    uscc = convert.parse_enterprise_name(message.enterprise, f"{field}.enterprise")
    start = _date(message.valid_from, f"{field}.valid_from", required=True)
    assert start is not None
    return Holding(uscc, start, _date(message.valid_to, f"{field}.valid_to"))


def _to_proto(account: StoredAccount) -> registry_pb2.UtilityAccount:
    message = registry_pb2.UtilityAccount(
        name=account.name,
        kind=_ENUM_OF[account.kind],
        number=account.number,
        holdings=[
            registry_pb2.UtilityAccountHolding(
                enterprise=convert.enterprise_name(h.uscc),
                valid_from=h.valid_from.isoformat(),
                valid_to=h.valid_to.isoformat() if h.valid_to else "",
            )
            for h in account.holdings
        ],
    )
    message.create_time.FromDatetime(account.create_time)
    return message


def _sighting(sighting: Sighting) -> registry_pb2.UtilityAccountSighting:
    message = registry_pb2.UtilityAccountSighting(
        utility_account=sighting.account,
        reason_code=sighting.reason_code,
        first_period=sighting.first_period,
        last_period=sighting.last_period,
        row_count=sighting.row_count,
        claimed_enterprise=convert.enterprise_name(sighting.claimed_uscc) if sighting.claimed_uscc else "",
        holder_enterprise=convert.enterprise_name(sighting.holder_uscc) if sighting.holder_uscc else "",
    )
    message.last_seen_time.FromDatetime(sighting.last_seen_time)
    return message
