"""convert.records_frame (the EnergyRecord messages of an ingest as a record frame) gives exactly the
frame the former one-tuple-per-message version gave, kept here as the reference."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_service.convert import records_frame
from registry_service.domain.records import INSTRUMENT_ID, RECORD_COLUMNS
from tanxiao.common.v1 import common_pb2
from tanxiao.registry.v1 import registry_pb2

_NAMES = {v.number: v.name for v in common_pb2.DataSource.DESCRIPTOR.values}


def reference_frame(messages: Sequence[registry_pb2.EnergyRecord]) -> pd.DataFrame:
    rows = [
        (r.uscc, r.period, r.category, r.quantity, r.unit, r.source, r.external_id, r.instrument_id)
        for r in messages
    ]
    frame = pd.DataFrame.from_records(rows, columns=[*RECORD_COLUMNS, INSTRUMENT_ID])
    frame["source"] = frame["source"].map(_NAMES).fillna("").astype(str)
    frame["utility_account"] = [r.utility_account for r in messages]
    return frame


def _record(**fields: object) -> registry_pb2.EnergyRecord:
    return registry_pb2.EnergyRecord(**fields)  # type: ignore[arg-type]


VARIED = [
    _record(),  # every field unset: proto3 defaults
    _record(
        uscc="91350100M000100Y43",
        period="2024-01",
        category="ELECTRICITY",
        quantity=12.5,
        unit="MWh",
        source=common_pb2.DataSource.Value("GRID_UTILITY"),
        external_id="g-1",
    ),
    _record(
        uscc="  91350100m000100y43 ",
        period="2024-13",
        category="天然气",
        quantity=-0.0,
        source=common_pb2.DataSource.Value("SELF_REPORTED"),
        external_id="自报-1 ✓",
    ),
    _record(
        category="GREEN_POWER_PURCHASE",
        quantity=1e308,
        instrument_id="合同-2024-001",
        source=99,
        external_id="unknown enum number",
    ),  # an open enum keeps unknown numbers
    _record(quantity=math.inf, utility_account="utilityAccounts/ELECTRICITY/0591-1", period="2024-02"),
    _record(quantity=math.nan, unit="kWh", external_id="\x00nul", source=-3),
]


@pytest.mark.parametrize("count", [0, 1, len(VARIED)])
def test_records_frame_equals_the_reference(count: int) -> None:
    messages = VARIED[:count]
    pd.testing.assert_frame_equal(records_frame(messages), reference_frame(messages))


def test_records_frame_of_a_repeated_field() -> None:
    request = registry_pb2.IngestRecordsRequest(records=VARIED * 3)
    pd.testing.assert_frame_equal(records_frame(request.records), reference_frame(request.records))


_text = st.text(max_size=12)


@given(
    st.lists(
        st.builds(
            _record,
            uscc=_text,
            period=_text,
            category=_text,
            quantity=st.floats(allow_nan=True, allow_infinity=True),
            unit=_text,
            source=st.integers(min_value=-5, max_value=12),
            external_id=_text,
            instrument_id=_text,
            utility_account=_text,
        ),
        max_size=20,
    )
)
def test_records_frame_equals_the_reference_on_any_messages(
    messages: list[registry_pb2.EnergyRecord],
) -> None:
    pd.testing.assert_frame_equal(records_frame(messages), reference_frame(messages))
