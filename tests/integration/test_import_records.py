"""`tanxiao import records`: CSV and Parquet, chunked, a summary, a rejects file, idempotent re-runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from helpers import make_uscc
from typer.testing import CliRunner

from registry_service.domain.enterprise import Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.tables import records
from tanxiao.cli import app
from tanxiao.platform.db import make_engine

UNKNOWN = make_uscc(999)


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    engine = make_engine(db_url)
    EnterpriseRepository(engine).create_many(
        [Enterprise(make_uscc(i), f"企业{i}", "2822", "330502") for i in range(3)]
    )
    return engine


def _rows() -> pd.DataFrame:
    good = [
        (make_uscc(i), f"2025-{m:02d}", "ELECTRICITY", 100.0 * m, "MWh", "GRID_UTILITY", f"e-{i}-{m}")
        for i in range(3)
        for m in range(1, 13)
    ]
    bad = [
        (make_uscc(0), "2025-13", "ELECTRICITY", 1.0, "", "GRID_UTILITY", "bad-period"),
        (make_uscc(1), "2025-01", "ELECTRICITY", -5.0, "", "GRID_UTILITY", "bad-quantity"),
        (UNKNOWN, "2025-01", "ELECTRICITY", 5.0, "", "GRID_UTILITY", "bad-enterprise"),
    ]
    return pd.DataFrame(
        good + bad, columns=["uscc", "period", "category", "quantity", "unit", "source", "external_id"]
    )


def _import(db_url: str, path: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["import", "records", str(path), "--database-url", db_url, *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{") :])


def _stored(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(records)).scalar_one())


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_file_imports_in_chunks_with_a_rejects_file(
    engine: sa.Engine, db_url: str, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / f"records.{kind}"
    frame = _rows()
    frame.to_csv(path, index=False) if kind == "csv" else frame.to_parquet(path, index=False)
    summary = _import(db_url, path, "--chunk-rows", "7")
    assert (summary["rows"], summary["accepted"], summary["rejected"]) == (39, 36, 3)
    assert summary["reasons"] == {"BAD_PERIOD": 1, "NEGATIVE_QUANTITY": 1, "UNKNOWN_ENTERPRISE": 1}
    assert _stored(engine) == 36
    with open(summary["rejects_file"], encoding="utf-8") as handle:  # type: ignore[arg-type]
        rejects = list(csv.DictReader(handle))
    # File rows as a spreadsheet numbers them: header = 1, so data row i is i + 2.
    assert [(r["row"], r["field"], r["reason_code"]) for r in rejects] == [
        ("38", "period", "BAD_PERIOD"),
        ("39", "quantity", "NEGATIVE_QUANTITY"),
        ("40", "uscc", "UNKNOWN_ENTERPRISE"),
    ]
    again = _import(db_url, path)
    assert (again["accepted"], again["duplicates"]) == (0, 36)
    assert _stored(engine) == 36


def test_a_clean_file_leaves_no_rejects_file(engine: sa.Engine, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "clean.csv"
    _rows().iloc[:36].to_csv(path, index=False)
    summary = _import(db_url, path)
    assert summary["rejected"] == 0 and summary["rejects_file"] is None
    assert not (tmp_path / "clean.csv.rejects.csv").exists()


def test_a_file_without_the_record_columns_is_refused(engine: sa.Engine, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    pd.DataFrame({"uscc": [make_uscc(0)], "kwh": [1]}).to_csv(path, index=False)
    result = CliRunner().invoke(app, ["import", "records", str(path), "--database-url", db_url])
    assert result.exit_code == 2 and "missing columns" in result.output
    assert _stored(engine) == 0
