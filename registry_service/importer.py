"""`tanxiao import records FILE`: a provider's CSV or Parquet file through the ingest pipeline.

The file is read in chunks (pandas for CSV, pyarrow batches for Parquet); each chunk is validated and
stored in its own transaction, so a large file never holds one huge transaction and an interrupted
import is resumed by running it again (records are idempotent by (source, external_id)). Rejected rows
go to a rejects file with their file row number, the field and the reason.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from registry_service.domain.records import INSTRUMENT_ID, RECORD_COLUMNS
from registry_service.ingest import REJECTED, Ingestor, IngestSummary

DEFAULT_CHUNK_ROWS = 50_000
REJECT_COLUMNS = ("row", *RECORD_COLUMNS, "field", "reason_code", "reason")


@dataclass
class ImportSummary:
    file: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    revised: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, chunk: IngestSummary) -> None:
        self.rows += chunk.received
        self.accepted += chunk.accepted
        self.duplicates += chunk.duplicates
        self.revised += chunk.revised
        self.rejected += chunk.rejected
        for result in chunk.results:
            if result.status == REJECTED:
                self.reasons[result.reason_code] = self.reasons.get(result.reason_code, 0) + 1


class ImportFileError(ValueError):
    """The file cannot be read as records (format, missing columns); nothing was stored."""


def count_rows(path: Path) -> int | None:
    """Rows in the file when cheap to know (Parquet metadata; CSV by counting lines)."""
    if _is_parquet(path):
        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open("rb") as handle:
        return max(0, sum(1 for _ in handle) - 1)


def read_chunks(path: Path, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The file as frames of RECORD_COLUMNS (text columns as strings, quantity as float)."""
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    if _is_parquet(path):
        parquet = pq.ParquetFile(path)
        _check_columns(path, parquet.schema_arrow.names)
        optional = [INSTRUMENT_ID] if INSTRUMENT_ID in parquet.schema_arrow.names else []
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=[*RECORD_COLUMNS, *optional]):
            yield _typed(batch.to_pandas())
        return
    text_columns = {c: str for c in (*RECORD_COLUMNS, INSTRUMENT_ID) if c != "quantity"}
    try:
        reader = pd.read_csv(path, chunksize=chunk_rows, dtype=text_columns, keep_default_na=False)
        for chunk in reader:
            _check_columns(path, list(chunk.columns))
            yield _typed(chunk)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"{path}: not a readable CSV ({exc})") from exc


def import_records(
    ingestor: Ingestor,
    path: Path,
    *,
    rejects_path: Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Callable[[int], None] = lambda rows: None,
) -> ImportSummary:
    """Import ``path`` chunk by chunk; rejected rows are written to ``rejects_path`` (default:
    FILE.rejects.csv next to the input) only when there are any."""
    summary = ImportSummary(file=str(path))
    rejects_path = rejects_path or path.with_name(path.name + ".rejects.csv")
    writer = _RejectsWriter(rejects_path)
    try:
        for chunk in read_chunks(path, chunk_rows):
            result = ingestor.ingest_frame(chunk, limit=max(len(chunk), 1))
            writer.write(chunk, result, first_row=summary.rows)
            summary.add(result)
            progress(len(chunk))
    finally:
        writer.close()
    summary.rejects_file = str(rejects_path) if writer.rows else None
    return summary


class _RejectsWriter:
    """Opens the rejects file on the first rejected row, so a clean import leaves no empty file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._handle: object | None = None
        self._csv: csv.writer | None = None  # type: ignore[valid-type]

    def write(self, chunk: pd.DataFrame, result: IngestSummary, first_row: int) -> None:
        for row in (r for r in result.results if r.status == REJECTED):
            if self._csv is None:
                self._handle = self.path.open("w", newline="", encoding="utf-8")
                self._csv = csv.writer(self._handle)  # type: ignore[arg-type]
                self._csv.writerow(REJECT_COLUMNS)
            original = chunk.iloc[row.index].tolist()  # indexes are per chunk: each chunk is one call
            # The file row number counts the header as row 1, as a spreadsheet shows it.
            field = row.field.split("].", 1)[-1]  # "records[7].unit" -> "unit": the file has no records[]
            self._csv.writerow([first_row + row.index + 2, *original, field, row.reason_code, row.reason])
            self.rows += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()  # type: ignore[attr-defined]


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    # instrument_id (green-power contract / certificate id) is optional: kept when the file has it.
    columns = [*RECORD_COLUMNS, *([INSTRUMENT_ID] if INSTRUMENT_ID in frame.columns else [])]
    out = frame[columns].copy()
    for column in columns:
        if column != "quantity":
            out[column] = out[column].fillna("").astype(str)
    out["quantity"] = pd.to_numeric(out["quantity"], errors="coerce")
    return out.reset_index(drop=True)


def _check_columns(path: Path, columns: list[str]) -> None:
    missing = [c for c in RECORD_COLUMNS if c not in columns]
    if missing:
        raise ImportFileError(f"{path}: missing columns {missing}; expected {list(RECORD_COLUMNS)}")


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")
