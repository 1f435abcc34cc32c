"""`tanxiao import records|loans` reads what Chinese offices export: GB18030/GBK CSV (detected, or
named with --encoding) and Excel workbooks, the same rows as a UTF-8 CSV would give."""

from __future__ import annotations

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

COLUMNS = ["uscc", "period", "category", "quantity", "unit", "source", "external_id"]


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    engine = make_engine(db_url)
    EnterpriseRepository(engine).create_many([Enterprise(make_uscc(1), "湖州企业", "2822", "330502")])
    return engine


def _frame() -> pd.DataFrame:
    # external ids in Chinese, as a utility's billing export has them: they only survive a correct decode
    rows = [(make_uscc(1), f"2025-{m:02d}", "ELECTRICITY", 100.0 * m, "MWh", "GRID_UTILITY", f"电费-{m}月")
            for m in range(1, 13)]  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def _import(db_url: str, path: Path, *args: str) -> tuple[dict[str, object], str]:
    result = CliRunner().invoke(app, ["import", "records", str(path), "--database-url", db_url, *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{") :]), result.output


def _external_ids(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(records.c.external_id)).scalars())


def test_a_gbk_csv_is_detected_as_gb18030(engine: sa.Engine, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "records.csv"
    _frame().to_csv(path, index=False, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the file really is not UTF-8
    summary, output = _import(db_url, path)
    assert summary["accepted"] == 12 and summary["rejected"] == 0
    assert "as gb18030" in output
    assert _external_ids(engine) == {f"电费-{m}月" for m in range(1, 13)}


def test_encoding_can_be_named_and_a_wrong_one_is_one_line(
    engine: sa.Engine, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "records.csv"
    _frame().to_csv(path, index=False, encoding="gb18030")
    summary, _ = _import(db_url, path, "--encoding", "gb18030")
    assert summary["accepted"] == 12
    wrong = CliRunner().invoke(
        app, ["import", "records", str(path), "--database-url", db_url, "--encoding", "utf-8"]
    )
    assert wrong.exit_code == 2
    assert "not valid utf-8" in wrong.output and "--encoding" in wrong.output
    unknown = CliRunner().invoke(
        app, ["import", "records", str(path), "--database-url", db_url, "--encoding", "klingon"]
    )
    assert unknown.exit_code == 2 and "unknown encoding 'klingon'" in unknown.output


def test_a_utf8_csv_with_a_bom_imports_the_same(engine: sa.Engine, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "records.csv"
    _frame().to_csv(path, index=False, encoding="utf-8-sig")  # Excel's "CSV UTF-8"
    summary, _ = _import(db_url, path)
    assert summary["accepted"] == 12
    assert _external_ids(engine) == {f"电费-{m}月" for m in range(1, 13)}


def test_an_xlsx_workbook_imports_with_its_rejects_beside_it(
    engine: sa.Engine, db_url: str, tmp_path: Path
) -> None:
    frame = _frame()
    frame.loc[len(frame)] = [make_uscc(1), "2025-13", "ELECTRICITY", 1.0, "", "GRID_UTILITY", "坏行"]
    path = tmp_path / "records.xlsx"
    frame.to_excel(path, index=False, engine="openpyxl")
    summary, output = _import(db_url, path)
    assert summary["accepted"] == 12 and summary["rejected"] == 1
    assert "as xlsx" in output
    rejects = tmp_path / "records.xlsx.rejects.csv"  # beside the user's file, not in a temporary directory
    assert rejects.is_file() and "坏行" in rejects.read_text("utf-8")
    summary, _ = _import(db_url, path)  # idempotent, like any other file
    assert summary["accepted"] == 0 and summary["duplicates"] == 12
