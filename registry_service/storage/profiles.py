"""Profiles, benchmarks and the recompute queue in the database (SQLAlchemy Core, set-based).

Reads hand the domain pipeline (registry_service.domain.profiles) plain frames; writes replace an
enterprise's stored profiles as a whole, in one transaction, so readers never see a mix of old and new.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from registry_service.domain.money import FEN_PER_10K_YUAN, wan_to_fen, wan_to_fen_many
from registry_service.domain.profiles import ProfileSet, details_column, details_of, provenance_fields
from registry_service.storage import chunked
from registry_service.storage.arrow_reads import ArrowReader
from registry_service.storage.tables import (
    benchmark_members,
    benchmark_versions,
    benchmarks,
    carbon_profiles,
    enterprise_financials,
    enterprises,
    profile_dirty,
    records,
)
from tanxiao.platform.schema import Quantity

RECORD_COLUMNS = (
    "id", "uscc", "period", "category", "source", "external_id", "revision", "is_current",
    "canonical_quantity", "ingest_time",
)  # fmt: skip
STORED_GRANULARITIES = ("year", "rolling12")
_PROFILE_COLUMNS = [c.name for c in carbon_profiles.columns]
_BENCHMARK_COLUMNS = [c.name for c in benchmarks.columns]
_INSERT_CHUNK = 5_000


# --- inputs ---------------------------------------------------------------------------------------


def load_records(
    conn: Connection | ArrowReader,
    usccs: Collection[str] | None,
    month_from: str = "",
    month_to: str = "",
    *,
    divisions: Collection[str] | None = None,
    ties_only: bool = False,
) -> pd.DataFrame:
    """Every revision of the records in [month_from, month_to] (of ``usccs``, or all enterprises; of
    the enterprises in ``divisions``, industry_division's keys, when given). ``ties_only``: external_id
    and ingest_time only on the rows of a (uscc, period, category) with several current records,
    missing (NaN, NaT) elsewhere: the profile pipeline reads them only to order such records
    (precedence's tie-breaks), and fetching them for every row was a third of a recompute's read.
    Through an ArrowReader (a recompute worker on SQLite) the frame is built from Arrow columns."""
    conditions: list[sa.ColumnElement[bool]] = []
    if month_from:
        conditions.append(records.c.period >= month_from)
    if month_to:
        conditions.append(records.c.period <= month_to)
    if divisions is not None:
        conditions.append(records.c.uscc.in_(_usccs_of_divisions(divisions)))
    names = tuple(n for n in RECORD_COLUMNS if not (ties_only and n in _TIE_BREAKS))
    query = sa.select(*(records.c[name] for name in names)).where(*conditions)
    queries = (
        [query] if usccs is None else [query.where(records.c.uscc.in_(c)) for c in chunked(sorted(usccs))]
    )
    if isinstance(conn, ArrowReader):
        frame = _arrow_record_frame([conn.table(_arrow_typed(q)) for q in queries], names)
    else:
        frame = _record_frame([row for q in queries for row in _raw_rows(conn, q)], names)
    return _with_tie_breaks(conn, frame) if ties_only and len(frame) else frame


# what precedence reads only to order several current records of one key (load_records' ties_only)
_TIE_BREAKS = ("external_id", "ingest_time")


def _with_tie_breaks(conn: Connection | ArrowReader, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with external_id and ingest_time read for the current rows whose (uscc, period,
    category) has several current records, missing for every other row."""
    key = np.zeros(len(frame), dtype=np.int64)
    for name in ("uscc", "period", "category"):
        codes, uniques = pd.factorize(frame[name])
        key = key * len(uniques) + codes
    current = np.flatnonzero(frame["is_current"].to_numpy(dtype=bool))
    codes = pd.factorize(key[current])[0]
    tied = current[np.bincount(codes)[codes] > 1]
    external = np.full(len(frame), None, dtype=object)
    times = np.full(len(frame), None, dtype=object)
    ids = frame["id"].to_numpy(dtype=np.int64)
    at = pd.Index(ids[tied])
    for chunk in chunked(ids[tied].tolist()):
        query = sa.select(records.c.id, *(records.c[n] for n in _TIE_BREAKS)).where(records.c.id.in_(chunk))
        found = _raw_rows(conn, query)
        rows = tied[at.get_indexer([row[0] for row in found])]
        external[rows] = [row[1] for row in found]
        times[rows] = [row[2] for row in found]
    with_ties = frame.assign(
        external_id=_record_column("external_id", external), ingest_time=_record_column("ingest_time", times)
    )
    return with_ties[list(RECORD_COLUMNS)]


def industry_division(code: Any) -> str:
    """The partition key of an industry code: its 2-digit division (benchmark cells are 4, 3 or 2
    digits deep, so none spans two divisions); "" for a missing code."""
    return str(code or "")[:2]


def _division_of(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    return sa.func.substr(sa.func.coalesce(column, ""), 1, 2)


def _usccs_of_divisions(divisions: Collection[str]) -> sa.Select[Any]:
    return sa.select(enterprises.c.uscc).where(
        _division_of(enterprises.c.industry_code).in_(sorted(divisions))
    )


def division_sizes(conn: Connection) -> dict[str, int]:
    """Enterprises per industry division (industry_division): the recompute's partitions."""
    division = _division_of(enterprises.c.industry_code)
    query = sa.select(division, sa.func.count()).group_by(division)
    return {str(d): int(n) for d, n in conn.execute(query)}


def _raw_rows(conn: Connection | ArrowReader, query: sa.Select[Any]) -> list[Any]:
    """The driver's row tuples: a recompute reads a million records, and SQLAlchemy's per-row
    processing cost as much as the fetch. Only for columns whose driver values are already what the
    frame needs (numbers, text; _record_frame converts the rest column-wise)."""
    if isinstance(conn, ArrowReader):
        return conn.rows(query)
    result = conn.execute(query)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


_RECORD_INTEGERS = ("id", "revision")
_RECORD_TEXTS = ("uscc", "period", "category", "source", "external_id")


def _record_frame(rows: list[Any], names: Sequence[str] = RECORD_COLUMNS) -> pd.DataFrame:
    """The records' frame (columns ``names`` of RECORD_COLUMNS), built column by column with known
    types from one object grid (a recompute reads a million rows: DataFrame.from_records inferred
    every column's type value by value)."""
    if not rows:
        return _frame_of([], RECORD_COLUMNS)
    grid = np.empty((len(rows), len(names)), dtype=object)
    grid[:] = rows
    data: dict[str, Any] = {}
    for i, name in enumerate(names):
        data[name] = _record_column(name, grid[:, i])
    return pd.DataFrame(data)


def _arrow_typed(query: sa.Select[Any]) -> sa.Select[Any]:
    """``query`` with canonical_quantity read as REAL: ADBC's driver types a column by its first
    values, and a REAL column may hold an integer SQLite did not convert (the same number)."""
    return query.with_only_columns(
        *(
            sa.cast(c, sa.Float).label(c.name) if c.name == "canonical_quantity" else c
            for c in query.selected_columns
        )
    )


def _arrow_record_frame(tables: list[pa.Table], names: Sequence[str]) -> pd.DataFrame:
    """_record_frame from Arrow tables: the same columns, types and values, without a Python object
    per cell (text stays Arrow: pandas' ``str`` is Arrow-backed)."""
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    if not table.num_rows:
        return _frame_of([], RECORD_COLUMNS)
    data: dict[str, Any] = {}
    for name, column in zip(names, table.columns, strict=True):
        if name in _RECORD_TEXTS:
            data[name] = pd.array(column, dtype="str")
        else:
            data[name] = _record_column(name, column.to_numpy(zero_copy_only=False))
    return pd.DataFrame(data)


def _record_column(name: str, values: np.ndarray) -> Any:
    if name in _RECORD_INTEGERS:
        return values.astype(np.int64)
    if name in _RECORD_TEXTS:
        return pd.array(values, dtype="str")
    # SQLite hands back 0/1 and naive text, PostgreSQL bools and aware datetimes: one form for both
    if name == "is_current":
        return values.astype(bool)
    if name == "canonical_quantity":
        return values.astype(np.float64)  # Decimal too
    return _timestamps(values)


def _timestamps(values: np.ndarray) -> pd.DatetimeIndex:
    """The ingest times as UTC timestamps, each distinct value parsed once (an ingest stamps all of
    its records with one time, so a million records hold a handful)."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    parsed = pd.to_datetime(np.asarray(distinct, dtype=object), utc=True, format="ISO8601")
    return pd.DatetimeIndex(parsed.take(codes))


def load_enterprises(
    conn: Connection | ArrowReader, usccs: Collection[str] | None, *, divisions: Collection[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(uscc, industry_code, region_code) and (uscc, year, industrial_added_value_10k_cny): the stored
    fen as 万元 (the accounting pipeline's unit for the intensity's denominator). ``divisions``: only
    the enterprises of those industry divisions."""
    columns = ("uscc", "industry_code", "region_code")
    query = sa.select(enterprises.c.uscc, enterprises.c.industry_code, enterprises.c.region_code)
    annual_columns = ("uscc", "year", "industrial_added_value_10k_cny")
    annual_query = sa.select(
        enterprise_financials.c.uscc,
        enterprise_financials.c.year,
        (sa.cast(enterprise_financials.c.industrial_added_value_fen, Quantity) / FEN_PER_10K_YUAN).label(
            "industrial_added_value_10k_cny"
        ),
    )
    if divisions is not None:
        query = query.where(_division_of(enterprises.c.industry_code).in_(sorted(divisions)))
        annual_query = annual_query.where(enterprise_financials.c.uscc.in_(_usccs_of_divisions(divisions)))
    if usccs is None:
        return _frame(conn, query, columns), _frame(conn, annual_query, annual_columns)
    firms, annual = [], []
    for chunk in chunked(sorted(usccs)):
        firms.append(_frame(conn, query.where(enterprises.c.uscc.in_(chunk)), columns))
        annual.append(
            _frame(conn, annual_query.where(enterprise_financials.c.uscc.in_(chunk)), annual_columns)
        )
    return (
        pd.concat(firms, ignore_index=True) if firms else _frame_of([], columns),
        pd.concat(annual, ignore_index=True) if annual else _frame_of([], annual_columns),
    )


def last_record_month(conn: Connection) -> str | None:
    value = conn.execute(sa.select(sa.func.max(records.c.period)).where(records.c.is_current)).scalar_one()
    return str(value) if value else None


def has_current_records_from(conn: Connection, month: str) -> bool:
    """Whether a current record's period is ``month`` or later. No index leads with the period, so
    last_record_month reads every record (0.6-0.8 s of CPU at the bench's 1.8M records, at the start of
    a recompute, before any worker runs); this stops at the first such record, which usually comes early."""
    query = sa.select(sa.literal(1)).where(records.c.is_current, records.c.period >= month).limit(1)
    return conn.execute(query).first() is not None


def stored_benchmarks(conn: Connection, years: Iterable[int] | None = None) -> pd.DataFrame:
    query = sa.select(benchmarks)
    if years is not None:
        query = query.where(benchmarks.c.year.in_(sorted(set(years))))
    frame = _frame(conn, query, _BENCHMARK_COLUMNS)
    # the stored fen as the domain's 万元 (the denominator of the cell's average intensity)
    frame["total_added_value"] = frame.pop("total_added_value_fen").astype(float) / FEN_PER_10K_YUAN
    return frame.astype({"year": np.int64, "industry_depth": np.int64, "enterprise_count": np.int64})


def peer_profiles(conn: Connection, periods: Iterable[str], exclude: Collection[str]) -> pd.DataFrame:
    """Stored intensities of the given periods (for peer comparison in data quality)."""
    columns = ("uscc", "period", "carbon_intensity", "industry_code")
    query = sa.select(*(carbon_profiles.c[name] for name in columns)).where(
        carbon_profiles.c.period.in_(sorted(set(periods)))
    )
    frame = _frame(conn, query, columns)
    return frame[~frame["uscc"].isin(set(exclude))]


# --- writes ---------------------------------------------------------------------------------------


def replace_profiles(
    conn: Connection,
    result: ProfileSet,
    *,
    catalog_version: str,
    grading_method: str,
    compute_time: datetime,
    whole_enterprises: bool,
) -> int:
    """Store ``result``'s profiles. ``whole_enterprises``: they replace every stored profile of their
    enterprises (a refresh); else only the same periods and the enterprises' older rolling windows."""
    columns = profile_columns(result, catalog_version, grading_method, compute_time)
    delete_profiles(conn, set(columns["uscc"]), set(columns["period"]), whole_enterprises=whole_enterprises)
    return insert_profiles(conn, columns)


def delete_profiles(
    conn: Connection,
    usccs: Collection[str],
    periods: Collection[str],
    *,
    whole_enterprises: bool,
    rolling: bool = True,
) -> None:
    """Delete what new profiles of ``usccs`` in ``periods`` replace (replace_profiles): every profile of
    the enterprises, or those of ``periods`` and (``rolling``) every rolling window."""
    wanted = sorted(periods)
    if not whole_enterprises and wanted:
        _delete_each(conn, usccs, wanted, rolling=rolling)
        return
    for chunk in chunked(sorted(usccs)):
        doomed: sa.ColumnElement[bool] = carbon_profiles.c.uscc.in_(chunk)
        if not whole_enterprises:
            these: sa.ColumnElement[bool] = carbon_profiles.c.period.in_(wanted)
            if rolling:
                these = sa.or_(these, carbon_profiles.c.granularity == "rolling12")
            doomed = sa.and_(doomed, these)
        conn.execute(carbon_profiles.delete().where(doomed))


def _delete_each(conn: Connection, usccs: Collection[str], periods: list[str], *, rolling: bool) -> None:
    """One compiled DELETE executed per enterprise by the driver (its primary key leads with uscc):
    a recompute replaces tens of thousands of enterprises' profiles, and compiling chunked IN lists
    through SQLAlchemy cost about as much as the database's own work."""
    if not usccs:
        return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    these = f"period IN ({', '.join([marker] * len(periods))})"
    if rolling:
        these = f"({these} OR granularity = 'rolling12')"
    statement = f"DELETE FROM {carbon_profiles.name} WHERE uscc = {marker} AND {these}"
    cursor = conn.connection.cursor()  # the connection's transaction: committed or rolled back with it
    try:
        cursor.executemany(statement, [(uscc, *periods) for uscc in sorted(usccs)])
    finally:
        cursor.close()


def insert_profiles(conn: Connection, columns: dict[str, list[Any]]) -> int:
    """Insert profile_columns' rows: the driver's executemany of tuples with the details as JSON text
    (orjson, one pass), in the caller's transaction. SQLAlchemy's insert of dicts spent more time
    processing parameters (and json.dumps) than the database spent storing them."""
    count = len(columns["uscc"])
    if not count:
        return 0
    names = [name for name in _PROFILE_COLUMNS if name in columns]
    values = [_bound(conn, name, columns[name]) for name in names]
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {carbon_profiles.name} ({', '.join(names)}) VALUES ({', '.join([marker] * len(names))})"
    )
    rows = list(zip(*values, strict=True))
    cursor = conn.connection.cursor()  # the connection's transaction: committed or rolled back with it
    try:
        for start in range(0, count, _INSERT_CHUNK):
            cursor.executemany(statement, rows[start : start + _INSERT_CHUNK])
    finally:
        cursor.close()
    return count


# Filled in by the write, not where a share is computed: the same for every row, or (the details'
# benchmark provenance) decided by the write transaction's published version.
_LATE_COLUMNS = ("catalog_version", "grading_method", "compute_time", "details")
# details_column's benchmark provenance before with_provenance: one run of keys at the end of the
# details' first object; the write puts the real values in its place.
_BLANK_PROVENANCE = (
    ',"version":0,"computed_at":"","includes_self":false,"excludes_self":false,"sensitive":false'
)
# what benchmark_provenance reads of a profile
_PROVENANCE_INPUTS = (
    "uscc", "benchmark_industry_code", "benchmark_region_code", "benchmark_year", "grade",
    "carbon_intensity", "net_tco2", "added_value_10k_cny",
)  # fmt: skip


@dataclass(frozen=True)
class PreparedProfiles:
    """A share's carbon_profiles rows built where the share was computed (a worker process): every
    column's driver value but _LATE_COLUMNS, and the details JSON split around the benchmark
    provenance; ``provenance_inputs``: the stored rows' columns that provenance is computed from."""

    names: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    heads: list[str]
    tails: list[str]
    provenance_inputs: pd.DataFrame

    @property
    def usccs(self) -> set[str]:
        return set(self.provenance_inputs["uscc"].tolist())

    @property
    def periods(self) -> set[str]:
        index = self.names.index("period")
        return {row[index] for row in self.rows}


def prepare_profiles(result: ProfileSet) -> PreparedProfiles:
    """profile_columns of ``result`` (without provenance) as row tuples and split details JSON."""
    if any(c in result.profiles for c in ("benchmark_version", "benchmark_computed_at")):
        raise ValueError("prepare_profiles takes profiles before with_provenance")
    columns = profile_columns(result, "", "", datetime.now(UTC))
    names = tuple(n for n in _PROFILE_COLUMNS if n in columns and n not in _LATE_COLUMNS)
    heads, tails = [], []
    blank = len(_BLANK_PROVENANCE)
    for details in columns["details"]:
        text = orjson.dumps(details).decode()
        # a '"' inside a JSON string is escaped, so the first match is the benchmark object's keys
        at = text.index(_BLANK_PROVENANCE)
        heads.append(text[:at])
        tails.append(text[at + blank :])
    frame = result.profiles
    stored = frame[frame["granularity"].isin(STORED_GRANULARITIES)] if len(frame) else frame
    inputs = pd.DataFrame({c: stored.get(c, 0 if c == "grade" else None) for c in _PROVENANCE_INPUTS})
    rows = list(zip(*(columns[n] for n in names), strict=True)) if columns["uscc"] else []
    return PreparedProfiles(names, rows, heads, tails, inputs.reset_index(drop=True))


def insert_prepared(
    conn: Connection,
    prepared: PreparedProfiles,
    provenance: pd.DataFrame,
    *,
    catalog_version: str,
    grading_method: str,
    compute_time: datetime,
) -> int:
    """Insert a share's prepared rows with its benchmark provenance (benchmark_provenance of its
    provenance_inputs, row for row) spliced into the details: the same rows insert_profiles stores."""
    count = len(prepared.rows)
    if not count:
        return 0
    for name in prepared.names:  # prepared values are the driver's only where no processor applies
        kind = carbon_profiles.c[name].type
        if kind.dialect_impl(conn.dialect).bind_processor(conn.dialect) and not isinstance(kind, sa.Float):
            raise ValueError(f"column {name} needs its bind processor on {conn.dialect.name}")
    late = (catalog_version, grading_method, _bound(conn, "compute_time", [compute_time])[0])
    details = [
        h + m + t
        for h, m, t in zip(prepared.heads, _provenance_json(provenance), prepared.tails, strict=True)
    ]
    names = [*prepared.names, *_LATE_COLUMNS]
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {carbon_profiles.name} ({', '.join(names)}) VALUES ({', '.join([marker] * len(names))})"
    )
    cursor = conn.connection.cursor()
    try:
        for start in range(0, count, _INSERT_CHUNK):
            end = start + _INSERT_CHUNK
            cursor.executemany(
                statement,
                [
                    (*row, *late, d)
                    for row, d in zip(prepared.rows[start:end], details[start:end], strict=True)
                ],
            )
    finally:
        cursor.close()
    return count


def _provenance_json(provenance: pd.DataFrame) -> list[str]:
    """The provenance keys of details_column's benchmark object as orjson writes them."""
    words = {True: "true", False: "false"}
    texts: dict[tuple[int, str, bool, bool, bool], str] = {}

    def text(key: tuple[int, str, bool, bool, bool]) -> str:
        v, t, i, e, x = key
        return (
            f',"version":{v},"computed_at":{orjson.dumps(t).decode()}'
            f',"includes_self":{words[i]},"excludes_self":{words[e]},"sensitive":{words[x]}'
        )

    # a version has one time and the flags few combinations: each distinct text is built once
    return [
        texts[key] if key in texts else texts.setdefault(key, text(key))
        for key in zip(*provenance_fields(provenance), strict=True)
    ]


def _bound(conn: Connection, name: str, values: list[Any]) -> list[Any]:
    """A column's values as the driver takes them: details as JSON text, others through the column
    type's bind processor (e.g. the compute time on SQLite), once per value when it has one."""
    if name == "details":
        return [orjson.dumps(v).decode() for v in values]
    kind = carbon_profiles.c[name].type
    process = kind.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    if process is None or isinstance(kind, sa.Float):  # profile_columns' figures are float or None
        return values
    if name == "compute_time":  # one value for the whole recompute
        done: dict[Any, Any] = {}
        return [done[v] if v in done else done.setdefault(v, process(v)) for v in values]
    return [process(v) for v in values]


def profile_rows(
    result: ProfileSet, catalog_version: str, grading_method: str, compute_time: datetime
) -> list[dict[str, Any]]:
    """profile_row for every stored profile of ``result`` (profile_columns as rows)."""
    columns = profile_columns(result, catalog_version, grading_method, compute_time)
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def profile_columns(
    result: ProfileSet, catalog_version: str, grading_method: str, compute_time: datetime
) -> dict[str, list[Any]]:
    """profile_row's fields for every stored profile of ``result``, column by column (the same values;
    a recompute of a province writes 100,000s, and a Python call per figure per row was its cost)."""
    frame = result.profiles
    stored = frame[frame["granularity"].isin(STORED_GRANULARITIES)] if len(frame) else frame
    if stored.empty:
        return {name: [] for name in _PROFILE_COLUMNS}
    keys = list(zip(stored["uscc"].tolist(), stored["period"].tolist(), strict=True))
    columns: dict[str, list[Any]] = {
        "uscc": stored["uscc"].tolist(),
        "period": stored["period"].tolist(),
        "granularity": stored["granularity"].tolist(),
        "year": _ints(stored["year"]),
        "industry_code": stored["industry_code"].tolist(),
        "region_code": stored["region_code"].tolist(),
        "months_covered": _ints(stored["months_covered"]),
        "months_expected": _ints(stored["months_expected"]),
        "record_count": _ints(stored["record_count"]),
    }
    for name, source, default in _FIGURES:
        columns[name] = _nums(stored, source, default)
    for name, source in (("added_value_fen", "added_value_10k_cny"), ("revenue_fen", "revenue_10k_cny")):
        columns[name] = wan_to_fen_many(_nums(stored, source))  # the pipeline sums 万元
    columns |= {
        "benchmark_industry_code": [_text(v) for v in _values(stored, "benchmark_industry_code")],
        "benchmark_region_code": [_text(v) for v in _values(stored, "benchmark_region_code")],
        "benchmark_year": [None if v is None else int(v) for v in _nums(stored, "benchmark_year")],
        "benchmark_intensity": _nums(stored, "benchmark_intensity"),
        "k_value": _nums(stored, "carbon_efficiency"),
        "grade": [int(v or 0) for v in _values(stored, "grade")],
        "level": [str(v or "") for v in _values(stored, "level")],
        "quality_score": _nums(stored, "quality_score"),
        "pcaf_score": [None if v is None else int(v) for v in _nums(stored, "pcaf_score")],
        "trend_direction": [str(v or "") for v in _values(stored, "trend_direction")],
        "details": details_column(stored, [result.flags.get(key, []) for key in keys]),
        "catalog_version": [catalog_version] * len(stored),
        "grading_method": [grading_method] * len(stored),
        "inputs_fingerprint": stored["inputs_fingerprint"].tolist(),
        "compute_time": [compute_time] * len(stored),
    }
    return columns


# (stored column, pipeline column, value for a missing/NaN/infinite figure), as profile_row has them
_FIGURES = (
    ("energy_tce", "energy_tce", 0.0),
    ("scope1_tco2", "scope1_tco2", 0.0),
    ("scope2_gross_tco2", "scope2_gross_tco2", 0.0),
    ("green_power_netting_tco2", "green_power_netting_tco2", 0.0),
    ("own_renewable_netting_tco2", "pv_netting_tco2", 0.0),
    ("gross_tco2", "gross_tco2", 0.0),
    ("net_tco2", "net_tco2", 0.0),
    ("energy_intensity", "energy_intensity", None),
    ("carbon_intensity", "carbon_intensity", None),
    ("neutrality_rate", "neutrality_rate", None),
)


def _values(frame: pd.DataFrame, name: str) -> list[Any]:
    return frame[name].tolist() if name in frame else [None] * len(frame)


def _ints(column: pd.Series) -> list[int]:
    return [int(v) for v in column.tolist()]


def _nums(frame: pd.DataFrame, name: str, default: float | None = None) -> list[float | None]:
    """_num over a column: float, ``default`` for a missing, NaN or infinite value."""
    if name not in frame:
        return [default] * len(frame)
    column = frame[name]
    if column.dtype.kind in "fiub":
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        out = values.astype(object)
        out[~np.isfinite(values)] = default
        return list(out)
    return [_num(v, default) for v in column.tolist()]


def profile_row(
    row: dict[str, Any], flags: list[dict[str, str]], catalog_version: str, grading_method: str, now: datetime
) -> dict[str, Any]:
    """One carbon_profiles row from a pipeline row (also used for on-demand profiles, never stored)."""
    return {
        "uscc": row["uscc"],
        "period": row["period"],
        "granularity": row["granularity"],
        "year": int(row["year"]),
        "industry_code": row["industry_code"],
        "region_code": row["region_code"],
        "months_covered": int(row["months_covered"]),
        "months_expected": int(row["months_expected"]),
        "record_count": int(row["record_count"]),
        "energy_tce": _num(row["energy_tce"], 0.0),
        "scope1_tco2": _num(row["scope1_tco2"], 0.0),
        "scope2_gross_tco2": _num(row["scope2_gross_tco2"], 0.0),
        "green_power_netting_tco2": _num(row["green_power_netting_tco2"], 0.0),
        "own_renewable_netting_tco2": _num(row["pv_netting_tco2"], 0.0),
        "gross_tco2": _num(row["gross_tco2"], 0.0),
        "net_tco2": _num(row["net_tco2"], 0.0),
        "added_value_fen": wan_to_fen(_num(row["added_value_10k_cny"])),  # the pipeline sums 万元
        "revenue_fen": wan_to_fen(_num(row["revenue_10k_cny"])),
        "energy_intensity": _num(row["energy_intensity"]),
        "carbon_intensity": _num(row["carbon_intensity"]),
        "neutrality_rate": _num(row["neutrality_rate"]),
        "benchmark_industry_code": _text(row.get("benchmark_industry_code")),
        "benchmark_region_code": _text(row.get("benchmark_region_code")),
        "benchmark_year": _int(row.get("benchmark_year")),
        "benchmark_intensity": _num(row.get("benchmark_intensity")),
        "k_value": _num(row.get("carbon_efficiency")),
        "grade": int(row.get("grade") or 0),
        "level": str(row.get("level") or ""),
        "quality_score": _num(row.get("quality_score")),
        "pcaf_score": _int(row.get("pcaf_score")),
        "trend_direction": str(row.get("trend_direction") or ""),
        "details": details_of(row, flags),
        "catalog_version": catalog_version,
        "grading_method": grading_method,
        "inputs_fingerprint": row["inputs_fingerprint"],
        "compute_time": now,
    }


def replace_benchmarks(
    conn: Connection,
    frame: pd.DataFrame,
    years: Sequence[int],
    grading_method: str,
    now: datetime,
    version: int = 1,
) -> int:
    delete_benchmarks(conn, years)
    return insert_benchmarks(conn, frame, years, grading_method, now, version)


def delete_benchmarks(conn: Connection, years: Sequence[int]) -> None:
    conn.execute(benchmarks.delete().where(benchmarks.c.year.in_(list(years))))


def insert_benchmarks(
    conn: Connection,
    frame: pd.DataFrame,
    years: Sequence[int],
    grading_method: str,
    now: datetime,
    version: int = 1,
) -> int:
    """``frame``'s benchmarks of ``years`` added to the stored ones (replace_benchmarks' insert)."""
    wanted = frame[frame["year"].isin(list(years))]
    rows = [
        {
            **{k: _plain(v) for k, v in r.items() if k in _BENCHMARK_COLUMNS},
            "total_added_value_fen": wan_to_fen(_num(r["total_added_value"])) or 0,
            "grading_method": grading_method,
            "compute_time": now,
            "version": version,
        }
        for r in wanted.to_dict("records")
    ]
    for start in range(0, len(rows), _INSERT_CHUNK):
        conn.execute(benchmarks.insert(), rows[start : start + _INSERT_CHUNK])
    return len(rows)


def next_benchmark_version(conn: Connection, year: int) -> int:
    """1 + the latest published version of ``year`` (1 for the first); read in the writing transaction."""
    query = sa.select(sa.func.max(benchmark_versions.c.version)).where(benchmark_versions.c.year == year)
    return int(conn.execute(query).scalar_one() or 0) + 1


def publish_benchmark_version(
    conn: Connection, year: int, version: int, members: Sequence[str], grading_method: str, now: datetime
) -> None:
    """Record version ``version`` of ``year``'s benchmarks and the firms it was computed from."""
    conn.execute(
        benchmark_versions.insert().values(
            year=year,
            version=version,
            compute_time=now,
            grading_method=grading_method,
            firm_count=len(members),
        )
    )
    insert_members(conn, year, version, members)


def insert_members(conn: Connection, year: int, version: int, members: Sequence[str]) -> None:
    """benchmark_members rows by the driver's executemany of tuples (a province counts 10,000s)."""
    if not members:
        return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {benchmark_members.name} (year, version, uscc) VALUES ({marker}, {marker}, {marker})"
    )
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(statement, [(year, version, uscc) for uscc in members])
    finally:
        cursor.close()


def set_firm_count(conn: Connection, year: int, version: int, firm_count: int) -> None:
    """The firms a version counts, once the last share of a recompute has published its members."""
    conn.execute(
        benchmark_versions.update()
        .where(benchmark_versions.c.year == year, benchmark_versions.c.version == version)
        .values(firm_count=firm_count)
    )


def stored_members(conn: Connection, years: Iterable[int], usccs: Collection[str] | None) -> pd.DataFrame:
    """(year, version, uscc) of the stored versions of ``years`` that name one of ``usccs`` (or all)."""
    columns = ("year", "version", "uscc")
    query = sa.select(*(benchmark_members.c[name] for name in columns)).where(
        benchmark_members.c.year.in_(sorted(set(years)))
    )
    if usccs is None:
        return _frame(conn, query, columns)
    parts = [
        _frame(conn, query.where(benchmark_members.c.uscc.in_(chunk)), columns)
        for chunk in chunked(sorted(usccs))
    ]
    return pd.concat(parts, ignore_index=True) if parts else _frame_of([], columns)


# --- the recompute queue --------------------------------------------------------------------------


def mark_dirty(conn: Connection, usccs: Iterable[str]) -> None:
    """Queue enterprises for a profile refresh (in the caller's transaction, e.g. the ingest's).
    One upsert executed for many parameter sets: its SQL is compiled once and cached (a multi-row
    VALUES of 5,000 rows was compiled anew by SQLAlchemy per call, ~1.2 s per 300k-record ingest)."""
    now = datetime.now(UTC)
    values = [{"uscc": u, "version": 1, "marked_at": now} for u in sorted(set(usccs))]
    if not values:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(profile_dirty)
    upsert = statement.on_conflict_do_update(
        index_elements=["uscc"],
        set_={"version": profile_dirty.c.version + 1, "marked_at": statement.excluded.marked_at},
    )
    for start in range(0, len(values), _INSERT_CHUNK):
        conn.execute(upsert, values[start : start + _INSERT_CHUNK])


def dirty_versions(
    conn: Connection, usccs: Collection[str] | None = None, limit: int | None = None
) -> dict[str, int]:
    query = sa.select(profile_dirty.c.uscc, profile_dirty.c.version).order_by(profile_dirty.c.marked_at)
    if limit is not None:
        query = query.limit(limit)
    if usccs is None:
        return {str(u): int(v) for u, v in conn.execute(query)}
    found: dict[str, int] = {}
    for chunk in chunked(sorted(usccs)):
        found.update({str(u): int(v) for u, v in conn.execute(query.where(profile_dirty.c.uscc.in_(chunk)))})
    return found


def clear_dirty(conn: Connection, versions: dict[str, int]) -> None:
    """Unqueue enterprises whose mark is still the one the refresh started from (one executemany)."""
    if not versions:
        return
    statement = profile_dirty.delete().where(
        profile_dirty.c.uscc == sa.bindparam("u"), profile_dirty.c.version == sa.bindparam("v")
    )
    conn.execute(statement, [{"u": u, "v": v} for u, v in versions.items()])


# --- helpers --------------------------------------------------------------------------------------


def _frame(conn: Connection | ArrowReader, query: sa.Select[Any], columns: Sequence[str]) -> pd.DataFrame:
    if isinstance(conn, ArrowReader):
        return _frame_of(conn.rows(query), columns)
    return _frame_of(conn.execute(query).all(), columns)


def _frame_of(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


def _num(value: Any, default: float | None = None) -> float | None:
    if value is None:
        return default
    number = float(value)
    return default if math.isnan(number) or math.isinf(number) else number


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _plain(value: Any) -> Any:
    """numpy scalars as Python values for the driver."""
    return value.item() if isinstance(value, np.generic) else value
