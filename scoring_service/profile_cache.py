"""The scoring service's profile cache, kept correct by the registry's change stream.

A profile stays cached until the registry says it may read differently (WatchProfileChanges), so it
can live for long; ``ttl`` (TANXIAO_PROFILE_CACHE_SECONDS) is only a backstop. Nothing is cached
while no stream is subscribed, and losing the stream empties the cache: a cached profile is always
one whose change the stream would have reported.

Ordering: each fetched batch says which changes it reflects (``profile_changes_through``), each
entry keeps that number, and a change evicts only entries older than it. A batch is not cached when
the cache has applied a change the batch may not reflect (applied > through), or when the stream was
lost or renewed while the batch was in flight (``generation``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import grpc
import structlog

from tanxiao.registry.v1 import registry_pb2, registry_pb2_grpc

log = structlog.get_logger("tanxiao.profile_cache")

RETRY_SECONDS = (0.2, 10.0)  # first and longest wait before subscribing again
SILENCE_SECONDS = 60.0  # the registry sends something at least every 15 s: silence means a dead link


@dataclass(frozen=True)
class Ticket:
    """Taken before a fetch: the subscription the fetched profiles may be cached under."""

    generation: int


class ProfileCache:
    """LRU of profiles, each with the change number it reflects; evicted by the change stream."""

    def __init__(
        self, ttl_seconds: float, max_size: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.max_size, self.clock = ttl_seconds, max_size, clock
        self._items: OrderedDict[str, tuple[float, registry_pb2.CarbonProfile, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.live = False  # a change stream is subscribed
        self.generation = 0  # bumped whenever the stream is (re)subscribed or lost
        self.applied = 0  # every change up to this number has been applied

    def ticket(self) -> Ticket | None:
        with self._lock:
            return Ticket(self.generation) if self.live and self.ttl > 0 else None

    def get(self, name: str) -> tuple[registry_pb2.CarbonProfile, float] | None:
        """The cached profile and its age in seconds (never older than the TTL)."""
        with self._lock:
            item = self._items.get(name)
            age = self.clock() - item[0] if item is not None else 0.0
            if item is None or age > self.ttl:
                self._items.pop(name, None)
                return None
            self._items.move_to_end(name)
            return item[1], age

    def put_all(
        self, profiles: Iterable[registry_pb2.CarbonProfile], through: int, ticket: Ticket | None
    ) -> None:
        """Cache ``profiles`` (fetched under ``ticket``, reflecting changes up to ``through``)."""
        with self._lock:
            if ticket is None or not self.live or ticket.generation != self.generation:
                return
            if self.applied > through:  # a change it may not reflect was applied already
                return
            now = self.clock()
            for profile in profiles:
                self._items[profile.name] = (now, profile, through)
                self._items.move_to_end(profile.name)
            while len(self._items) > self.max_size:
                self._items.popitem(last=False)

    # --- the change stream ------------------------------------------------------------------------

    def subscribed(self, through: int) -> None:
        with self._lock:
            self._items.clear()
            self.live, self.generation, self.applied = True, self.generation + 1, through

    def lost(self) -> None:
        with self._lock:
            self._items.clear()
            self.live, self.generation = False, self.generation + 1

    def apply(self, response: registry_pb2.WatchProfileChangesResponse) -> int:
        """Evict what the changes concern; returns how many entries went."""
        with self._lock:
            before = len(self._items)
            if response.reset:
                self._items.clear()
            for change in response.changes:
                self._evict(change)
            self.applied = max(self.applied, response.through_sequence)
            return before - len(self._items)

    def _evict(self, change: registry_pb2.ProfileChange) -> None:
        usccs = {name.removeprefix("enterprises/") for name in change.enterprises}
        doomed = [
            name
            for name, (_, profile, through) in self._items.items()
            if through < change.sequence and (change.all_enterprises or profile.uscc in usccs)
        ]
        for name in doomed:
            del self._items[name]

    def __len__(self) -> int:
        return len(self._items)


class ProfileWatcher:
    """A background thread subscribed to WatchProfileChanges, feeding ``cache``; on any loss it
    empties the cache and subscribes again (backing off up to RETRY_SECONDS[1])."""

    def __init__(
        self,
        stub: registry_pb2_grpc.CarbonRegistryStub,
        metadata: Sequence[tuple[str, str]],
        cache: ProfileCache,
    ) -> None:
        self.stub, self.metadata, self.cache = stub, list(metadata), cache
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._call: object = None
        self._last_seen = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="profile-watch", daemon=True)

    def start(self, wait_seconds: float = 0.0) -> ProfileWatcher:
        """Start following; wait up to ``wait_seconds`` for the first subscription (so that a service
        starting up caches from its first quote when the registry is there; it never waits longer)."""
        self._thread.start()
        self._subscribed.wait(wait_seconds)
        return self

    def stop(self) -> None:
        self._stop.set()
        _cancel(self._call)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        wait = RETRY_SECONDS[0]
        while not self._stop.is_set():
            if self._follow():
                wait = RETRY_SECONDS[0]
            if self._stop.wait(wait):
                return
            wait = min(wait * 2, RETRY_SECONDS[1])

    def _follow(self) -> bool:
        """One subscription until it ends; True if it got as far as subscribing."""
        subscribed = False
        try:
            call = self.stub.WatchProfileChanges(
                registry_pb2.WatchProfileChangesRequest(follow=True), metadata=self.metadata
            )
            self._call = call
            if self._stop.is_set():
                _cancel(call)
            self._last_seen = time.monotonic()
            watchdog = threading.Thread(target=self._watchdog, args=(call,), daemon=True)
            watchdog.start()
            for response in call:
                self._last_seen = time.monotonic()
                if not subscribed:
                    self.cache.subscribed(response.through_sequence)
                    self._subscribed.set()
                    subscribed = True
                    log.info("profile_watch.subscribed", through=response.through_sequence)
                else:
                    self.cache.apply(response)
        except grpc.RpcError as exc:
            if not self._stop.is_set():
                log.warning(
                    "profile_watch.lost",
                    code=exc.code().name,  # type: ignore[attr-defined]
                    detail=exc.details(),  # type: ignore[attr-defined]
                )
        finally:
            self._call = None
            self.cache.lost()
        return subscribed

    def _watchdog(self, call: object) -> None:
        """Cancel a stream that went silent (a link that died without a reset): the loop renews it."""
        while self._call is call and not self._stop.wait(1.0):
            if time.monotonic() - self._last_seen > SILENCE_SECONDS:
                log.warning("profile_watch.silent", seconds=SILENCE_SECONDS)
                _cancel(call)
                return


def _cancel(call: object) -> None:
    """Cancel a streaming call (a grpc.Call; an intercepted channel may hand back a bare iterator,
    which cannot be cancelled from another thread: then the channel's close ends it)."""
    cancel = getattr(call, "cancel", None)
    if cancel is not None:
        cancel()
