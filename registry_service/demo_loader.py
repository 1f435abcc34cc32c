"""Loads the synthetic demo registry (registry_service.demo) into a migrated database."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from registry_service.demo import generate
from registry_service.domain.catalog import load_catalog
from registry_service.domain.commitments import (
    Commitment,
    Milestone,
    ProjectType,
    Verification,
    with_baseline,
)
from registry_service.domain.money import wan_to_fen
from registry_service.ingest import Ingestor
from registry_service.profile_service import ProfileService
from registry_service.storage.commitments import CommitmentRepository
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.tables import carbon_profiles, commitments
from registry_service.storage.tables import enterprises as enterprises_table
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine, read_only


def load_demo(
    settings: Settings,
    *,
    enterprises: int,
    seed: int = 2026,
    if_empty: bool = False,
    export: Path | None = None,
) -> dict[str, Any]:
    """Create the demo enterprises and ingest their records; a summary of what happened."""
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        if if_empty and _enterprise_count(engine):
            return {
                "skipped": "the registry already has enterprises",
                "enterprises": _enterprise_count(engine),
            }
        data = generate(enterprises, seed=seed)
        if export is not None:
            data.records.to_csv(export, index=False)
        created = EnterpriseRepository(engine).create_many(data.enterprises, if_missing=True)
        ingest = Ingestor(engine, settings=settings).ingest_frame(data.records, limit=len(data.records) + 1)
        summaries = ProfileService(engine, load_catalog()).recompute_all()
        commitments = _register_commitments(engine, data.retrofits)
        return {
            "enterprises_created": created,
            "records": ingest.received,
            "accepted": ingest.accepted,
            "duplicates": ingest.duplicates,
            "revised": ingest.revised,
            "rejected": ingest.rejected,
            "retrofits": len(data.retrofits),
            "commitments": commitments,
            "exported": str(export) if export else None,
            "profiles": {s.year: {"graded": s.graded, "grades_1_to_5": s.grade_counts} for s in summaries},
        }
    finally:
        engine.dispose()


def demo_book_inputs(engine: sa.Engine, year: int) -> tuple[dict[str, int], dict[str, str]]:
    """What the demo loan book lends on: USCC -> grade of the year's profiles, and USCC -> the name of
    its retrofit commitment (``tanxiao demo-data`` hands both to scoring_service.demo_book)."""
    with read_only(engine) as conn:
        grades = {
            uscc: int(grade)
            for uscc, grade in conn.execute(
                sa.select(carbon_profiles.c.uscc, carbon_profiles.c.grade).where(
                    carbon_profiles.c.period == str(year)
                )
            )
        }
        retrofits = {
            uscc: f"enterprises/{uscc}/commitments/{id_}"
            for id_, uscc in conn.execute(sa.select(commitments.c.id, commitments.c.uscc))
        }
    return grades, retrofits


def _enterprise_count(engine: sa.Engine) -> int:
    with read_only(engine) as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(enterprises_table)).scalar_one())


_PROJECT = {"PV": ProjectType.PV, "PROCESS": ProjectType.PROCESS}


def _register_commitments(engine: sa.Engine, retrofits: pd.DataFrame) -> int:
    """Each demo retrofit as a registered commitment: baseline the year before it started, target the
    reduction it delivers (so progress shows real, measured outcomes), a verification for half of them."""
    repository = CommitmentRepository(engine)
    created = 0
    for i, row in enumerate(retrofits.itertuples(index=False)):
        start = date.fromisoformat(f"{row.start_period}-01")
        baseline_year = start.year - 1
        actuals = repository.yearly_actuals(row.uscc)
        base = actuals.get(baseline_year)
        if base is None:
            continue
        target_tco2 = round(base.tco2 * float(row.reduction_share), 1)
        commitment = with_baseline(
            Commitment(
                id="",
                uscc=row.uscc,
                project_type=_PROJECT.get(row.kind, ProjectType.OTHER),
                title="屋顶分布式光伏" if row.kind == "PV" else "工艺节能改造",
                baseline_year=baseline_year,
                target_savings_tce_per_year=round(base.tce * float(row.reduction_share), 1),
                target_savings_tco2_per_year=target_tco2,
                capex_fen=wan_to_fen(round(target_tco2 * 0.35, 1)) or 0,  # 万元 to one decimal, in fen
                start_date=start,
                milestones=(
                    Milestone("投运", date(start.year, 12, 31), 0.5),
                    Milestone("达产", date(start.year + 1, 12, 31), 1.0),
                ),
                verifier="湖州市节能监察中心",
                verifications=(
                    (
                        Verification(
                            date(start.year + 1, 3, 31),
                            "湖州市节能监察中心",
                            target_tco2 * 0.5,
                            0.0,
                            True,
                            "年度核查",
                        ),
                    )
                    if i % 2 == 0
                    else ()
                ),
            ),
            actuals,
        )
        repository.create(commitment)
        created += 1
    return created


def grant_demo_consents(engine: sa.Engine, borrowers: Iterable[tuple[str, str]], *, days: int = 365) -> int:
    """Record each demo borrower's consent to its lender, as a real borrower gives it with its loan
    application (idempotent: a borrower with an active CARBON_DATA grant to that lender is skipped);
    returns how many grants were new."""
    from registry_service.consent_store import ConsentRepository

    repository = ConsentRepository(engine)
    expire = datetime.now(UTC) + timedelta(days=days)
    granted = 0
    for uscc, lender in borrowers:
        if any("CARBON_DATA" in g.scopes for g in repository.list(uscc, lender)):
            continue
        repository.grant(
            uscc, lender, frozenset({"CARBON_DATA", "FINANCIALS"}), expire, "演示授权书 (demo)", "demo-data"
        )
        granted += 1
    return granted
