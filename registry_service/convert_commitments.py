"""Proto <-> domain translation of retrofit commitments, verifications and progress, and the parsing of
commitment resource names (``enterprises/{uscc}/commitments/{id}``).

Parsing never raises on a bad field of a message: it returns the field violations alongside a
best-effort domain object, so the caller can report every problem of a request at once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import cast

from registry_service import convert
from registry_service.domain.commitments import (
    Commitment,
    CommitmentProgress,
    CommitmentStatus,
    Milestone,
    MilestoneStatus,
    ProjectType,
    Savings,
    Verification,
)
from registry_service.domain.money import wan_to_fen
from tanxiao.errors import FieldViolation, ValidationError
from tanxiao.registry.v1 import registry_pb2

_COMMITMENT_NAME = re.compile(r"enterprises/([^/]+)/commitments/([^/]+)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Column widths of registry_service.storage.tables.commitments / commitment_verifications.
MAX_ID_LENGTH = 32
MAX_TITLE_LENGTH = 200
MAX_VERIFIER_LENGTH = 200

_PROJECT_TYPE_TO_PROTO = {t: registry_pb2.ProjectType.Value(t.value) for t in ProjectType}
_PROJECT_TYPE_FROM_PROTO = {number: t for t, number in _PROJECT_TYPE_TO_PROTO.items()}
_STATUS_TO_PROTO = {s: registry_pb2.CommitmentStatus.Value(s.value) for s in CommitmentStatus}


# --- names and dates -----------------------------------------------------------------------------


def commitment_name(uscc: str, commitment_id: str) -> str:
    return f"{convert.enterprise_name(uscc)}/commitments/{commitment_id}"


def parse_commitment_name(name: str, field: str = "name") -> tuple[str, str]:
    """(normalised USCC, commitment id) of ``enterprises/{uscc}/commitments/{id}``; INVALID_ARGUMENT
    naming ``field`` otherwise."""
    match = _COMMITMENT_NAME.fullmatch(name.strip())
    if match is None:
        raise ValidationError.for_field(
            field, f"must be enterprises/{{uscc}}/commitments/{{id}}, got {name!r}"
        )
    commitment_id = match.group(2)
    if len(commitment_id) > MAX_ID_LENGTH:
        raise ValidationError.for_field(field, f"the commitment id has at most {MAX_ID_LENGTH} characters")
    return convert.parse_uscc(match.group(1), field), commitment_id


def date_problem(value: str) -> str | None:
    """Why ``value`` is not a "YYYY-MM-DD" calendar date, or None."""
    if not value.strip():
        return "required (YYYY-MM-DD)"
    if not _DATE.fullmatch(value.strip()):
        return f"must be a date YYYY-MM-DD, got {value!r}"
    try:
        dt.date.fromisoformat(value.strip())
    except ValueError:
        return f"not a calendar date: {value!r}"
    return None


def parse_date(value: str, field: str) -> dt.date:
    """A "YYYY-MM-DD" date; INVALID_ARGUMENT naming ``field`` otherwise."""
    if (problem := date_problem(value)) is not None:
        raise ValidationError.for_field(field, problem)
    return dt.date.fromisoformat(value.strip())


class _Dates:
    """Collects date-parsing violations; a bad date reads as ``placeholder`` meanwhile."""

    def __init__(self, placeholder: dt.date) -> None:
        self.placeholder = placeholder
        self.violations: list[FieldViolation] = []

    def parse(self, value: str, field: str) -> dt.date:
        if (problem := date_problem(value)) is not None:
            self.violations.append(FieldViolation(field, problem))
            return self.placeholder
        return dt.date.fromisoformat(value.strip())


def _is_date_field(field: str) -> bool:
    return field.rsplit(".", 1)[-1] in {"start_date", "due_date", "verification_date"}


def merge_date_violations(
    date_violations: Sequence[FieldViolation], other: Sequence[FieldViolation]
) -> list[FieldViolation]:
    """The parse violations plus the domain's; once a date is unreadable the domain's date checks
    compared placeholders, so they are dropped."""
    if not date_violations:
        return list(other)
    return [*date_violations, *(v for v in other if not _is_date_field(v.field))]


# --- proto -> domain -----------------------------------------------------------------------------


def commitment_from_proto(
    message: registry_pb2.Commitment,
    *,
    uscc: str,
    commitment_id: str = "",
    prefix: str = "commitment",
) -> tuple[Commitment, list[FieldViolation]]:
    """The client's commitment (output-only name, baselines and create_time ignored) and the violations
    of its dates, enum and text lengths. Domain validation (validate_commitment) is the caller's."""
    dates = _Dates(dt.date.today())
    start_date = dates.parse(message.start_date, f"{prefix}.start_date")
    out: list[FieldViolation] = []
    project_type = _PROJECT_TYPE_FROM_PROTO.get(message.project_type)
    if len(message.title) > MAX_TITLE_LENGTH:
        out.append(FieldViolation(f"{prefix}.title", f"at most {MAX_TITLE_LENGTH} characters"))
    if len(message.verifier) > MAX_VERIFIER_LENGTH:
        out.append(FieldViolation(f"{prefix}.verifier", f"at most {MAX_VERIFIER_LENGTH} characters"))
    milestones = []
    for i, m in enumerate(message.milestones):
        path = f"{prefix}.milestones[{i}]"
        if len(m.title) > MAX_TITLE_LENGTH:
            out.append(FieldViolation(f"{path}.title", f"at most {MAX_TITLE_LENGTH} characters"))
        milestones.append(Milestone(m.title, dates.parse(m.due_date, f"{path}.due_date"), m.target_fraction))
    verifications = []
    for i, v in enumerate(message.verifications):
        verification, problems = verification_from_proto(v, prefix=f"{prefix}.verifications[{i}]")
        verifications.append(verification)
        out.extend(problems)
    commitment = Commitment(
        id=commitment_id,
        uscc=uscc,
        # Left unknown so that validate_commitment reports it too (the domain owns the rule).
        project_type=project_type if project_type is not None else cast(ProjectType, "UNSPECIFIED"),
        title=message.title.strip(),
        baseline_year=message.baseline_year,
        target_savings_tce_per_year=message.target_savings_tce_per_year,
        target_savings_tco2_per_year=message.target_savings_tco2_per_year,
        capex_fen=message.capex_fen,
        start_date=start_date,
        milestones=tuple(milestones),
        verifier=message.verifier.strip(),
        verifications=tuple(verifications),
    )
    return commitment, [*dates.violations, *out]


def verification_from_proto(
    message: registry_pb2.Verification, *, prefix: str = "verification"
) -> tuple[Verification, list[FieldViolation]]:
    """The verification and the violations of its date and text lengths (validate_verification is
    the caller's)."""
    dates = _Dates(dt.date.today())
    out = []
    if len(message.verifier) > MAX_VERIFIER_LENGTH:
        out.append(FieldViolation(f"{prefix}.verifier", f"at most {MAX_VERIFIER_LENGTH} characters"))
    verification = Verification(
        date=dates.parse(message.verification_date, f"{prefix}.verification_date"),
        verifier=message.verifier.strip(),
        verified_savings_tco2=message.verified_savings_tco2,
        verified_savings_tce=message.verified_savings_tce,
        passed=message.passed,
        note=message.note,
    )
    return verification, [*dates.violations, *out]


# --- domain -> proto -----------------------------------------------------------------------------


def commitment_to_proto(
    commitment: Commitment, create_time: dt.datetime | None = None
) -> registry_pb2.Commitment:
    c = commitment
    optional = {
        name: value
        for name in ("baseline_intensity", "baseline_tco2")
        if (value := getattr(c, name)) is not None
    }
    return registry_pb2.Commitment(
        name=commitment_name(c.uscc, c.id),
        project_type=_PROJECT_TYPE_TO_PROTO.get(c.project_type, registry_pb2.PROJECT_TYPE_UNSPECIFIED),
        title=c.title,
        baseline_year=c.baseline_year,
        target_savings_tce_per_year=c.target_savings_tce_per_year,
        target_savings_tco2_per_year=c.target_savings_tco2_per_year,
        capex_fen=c.capex_fen,
        start_date=c.start_date.isoformat(),
        milestones=[milestone_to_proto(m) for m in c.milestones],
        verifier=c.verifier,
        verifications=[verification_to_proto(v) for v in c.verifications],
        create_time=convert.timestamp(create_time),
        **optional,
    )


def milestone_to_proto(milestone: Milestone) -> registry_pb2.Milestone:
    return registry_pb2.Milestone(
        title=milestone.name,
        due_date=milestone.due_date.isoformat(),
        target_fraction=milestone.target_fraction,
    )


def verification_to_proto(verification: Verification) -> registry_pb2.Verification:
    v = verification
    return registry_pb2.Verification(
        verification_date=v.date.isoformat(),
        verifier=v.verifier,
        verified_savings_tco2=v.verified_savings_tco2,
        verified_savings_tce=v.verified_savings_tce,
        passed=v.passed,
        note=v.note,
    )


def progress_to_proto(name: str, progress: CommitmentProgress) -> registry_pb2.CommitmentProgress:
    """Figures not measured yet (no complete year after the baseline) are 0 with measured_year 0."""
    p = progress
    return registry_pb2.CommitmentProgress(
        name=name,
        status=_STATUS_TO_PROTO.get(p.status, registry_pb2.COMMITMENT_STATUS_UNSPECIFIED),
        achieved_tco2_per_year=_or_zero(p.achieved_tco2_per_year),
        achieved_tce_per_year=_or_zero(p.achieved_tce_per_year),
        achieved_ratio=_or_zero(p.achieved_ratio),
        expected_ratio=p.expected_ratio,
        intensity_based_tco2_per_year=_or_zero(p.intensity_based_tco2_per_year),
        milestones=[milestone_status_to_proto(m) for m in p.milestones],
        verified=p.verified,
        last_verification=verification_to_proto(p.last_verification) if p.last_verification else None,
        milestones_missed=p.milestones_missed,
        measured_year=p.measured_year or 0,
        savings=_savings(p.savings) if p.savings else None,
    )


def _savings(s: Savings) -> registry_pb2.SavingsMeasurement:
    message = registry_pb2.SavingsMeasurement(
        year=s.year,
        nominal_absolute_tco2=s.nominal_absolute_tco2,
        frozen_absolute_tco2=s.frozen_absolute_tco2,
        grid_factor_effect_tco2=s.grid_factor_effect_tco2,
        baseline_grid_factor=_or_zero(s.baseline_grid_factor),
        year_grid_factor=_or_zero(s.year_grid_factor),
        added_value_nominal_fen=wan_to_fen(s.added_value_nominal) or 0,
        deflator_source=s.deflator_source,
    )
    if s.added_value_constant is not None:
        message.added_value_constant_fen = wan_to_fen(s.added_value_constant) or 0
    if s.intensity_improvement is not None:
        message.intensity_improvement = s.intensity_improvement
    return message


def milestone_status_to_proto(status: MilestoneStatus) -> registry_pb2.MilestoneStatus:
    message = registry_pb2.MilestoneStatus(
        title=status.name,
        due_date=status.due.isoformat(),
        expected_fraction=status.expected,
        achieved_fraction=_or_zero(status.achieved),
    )
    if status.met is not None:
        message.met = status.met
    return message


def _or_zero(value: float | None) -> float:
    return 0.0 if value is None else float(value)
