"""BatchQuoteLoanTerms: up to 1,000 quotes of one lender in one call, each answered alone (AIP-233).

One straight pipeline over the call's requests: parse each (a bad one gets its own INVALID_ARGUMENT
naming ``requests[i].<field>``), settle request ids repeated within the call as if the requests came
one by one (the same request again shares its decision; another request under an id that got a
decision is REQUEST_ID_REUSED), price the rest together (``Pricer.quote_each``: one lookup of stored
request ids, one registry batch, one ``evaluate_compact``, one transaction storing the decisions, each
row with its initial review state), convert back. Errors of the whole call (the registry or the database
unavailable) are raised as for QuoteLoanTerms, and then nothing of the call is stored.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator

from scoring_service.consent_check import ConsentChecker, restricted_lender
from scoring_service.convert import decision_wire
from scoring_service.inputs import LENDER, QuoteRequest, parse_quote
from scoring_service.pricing import Pricer
from scoring_service.review import initial_state
from scoring_service.reviews import STATE_NUMBERS, ReviewService, View
from scoring_service.storage.decisions import StoredDecision
from tanxiao.errors import FieldViolation, PermissionDenied, TanxiaoError, ValidationError
from tanxiao.platform.rpc_status import to_status_proto
from tanxiao.scoring.v1 import scoring_pb2

MAX_REQUESTS = 1000


class BatchQuoter:
    def __init__(
        self,
        pricer: Pricer,
        reviews: ReviewService,
        consents: ConsentChecker | None,
        consented: Callable[[QuoteRequest], QuoteRequest],
    ) -> None:
        self.pricer = pricer
        self.reviews = reviews
        self.consents = consents
        self.consented = consented  # FINANCIALS consent: the quote without them when not granted

    def quote(
        self, request: scoring_pb2.BatchQuoteLoanTermsRequest
    ) -> scoring_pb2.BatchQuoteLoanTermsResponse:
        lender, basic = _call_arguments(request)
        with cyclic_gc_paused():
            return self._quote(request, lender, basic)

    def _quote(
        self, request: scoring_pb2.BatchQuoteLoanTermsRequest, lender: str, basic: bool
    ) -> scoring_pb2.BatchQuoteLoanTermsResponse:
        answers: list[StoredDecision | TanxiaoError | int | None] = [None] * len(request.requests)
        pending: list[tuple[int, QuoteRequest]] = []
        for i, item in enumerate(request.requests):
            parsed = self._parsed(item, lender, f"requests[{i}].")
            if isinstance(parsed, TanxiaoError):
                answers[i] = parsed
            else:
                pending.append((i, parsed))
        decided: dict[str, tuple[str, int]] = {}  # request id -> (fingerprint, index) of its decision
        retried: list[StoredDecision] = []
        while pending:  # one pass, unless an id comes again for another request after a refused one
            pending = self._pass(pending, answers, decided, retried, basic)
        views: dict[str, View] = {}
        if retried:  # a retry's decision may predate review (no state yet); it may be reviewed
            self.reviews.index(retried)
            views = {d.id: v for d, v in zip(retried, self.reviews.views(retried), strict=True)}
        return self._response(answers, views, basic)

    def _response(
        self,
        answers: list[StoredDecision | TanxiaoError | int | None],
        views: dict[str, View],
        basic: bool,
    ) -> scoring_pb2.BatchQuoteLoanTermsResponse:
        """The answers as one response parsed from their wire bytes: each decision's bytes are joined
        from cached parts (convert.decision_wire) rather than built and copied message by message."""
        results = []
        for answer in answers:
            if isinstance(answer, int):
                answer = answers[answer]
            if isinstance(answer, TanxiaoError):
                result = _field(_ERROR, to_status_proto(answer).SerializeToString())
            elif isinstance(answer, StoredDecision):
                view = views.get(answer.id)
                if view is None:  # stored by this call: no review action yet, its initial state
                    fresh = _FRESH_STATE[bool(answer.content["terms"]["manual_review"])]
                    wire = decision_wire(answer, fresh, basic=basic)
                else:
                    wire = self.reviews.decision(answer, view, basic=basic).SerializeToString()
                result = _field(_DECISION, wire)
            else:
                continue
            results.append(_field(_RESULTS, result))
        return scoring_pb2.BatchQuoteLoanTermsResponse.FromString(b"".join(results))

    def _pass(
        self,
        pending: list[tuple[int, QuoteRequest]],
        answers: list[StoredDecision | TanxiaoError | int | None],
        decided: dict[str, tuple[str, int]],
        retried: list[StoredDecision],
        basic: bool,
    ) -> list[tuple[int, QuoteRequest]]:
        """Price the first occurrence of each request id among ``pending`` together; a later one with
        the same request shares its answer, one with another request is REQUEST_ID_REUSED once the id
        has a decision, else (the first was refused) priced in the next pass: as if sent one by one.
        The requests left for the next pass."""
        first: dict[str, tuple[int, QuoteRequest]] = {}
        later = []
        for i, quote in pending:
            known = decided.get(quote.request_id)
            if known is not None:
                answers[i] = (
                    known[1] if known[0] == quote.fingerprint else _reused(f"requests[{i}].request_id")
                )
            elif (seen := first.get(quote.request_id)) is None:
                first[quote.request_id] = (i, quote)
            elif seen[1].fingerprint == quote.fingerprint:
                answers[i] = seen[0]  # the same request again: the first occurrence's answer
            else:
                later.append((i, quote))
        priced = list(first.values())
        quotes = [q for _, q in priced]
        outcomes = self.pricer.quote_each(quotes, render=not basic) if quotes else []
        for (i, quote), outcome in zip(priced, outcomes, strict=True):
            if isinstance(outcome, TanxiaoError):
                answers[i] = _prefixed(outcome, f"requests[{i}].")
                continue
            answers[i] = outcome[0]
            decided[quote.request_id] = (quote.fingerprint, i)
            if not outcome[1]:
                retried.append(outcome[0])
        return later

    def _parsed(
        self, item: scoring_pb2.QuoteLoanTermsRequest, lender: str, prefix: str
    ) -> QuoteRequest | TanxiaoError:
        if not item.lender:
            item.lender = lender  # the batch's lender: then fingerprinted as QuoteLoanTerms would
        elif item.lender != lender:
            return ValidationError.for_field(
                prefix + "lender", f"must be empty or the batch's lender {lender}"
            )
        try:
            quote = parse_quote(item, prefix=prefix)
        except ValidationError as exc:
            return exc
        if self.consents is not None and restricted_lender():
            try:
                self.consents.require_carbon_data(quote.enterprise, quote.lender, prefix + "enterprise")
            except PermissionDenied as exc:
                return exc
        return self.consented(quote)


PAUSE_GC = True  # False: the cyclic collector runs during a call (A/B measurements)


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for one call. A call of 1,000 quotes allocates ~100
    container objects a quote that live until the answer is built and then die by reference count
    (they form no cycles): meanwhile the collector would traverse them again and again (~30 young
    collections a call) and now and then in a full collection of the whole heap (~190 ms in the
    bench's process). Process-wide while the call runs (well under a second): another thread's cyclic
    garbage waits until then. Only the call that paused it resumes it, so overlapping calls never
    leave it off."""
    if not PAUSE_GC or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _call_arguments(request: scoring_pb2.BatchQuoteLoanTermsRequest) -> tuple[str, bool]:
    """(the lender, whether the view is BASIC); INVALID_ARGUMENT for what concerns the whole call."""
    problems = []
    if not LENDER.match(request.lender):
        problems.append(FieldViolation("lender", "must be lenders/{id}: lower-case letters, digits and '-'"))
    if not 1 <= len(request.requests) <= MAX_REQUESTS:
        problems.append(FieldViolation("requests", f"must hold 1 to {MAX_REQUESTS} requests"))
    if request.view not in (scoring_pb2.DECISION_VIEW_UNSPECIFIED, scoring_pb2.BASIC, scoring_pb2.FULL):
        problems.append(FieldViolation("view", "must be BASIC or FULL (unset: BASIC)"))
    if problems:
        raise ValidationError.from_violations(problems)
    return request.lender, request.view != scoring_pb2.FULL


# Wire tags (field number << 3 | 2, length-delimited): BatchQuoteLoanTermsResponse.results,
# BatchQuoteResult.decision and .error.
_RESULTS = b"\x0a"
_DECISION = b"\x0a"
_ERROR = b"\x12"
# A fresh decision's state number by its terms' manual_review (reviews.initial without its enum
# lookups, ~1 us a decision)
_FRESH_STATE = {flag: STATE_NUMBERS[initial_state(flag).value] for flag in (False, True)}


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag, the payload's length as a varint, the payload."""
    size = len(payload)
    if size < 0x80:
        return tag + bytes((size,)) + payload
    length = bytearray()
    while size >= 0x80:
        length.append(size & 0x7F | 0x80)
        size >>= 7
    length.append(size)
    return tag + bytes(length) + payload


def _reused(field: str) -> ValidationError:
    return ValidationError.for_field(
        field, "used twice in this call for different requests", reason="REQUEST_ID_REUSED"
    )


def _prefixed(error: TanxiaoError, prefix: str) -> TanxiaoError:
    """The error with its field violations named within the call (``request_id`` ->
    ``requests[3].request_id``); errors that name no field as they are."""
    if not error.violations or all(v.field.startswith(prefix) for v in error.violations):
        return error
    return type(error)(
        error.message if error.message.startswith(prefix) else prefix + error.message,
        reason=error.reason,
        violations=[FieldViolation(prefix + v.field, v.description, v.reason) for v in error.violations],
        metadata=dict(error.metadata),
    )
