"""`tanxiao import loans FILE`: a lender's existing book from CSV or Parquet, validated row by row,
bad rows to a rejects file with their row number, field and reason; good rows stored set-based."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from scoring_service.loan_book import LOAN_COLUMNS, loans_from_frame
from scoring_service.portfolio.csv_safety import neutralise
from scoring_service.storage.loans import LoanRepository
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine

REQUIRED = tuple(c for c in LOAN_COLUMNS if c != "currency")


def read_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        parquet = pq.ParquetFile(path)
        _check(path, parquet.schema_arrow.names)
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas().astype(object)
        return
    for chunk in pd.read_csv(path, chunksize=chunk_rows, dtype=str, keep_default_na=False):
        _check(path, list(chunk.columns))
        yield chunk


def import_loans(
    settings: Settings, path: Path, *, rejects_path: Path | None = None, chunk_rows: int = 10_000
) -> dict[str, Any]:
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    repository = LoanRepository(engine)
    rejects_path = rejects_path or path.with_name(path.name + ".rejects.csv")
    rows = recorded = 0
    rejected: list[tuple[int, str, str]] = []
    try:
        for chunk in read_chunks(path, chunk_rows):
            good, bad = loans_from_frame(chunk, rows, settings.max_loan_amount_fen)
            recorded += repository.record_many(good)
            rejected += bad
            rows += len(chunk)
    finally:
        engine.dispose()
    if rejected:
        with rejects_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "field", "reason"])
            writer.writerows([row, field, neutralise(reason)] for row, field, reason in rejected)
    return {
        "file": str(path),
        "rows": rows,
        "recorded": recorded,
        "already_recorded": rows - len(rejected) - recorded,
        "rejected": len(rejected),
        "rejects_file": str(rejects_path) if rejected else None,
    }


def _check(path: Path, columns: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {list(LOAN_COLUMNS)}")
