"""Import files as users have them: CSV in UTF-8 or GB18030/GBK (what Chinese Excel saves as "CSV"),
or an Excel workbook (.xlsx). The importers read UTF-8 CSV and Parquet; ``as_importable`` hands them
one, converting into a temporary directory when needed, so the file given is never changed.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

EXCEL_SUFFIXES = (".xlsx", ".xlsm")
PARQUET_SUFFIXES = (".parquet", ".pq")


class InputFileError(ValueError):
    """The file cannot be read with the encoding given or detected; the message says what to pass."""


@dataclass(frozen=True)
class Importable:
    path: Path  # what the importer reads
    encoding: str  # what the original was read as: utf-8, gb18030, a --encoding value, xlsx or parquet


def detect_encoding(data: bytes) -> str:
    """UTF-8 when the bytes are valid UTF-8 (with or without a BOM), otherwise GB18030.

    A deterministic rule instead of statistical detection: GB18030 is a superset of GBK and GB2312, so
    every file a Chinese Windows/Excel writes decodes with it, and GBK byte sequences are almost never
    also valid UTF-8 (multi-byte UTF-8 needs 10xxxxxx continuation bytes after each lead byte).
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def as_importable(path: Path, workdir: Path, encoding: str | None = None) -> Importable:
    """``path`` itself when the importer can read it, else a UTF-8 CSV copy in ``workdir``."""
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES or not path.is_file():
        return Importable(path, "parquet" if suffix in PARQUET_SUFFIXES else "utf-8")
    if suffix in EXCEL_SUFFIXES:
        return Importable(_excel_to_csv(path, workdir), "xlsx")
    data = path.read_bytes()
    chosen = _codec(encoding) if encoding else detect_encoding(data)
    try:
        text = data.decode(chosen)
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{path}: not valid {chosen} at byte {exc.start}; pass --encoding (e.g. utf-8, gb18030)"
        ) from exc
    if chosen == "utf-8" and not text.startswith("\ufeff"):
        return Importable(path, chosen)
    converted = workdir / f"{path.stem}.utf8.csv"
    converted.write_text(text.removeprefix("\ufeff"), encoding="utf-8", newline="")
    return Importable(converted, chosen)


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise InputFileError(f"--encoding: unknown encoding {encoding!r} (e.g. utf-8, gb18030, gbk)") from exc


def _excel_to_csv(path: Path, workdir: Path) -> Path:
    """The first sheet as text cells (USCCs and periods keep their leading zeros), as UTF-8 CSV."""
    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=str, keep_default_na=False, engine="openpyxl")
    except (ValueError, OSError, KeyError) as exc:
        raise InputFileError(f"{path}: not a readable .xlsx workbook ({exc})") from exc
    if "period" in frame.columns:  # Excel turns a typed 2025-01 into a date: back to YYYY-MM
        frame["period"] = frame["period"].str.replace(r"^(\d{4}-\d{2})-01( 00:00:00)?$", r"\1", regex=True)
    converted = workdir / f"{path.stem}.xlsx.csv"
    frame.to_csv(converted, index=False, encoding="utf-8")
    return converted
