"""Pricing one request: registry data in, loan_rules terms out, a hash-chained decision stored.

The decision's content keeps everything a replay needs (the rules' inputs as JSON, the policy hash,
the profile exactly as the registry sent it) and everything an explanation shows.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import structlog

from loan_rules import (
    CarbonProfileInput,
    CommitmentInput,
    LoanRequest,
    LprQuote,
    LprTable,
    Policy,
    parse_policy,
)
from loan_rules.compact import evaluate_compact
from loan_rules.lpr import LprTableError, default_lpr_table, term_for
from loan_rules.policy import DEFAULT_POLICY
from scoring_service.decision_format import COMPACT, FORMAT_KEY
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
from scoring_service.storage.decisions import (
    Append,
    DecisionStore,
    StoredDecision,
    canonical_json,
    snapshot_hash,
)
from tanxiao.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    NotFound,
    TanxiaoError,
    Unavailable,
    ValidationError,
)
from tanxiao.plain_json import vouched
from tanxiao.platform.config import Settings
from tanxiao.registry.v1 import registry_pb2

log = structlog.get_logger("tanxiao.pricing")
PROFILE_PARTS_CACHE_SIZE = 4096  # distinct profiles whose parts are kept (by content)


@dataclass(frozen=True)
class _ProfileParts:
    """What a decision takes from its profile alone: built once per distinct profile and shared,
    read-only, by the decisions priced on it."""

    rules_profile: CarbonProfileInput
    rules_profile_json: dict[str, Any]
    profile_json: dict[str, Any]  # message_json(profile): stored once by content hash
    financials: tuple[Financials, dict[str, Any] | None]  # and its JSON (None: no financials)
    snapshot: tuple[str, str]  # (sha256, canonical JSON) of profile_json: the stored snapshot

    @classmethod
    def of(cls, profile: registry_pb2.CarbonProfile) -> _ProfileParts:
        rules_profile = profile_input(profile)
        financials = financials_from_profile(profile)
        profile_json = message_json(profile)
        text = canonical_json(profile_json)
        # The JSON parts every decision on this profile carries, vouched for once here (canonical
        # JSON then skips their values in each decision: tanxiao.plain_json).
        return cls(
            rules_profile,
            vouched(to_json(rules_profile)),
            profile_json,
            (financials, vouched(to_json(asdict(financials))) if financials != Financials() else None),
            (snapshot_hash(text), text),
        )


@dataclass(frozen=True)
class _Inputs:
    """One request's inputs to the rules, as fetched and resolved (before evaluation)."""

    parts: _ProfileParts
    commitment: registry_pb2.Commitment | None
    progress: registry_pb2.CommitmentProgress | None
    rules_commitment: CommitmentInput | None
    lpr: LprQuote
    lpr_json: dict[str, Any]
    financials_json: dict[str, Any] | None
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
        self._parts: OrderedDict[bytes, _ProfileParts] = OrderedDict()  # by profile content
        self._parts_lock = threading.Lock()
        # by object: id -> (the profile, its parts); see _profile_parts
        self._seen: dict[int, tuple[registry_pb2.CarbonProfile, _ProfileParts]] = {}
        self._lprs: dict[LprQuote, dict[str, Any]] = {}  # LPR fixing -> its JSON (_lpr_json)
        self._lpr_quotes: dict[tuple[int, str, dt.date], tuple[LprTable, LprQuote]] = {}  # see lpr

    def lpr(self, tenor_months: int) -> LprQuote:
        """The tenor's LPR on today's date. The table's answer is kept by (table, term, date): a
        quote's lookup walks every fixing and makes a new LprQuote (~20k instructions); a table is not
        changed once parsed, so the kept quote is the one it would give again (another table or
        another day is another key)."""
        table, on = self.lpr_table, self.today()
        key = (id(table), term_for(tenor_months), on)
        kept = self._lpr_quotes.get(key)
        if kept is not None and kept[0] is table:
            return kept[1]
        try:
            quote = table.lpr_for(tenor_months, on)
        except LprTableError as exc:
            raise FailedPrecondition(str(exc), reason="LPR_NOT_AVAILABLE") from exc
        if len(self._lpr_quotes) >= 64:  # a few a day: dropped whole now and then
            self._lpr_quotes.clear()
        self._lpr_quotes[key] = (table, quote)
        return quote

    def quote(self, request: QuoteRequest) -> StoredDecision:
        """Price and store. A retry (AIP-155) is found by the store's insert itself (its unique key):
        the first decision comes back, REQUEST_ID_REUSED for another request; so the fast path has no
        separate lookup. Should the registry fail on a retry, the stored decision is still returned."""
        return self.quote_new(request)[0]

    def quote_new(self, request: QuoteRequest) -> tuple[StoredDecision, bool]:
        """``quote``, and whether the decision was stored by this call (False: a retry's)."""
        try:
            (profile,) = self._profiles([request])
            return self._append([self._item(request, profile)])[0]
        except (Unavailable, DeadlineExceeded, FailedPrecondition, NotFound):
            existing = self.store.find(request.lender, request.request_id)
            if existing is None:
                raise
            return self._same_request(existing, request), False

    def quote_together(
        self, requests: Sequence[QuoteRequest]
    ) -> list[tuple[StoredDecision, bool] | BaseException]:
        """``quote_new`` for concurrent calls (scoring_service.combiner): one registry batch and one
        ``evaluate_compact`` for all of them, stored in one transaction, the insert being the
        idempotency check as in ``quote_new``. Should that fail, each request is quoted again on its
        own, so one call's error (a reused request id, a missing profile) is that call's alone; a lone
        request gets ``quote_new``'s answer to the failure."""
        try:
            items = self._items(requests, self._profiles(requests))
            return list(self._append(items))
        except Exception as exc:
            return self._apart(requests, exc)

    def _apart(
        self, requests: Sequence[QuoteRequest], error: Exception
    ) -> list[tuple[StoredDecision, bool] | BaseException]:
        """The answers of a group whose batch failed: each request again on its own, with its own
        error; a lone request's failure as ``quote_new`` answers it (a retry's stored decision)."""
        if len(requests) == 1:
            return [self._recovered(requests[0], error)]
        log.info("quote.batch_split", calls=len(requests), error=type(error).__name__)
        return [self._guarded(r) for r in requests]

    def _recovered(
        self, request: QuoteRequest, error: Exception
    ) -> tuple[StoredDecision, bool] | BaseException:
        """``quote_new``'s fallback: should the registry fail on a retry, the stored decision."""
        if not isinstance(error, (Unavailable, DeadlineExceeded, FailedPrecondition, NotFound)):
            return error
        try:
            existing = self.store.find(request.lender, request.request_id)
            return error if existing is None else (self._same_request(existing, request), False)
        except Exception as exc:
            return exc

    def _guarded(self, request: QuoteRequest) -> tuple[StoredDecision, bool] | BaseException:
        try:
            return self.quote_new(request)
        except Exception as exc:  # handed to the call it belongs to
            return exc

    def quote_many(self, requests: Sequence[QuoteRequest]) -> list[StoredDecision]:
        """Decisions in request order: stored ones for known request ids; the new ones priced on
        profiles fetched in one batch call and stored in one transaction."""
        return [d for d, _ in self.quote_many_new(requests)]

    def quote_many_new(self, requests: Sequence[QuoteRequest]) -> list[tuple[StoredDecision, bool]]:
        """``quote_many`` and whether each decision was stored by this call (False: a retry's)."""
        stored = self.store.find_many([(r.lender, r.request_id) for r in requests])
        found = {i: d for i, r in enumerate(requests) if (d := stored.get((r.lender, r.request_id)))}
        fresh = [r for i, r in enumerate(requests) if i not in found]
        profiles = self._profiles(fresh) if fresh else []
        items = self._items(fresh, profiles)
        appended = iter(self._append(items)) if items else iter(())
        return [
            (self._same_request(found[i], r), False) if i in found else next(appended)
            for i, r in enumerate(requests)
        ]

    def quote_each(
        self, requests: Sequence[QuoteRequest], *, render: bool = True
    ) -> list[tuple[StoredDecision, bool] | TanxiaoError]:
        """``quote_many_new`` where each request succeeds or fails alone (BatchQuoteLoanTerms): a
        request id used for another request, a profile the registry does not have or cannot price on,
        a missing commitment is that request's error; the others are priced on one registry batch, one
        ``evaluate_compact`` and stored in one transaction. Errors of the whole call (registry or
        database unavailable) are raised. ``render``: as in ``_priced``."""
        out: list[tuple[StoredDecision, bool] | TanxiaoError | None] = [None] * len(requests)
        stored = self.store.find_many([(r.lender, r.request_id) for r in requests])
        fresh = []
        for i, r in enumerate(requests):
            prior = stored.get((r.lender, r.request_id))
            if prior is None:
                fresh.append(i)
            else:
                out[i] = _same_or_error(prior, r)
        fetched = self.registry.existing_profiles_with_age([(requests[i].uscc, requests[i].profile_period)
                                                            for i in fresh])  # fmt: skip
        per_profile: dict[int, _ProfileParts | TanxiaoError] = {}
        lprs: dict[int, tuple[LprQuote, dict[str, Any]]] = {}
        commitments: dict[str, Any] = {}
        ready: list[tuple[int, tuple[registry_pb2.CarbonProfile, float], _Inputs]] = []
        for i, found in zip(fresh, fetched, strict=True):
            request = requests[i]
            if found is None:
                out[i] = FailedPrecondition(
                    f"no carbon profile to price on: enterprises/{request.uscc}/profiles/"
                    f"{request.profile_period} not found; ingest the enterprise's data first",
                    reason="PROFILE_NOT_AVAILABLE",
                )
                continue
            try:
                parts = per_profile.get(id(found[0]))
                if parts is None:
                    try:
                        parts = per_profile[id(found[0])] = self._profile_parts(found[0])
                    except TanxiaoError as exc:
                        parts = per_profile[id(found[0])] = exc
                if isinstance(parts, TanxiaoError):
                    raise parts
                ready.append((i, found, self._inputs(request, parts, lprs, commitments)))
            except (FailedPrecondition, NotFound, ValidationError) as exc:
                out[i] = exc
        if ready:
            items = self._priced([requests[i] for i, _, _ in ready], [f for _, f, _ in ready],
                                 [x for _, _, x in ready], render)  # fmt: skip
            for (i, _, _), result in zip(ready, self._append(items), strict=True):
                out[i] = result
        return [o if o is not None else _unpriced() for o in out]

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
                StoredDecision("", a.lender, a.request_id, a.uscc, a.product, a.request_fingerprint,
                               {**a.content, "terms": a.shown_terms or a.content["terms"]}, "", now)
                for a in items
            ]  # fmt: skip
        appended = iter(self._append(items)) if items else iter(())
        return [found[i] if i in found else next(appended)[0] for i in range(len(requests))]

    def _item(self, request: QuoteRequest, fetched: tuple[registry_pb2.CarbonProfile, float]) -> Append:
        return self._items([request], [fetched])[0]

    def _items(
        self,
        requests: Sequence[QuoteRequest],
        fetched: Sequence[tuple[registry_pb2.CarbonProfile, float]],
        render: bool = True,
    ) -> list[Append]:
        """The decisions to store for priced requests: their inputs, their compact terms from one
        ``evaluate_compact`` over all of them (column-wise; the trace is not stored but rendered on
        read: scoring_service.decision_format), and each decision's content.

        What depends on the profile alone (the rules' profile input, the profile as JSON, the
        financials) is built once per distinct profile of the call (a chunk prices ~60 profiles for
        256 quotes in the benchmark) and shared, read-only, by the decisions priced on it; the LPR
        once per tenor."""
        per_profile: dict[int, _ProfileParts] = {}
        lprs: dict[int, tuple[LprQuote, dict[str, Any]]] = {}
        inputs = [
            self._inputs(request, self._parts_of(profile, per_profile), lprs)
            for request, (profile, _age) in zip(requests, fetched, strict=True)
        ]
        return self._priced(requests, fetched, inputs, render)

    def _parts_of(
        self, profile: registry_pb2.CarbonProfile, per_call: dict[int, _ProfileParts]
    ) -> _ProfileParts:
        parts = per_call.get(id(profile))  # the registry client hands one object per profile
        if parts is None:
            parts = per_call[id(profile)] = self._profile_parts(profile)
        return parts

    def _priced(
        self,
        requests: Sequence[QuoteRequest],
        fetched: Sequence[tuple[registry_pb2.CarbonProfile, float]],
        inputs: Sequence[_Inputs],
        render: bool = True,
    ) -> list[Append]:
        """``_items`` once the inputs are resolved. ``render``: also render what the answer shows (the
        trace's reasons with their texts); False (BatchQuoteLoanTerms' BASIC view): the stored
        decision returned carries the compact terms."""
        rows = [(i.parts.rules_profile, i.rules_commitment, i.loan_request) for i in inputs]
        policy = self.policy.policy
        compacts = evaluate_compact(rows, policy)  # column-wise: no trace written per row
        if not render:
            return [
                self._append_item(*args, None)
                for args in zip(requests, fetched, inputs, compacts, strict=True)
            ]
        # What the answer shows (the trace's reasons with their texts), rendered from the compact
        # terms as reads render them; memoised, so decisions differing only in their request id share it.
        shown = [self.store.renderer.render(row, policy, c)[1] for row, c in zip(rows, compacts, strict=True)]
        return [
            self._append_item(*args) for args in zip(requests, fetched, inputs, compacts, shown, strict=True)
        ]

    def _profile_parts(self, profile: registry_pb2.CarbonProfile) -> _ProfileParts:
        """The parts of a profile, from a cache keyed by the profile's content (its deterministic wire
        bytes): a profile the registry changed has other bytes, so it is never answered stale.

        The registry client's profile cache hands the same message object for as long as it holds
        the profile (a change the registry reports evicts it: a changed profile is a new object),
        and no one changes a fetched profile in place; so the object itself is looked up first, and
        its whole serialization (~20k instructions a quote) is only made for an object not seen
        yet. The entry keeps the object referenced, so its id is not reused while it is there."""
        seen = self._seen.get(id(profile))
        if seen is not None and seen[0] is profile:
            return seen[1]
        parts = self._parts_by_content(profile)
        with self._parts_lock:
            if len(self._seen) >= PROFILE_PARTS_CACHE_SIZE:
                del self._seen[next(iter(self._seen))]  # the oldest first seen
            self._seen[id(profile)] = (profile, parts)
        return parts

    def _parts_by_content(self, profile: registry_pb2.CarbonProfile) -> _ProfileParts:
        key = profile.SerializeToString(deterministic=True)
        with self._parts_lock:
            parts = self._parts.get(key)
            if parts is not None:
                self._parts.move_to_end(key)
                return parts
        parts = _ProfileParts.of(profile)
        with self._parts_lock:
            self._parts[key] = parts
            while len(self._parts) > PROFILE_PARTS_CACHE_SIZE:
                self._parts.popitem(last=False)
        return parts

    def _inputs(
        self,
        request: QuoteRequest,
        parts: _ProfileParts,
        lprs: dict[int, tuple[LprQuote, dict[str, Any]]],
        commitments: dict[str, Any] | None = None,
    ) -> _Inputs:
        """``commitments``: the call's commitments by name, fetched once each (a batch names one
        commitment for several requests)."""
        if commitments is None or not request.commitment:
            commitment, progress, rules_commitment = self._commitment(request)
        else:
            if request.commitment not in commitments:
                commitments[request.commitment] = self._commitment(request)
            commitment, progress, rules_commitment = commitments[request.commitment]
        if request.tenor_months not in lprs:
            fixing = self.lpr(request.tenor_months)
            lprs[request.tenor_months] = (fixing, self._lpr_json(fixing))
        lpr, lpr_json = lprs[request.tenor_months]
        financials, financials_json = parts.financials if request.use_financials else (Financials(), None)
        loan_request = request.loan_request(lpr, financials)
        return _Inputs(parts, commitment, progress, rules_commitment, lpr, lpr_json, financials_json,
                       loan_request)  # fmt: skip

    def _lpr_json(self, fixing: LprQuote) -> dict[str, Any]:
        """Which fixing a decision used, as JSON: built once per fixing (a few a year) and shared,
        read-only, by the decisions priced on it."""
        out = self._lprs.get(fixing)
        if out is None:
            out = vouched(to_json({**asdict(fixing), "effective_date": fixing.effective_date.isoformat()}))
            if len(self._lprs) >= 64:
                self._lprs.clear()
            self._lprs[fixing] = out
        return out

    def _append_item(
        self,
        request: QuoteRequest,
        fetched: tuple[registry_pb2.CarbonProfile, float],
        inputs: _Inputs,
        terms: dict[str, Any],
        shown_terms: dict[str, Any] | None,
    ) -> Append:
        profile, age = fetched
        content = self._content(request, profile, inputs, terms)
        content["inputs"]["request"] = _request_json(inputs.loan_request)
        content["lpr"] = inputs.lpr_json  # which fixing, and its source
        content["financials"] = inputs.financials_json
        content["profile_age_seconds"] = round(age, 3)  # the decision says how fresh its data was
        return Append(
            request.lender,
            request.request_id,
            request.uscc,
            request.product.value,
            request.fingerprint,
            content,
            shown_terms,
            inputs.parts.snapshot,
        )

    def _append(self, items: Sequence[Append]) -> list[tuple[StoredDecision, bool]]:
        policy = self.policy.policy
        return self.store.append_many(
            items,
            policy_text=self.policy.text,
            policy_hash=policy.content_hash,
            policy_version=policy.version,
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
        inputs: _Inputs,
        terms: dict[str, Any],
    ) -> dict[str, Any]:
        # to_json only where it changes something (dataclasses, enums, NaN): the registry's messages as
        # MessageToDict gives them and the request's own dict are JSON already (non-finite floats come
        # out of MessageToDict as strings), and Terms.to_dict is strict JSON (pinned by the property
        # tests), so walking them again would only cost time.
        commitment, progress = inputs.commitment, inputs.progress
        return {
            "lender": request.lender,
            "request_id": request.request_id,
            "enterprise": request.enterprise,
            "enterprise_name": self._name(request.uscc),
            "request": request.as_dict(),
            "profile_name": profile.name,
            "profile": inputs.parts.profile_json,
            "commitment": message_json(commitment) if commitment is not None else None,
            "commitment_progress": message_json(progress) if progress is not None else None,
            "inputs": {
                "profile": inputs.parts.rules_profile_json,
                "commitment": to_json(inputs.rules_commitment),
                "request": None,  # set by the caller: with the LPR and financials resolved
            },
            "terms": terms,  # compact (scoring_service.decision_format): the trace is rendered on read
            FORMAT_KEY: COMPACT,
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


def _same_or_error(
    existing: StoredDecision, request: QuoteRequest
) -> tuple[StoredDecision, bool] | TanxiaoError:
    try:
        return Pricer._same_request(existing, request), False
    except ValidationError as exc:
        return exc


def _unpriced() -> TanxiaoError:  # every request gets a decision or an error above
    raise AssertionError("a request was neither priced nor refused")


_REQUEST_FIELDS = tuple(LoanRequest.__dataclass_fields__)


def _request_json(request: LoanRequest) -> dict[str, Any]:
    """``to_json(request)`` without its generic walk: the fields are enums, ints, strings and finite
    or absent floats (LoanRequest validates them), so only the product and a non-finite float need a
    conversion (pinned against to_json by tests/unit/policy_rules/test_pricing_json.py)."""
    out = {name: getattr(request, name) for name in _REQUEST_FIELDS}
    for name, value in out.items():
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                out[name] = None
        elif not (kind is int or kind is str or value is None):
            out[name] = to_json(value)
    return out
