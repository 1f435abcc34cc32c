"""Errors every layer may raise. Pure Python (no grpc): the edge maps them to gRPC status codes.

Each error carries a stable UPPER_SNAKE_CASE ``reason`` (it becomes google.rpc.ErrorInfo.reason) and,
for bad input, the field violations that become google.rpc.BadRequest (each with its own reason).

One reason per cause: the same cause gets the same reason whichever RPC meets it (a bad USCC is
INVALID_USCC on CreateEnterprise, GetEnterprise, QuoteLoanTerms...). Every reason a service can answer
is listed, with its code and cause, in docs/errors.md; tests/unit/test_error_reasons.py finds every
reason raised in the source and fails on one the document does not list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: ``field`` is a path such as ``records[3].quantity``."""

    field: str
    description: str
    reason: str = ""  # the cause's stable reason (e.g. INVALID_USCC); "" = INVALID_ARGUMENT


class TanxiaoError(Exception):
    """Base of every expected error. ``code`` is the name of a grpc.StatusCode member."""

    code = "INTERNAL"
    default_reason = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        violations: Iterable[FieldViolation] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.violations = tuple(violations)
        self.metadata = dict(metadata or {})


class ValidationError(TanxiaoError):
    code = "INVALID_ARGUMENT"
    default_reason = "INVALID_ARGUMENT"

    @classmethod
    def for_field(cls, field: str, description: str, *, reason: str | None = None) -> ValidationError:
        violation = FieldViolation(field, description, reason or "")
        return cls(f"{field}: {description}", reason=reason, violations=[violation])

    @classmethod
    def from_violations(
        cls, violations: Iterable[FieldViolation], *, reason: str | None = None
    ) -> ValidationError:
        """``reason`` default: the violations' own reason when they all share one (a single bad USCC
        answers INVALID_USCC), else INVALID_ARGUMENT (several causes: each violation says its own)."""
        violations = tuple(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations[:5])
        more = f" (+{len(violations) - 5} more)" if len(violations) > 5 else ""
        if reason is None:
            causes = {v.reason for v in violations}
            reason = causes.pop() if len(causes) == 1 and "" not in causes else None
        return cls(summary + more, reason=reason, violations=violations)


class NotFound(TanxiaoError):
    code = "NOT_FOUND"
    default_reason = "NOT_FOUND"


class AlreadyExists(TanxiaoError):
    code = "ALREADY_EXISTS"
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(TanxiaoError):
    code = "FAILED_PRECONDITION"
    default_reason = "FAILED_PRECONDITION"


class Conflict(TanxiaoError):
    """A concurrent change won; the caller may retry (ABORTED)."""

    code = "ABORTED"
    default_reason = "CONFLICT"


class ResourceExhausted(TanxiaoError):
    """A limit or quota was hit. ``retry_after_seconds`` (when known) becomes google.rpc.RetryInfo."""

    code = "RESOURCE_EXHAUSTED"
    default_reason = "LIMIT_EXCEEDED"

    def __init__(self, message: str, *, retry_after_seconds: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_seconds = retry_after_seconds


class Unauthenticated(TanxiaoError):
    code = "UNAUTHENTICATED"
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(TanxiaoError):
    code = "PERMISSION_DENIED"
    default_reason = "PERMISSION_DENIED"


class Unavailable(TanxiaoError):
    code = "UNAVAILABLE"
    default_reason = "DEPENDENCY_UNAVAILABLE"


class DeadlineExceeded(TanxiaoError):
    code = "DEADLINE_EXCEEDED"
    default_reason = "DEADLINE_EXCEEDED"


# Every ErrorInfo reason a tanxiao service answers: reason -> (gRPC code, cause). One reason per cause,
# whichever RPC meets it; docs/errors.md is this table for readers (tests/unit/test_error_reasons.py
# checks that every reason raised in the source is here and that the document lists every one).
# fmt: off
REASONS: Mapping[str, tuple[str, str]] = {
    # generic: the default of each error type, when no cause has a reason of its own
    "INVALID_ARGUMENT": ("INVALID_ARGUMENT", "a field is bad (BadRequest names it), or several fields for "
                         "different causes (each BadRequest violation carries its own reason)"),
    "NOT_FOUND": ("NOT_FOUND", "the named resource does not exist"),
    "ALREADY_EXISTS": ("ALREADY_EXISTS", "the resource to create exists already"),
    "FAILED_PRECONDITION": ("FAILED_PRECONDITION", "the system is not in a state that allows the call"),
    "CONFLICT": ("ABORTED", "a concurrent change won; retry"),
    "LIMIT_EXCEEDED": ("RESOURCE_EXHAUSTED", "a size limit of the request was exceeded"),
    "UNAUTHENTICATED": ("UNAUTHENTICATED", "the caller is not authenticated"),
    "PERMISSION_DENIED": ("PERMISSION_DENIED", "the caller may not do this"),
    "DEPENDENCY_UNAVAILABLE": ("UNAVAILABLE", "a service this one needs is not available"),
    "DEADLINE_EXCEEDED": ("DEADLINE_EXCEEDED", "the call or a stream ran out of time"),
    "CANCELLED": ("CANCELLED", "the client cancelled a stream; nothing was stored"),
    "INTERNAL": ("INTERNAL", "an unexpected failure; quote the request id to the operator"),
    # bad input with a cause of its own
    "INVALID_USCC": ("INVALID_ARGUMENT", "a USCC (or the USCC in a resource name) is malformed or fails "
                     "its GB 32100-2015 check character"),
    "REQUEST_ID_REUSED": ("INVALID_ARGUMENT", "a request_id was used before with a different request"),
    "PAGE_TOKEN_MISMATCH": ("INVALID_ARGUMENT", "a page token does not belong to these filters"),
    # the HTTP/JSON gateway (tanxiao/httpapi): before any service is called
    "MALFORMED_JSON": ("INVALID_ARGUMENT", "HTTP/JSON: the body is not UTF-8 JSON, or a value does not "
                       "parse as its field's type (BadRequest names the field)"),
    "UNKNOWN_PARAMETER": ("INVALID_ARGUMENT", "HTTP/JSON: a query parameter names no field of the request"),
    "NOT_ALLOWED": ("UNIMPLEMENTED", "HTTP/JSON: the path exists but not with this HTTP method (405)"),
    "UNKNOWN_ENTERPRISE": ("INVALID_ARGUMENT", "a request field names an enterprise the registry does "
                           "not know"),
    # missing resources
    "ENTERPRISE_NOT_FOUND": ("NOT_FOUND", "no such enterprise"),
    "PROFILE_NOT_FOUND": ("NOT_FOUND", "no carbon profile of that enterprise and period"),
    "COMMITMENT_NOT_FOUND": ("NOT_FOUND", "no such commitment"),
    "CONSENT_NOT_FOUND": ("NOT_FOUND", "no such consent grant"),
    "UTILITY_ACCOUNT_NOT_FOUND": ("NOT_FOUND", "no such utility account"),
    "CATALOG_VERSION_NOT_FOUND": ("NOT_FOUND", "no such data catalog version"),
    "DECISION_NOT_FOUND": ("NOT_FOUND", "no such decision, or it is another lender's (uniform denial)"),
    "POLICY_NOT_FOUND": ("NOT_FOUND", "the loan policy a decision names is not stored"),
    "LOAN_NOT_FOUND": ("NOT_FOUND", "no such loan"),
    "LOG_ENTRY_NOT_FOUND": ("NOT_FOUND", "no decision-log entry for that decision"),
    "LOG_HEAD_NOT_FOUND": ("NOT_FOUND", "no signed tree head of that size"),
    "REGISTRY_NOT_FOUND": ("NOT_FOUND", "the registry answered NOT_FOUND to the scoring service"),
    # existing resources
    "ENTERPRISE_ALREADY_EXISTS": ("ALREADY_EXISTS", "an enterprise with that USCC exists"),
    "UTILITY_ACCOUNT_EXISTS": ("ALREADY_EXISTS", "that utility account is registered"),
    "LOAN_EXISTS": ("ALREADY_EXISTS", "a loan with that id exists for the lender"),
    # state
    "CATALOG_VERSION_CHANGED": ("FAILED_PRECONDITION", "the stored catalog version differs from the "
                                "packaged one"),
    "TRANSFER_REFUSED": ("FAILED_PRECONDITION", "the utility account cannot be transferred so"),
    "PROFILE_NOT_PRICEABLE": ("FAILED_PRECONDITION", "the enterprise's profile cannot be priced (e.g. "
                              "ungraded)"),
    "PROFILE_NOT_AVAILABLE": ("FAILED_PRECONDITION", "the profile the quote needs is not available"),
    "LPR_NOT_AVAILABLE": ("FAILED_PRECONDITION", "no loan prime rate is published for the date"),
    "LOAN_CLOSED": ("FAILED_PRECONDITION", "the loan is closed"),
    "LOG_NO_HEAD": ("FAILED_PRECONDITION", "the decision log has no signed head yet"),
    "LOG_ENTRY_PENDING": ("FAILED_PRECONDITION", "the decision is not yet in a signed head"),
    "LOG_SIZE_ORDER": ("FAILED_PRECONDITION", "a consistency proof was asked from a larger to a smaller "
                       "tree"),
    "REGISTRY_REFUSED": ("FAILED_PRECONDITION", "the registry refused the scoring service's call"),
    "AUTHENTICATION_REQUIRED": ("FAILED_PRECONDITION", "review actions need authenticated officers "
                                "(maker-checker)"),
    "INVALID_TRANSITION": ("FAILED_PRECONDITION", "the review action is not possible in the decision's "
                           "state"),
    "NO_PENDING_OVERRIDE": ("FAILED_PRECONDITION", "no override waits for a second approver"),
    "OVERRIDE_PENDING": ("FAILED_PRECONDITION", "an override waits for its second approver first"),
    "NOT_ELIGIBLE": ("FAILED_PRECONDITION", "a declined quote cannot be approved"),
    "CONCURRENT_REVIEW": ("ABORTED", "the decision was reviewed concurrently; read it again and retry"),
    # authentication
    "TOKEN_MISSING": ("UNAUTHENTICATED", "no bearer token was sent"),
    "TOKEN_INVALID": ("UNAUTHENTICATED", "the bearer token is unknown, malformed, expired or revoked"),
    "TOKEN_REVOKED": ("UNAUTHENTICATED", "the token was revoked or expired during a stream"),
    # authorization (tanxiao.platform.authz)
    "NO_RULE": ("PERMISSION_DENIED", "the method has no authorization rule: admin only"),
    "ROLE_NOT_ALLOWED": ("PERMISSION_DENIED", "the caller's role may not call the method or take the "
                         "review action"),
    "GRANT_REQUIRED": ("PERMISSION_DENIED", "the caller's token lacks a grant the method needs"),
    "OTHER_TENANT": ("PERMISSION_DENIED", "the request names another lender's data"),
    "OTHER_SOURCE": ("PERMISSION_DENIED", "a record of another data source than the token's"),
    "SCOPE_NOT_ALLOWED": ("PERMISSION_DENIED", "a request flag the role may not set so"),
    "CONSENT_REQUIRED": ("PERMISSION_DENIED", "the enterprise has not granted the caller's lender consent "
                         "(scope CARBON_DATA): quotes, and credit officers' enterprise reads"),
    "SAME_OFFICER": ("PERMISSION_DENIED", "the officer who made an override may not confirm it"),
    # limits (tanxiao.platform.limits)
    "RATE_LIMITED": ("RESOURCE_EXHAUSTED", "calls per second of the caller's role exceeded"),
    "CONCURRENCY_LIMITED": ("RESOURCE_EXHAUSTED", "calls in flight of the caller's role exceeded"),
    "STREAM_LIMITED": ("RESOURCE_EXHAUSTED", "open streams per caller, per server or health watches "
                       "per address exceeded"),
    "AUTH_THROTTLED": ("RESOURCE_EXHAUSTED", "too many failed authentications from the address"),
    # the scoring service's calls to the registry
    "REGISTRY_UNAVAILABLE": ("UNAVAILABLE", "the registry cannot be reached"),
    "REGISTRY_DEADLINE_EXCEEDED": ("DEADLINE_EXCEEDED", "the registry did not answer in time"),
    "REGISTRY_ERROR": ("UNAVAILABLE", "the registry failed otherwise"),
}
# fmt: on
