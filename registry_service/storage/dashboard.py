"""What the regional dashboard reads (SQLAlchemy Core): yearly profiles, grade-5 enterprises, the
records of a year and the commitments with their verifications, as plain frames for
registry_service.domain.dashboard."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection

from registry_service.domain.dashboard import COMMITMENT_COLUMNS, PROFILE_COLUMNS, VERIFICATION_COLUMNS
from registry_service.storage import chunked
from registry_service.storage.tables import carbon_profiles, commitments, enterprises, verifications

GRADE_FIVE_COLUMNS = (
    "uscc",
    "display_name",
    "region_code",
    "industry_code",
    "carbon_intensity",
    "benchmark_intensity",
    "k_value",
    "gross_tco2",
)


def _prefixes(
    columns: tuple[Any, Any], region_prefix: str, industry_prefix: str
) -> list[sa.ColumnElement[bool]]:
    region, industry = columns
    out: list[sa.ColumnElement[bool]] = []
    if region_prefix:
        out.append(region.startswith(region_prefix, autoescape=True))
    if industry_prefix:
        out.append(industry.startswith(industry_prefix, autoescape=True))
    return out


def yearly_profiles(
    conn: Connection, years: Collection[int], region_prefix: str = "", industry_prefix: str = ""
) -> pd.DataFrame:
    """PROFILE_COLUMNS of the stored yearly profiles (granularity "year") of ``years``; region and
    industry as the profile recorded them."""
    p = carbon_profiles.c
    query = sa.select(*(p[name] for name in PROFILE_COLUMNS)).where(
        p.granularity == "year",
        p.year.in_(sorted(years)),
        *_prefixes((p.region_code, p.industry_code), region_prefix, industry_prefix),
    )
    rows = conn.execute(query).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(PROFILE_COLUMNS))
    return frame.astype({"year": "int64", "grade": "int64"}) if len(frame) else frame


def grade_five(
    conn: Connection,
    year: int,
    region_prefix: str = "",
    industry_prefix: str = "",
    *,
    after: Sequence[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """GRADE_FIVE_COLUMNS of the grade-5 yearly profiles of ``year``, by (region_code, uscc), after the
    keyset position ``after`` (region_code, uscc), at most ``limit`` rows."""
    p = carbon_profiles.c
    conditions = [
        p.granularity == "year",
        p.year == year,
        p.grade == 5,
        *_prefixes((p.region_code, p.industry_code), region_prefix, industry_prefix),
    ]
    if after:
        conditions.append(sa.tuple_(p.region_code, p.uscc) > sa.tuple_(after[0], after[1]))
    query = (
        sa.select(
            p.uscc,
            enterprises.c.display_name,
            p.region_code,
            p.industry_code,
            p.carbon_intensity,
            p.benchmark_intensity,
            p.k_value,
            p.gross_tco2,
        )
        .join(enterprises, enterprises.c.uscc == p.uscc)
        .where(*conditions)
        .order_by(p.region_code, p.uscc)
    )
    if limit is not None:
        query = query.limit(limit)
    return pd.DataFrame([tuple(r) for r in conn.execute(query).all()], columns=list(GRADE_FIVE_COLUMNS))


def count_grade_five(conn: Connection, year: int, region_prefix: str = "", industry_prefix: str = "") -> int:
    p = carbon_profiles.c
    query = sa.select(sa.func.count()).where(
        p.granularity == "year",
        p.year == year,
        p.grade == 5,
        *_prefixes((p.region_code, p.industry_code), region_prefix, industry_prefix),
    )
    return int(conn.execute(query).scalar_one())


def commitment_frames(
    conn: Connection, region_prefix: str = "", industry_prefix: str = ""
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(COMMITMENT_COLUMNS, VERIFICATION_COLUMNS): every commitment of the enterprises matching the
    prefixes (their current region and industry), with the due date of its first milestone (its start
    date when it has none), and their verifications (``order`` = recording order)."""
    c, e = commitments.c, enterprises.c
    query = (
        sa.select(
            c.id,
            c.uscc,
            e.region_code,
            e.industry_code,
            c.target_savings_tco2_per_year,
            c.start_date,
            c.milestones,
        )
        .join(enterprises, enterprises.c.uscc == c.uscc)
        .where(*_prefixes((e.region_code, e.industry_code), region_prefix, industry_prefix))
        .order_by(c.id)
    )
    rows = []
    for r in conn.execute(query).all():
        dues = sorted(_date(m["due_date"]) for m in (r.milestones or []))
        rows.append(
            (
                r.id,
                r.uscc,
                r.region_code,
                r.industry_code,
                float(r.target_savings_tco2_per_year),
                dues[0] if dues else _date(r.start_date),
            )
        )
    frame = pd.DataFrame(rows, columns=list(COMMITMENT_COLUMNS))
    checks = []
    ids = [row[0] for row in rows]
    v = verifications.c
    for chunk in chunked(ids):
        query_v = sa.select(
            v.commitment_id, v.verification_date, v.id, v.passed, v.verified_savings_tco2
        ).where(v.commitment_id.in_(chunk))
        checks += [
            (r[0], _date(r[1]), int(r[2]), bool(r[3]), float(r[4])) for r in conn.execute(query_v).all()
        ]
    return frame, pd.DataFrame(checks, columns=list(VERIFICATION_COLUMNS))


def regions_of(conn: Connection, usccs: Collection[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in chunked(sorted(usccs)):
        query = sa.select(enterprises.c.uscc, enterprises.c.region_code).where(enterprises.c.uscc.in_(chunk))
        found.update({r[0]: r[1] for r in conn.execute(query).all()})
    return found


def _date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
