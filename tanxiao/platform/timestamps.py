"""A ``datetime`` as a protobuf ``Timestamp``, for both services' answers."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)


def to_timestamp(value: datetime) -> Timestamp:
    """What ``Timestamp.FromDatetime`` gives (a naive value is UTC), built in one constructor call: it
    is on every enterprise, profile, record and decision an answer carries. The seconds since the
    epoch by integer arithmetic on the difference (whole days, seconds and microseconds, floored as
    ``timegm`` of the UTC time tuple is), not through a time tuple."""
    since = value - (_EPOCH_NAIVE if value.tzinfo is None else _EPOCH)
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)
