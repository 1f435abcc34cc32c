"""Pricing one request: registry data in, loan_rules terms out, a hash-chained decision stored.

The decision's content keeps everything a replay needs (the rules' inputs as JSON, the policy hash,
the profile exactly as the registry sent it) and everything an explanation shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from loan_rules import (
    CarbonProfileInput,
    CommitmentInput,
    LoanRequest,
    LprQuote,
    LprTable,
    Policy,
    Terms,
    evaluate,
    evaluate_many,
    parse_policy,
)
from loan_rules.lpr import LprTableError, default_lpr_table
from loan_rules.policy import DEFAULT_POLICY
from scoring_service.inputs import (
    Financials,
    QuoteRequest,
    commitment_input,
    financials_from_profile,
    message_json,
    profile_input,
    to_json,
)
from scoring_service.registry_client import RegistryClient
from scoring_service.storage.decisions import Append, DecisionStore, StoredDecision
from tanxiao.errors import DeadlineExceeded, FailedPrecondition, NotFound, Unavailable, ValidationError
from tanxiao.platform.config import Settings
from tanxiao.registry.v1 import registry_pb2

Also = Callable[[Connection, list[StoredDecision]], None]  # run in the transaction storing decisions


@dataclass(frozen=True)
class _Inputs:
    """One request's inputs to the rules, as fetched and resolved (before evaluation)."""

    rules_profile: CarbonProfileInput
    commitment: registry_pb2.Commitment | None
    progress: registry_pb2.CommitmentProgress | None
    rules_commitment: CommitmentInput | None
    lpr: LprQuote
    financials: Financials
    loan_request: LoanRequest


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    text: str


def load_configured_policy(settings: Settings) -> LoadedPolicy:
    """The policy file of TANXIAO_LOAN_POLICY_PATH, or the packaged example, with its exact text."""
    if settings.loan_policy_path:
        path = Path(settings.loan_policy_path)
        text = path.read_text("utf-8")
        return LoadedPolicy(parse_policy(text, source=str(path)), text)
    text = resources.files("loan_rules").joinpath("policies", DEFAULT_POLICY).read_text("utf-8")
    return LoadedPolicy(parse_policy(text, source=DEFAULT_POLICY), text)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class Pricer:
    """Prices requests. ``lpr_table``: the dated LPR fixings (the packaged table by default; a lender
    passes its own); ``today``: the date whose LPR a new quote uses (a clock, replaceable in tests)."""

    def __init__(
        self,
        registry: RegistryClient,
        store: DecisionStore,
        policy: LoadedPolicy,
        lpr_table: LprTable | None = None,
        today: Callable[[], dt.date] = _today,
    ) -> None:
        self.registry = registry
        self.store = store
        self.policy = policy
        self.lpr_table = lpr_table or default_lpr_table()
        self.today = today
        self._names: dict[str, str] = {}

    def lpr(self, tenor_months: int) -> LprQuote:
        try:
            return self.lpr_table.lpr_for(tenor_months, self.today())
        except LprTableError as exc:
            raise FailedPrecondition(str(exc), reason="LPR_NOT_AVAILABLE") from exc

    def quote(self, request: QuoteRequest) -> StoredDecision:
        """Price and store. A retry (AIP-155) is found by the store's insert itself (its unique key):
        the first decision comes back, REQUEST_ID_REUSED for another request; so the fast path has no
        separate lookup. Should the registry fail on a retry, the stored decision is still returned."""
        return self.quote_new(request)[0]

    def quote_new(self, request: QuoteRequest, also: Also | None = None) -> tuple[StoredDecision, bool]:
        """``quote``, and whether the decision was stored by this call (False: a retry's). ``also``
        runs in the storing transaction (DecisionStore.append_many), not on the fallback path."""
        try:
            (profile,) = self._profiles([request])
            return self._append([self._item(request, profile)], also)[0]
        except (Unavailable, DeadlineExceeded, FailedPrecondition, NotFound):
            existing = self.store.find(request.lender, request.request_id)
            if existing is None:
                raise
            return self._same_request(existing, request), False

    def quote_many(self, requests: Sequence[QuoteRequest]) -> list[StoredDecision]:
        """Decisions in request order: stored ones for known request ids; the new ones priced on
        profiles fetched in one batch call and appended to the chain in one transaction."""
        stored = self.store.find_many([(r.lender, r.request_id) for r in requests])
        found = {i: d for i, r in enumerate(requests) if (d := stored.get((r.lender, r.request_id)))}
        fresh = [r for i, r in enumerate(requests) if i not in found]
        profiles = self._profiles(fresh) if fresh else []
        items = self._items(fresh, profiles)
        appended = iter(self._append(items)) if items else iter(())
        return [
            self._same_request(found[i], r) if i in found else next(appended)[0]
            for i, r in enumerate(requests)
        ]

    def reprice(
        self, requests: Sequence[QuoteRequest], originals: Sequence[str], *, dry_run: bool
    ) -> list[StoredDecision]:
        """New decisions for loans priced again, each naming its original (content ``reprices``), on the
        registry's current profile and commitment progress and today's LPR. ``dry_run``: built, not
        stored (no id, no leaf). A request id already used returns the stored decision (a retry)."""
        found = (
            {}
            if dry_run
            else {i: d for i, r in enumerate(requests) if (d := self.store.find(r.lender, r.request_id))}
        )
        fresh = [i for i in range(len(requests)) if i not in found]
        profiles = self._profiles([requests[i] for i in fresh]) if fresh else []
        items = self._items([requests[i] for i in fresh], profiles)
        for i, item in zip(fresh, items, strict=True):
            item.content["reprices"] = originals[i]
        if dry_run:
            now = dt.datetime.now(dt.UTC)
            return [
                StoredDecision(
                    "", a.lender, a.request_id, a.uscc, a.product, a.request_fingerprint, a.content, "", now
                )
                for a in items
            ]
        appended = iter(self._append(items)) if items else iter(())
        return [found[i] if i in found else next(appended)[0] for i in range(len(requests))]

    def _item(self, request: QuoteRequest, fetched: tuple[registry_pb2.CarbonProfile, float]) -> Append:
        return self._items([request], [fetched])[0]

    def _items(
        self,
        requests: Sequence[QuoteRequest],
        fetched: Sequence[tuple[registry_pb2.CarbonProfile, float]],
    ) -> list[Append]:
        """The decisions to store for priced requests: their inputs, the terms of one
        ``evaluate_many`` over all of them (the same terms and trace as ``evaluate`` one by one,
        without a numpy pass per request), and each decision's content."""
        inputs = [self._inputs(r, f[0]) for r, f in zip(requests, fetched, strict=True)]
        rows = [(i.rules_profile, i.rules_commitment, i.loan_request) for i in inputs]
        policy = self.policy.policy
        terms = [evaluate(*rows[0], policy)] if len(rows) == 1 else evaluate_many(rows, policy)
        # MessageToDict once per distinct profile of the call (a chunk prices ~60 profiles for 256
        # quotes in the benchmark); the dict is shared read-only by the decisions that used it.
        as_json: dict[bytes, dict[str, Any]] = {}
        profiles = [
            as_json.get(key) or as_json.setdefault(key, message_json(f[0]))
            for f in fetched
            for key in (f[0].SerializeToString(deterministic=True),)
        ]
        return [
            self._append_item(r, f, p, i, t)
            for r, f, p, i, t in zip(requests, fetched, profiles, inputs, terms, strict=True)
        ]

    def _inputs(self, request: QuoteRequest, profile: registry_pb2.CarbonProfile) -> _Inputs:
        rules_profile = profile_input(profile)
        commitment, progress, rules_commitment = self._commitment(request)
        lpr = self.lpr(request.tenor_months)
        financials = financials_from_profile(profile) if request.use_financials else Financials()
        loan_request = request.loan_request(lpr, financials)
        return _Inputs(rules_profile, commitment, progress, rules_commitment, lpr, financials, loan_request)

    def _append_item(
        self,
        request: QuoteRequest,
        fetched: tuple[registry_pb2.CarbonProfile, float],
        profile_json: dict[str, Any],
        inputs: _Inputs,
        terms: Terms,
    ) -> Append:
        profile, age = fetched
        lpr, financials = inputs.lpr, inputs.financials
        content = self._content(
            request, profile, profile_json, inputs.rules_profile, inputs.commitment, inputs.progress,
            inputs.rules_commitment, terms,
        )  # fmt: skip
        content["inputs"]["request"] = to_json(inputs.loan_request)
        content["lpr"] = to_json(
            {**asdict(lpr), "effective_date": lpr.effective_date.isoformat()}  # which fixing, and its source
        )
        content["financials"] = to_json(asdict(financials)) if financials != Financials() else None
        content["profile_age_seconds"] = round(age, 3)  # the decision says how fresh its data was
        return Append(
            request.lender,
            request.request_id,
            request.uscc,
            request.product.value,
            request.fingerprint,
            content,
        )

    def _append(self, items: Sequence[Append], also: Also | None = None) -> list[tuple[StoredDecision, bool]]:
        policy = self.policy.policy
        return self.store.append_many(
            items,
            policy_text=self.policy.text,
            policy_hash=policy.content_hash,
            policy_version=policy.version,
            also=also,
        )

    def _profiles(self, requests: Sequence[QuoteRequest]) -> list[tuple[registry_pb2.CarbonProfile, float]]:
        try:
            return self.registry.profiles_with_age([(r.uscc, r.profile_period) for r in requests])
        except NotFound as exc:
            raise FailedPrecondition(
                f"no carbon profile to price on: {exc.message}; ingest the enterprise's data first",
                reason="PROFILE_NOT_AVAILABLE",
            ) from exc

    def _commitment(
        self, request: QuoteRequest
    ) -> tuple[
        registry_pb2.Commitment | None, registry_pb2.CommitmentProgress | None, CommitmentInput | None
    ]:
        if not request.commitment:
            return None, None, None
        commitment, progress = self.registry.commitment(request.commitment)
        return commitment, progress, commitment_input(commitment, progress)

    def _content(
        self,
        request: QuoteRequest,
        profile: registry_pb2.CarbonProfile,
        profile_json: dict[str, Any],  # message_json(profile)
        rules_profile: Any,
        commitment: registry_pb2.Commitment | None,
        progress: registry_pb2.CommitmentProgress | None,
        rules_commitment: CommitmentInput | None,
        terms: Terms,
    ) -> dict[str, Any]:
        # to_json only where it changes something (dataclasses, enums, NaN): the registry's messages as
        # MessageToDict gives them and the request's own dict are JSON already (non-finite floats come
        # out of MessageToDict as strings), so walking them again would only cost time.
        return {
            "lender": request.lender,
            "request_id": request.request_id,
            "enterprise": request.enterprise,
            "enterprise_name": self._name(request.uscc),
            "request": request.as_dict(),
            "profile_name": profile.name,
            "profile": profile_json,
            "commitment": message_json(commitment) if commitment is not None else None,
            "commitment_progress": message_json(progress) if progress is not None else None,
            "inputs": {
                "profile": to_json(rules_profile),
                "commitment": to_json(rules_commitment),
                "request": None,  # set by the caller: with the LPR and financials resolved
            },
            "terms": to_json(terms.to_dict()),
            "policy": {"version": self.policy.policy.version, "hash": self.policy.policy.content_hash},
        }

    def _name(self, uscc: str) -> str:
        if uscc not in self._names:
            self._names[uscc] = self.registry.enterprise(uscc).display_name
        return self._names[uscc]

    @staticmethod
    def _same_request(existing: StoredDecision, request: QuoteRequest) -> StoredDecision:
        if existing.request_fingerprint != request.fingerprint:
            raise ValidationError.for_field(
                "request_id",
                f"request_id {request.request_id!r} was already used for a different request",
                reason="REQUEST_ID_REUSED",
            )
        return existing
