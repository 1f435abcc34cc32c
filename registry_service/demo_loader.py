"""Loads the synthetic demo registry (registry_service.demo) into a migrated database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from registry_service.demo import generate
from registry_service.domain.catalog import load_catalog
from registry_service.ingest import Ingestor
from registry_service.profile_service import ProfileService
from registry_service.storage.enterprises import EnterpriseRepository
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
        return {
            "enterprises_created": created,
            "records": ingest.received,
            "accepted": ingest.accepted,
            "duplicates": ingest.duplicates,
            "revised": ingest.revised,
            "rejected": ingest.rejected,
            "retrofits": len(data.retrofits),
            "exported": str(export) if export else None,
            "profiles": {s.year: {"graded": s.graded, "grades_1_to_5": s.grade_counts} for s in summaries},
        }
    finally:
        engine.dispose()


def _enterprise_count(engine: sa.Engine) -> int:
    with read_only(engine) as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(enterprises_table)).scalar_one())
