"""Vectorised validation of monthly records (pure: pandas only, no gRPC, no SQL).

``validate_records`` checks a whole frame at once and returns it normalised, with the canonical
quantity and, per row, the first problem found (in the field order of the EnergyRecord message) as
``reject_field`` / ``reject_reason`` / ``reject_code`` (all empty for a good row). Checks that need a
Python call per value (USCC check digits, period parsing) run once per *distinct* value and are
mapped back, so a million rows from a few thousand enterprises cost a few thousand calls.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from registry_service.domain.catalog import Catalog
from registry_service.domain.precedence import SOURCES
from registry_service.domain.uscc import InvalidUSCC, normalize_uscc

PACKAGE = "registry_service.data"
RECORD_COLUMNS = ("uscc", "period", "category", "quantity", "unit", "source", "external_id")
DATA_SOURCES = SOURCES  # tanxiao.common.v1.DataSource names a record may carry
MIN_YEAR = 2000
MAX_EXTERNAL_ID = 128
MAX_INSTRUMENT_ID = 128
INSTRUMENT_ID = "instrument_id"  # optional column: contract or certificate id of an instrument record
REJECT_COLUMNS = ("reject_field", "reject_reason", "reject_code")


def validate_records(
    frame: pd.DataFrame,
    catalog: Catalog,
    *,
    today: date | None = None,
    first_index: int = 0,
    field_prefix: str = "records",
    max_scale: float = 1.0,
) -> pd.DataFrame:
    """The frame normalised, with ``index`` (first_index..), canonical_quantity/unit and reject columns.

    Field paths look like ``records[3].quantity`` where 3 is the row's index across the whole ingest.
    ``max_scale`` multiplies the plausible maxima (setting TANXIAO_PLAUSIBLE_MAX_SCALE).
    """
    out = _normalised(frame, first_index)
    codes = np.full(len(out), "", dtype=object)
    fields = np.full(len(out), "", dtype=object)
    reasons = np.full(len(out), "", dtype=object)
    canonical = _canonical_units(out, catalog)
    out["canonical_unit"] = canonical["canonical_unit"].array
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308 MWh -> inf kWh is caught below
        out["canonical_quantity"] = out["quantity"].to_numpy() * canonical["multiplier"].to_numpy()
    checks = [
        *_checks(out, canonical, today or date.today()),
        *_range_checks(out, canonical, max_scale),
        *_instrument_checks(out, catalog),
    ]
    unjudged = np.ones(len(out), dtype=bool)  # no problem found yet (codes == "", kept as bools)
    for field, code, failing, reason in _checks_in_order(checks):
        mask = np.asarray(failing, dtype=bool) & unjudged
        if mask.any():
            codes[mask], fields[mask] = code, field
            reasons[mask] = reason(mask) if callable(reason) else reason
            unjudged &= ~mask
    bad = np.flatnonzero(codes != "")  # field paths for the rejected rows only: good rows need none
    paths = np.full(len(out), "", dtype=object)
    paths[bad] = [
        f"{field_prefix}[{i}].{f}"
        for i, f in zip(out["index"].to_numpy()[bad].tolist(), fields[bad], strict=True)
    ]
    if len(bad):
        out["reject_code"] = text_array(codes)
        out["reject_field"] = text_array(paths)
        out["reject_reason"] = text_array(reasons)
    else:  # the usual block: nothing to convert; one Arrow array of "" (immutable), a pandas array each
        empty = _empty_texts(len(out))
        for column in ("reject_code", "reject_field", "reject_reason"):  # the order of the columns
            out[column] = pd.arrays.ArrowStringArray(empty, dtype=TEXT)
    return out


# pandas' default text dtype ("str", pyarrow-backed): the type every text column of the checked frame has.
TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def text_array(values: npt.NDArray[np.object_] | Sequence[str | None]) -> pd.api.extensions.ExtensionArray:
    """Python strings (None = missing) as a column of pandas' default text dtype, built by Arrow in one
    pass: assigning the object array to the frame converts it too, but pandas first infers its type and
    checks every value (validate_records' four text columns and the hashes: ~0.5 us a record, a fifth of
    an ingest worker's block; docs/benchmarks.md, ingestw11)."""
    return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()), dtype=TEXT)


def _empty_texts(count: int) -> pa.Array:
    offsets = pa.py_buffer(np.zeros(count + 1, dtype=np.int64))
    return pa.LargeStringArray.from_buffers(count, offsets, pa.py_buffer(b""))


def content_hashes(frame: pd.DataFrame) -> list[str]:
    """sha256 of each row's content as sent (uscc, period, category, quantity, unit; empty unit =
    canonical; then the instrument id when one is set): equal hashes for the same (source,
    external_id) mean a replay, not a correction. Arrow joins the texts and gives them back as UTF-8
    bytes in one pass; Python only formats the quantity (its repr) and hashes (formatting the five
    columns per row in Python, after taking each out of Arrow, cost a fifth more)."""
    quantities = (np.asarray(frame["quantity"], dtype=np.float64) + 0.0).tolist()  # -0.0 -> 0.0; repr text
    unit = _arrow_text(frame["unit"])
    parts = [
        *(_arrow_text(frame[c]) for c in ("uscc", "period", "category")),
        pa.array(map(repr, quantities), type=pa.large_string(), size=len(quantities)),
        pc.if_else(pc.equal(unit, ""), _arrow_text(frame["canonical_unit"]), unit),
    ]
    texts = pc.binary_join_element_wise(*parts, _SEPARATOR)
    instruments = _instruments(frame)
    if instruments is not None:  # appended only when set: hashes of other records never change
        with_instrument = pc.binary_join_element_wise(texts, instruments, _SEPARATOR)
        texts = pc.if_else(pc.equal(instruments, ""), texts, with_instrument)
    sha256 = hashlib.sha256
    return [sha256(text).hexdigest() for text in texts.cast(pa.large_binary()).to_pylist()]


_SEPARATOR = pa.scalar("\x1f", type=pa.large_string())


def _arrow_text(column: pd.Series) -> pa.Array:
    return pa.array(column.array, type=pa.large_string())


def _instruments(frame: pd.DataFrame) -> pa.Array | None:
    """The rows' instrument ids as text ("" = none), or None when no row has one."""
    if INSTRUMENT_ID not in frame.columns:
        return None
    column = _arrow_text(frame[INSTRUMENT_ID].fillna("").astype(str))
    return column if pc.any(pc.not_equal(column, "")).as_py() else None


def _normalised(frame: pd.DataFrame, first_index: int) -> pd.DataFrame:
    missing = [c for c in RECORD_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"record frame lacks columns {missing}")
    text = {c: _text(frame[c]) for c in ("uscc", "period", "category", "unit", "source", "external_id")}
    out = pd.DataFrame(
        {
            "index": np.arange(first_index, first_index + len(frame), dtype=np.int64),
            "uscc": text["uscc"].str.strip().str.upper(),
            "period": text["period"].str.strip(),
            "category": text["category"].str.strip().str.upper(),
            "quantity": pd.to_numeric(frame["quantity"], errors="coerce").astype(np.float64),
            "unit": text["unit"].str.strip(),
            "source": text["source"].str.strip().str.upper(),
            "external_id": text["external_id"].str.strip(),
            INSTRUMENT_ID: (
                _text(frame[INSTRUMENT_ID]).str.strip() if INSTRUMENT_ID in frame.columns else ""
            ),
        }
    )
    return out.reset_index(drop=True)


def _text(column: pd.Series) -> pd.Series:
    return column.fillna("").astype(str).reset_index(drop=True)


# (field, reason_code, failing mask, reason): the reason is a constant or, when it quotes the row, a
# function of the failing rows' mask giving their reasons only (most rows pass: no text built for them).
Reason = Callable[[npt.NDArray[np.bool_]], npt.NDArray[np.object_]] | str
Check = tuple[str, str, "pd.Series | npt.NDArray[np.bool_]", Reason]


@dataclass(frozen=True)
class _Number:
    """A numeric column quoted in a reason as short text (``.6g``)."""

    values: pd.Series


def _quoting(*parts: pd.Series | _Number | str) -> Callable[[npt.NDArray[np.bool_]], npt.NDArray[np.object_]]:
    """A lazy reason: ``parts`` (columns and literal text) concatenated for the failing rows only."""

    def texts(part: pd.Series | _Number | str, mask: npt.NDArray[np.bool_], count: int) -> list[str]:
        if isinstance(part, str):
            return [part] * count
        if isinstance(part, _Number):
            return [f"{v:.6g}" for v in part.values.to_numpy(dtype=np.float64)[mask].tolist()]
        return [str(v) for v in part.to_numpy(dtype=object)[mask].tolist()]

    def reason(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.object_]:
        count = int(mask.sum())
        columns = [texts(part, mask, count) for part in parts]
        return np.asarray(["".join(row) for row in zip(*columns, strict=True)], dtype=object)

    return reason


def _checks(out: pd.DataFrame, canonical: pd.DataFrame, today: date) -> list[Check]:
    """(field, reason_code, failing mask, reason) in the priority a row's first problem is reported."""
    uscc_rows, uscc_problems = _per_distinct(out["uscc"], _uscc_problem)
    uscc_problem = pd.Series(uscc_problems[uscc_rows], index=out.index, dtype=object)
    period_rows, period_codes, period_reasons = _period_problems(out["period"], today)
    period_reason = pd.Series(period_reasons[period_rows], index=out.index, dtype=object)
    quantity = out["quantity"]
    nul = {c: _contains_nul(out[c]) for c in ("uscc", "period", "category", "unit", "external_id")}
    nul_reason = "must not contain NUL characters"
    return [
        *((c, "NUL_CHARACTER", mask, nul_reason) for c, mask in nul.items()),
        ("uscc", "INVALID_USCC", (uscc_problems != "")[uscc_rows], _quoting(uscc_problem)),
        ("period", "BAD_PERIOD", (period_codes == "BAD_PERIOD")[period_rows], _quoting(period_reason)),
        ("period", "FUTURE_PERIOD", (period_codes == "FUTURE_PERIOD")[period_rows], _quoting(period_reason)),
        (
            "category",
            "UNKNOWN_CATEGORY",
            ~canonical["known_category"],
            _quoting("unknown category '", out["category"], "'"),
        ),
        ("quantity", "NON_FINITE_QUANTITY", ~np.isfinite(quantity), "quantity must be a finite number"),
        ("quantity", "NEGATIVE_QUANTITY", quantity < 0, "quantity must be >= 0"),
        ("unit", "UNIT_MISMATCH", canonical["multiplier"].isna(), _unit_reason(out, canonical)),
        (
            "source",
            "UNKNOWN_SOURCE",
            ~out["source"].isin(DATA_SOURCES),
            "source must be one of " + ", ".join(DATA_SOURCES),
        ),
        ("external_id", "MISSING_EXTERNAL_ID", out["external_id"] == "", "external_id is required"),
        (
            "external_id",
            "EXTERNAL_ID_TOO_LONG",
            out["external_id"].str.len() > MAX_EXTERNAL_ID,
            f"external_id must be at most {MAX_EXTERNAL_ID} characters",
        ),
    ]


def _contains_nul(column: pd.Series) -> npt.NDArray[np.bool_]:
    """Arrow's substring search on the text column, straight to a bool array (``.str.contains`` wraps
    the same search in a Series it builds through object values: 0.3 us a record for six columns)."""
    found = pc.match_substring(pa.array(column.array, type=pa.large_string()), "\x00")
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _instrument_checks(out: pd.DataFrame, catalog: Catalog) -> list[Check]:
    """Green power and certificates carry their contract/certificate id (claimable once: the ingest
    checks the registry-wide claim); other categories carry none."""
    instrument = out["category"].isin(catalog.instrument_codes())
    given = out[INSTRUMENT_ID] != ""
    return [
        (INSTRUMENT_ID, "NUL_CHARACTER", _contains_nul(out[INSTRUMENT_ID]),
         "must not contain NUL characters"),
        (INSTRUMENT_ID, "MISSING_INSTRUMENT_ID", instrument & ~given,
         _quoting("instrument_id (contract or certificate id) is required for ", out["category"])),
        (INSTRUMENT_ID, "INSTRUMENT_ID_TOO_LONG", out[INSTRUMENT_ID].str.len() > MAX_INSTRUMENT_ID,
         f"instrument_id must be at most {MAX_INSTRUMENT_ID} characters"),
        (INSTRUMENT_ID, "UNEXPECTED_INSTRUMENT_ID", ~instrument & given,
         _quoting(out["category"], " is not a contractual instrument: instrument_id must be empty")),
    ]  # fmt: skip


def _checks_in_order(checks: list[Check]) -> list[Check]:
    """The range checks need a known category and unit, so they come right after UNIT_MISMATCH."""
    unit = next(i for i, c in enumerate(checks) if c[1] == "UNIT_MISMATCH")
    ranges = [c for c in checks if c[1] in ("OVERFLOW_AFTER_CONVERSION", "IMPLAUSIBLE_QUANTITY")]
    rest = [c for c in checks if c not in ranges]
    return [*rest[: unit + 1], *ranges, *rest[unit + 1 :]]


@dataclass(frozen=True)
class PlausibleMaxima:
    maxima: Mapping[str, float]
    default: float
    source: str

    def of(self, category: str) -> float:
        return self.maxima.get(category, self.default)


@functools.cache
def plausible_maxima() -> PlausibleMaxima:
    """registry_service/data/plausible-maxima.yaml: per category, one monthly record's upper bound."""
    raw = yaml.safe_load(resources.files(PACKAGE).joinpath("plausible-maxima.yaml").read_text("utf-8"))
    maxima = {str(k): float(v) for k, v in (raw.get("maxima") or {}).items()}
    bounds = [*maxima.values(), float(raw["default"])]
    if not all(math.isfinite(b) and b > 0 for b in bounds):
        raise ValueError("plausible-maxima.yaml: every bound must be a finite number > 0")
    return PlausibleMaxima(maxima, float(raw["default"]), str(raw.get("source", "")))


def _range_checks(out: pd.DataFrame, canonical: pd.DataFrame, max_scale: float) -> list[Check]:
    """Ranges after unit conversion: finite (a finite 1e308 MWh is inf kWh) and within the category's
    plausible maximum. Rows failing earlier checks (unknown category, bad unit) are not judged here."""
    quantity = out["canonical_quantity"]
    judged = canonical["multiplier"].notna() & np.isfinite(out["quantity"])
    limits = plausible_maxima()
    codes, categories = pd.factorize(out["category"])  # one bound per distinct category
    per_category = np.asarray([limits.of(str(c)) * max_scale for c in categories], dtype=np.float64)
    bound = pd.Series(per_category[codes] if len(codes) else np.zeros(0), index=out.index, dtype=np.float64)
    unit = canonical["canonical_unit"].astype(str)
    overflow = judged & ~np.isfinite(quantity)
    too_big = judged & np.isfinite(quantity) & (quantity > bound)
    return [
        (
            "quantity",
            "OVERFLOW_AFTER_CONVERSION",
            overflow,
            _quoting("quantity overflows when converted to ", unit, " (not a finite number)"),
        ),
        (
            "quantity",
            "IMPLAUSIBLE_QUANTITY",
            too_big,
            _quoting(
                "quantity ",
                _Number(quantity),
                " ",
                unit,
                " is above the plausible monthly maximum ",
                _Number(bound),
                " ",
                unit,
                " for ",
                out["category"],
            ),
        ),
    ]


def _per_distinct(
    values: pd.Series, problem: Callable[[str], str]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]:
    """(each row's distinct value's number, problem(value) per distinct value): called once per
    distinct value; the masks are judged on the distinct values too and taken to the rows by number
    (a reindex by the values hashed every row's text again, a comparison per row of Python strings)."""
    rows, distinct = pd.factorize(values)
    return rows, np.asarray([problem(v) for v in distinct], dtype=object)


def _uscc_problem(uscc: str) -> str:
    if not uscc:
        return "uscc is required"
    try:
        normalize_uscc(uscc)
    except InvalidUSCC as exc:
        return f"invalid uscc '{uscc}': {exc}"
    return ""


def _period_problems(
    periods: pd.Series, today: date
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """(each row's distinct period's number, code and reason per distinct period): "" / BAD_PERIOD /
    FUTURE_PERIOD, judged once per distinct period."""
    rows, distinct = pd.factorize(periods)
    problems = [_period_problem(period, today) for period in distinct]
    codes = np.asarray([code for code, _ in problems], dtype=object)
    reasons = np.asarray([reason for _, reason in problems], dtype=object)
    return rows, codes, reasons


def period_format_problem(period: str) -> str:
    """What is wrong with a "YYYY-MM" month (year >= MIN_YEAR), or "" when nothing is."""
    ascii_digits = period.isascii() and period[:4].isdigit() and period[5:].isdigit()
    if len(period) != 7 or period[4] != "-" or not ascii_digits:
        return f"period '{period}' must be a month, YYYY-MM"
    if not 1 <= int(period[5:]) <= 12:
        return f"period '{period}': month must be 01 to 12"
    if int(period[:4]) < MIN_YEAR:
        return f"period '{period}': year must be >= {MIN_YEAR}"
    return ""


def _period_problem(period: str, today: date) -> tuple[str, str]:
    if problem := period_format_problem(period):
        return "BAD_PERIOD", problem
    if (int(period[:4]), int(period[5:])) > (today.year, today.month):
        return "FUTURE_PERIOD", f"period '{period}' is in the future"
    return "", ""


def _canonical_units(out: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Per row: known_category, canonical_unit and the multiplier of its unit (NaN if not accepted).
    Looked up once per distinct (category, unit) pair and taken back to the rows."""
    canonical = {c.code: c.unit for c in catalog.categories}
    multipliers = {
        (str(c), str(u)): float(m)
        for c, u, m in unit_table(catalog)[["category", "unit", "multiplier"]].itertuples(index=False)
    }
    category_codes, categories = pd.factorize(out["category"])
    unit_codes, units = pd.factorize(out["unit"])
    pairs, pair_codes = np.unique(
        category_codes.astype(np.int64) * max(len(units), 1) + unit_codes, return_inverse=True
    )
    known, canonical_unit, multiplier = [], [], []
    for pair in pairs.tolist():
        category, unit = str(categories[pair // max(len(units), 1)]), str(units[pair % max(len(units), 1)])
        home = canonical.get(category)
        known.append(home is not None)
        canonical_unit.append(home or "")
        multiplier.append(multipliers.get((category, unit or home or ""), np.nan))
    return pd.DataFrame(
        {
            "known_category": np.asarray(known, dtype=bool)[pair_codes],
            "canonical_unit": text_array(canonical_unit).take(pair_codes),  # per pair, then per row
            "multiplier": np.asarray(multiplier, dtype=np.float64)[pair_codes],
        }
    )


def unit_table(catalog: Catalog) -> pd.DataFrame:
    """One row per (category, accepted unit) with its multiplier to the canonical unit; the canonical
    unit itself is listed with multiplier 1 and is_canonical true."""
    rows = []
    for category in catalog.categories:
        rows.append((category.code, category.unit, 1.0, category.unit, True))
        rows.extend(
            (category.code, unit, float(multiplier), category.unit, False)
            for unit, multiplier in category.accepted_units.items()
            if unit != category.unit
        )
    return pd.DataFrame(rows, columns=["category", "unit", "multiplier", "canonical_unit", "is_canonical"])


def _unit_reason(out: pd.DataFrame, canonical: pd.DataFrame) -> Reason:
    return _quoting(
        "unit '", out["unit"], "' is not accepted for ", out["category"],
        " (canonical unit ", canonical["canonical_unit"], ")",
    )  # fmt: skip
