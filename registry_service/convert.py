"""Proto <-> domain translation at the gRPC edge, and resource-name parsing."""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
from google.protobuf.timestamp_pb2 import Timestamp

from registry_service.domain.enterprise import AMOUNTS, AnnualFinancials, Enterprise
from registry_service.domain.industry import section_of
from registry_service.domain.records import INSTRUMENT_ID, RECORD_COLUMNS
from registry_service.domain.uscc import InvalidUSCC, normalize_uscc
from registry_service.ingest import IngestSummary, RowResult
from tanxiao.common.v1 import common_pb2
from tanxiao.errors import ValidationError
from tanxiao.platform.timestamps import to_timestamp
from tanxiao.registry.v1 import registry_pb2

_ENTERPRISE_NAME = re.compile(r"enterprises/([^/]+)")
_OPTIONAL_MONEY = AMOUNTS  # AnnualFinancials' optional int64 fen fields
_SIZE_CLASS_TO_PROTO = {
    "UNSPECIFIED": registry_pb2.SIZE_CLASS_UNSPECIFIED,
    "ABOVE_DESIGNATED_SIZE": registry_pb2.ABOVE_DESIGNATED_SIZE,
    "BELOW_DESIGNATED_SIZE": registry_pb2.BELOW_DESIGNATED_SIZE,
}
_SIZE_CLASS_FROM_PROTO = {number: name for name, number in _SIZE_CLASS_TO_PROTO.items()}
# Enum number -> name; unknown numbers become "" and are rejected as UNKNOWN_SOURCE.
_SOURCE_NAMES = {v.number: v.name for v in common_pb2.DataSource.DESCRIPTOR.values}
_SOURCE_NUMBERS = {name: number for number, name in _SOURCE_NAMES.items()}


def parse_enterprise_name(name: str, field: str = "name") -> str:
    """The normalised USCC of ``enterprises/{uscc}``; INVALID_ARGUMENT naming ``field`` otherwise.
    A name parsed well once is looked up after (the check character's arithmetic was a sixth of a
    GetEnterprise): a pure function of the text, so only valid names are kept, and a bounded number."""
    found = _PARSED_NAMES.get(name)
    if found is not None:
        return found
    match = _ENTERPRISE_NAME.fullmatch(name.strip())
    if match is None:
        raise ValidationError.for_field(field, f"must be enterprises/{{uscc}}, got {name!r}")
    uscc = parse_uscc(match.group(1), field)
    if len(_PARSED_NAMES) >= _MAX_PARSED_NAMES:
        _PARSED_NAMES.clear()  # callers naming more enterprises than this start over, still correct
    _PARSED_NAMES[name] = uscc
    return uscc


_PARSED_NAMES: dict[str, str] = {}  # name as sent -> its USCC, valid names only
_MAX_PARSED_NAMES = 100_000


def parse_uscc(uscc: str, field: str) -> str:
    try:
        return str(normalize_uscc(uscc))
    except InvalidUSCC as exc:
        raise ValidationError.for_field(field, str(exc), reason="INVALID_USCC") from None


def enterprise_name(uscc: str) -> str:
    return f"enterprises/{uscc}"


def timestamp(value: datetime | None) -> Timestamp | None:
    """``to_timestamp`` (tanxiao.platform.timestamps), None for None."""
    return None if value is None else to_timestamp(value)


# --- enterprises -------------------------------------------------------------------------------------


def enterprise_from_proto(message: registry_pb2.Enterprise) -> Enterprise:
    """The client's enterprise as given (output-only fields ignored); validation is the caller's."""
    return Enterprise(
        uscc=message.uscc,
        display_name=message.display_name,
        industry_code=message.industry_code,
        region_code=message.region_code,
        size_class=_SIZE_CLASS_FROM_PROTO.get(message.size_class, f"UNKNOWN({message.size_class})"),
        financials=tuple(financials_from_proto(f) for f in message.financials),
    )


def financials_from_proto(message: registry_pb2.AnnualFinancials) -> AnnualFinancials:
    money = {name: getattr(message, name) if message.HasField(name) else None for name in _OPTIONAL_MONEY}
    return AnnualFinancials(year=message.year, listed=message.listed, **money)


def enterprise_to_proto(enterprise: Enterprise) -> registry_pb2.Enterprise:
    return registry_pb2.Enterprise(
        name=enterprise_name(enterprise.uscc),
        uscc=enterprise.uscc,
        display_name=enterprise.display_name,
        industry_code=enterprise.industry_code,
        industry_section=_section_letter(enterprise.industry_code),
        region_code=enterprise.region_code,
        size_class=_SIZE_CLASS_TO_PROTO.get(enterprise.size_class, registry_pb2.SIZE_CLASS_UNSPECIFIED),
        financials=[financials_to_proto(f) for f in enterprise.financials],
        create_time=timestamp(enterprise.create_time),
        update_time=timestamp(enterprise.update_time),
    )


def enterprise_answer(enterprise: Enterprise) -> registry_pb2.Enterprise:
    """``enterprise_to_proto``, for an enterprise the repository hands out again while its rows stay the
    same (EnterpriseRepository.get): the answer's bytes are kept with that object, and each call gets a
    message of its own parsed from them (about a tenth of building it anew). Kept by identity, the
    object held with its bytes so that its id is not reused meanwhile; at most _MAX_ANSWERS."""
    kept = _ANSWERS.get(id(enterprise))
    if kept is not None and kept[0] is enterprise:
        return registry_pb2.Enterprise.FromString(kept[1])
    message = enterprise_to_proto(enterprise)
    if len(_ANSWERS) >= _MAX_ANSWERS:
        _ANSWERS.clear()  # more enterprises answered than kept: start over, still correct
    _ANSWERS[id(enterprise)] = (enterprise, message.SerializeToString())
    return message


_ANSWERS: dict[int, tuple[Enterprise, bytes]] = {}
_MAX_ANSWERS = 10_000


def _section_letter(industry_code: str) -> str:
    """``section_of(code) or ""``, kept per code (a few hundred codes exist, each asked on every read)."""
    letter = _SECTION_LETTERS.get(industry_code)
    if letter is None:
        letter = section_of(industry_code) or ""
        if len(_SECTION_LETTERS) < 10_000:  # any text can be stored as a code: bounded
            _SECTION_LETTERS[industry_code] = letter
    return letter


_SECTION_LETTERS: dict[str, str] = {}


def financials_to_proto(financials: AnnualFinancials) -> registry_pb2.AnnualFinancials:
    money = {name: v for name in _OPTIONAL_MONEY if (v := getattr(financials, name)) is not None}
    return registry_pb2.AnnualFinancials(year=financials.year, listed=financials.listed, **money)


# --- catalog -----------------------------------------------------------------------------------------


_KIND_NAMES = {"PROCESS": "PROCESS_EMISSIONS"}  # proto enum values share one namespace (ProjectType.PROCESS)


def category_to_proto(row: Mapping[str, Any]) -> registry_pb2.DataCategory:
    """From a data_categories row (registry_service.storage.catalog)."""
    optional = {k: row[k] for k in ("kgce_per_unit", "kgco2_per_unit") if row[k] is not None}
    return registry_pb2.DataCategory(
        code=row["code"],
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        kind=registry_pb2.CategoryKind.Value(_KIND_NAMES.get(row["kind"], row["kind"])),
        unit=row["unit"],
        accepted_units=[registry_pb2.UnitConversion(**u) for u in row["accepted_units"]],
        uses_grid_factor=bool(row["uses_grid_factor"]),
        scope=row["scope"],
        source=row["source"],
        notes=row["notes"],
        **optional,
    )


def grid_factor_to_proto(row: Mapping[str, Any]) -> registry_pb2.GridEmissionFactor:
    return registry_pb2.GridEmissionFactor(
        region=row["region"], year=row["year"], tco2_per_mwh=row["tco2_per_mwh"], source=row["source"]
    )


# --- records -----------------------------------------------------------------------------------------


# EnergyRecord's fields in frame order: RECORD_COLUMNS, then the optional instrument and account columns.
_RECORD_FIELDS = (*RECORD_COLUMNS, INSTRUMENT_ID, "utility_account")


def records_frame(messages: Sequence[registry_pb2.EnergyRecord]) -> pd.DataFrame:
    """A record frame (RECORD_COLUMNS, source as the DataSource name, instrument_id and
    utility_account) from proto records. Each column is read in one C-level pass over the messages (an
    attrgetter of its field mapped over them) straight into its Arrow or numpy array: no Python tuple
    per message nor transposition (all fields per message then ``zip(*...)`` cost 0.9 us a record,
    these nine passes 0.6; docs/benchmarks.md, ingestw11). Unknown source numbers become ""."""
    if not messages:  # typed as the tuple-per-message version typed it (an empty list of accounts is float)
        empty = pd.DataFrame({name: pd.Series(dtype=object) for name in _RECORD_FIELDS})
        return empty.astype({"source": str, "utility_account": np.float64})
    return pd.DataFrame({name: _record_column(name, messages) for name in _RECORD_FIELDS})


# pandas' default text dtype ("str", pyarrow-backed). The proto's texts are never None, so the arrow
# array is built straight from them: pandas' own conversion infers the column's type and checks every
# value first (records_frame 2.1 -> 1.5 us a record, 4.6 % of an ingest worker's instructions:
# docs/benchmarks.md, ingestsq10).
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def _record_column(name: str, messages: Sequence[registry_pb2.EnergyRecord]) -> Any:
    values = map(operator.attrgetter(name), messages)
    if name == "quantity":
        return np.fromiter(values, dtype=np.float64, count=len(messages))
    if name == "source":
        values = map(_SOURCE_NAMES.get, values, itertools.repeat(""))
    text = pa.array(values, type=pa.large_string(), size=len(messages))
    return pd.arrays.ArrowStringArray(text, dtype=_TEXT)


def ingest_response(summary: IngestSummary) -> registry_pb2.IngestRecordsResponse:
    return registry_pb2.IngestRecordsResponse(
        received=summary.received,
        accepted=summary.accepted,
        duplicates=summary.duplicates,
        revised=summary.revised,
        rejected=summary.rejected,
        results=[row_result_to_proto(r) for r in summary.results],
    )


def row_result_to_proto(result: RowResult) -> registry_pb2.RecordResult:
    return registry_pb2.RecordResult(
        index=result.index,
        status=registry_pb2.RecordStatus.Value(result.status),
        field=result.field,
        reason=result.reason,
        reason_code=result.reason_code,
        revision=result.revision,
    )


def stored_records_to_proto(rows: pd.DataFrame) -> list[registry_pb2.StoredRecord]:
    """From a frame of records_for() rows."""
    return [stored_record_to_proto(row) for row in _row_dicts(rows)]


def stored_record_to_proto(row: Mapping[str, Any]) -> registry_pb2.StoredRecord:
    record = registry_pb2.EnergyRecord(
        uscc=row["uscc"],
        period=row["period"],
        category=row["category"],
        quantity=row["quantity"],
        unit=row["unit"],
        source=_SOURCE_NUMBERS.get(row["source"], common_pb2.DATA_SOURCE_UNSPECIFIED),
        external_id=row["external_id"],
    )
    return registry_pb2.StoredRecord(
        name=f"{enterprise_name(row['uscc'])}/records/{row['id']}",
        record=record,
        canonical_quantity=row["canonical_quantity"],
        canonical_unit=row["canonical_unit"],
        revision=row["revision"],
        current=bool(row["is_current"]),
        effective=bool(row["effective"]),
        ingest_time=timestamp(row["ingest_time"]),
    )


def _row_dicts(rows: pd.DataFrame) -> Iterable[dict[str, Any]]:
    return cast(list[dict[str, Any]], rows.to_dict("records"))
