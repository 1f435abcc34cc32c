"""Errors every layer may raise. Pure Python (no grpc): the edge maps them to gRPC status codes.

Each error carries a stable UPPER_SNAKE_CASE ``reason`` (it becomes google.rpc.ErrorInfo.reason) and,
for bad input, the field violations that become google.rpc.BadRequest.
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
        return cls(f"{field}: {description}", reason=reason, violations=[FieldViolation(field, description)])

    @classmethod
    def from_violations(
        cls, violations: Iterable[FieldViolation], *, reason: str | None = None
    ) -> ValidationError:
        violations = tuple(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations[:5])
        more = f" (+{len(violations) - 5} more)" if len(violations) > 5 else ""
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
