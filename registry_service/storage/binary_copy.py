"""PostgreSQL binary COPY data built column-wise, in C (numpy and Arrow), instead of row by row.

psycopg's ``Copy.write_row`` makes a Python call and a tuple per row and dumps every value on its own:
for the ingest's two COPYs (records, 16 columns; record_keys, 8) that was ~2.5 µs a record of the
servicer's CPU plus turning pandas' Arrow text into Python strings first. Here the whole block is one
buffer: the fixed-width fields of every row (the row's field count, then each field's length and big-
endian value) are one numpy structured array; each text field is its 4-byte length and its bytes; one
Arrow ``binary_join_element_wise`` lays out the rows' pieces one after the other, and its data buffer
is the COPY's tuples. The server reads exactly what the binary COPY of the same values sent (CSV would
cost it ~1 µs a record more to parse). Column order is the caller's: fixed-width columns first, then
text (``ordered``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # signature, flags, extension
TRAILER = b"\xff\xff"  # field count -1
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # timestamptz's binary zero
# Big-endian numpy formats of the fixed-width PostgreSQL types.
FIXED: dict[str, str] = {"float8": ">f8", "int4": ">i4", "int8": ">i8", "bool": "u1", "timestamptz": ">i8"}
_SEPARATOR = pa.scalar(b"", pa.large_binary())


@dataclass(frozen=True)
class Payload:
    columns: list[str]  # in the order the tuples hold them (the COPY statement's column list)
    data: pa.Buffer  # the tuples, without HEADER and TRAILER


def ordered(types: Mapping[str, str]) -> list[str]:
    """The column order of the payload: fixed-width columns first, then text, each as given."""
    return [n for n, t in types.items() if t in FIXED] + [n for n, t in types.items() if t not in FIXED]


def payload(types: Mapping[str, str], values: Mapping[str, Any], rows: int) -> Payload:
    """The binary COPY tuples of ``rows`` rows. ``types``: column -> PostgreSQL type (text or a key of
    FIXED); ``values``: column -> numpy array / pandas Series / Arrow array of ``rows`` values, or a
    scalar (the same on every row). No NULLs (the ingest's columns are all NOT NULL)."""
    names = ordered(types)
    fixed = [n for n in names if types[n] in FIXED]
    pieces = [_fixed_block(fixed, types, values, rows, len(names))]
    for name in names[len(fixed) :]:
        text = _text(values[name], rows)
        lengths = pc.binary_length(text).to_numpy(zero_copy_only=False).astype(">i4")
        pieces += [_fixed_width(lengths.tobytes(), 4, rows), text]
    joined = pc.binary_join_element_wise(*pieces, _SEPARATOR)
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[joined.offset : joined.offset + rows + 1]
    data = joined.buffers()[2]
    return Payload(names, data[int(offsets[0]) : int(offsets[-1])])


def _fixed_block(
    names: list[str], types: Mapping[str, str], values: Mapping[str, Any], rows: int, fields: int
) -> pa.Array:
    """Per row: the field count, then each fixed-width column's length and value, as one binary."""
    layout: list[tuple[str, str]] = [("count", ">i2")]
    for i, name in enumerate(names):
        layout += [(f"l{i}", ">i4"), (f"v{i}", FIXED[types[name]])]
    block = np.empty(rows, dtype=np.dtype(layout))
    block["count"] = fields
    for i, name in enumerate(names):
        block[f"l{i}"] = np.dtype(FIXED[types[name]]).itemsize
        block[f"v{i}"] = _fixed_values(values[name], types[name], rows)
    return _fixed_width(block.tobytes(), block.dtype.itemsize, rows)


def _fixed_values(value: Any, kind: str, rows: int) -> npt.NDArray[Any] | int | float:
    if kind == "timestamptz":
        if not isinstance(value, datetime):
            raise TypeError("a timestamptz column is a batch constant (a datetime) here")
        return (value - _EPOCH) // timedelta(microseconds=1)
    if np.isscalar(value):
        return int(value) if kind != "float8" else float(value)
    array = np.asarray(value)
    if len(array) != rows:
        raise ValueError(f"{len(array)} values for {rows} rows")
    return array.astype(np.uint8) if kind == "bool" else array


def _text(value: Any, rows: int) -> pa.Array:
    """``value`` (text column or constant) as Arrow large_binary of ``rows`` values (UTF-8 bytes)."""
    if isinstance(value, str):
        array: pa.Array | pa.ChunkedArray = pa.repeat(value, rows)
    else:
        array = pa.array(value, type=pa.large_string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if len(array) != rows or array.null_count:
        raise ValueError("a text column of the COPY has missing values")
    return array.cast(pa.large_binary())


def _fixed_width(data: bytes, width: int, rows: int) -> pa.Array:
    """``rows`` values of ``width`` bytes each, as Arrow large_binary."""
    array = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), rows, [None, pa.py_buffer(data)])
    return array.cast(pa.large_binary())
