"""Retrofit commitments, their verifications, and the yearly actuals their progress is measured on
(the registry's own ``carbon_profiles`` of granularity 'year')."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from registry_service.domain.commitments import (
    Commitment,
    Milestone,
    ProjectType,
    Verification,
    YearlyActual,
)
from registry_service.domain.money import fen_to_wan
from registry_service.storage import (
    chunked,
    decode_page_token,
    encode_page_token,
    filter_fingerprint,
    page_size_of,
    reading,
    utc,
    within,
)
from registry_service.storage.tables import carbon_profiles, commitments, verifications
from tanxiao.errors import NotFound, ValidationError

YEAR_GRANULARITY = "year"


@dataclass(frozen=True)
class StoredCommitment:
    """A commitment as stored: the domain object (with its verifications) and its creation time."""

    commitment: Commitment
    create_time: datetime


@dataclass(frozen=True)
class CommitmentPage:
    commitments: list[StoredCommitment]
    next_page_token: str


def new_commitment_id() -> str:
    """Server-generated id: 16 lowercase hex characters."""
    return uuid.uuid4().hex[:16]


class CommitmentRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, commitment: Commitment, *, connection: Connection | None = None) -> StoredCommitment:
        """Store a new (validated) commitment and any verifications it carries; an empty id is
        generated. The enterprise must exist (foreign key)."""

        def work(conn: Connection) -> StoredCommitment:
            c = commitment if commitment.id else replace(commitment, id=new_commitment_id())
            now = datetime.now(UTC)
            conn.execute(commitments.insert().values(**_commitment_row(c), create_time=now))
            if c.verifications:
                conn.execute(
                    verifications.insert(), [_verification_row(c.id, v, now) for v in c.verifications]
                )
            return StoredCommitment(replace(c, verifications=_ordered(c.verifications)), now)

        return within(self.engine, connection, work)

    def get(self, uscc: str, commitment_id: str, *, connection: Connection | None = None) -> StoredCommitment:
        """The commitment ``commitment_id`` of enterprise ``uscc``; NOT_FOUND otherwise."""
        with reading(self.engine, connection) as conn:
            query = sa.select(commitments).where(
                commitments.c.id == commitment_id, commitments.c.uscc == uscc
            )
            row = conn.execute(query).mappings().first()
            if row is None:
                name = f"enterprises/{uscc}/commitments/{commitment_id}"
                raise NotFound(
                    f"{name} not found",
                    reason="COMMITMENT_NOT_FOUND",
                    metadata={"uscc": uscc, "commitment_id": commitment_id},
                )
            return _to_stored(row, _verifications(conn, [commitment_id]).get(commitment_id, ()))

    def add_verification(
        self,
        uscc: str,
        commitment_id: str,
        verification: Verification,
        *,
        connection: Connection | None = None,
    ) -> StoredCommitment:
        """Append a (validated) verification; returns the commitment with all its verifications."""

        def work(conn: Connection) -> StoredCommitment:
            self.get(uscc, commitment_id, connection=conn)  # NOT_FOUND first
            conn.execute(
                verifications.insert().values(
                    **_verification_row(commitment_id, verification, datetime.now(UTC))
                )
            )
            return self.get(uscc, commitment_id, connection=conn)

        return within(self.engine, connection, work)

    def list(self, uscc: str, *, page_size: int = 0, page_token: str = "") -> CommitmentPage:
        """The enterprise's commitments in registration order (create_time, id), keyset-paginated; the
        token is bound to the enterprise."""
        size = page_size_of(page_size)
        fingerprint = filter_fingerprint("commitments", uscc)
        after = _token_position(decode_page_token(page_token, fingerprint, shape=(str, str)))
        query = (
            sa.select(commitments)
            .where(commitments.c.uscc == uscc)
            .order_by(commitments.c.create_time, commitments.c.id)
            .limit(size + 1)
        )
        if after is not None:
            time, last_id = after
            query = query.where(
                sa.or_(
                    commitments.c.create_time > time,
                    sa.and_(commitments.c.create_time == time, commitments.c.id > last_id),
                )
            )
        with reading(self.engine, None) as conn:
            rows = conn.execute(query).mappings().all()
            page = rows[:size]
            checks = _verifications(conn, [r["id"] for r in page])
        items = [_to_stored(r, checks.get(r["id"], ())) for r in page]
        token = ""
        if len(rows) > size:
            last = items[-1]
            token = encode_page_token([last.create_time.isoformat(), last.commitment.id], fingerprint)
        return CommitmentPage(items, token)

    def yearly_actuals(self, uscc: str, *, connection: Connection | None = None) -> dict[int, YearlyActual]:
        """year -> (net tCO2, tce, added value 万元, months covered) from the yearly profiles."""
        query = sa.select(
            carbon_profiles.c.year,
            carbon_profiles.c.net_tco2,
            carbon_profiles.c.energy_tce,
            carbon_profiles.c.added_value_fen,
            carbon_profiles.c.months_covered,
            carbon_profiles.c.green_power_netting_tco2,
            carbon_profiles.c.details,
        ).where(carbon_profiles.c.uscc == uscc, carbon_profiles.c.granularity == YEAR_GRANULARITY)
        with reading(self.engine, connection) as conn:
            return {
                int(row.year): YearlyActual(
                    tco2=float(row.net_tco2),
                    tce=float(row.energy_tce),
                    added_value_10k_cny=fen_to_wan(row.added_value_fen),
                    months=int(row.months_covered),
                    **_grid(row.details or {}, float(row.green_power_netting_tco2)),
                )
                for row in conn.execute(query)
            }


def _grid(details: dict[str, Any], green_power_netting_tco2: float) -> dict[str, float | None]:
    """The year's grid-factor MWh (purchases less the green power netted at the same factor) and the
    factor, for re-valuing it at the baseline year's factor; None without a factor or electricity."""
    factor = details.get("grid_factor")
    kwh = (details.get("electricity") or {}).get("grid_electricity_kwh")
    if not factor or kwh is None:
        return {"grid_mwh": None, "grid_factor": None}
    return {
        "grid_mwh": float(kwh) / 1000 - green_power_netting_tco2 / float(factor),
        "grid_factor": float(factor),
    }


def _token_position(after: Sequence[Any] | None) -> tuple[datetime, str] | None:
    if after is None:
        return None
    try:
        time, last_id = after
        return utc(datetime.fromisoformat(str(time))), str(last_id)
    except (TypeError, ValueError):
        raise ValidationError.for_field("page_token", "not a page token from this API") from None


def _commitment_row(c: Commitment) -> dict[str, Any]:
    return {
        "id": c.id,
        "uscc": c.uscc,
        "project_type": c.project_type.value,
        "title": c.title,
        "baseline_year": c.baseline_year,
        "baseline_intensity": c.baseline_intensity,
        "baseline_tco2": c.baseline_tco2,
        "baseline_tce": c.baseline_tce,
        "target_savings_tce_per_year": c.target_savings_tce_per_year,
        "target_savings_tco2_per_year": c.target_savings_tco2_per_year,
        "capex_fen": c.capex_fen,
        "start_date": c.start_date,
        "milestones": [
            {"title": m.name, "due_date": m.due_date.isoformat(), "target_fraction": m.target_fraction}
            for m in c.milestones
        ],
        "verifier": c.verifier,
    }


def _verification_row(commitment_id: str, v: Verification, now: datetime) -> dict[str, Any]:
    return {
        "commitment_id": commitment_id,
        "verification_date": v.date,
        "verifier": v.verifier,
        "verified_savings_tco2": v.verified_savings_tco2,
        "verified_savings_tce": v.verified_savings_tce,
        "passed": v.passed,
        "note": v.note,
        "record_time": now,
    }


def _ordered(items: Iterable[Verification]) -> tuple[Verification, ...]:
    return tuple(sorted(items, key=lambda v: v.date))  # stable: same-day ones in recording order


def _verifications(conn: Connection, commitment_ids: Sequence[str]) -> dict[str, tuple[Verification, ...]]:
    """Verifications per commitment, by verification date then recording order."""
    by_id: dict[str, list[Verification]] = {}
    for chunk in chunked(commitment_ids):
        query = (
            sa.select(verifications)
            .where(verifications.c.commitment_id.in_(chunk))
            .order_by(verifications.c.commitment_id, verifications.c.verification_date, verifications.c.id)
        )
        for row in conn.execute(query).mappings():
            by_id.setdefault(row["commitment_id"], []).append(
                Verification(
                    date=_date(row["verification_date"]),
                    verifier=row["verifier"],
                    verified_savings_tco2=float(row["verified_savings_tco2"]),
                    verified_savings_tce=float(row["verified_savings_tce"]),
                    passed=bool(row["passed"]),
                    note=row["note"],
                )
            )
    return {key: tuple(items) for key, items in by_id.items()}


def _to_stored(row: sa.RowMapping, checks: tuple[Verification, ...]) -> StoredCommitment:
    commitment = Commitment(
        id=row["id"],
        uscc=row["uscc"],
        project_type=ProjectType(row["project_type"]),
        title=row["title"],
        baseline_year=row["baseline_year"],
        baseline_intensity=row["baseline_intensity"],
        baseline_tco2=row["baseline_tco2"],
        baseline_tce=row["baseline_tce"],
        target_savings_tce_per_year=row["target_savings_tce_per_year"],
        target_savings_tco2_per_year=row["target_savings_tco2_per_year"],
        capex_fen=int(row["capex_fen"]),
        start_date=_date(row["start_date"]),
        milestones=tuple(
            Milestone(m["title"], date.fromisoformat(m["due_date"]), float(m["target_fraction"]))
            for m in row["milestones"]
        ),
        verifier=row["verifier"],
        verifications=checks,
    )
    return StoredCommitment(commitment, utc(row["create_time"]))


def _date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)
