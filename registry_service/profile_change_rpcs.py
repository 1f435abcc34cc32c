"""WatchProfileChanges: the profile change log (registry_service/storage/profile_changes.py) as a
stream, so that a subscriber (the scoring service's profile cache) can keep profiles for long and
still drop each one as soon as it may read differently.

Each stream follows the log itself, polling it every POLL_SECONDS (one indexed range query; several
replicas on one PostgreSQL each do the same). ``ChangePosition`` is this replica's own settled place
in the log: a new subscriber starts there, and BatchGetCarbonProfiles reports it, read before the
profiles, so that the subscriber knows which changes a fetched profile already reflects.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine

from registry_service.storage import profile_changes as log
from tanxiao.errors import ValidationError
from tanxiao.platform.config import Settings
from tanxiao.platform.db import read_only
from tanxiao.registry.v1 import registry_pb2

POLL_SECONDS = 0.2
KEEPALIVE_SECONDS = 15.0
_TOKEN_PREFIX = "pc1:"


class ChangePosition:
    """This replica's settled position in the change log: every change up to it is visible (or was
    rolled back). One follower, shared; ``current()`` catches it up first."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._follower = log.ChangeFollower(0)
        self._lock = threading.Lock()

    def current(self) -> int:
        """Caught up now, or, while another thread is catching up, the position before: any position
        a follower reached is one whose changes a read made afterwards reflects (so callers never
        queue behind each other here)."""
        if not self._lock.acquire(blocking=False):
            return self._follower.after
        try:
            with read_only(self.engine) as conn:
                while len(self._follower.poll(conn)) == log.READ_LIMIT:
                    pass
                return self._follower.after
        finally:
            self._lock.release()


class ProfileChangeRpcs:
    engine: Engine
    settings: Settings
    change_position: ChangePosition
    # True once the server drains (start_registry sets it): a watch then ends at once instead of
    # holding the shutdown for its whole grace; the subscriber resubscribes elsewhere.
    draining: Callable[[], bool] = staticmethod(lambda: False)  # type: ignore[assignment]

    def WatchProfileChanges(
        self, request: registry_pb2.WatchProfileChangesRequest, context: grpc.ServicerContext
    ) -> Iterator[registry_pb2.WatchProfileChangesResponse]:
        follower, reset = self._follower_for(request.resume_token)
        yield _response([], follower.after, reset=reset)
        if not request.follow:  # a poll: what is recorded so far, then the end
            yield from self._recorded(follower)
            return
        keepalive = max(1.0, min(KEEPALIVE_SECONDS, self.settings.stream_idle_seconds / 3))
        last_sent = time.monotonic()
        while context.is_active() and not self.draining():
            time.sleep(POLL_SECONDS)
            with read_only(self.engine) as conn:
                changes = follower.poll(conn)
            if changes or time.monotonic() - last_sent >= keepalive:
                yield _response(changes, follower.after)
                last_sent = time.monotonic()

    def _recorded(self, follower: log.ChangeFollower) -> Iterator[registry_pb2.WatchProfileChangesResponse]:
        while True:
            with read_only(self.engine) as conn:
                changes = follower.poll(conn)
            if changes:
                yield _response(changes, follower.after)
            if len(changes) < log.READ_LIMIT:
                return

    def _follower_for(self, token: str) -> tuple[log.ChangeFollower, bool]:
        """From the token, or from now; ``reset`` when the token's changes are no longer all kept (or
        the token is from another database: ahead of this log)."""
        now = self.change_position.current()
        if not token:
            return log.ChangeFollower(now), False
        after = parse_resume_token(token)
        with read_only(self.engine) as conn:
            oldest = log.oldest_seq(conn)
        if after > now or (oldest and after < oldest - 1) or (not oldest and after > 0):
            return log.ChangeFollower(now), True
        return log.ChangeFollower(after), False


def resume_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{seq}".encode()).decode().rstrip("=")


def parse_resume_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not text.startswith(_TOKEN_PREFIX):
            raise ValueError(text)
        seq = int(text.removeprefix(_TOKEN_PREFIX))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError.for_field("resume_token", "not a token from WatchProfileChanges") from None
    if seq < 0:
        raise ValidationError.for_field("resume_token", "not a token from WatchProfileChanges")
    return seq


def _response(
    changes: Sequence[log.ProfileChange], through: int, *, reset: bool = False
) -> registry_pb2.WatchProfileChangesResponse:
    return registry_pb2.WatchProfileChangesResponse(
        changes=[_change_to_proto(c) for c in changes],
        resume_token=resume_token(through),
        reset=reset,
        through_sequence=through,
    )


def _change_to_proto(change: log.ProfileChange) -> registry_pb2.ProfileChange:
    stamp = Timestamp()
    stamp.FromDatetime(change.change_time)
    return registry_pb2.ProfileChange(
        sequence=change.seq,
        enterprises=[f"enterprises/{u}" for u in change.usccs or ()],
        all_enterprises=change.usccs is None,
        recomputed_year=change.recomputed_year or 0,
        change_time=stamp,
    )
