"""Enterprises and their annual financials: immutable values plus pure validation (no gRPC, no SQL)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from registry_service.domain.industry import validate_industry_code
from registry_service.domain.region import validate_region_code
from registry_service.domain.uscc import InvalidUSCC, normalize_uscc
from tanxiao.errors import FieldViolation

SIZE_CLASSES = ("UNSPECIFIED", "ABOVE_DESIGNATED_SIZE", "BELOW_DESIGNATED_SIZE")
MAX_DISPLAY_NAME = 200
MIN_YEAR, MAX_YEAR = 1900, 2100
# Fields an update may name (the update_mask paths of UpdateEnterprise).
UPDATABLE_FIELDS = ("display_name", "industry_code", "region_code", "size_class", "financials")
ALL_FIELDS = ("uscc", *UPDATABLE_FIELDS)
# Money that cannot be negative; added value and equity legitimately can.
_NON_NEGATIVE = ("revenue_fen", "total_debt_fen", "evic_fen")
AMOUNTS = (
    "industrial_added_value_fen",
    "revenue_fen",
    "total_equity_fen",
    "total_debt_fen",
    "evic_fen",
)
# Beyond 10^18 fen (10^16 yuan) no figure of one firm is plausible; int64 holds up to ~9.2 x 10^18.
MAX_FEN = 10**18


@dataclass(frozen=True)
class AnnualFinancials:
    """Financial figures of one calendar year, money in integer fen; None = not reported."""

    year: int
    industrial_added_value_fen: int | None = None
    revenue_fen: int | None = None
    total_equity_fen: int | None = None
    total_debt_fen: int | None = None
    listed: bool = False
    evic_fen: int | None = None


@dataclass(frozen=True)
class Enterprise:
    uscc: str
    display_name: str
    industry_code: str
    region_code: str
    size_class: str = "UNSPECIFIED"
    financials: tuple[AnnualFinancials, ...] = field(default_factory=tuple)
    create_time: datetime | None = None
    update_time: datetime | None = None

    def financials_for(self, year: int) -> AnnualFinancials | None:
        return next((f for f in self.financials if f.year == year), None)


def validate_enterprise(
    enterprise: Enterprise, *, prefix: str = "enterprise", fields: Collection[str] = ALL_FIELDS
) -> list[FieldViolation]:
    """Every problem of the named ``fields``, as violations with paths like ``enterprise.uscc``."""
    violations = [
        FieldViolation(f"{prefix}.{name}", problem, _FIELD_REASONS.get(name, ""))
        for name, check in _FIELD_CHECKS.items()
        if name in fields and (problem := check(getattr(enterprise, name))) is not None
    ]
    if "financials" in fields:
        violations.extend(validate_financials(enterprise.financials, f"{prefix}.financials"))
    return violations


def validate_financials(financials: Sequence[AnnualFinancials], prefix: str) -> list[FieldViolation]:
    violations: list[FieldViolation] = []
    seen: set[int] = set()
    for i, entry in enumerate(financials):
        path = f"{prefix}[{i}]"
        if not MIN_YEAR <= entry.year <= MAX_YEAR:
            violations.append(FieldViolation(f"{path}.year", f"must be between {MIN_YEAR} and {MAX_YEAR}"))
        elif entry.year in seen:
            violations.append(FieldViolation(f"{path}.year", f"year {entry.year} given twice"))
        seen.add(entry.year)
        violations.extend(_amount_violations(entry, path))
    return violations


def normalize_enterprise(enterprise: Enterprise) -> Enterprise:
    """Canonical form of a *valid* enterprise: upper-case USCC, trimmed name, financials by year."""
    return replace(
        enterprise,
        uscc=normalize_uscc(enterprise.uscc),
        display_name=enterprise.display_name.strip(),
        industry_code=enterprise.industry_code.strip(),
        region_code=enterprise.region_code.strip(),
        financials=tuple(sorted(enterprise.financials, key=lambda f: f.year)),
    )


def apply_update(current: Enterprise, patch: Enterprise, paths: Collection[str]) -> Enterprise:
    """``current`` with the masked fields of ``patch``; financials replace the years given, keep others."""
    changes: dict[str, object] = {
        name: getattr(patch, name) for name in UPDATABLE_FIELDS if name in paths and name != "financials"
    }
    if "financials" in paths:
        by_year = {f.year: f for f in current.financials} | {f.year: f for f in patch.financials}
        changes["financials"] = tuple(by_year[year] for year in sorted(by_year))
    return replace(current, **changes)  # type: ignore[arg-type]


# The reason of a field's problem where the cause has its own (tanxiao.errors: one reason per cause).
_FIELD_REASONS = {"uscc": "INVALID_USCC"}


def _uscc_problem(uscc: str) -> str | None:
    if not uscc.strip():
        return "required"
    try:
        normalize_uscc(uscc)
    except InvalidUSCC as exc:
        return str(exc)
    return None


def _display_name_problem(name: str) -> str | None:
    if not name.strip():
        return "required"
    if len(name.strip()) > MAX_DISPLAY_NAME:
        return f"at most {MAX_DISPLAY_NAME} characters"
    return None


def _code_problem(validate: Callable[[str], object], code: str) -> str | None:
    if not code.strip():
        return "required"
    return _domain_problem(validate, code.strip())


def _domain_problem(validate: Callable[[str], object], code: str) -> str | None:
    try:
        validate(code)
    except ValueError as exc:
        return str(exc)
    return None


def _size_class_problem(size_class: str) -> str | None:
    return None if size_class in SIZE_CLASSES else f"must be one of {', '.join(SIZE_CLASSES)}"


def _amount_violations(entry: AnnualFinancials, path: str) -> list[FieldViolation]:
    violations = []
    for name in AMOUNTS:
        value = getattr(entry, name)
        if value is None:
            continue
        if abs(value) > MAX_FEN:
            violations.append(FieldViolation(f"{path}.{name}", f"must be at most {MAX_FEN} fen in magnitude"))
        elif name in _NON_NEGATIVE and value < 0:
            violations.append(FieldViolation(f"{path}.{name}", "must be >= 0"))
    return violations


# The checks of the scalar fields, in the order violations are reported.
_FIELD_CHECKS: dict[str, Callable[[str], str | None]] = {
    "uscc": _uscc_problem,
    "display_name": _display_name_problem,
    "industry_code": lambda code: _code_problem(validate_industry_code, code),
    "region_code": lambda code: _code_problem(validate_region_code, code),
    "size_class": _size_class_problem,
}
