"""``tanxiao.platform.timestamps.to_timestamp`` builds the Timestamp in one constructor call (it is on
every enterprise, profile, record and decision an answer carries; ``registry_service.convert.timestamp``
and ``scoring_service.convert._timestamp`` call it): it must equal protobuf's own ``FromDatetime`` for
aware values in any offset and for naive ones (UTC), before 1970 too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from registry_service.convert import timestamp

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1))


def reference(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


@given(moment=moments, offset=offsets)
def test_aware_values_equal_from_datetime(moment: datetime, offset: timezone) -> None:
    value = moment.replace(tzinfo=offset)
    assert timestamp(value) == reference(value)


@given(moment=moments)
def test_naive_values_are_utc_as_in_from_datetime(moment: datetime) -> None:
    assert timestamp(moment) == reference(moment)
    assert timestamp(moment) == timestamp(moment.replace(tzinfo=UTC))


def test_none_stays_none() -> None:
    assert timestamp(None) is None


@given(moment=moments, offset=offsets)
def test_decision_create_time_equals_from_datetime(moment: datetime, offset: timezone) -> None:
    """scoring_service.convert._timestamp (a decision's create_time, the last one reused): equal to
    FromDatetime for UTC, other offsets and naive values."""
    from scoring_service.convert import _timestamp

    for value in (moment.replace(tzinfo=UTC), moment.replace(tzinfo=offset), moment):
        assert _timestamp(value) == reference(value)
