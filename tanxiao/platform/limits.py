"""Admission control: no caller can starve a server of its worker threads.

The servers keep gRPC's thread-per-call model (every servicer is synchronous) and bound what a caller
may hold instead:

- **streams**: at most ``max_streams_per_caller`` open client or server streams per identity and
  ``max_streams_total`` per server (below ``max_workers``, so unary calls always find a thread);
- **concurrency**: at most N calls in flight per identity, N set per role (``concurrency_quotas``);
- **rate**: a token bucket per identity, calls per second set per role (``rate_limits``), bursts of
  twice the rate;
- **failed authentication**: at most ``auth_failures_per_minute`` UNAUTHENTICATED answers per peer
  host; beyond that the peer is refused before its token is even looked up.

An identity is the token id of an authenticated caller, else the peer's host. Every refusal is
RESOURCE_EXHAUSTED with a google.rpc.RetryInfo saying when to retry. Pure Python, no grpc: the
interceptor asks, this module answers.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tanxiao.errors import ResourceExhausted

MAX_WATCHES_PER_PEER = 32
ANONYMOUS = "anonymous"  # the role of a caller when authentication is off or not yet done


def parse_role_numbers(raw: str) -> dict[str, float]:
    """``"lender=20,regulator=5"`` -> {"lender": 20.0, "regulator": 5.0}; ValueError naming the entry."""
    parsed: dict[str, float] = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        role, sep, number = entry.partition("=")
        try:
            value = float(number)
        except ValueError:
            value = -1.0
        if not sep or not role.strip() or value <= 0:
            raise ValueError(f"expected role=positive number, got {entry!r}")
        parsed[role.strip()] = value
    return parsed


@dataclass(frozen=True)
class LimitSettings:
    max_streams_total: int = 8
    max_streams_per_caller: int = 2
    rates: Mapping[str, float] = field(default_factory=dict)  # role -> calls per second
    concurrency: Mapping[str, float] = field(default_factory=dict)  # role -> calls in flight
    default_rate: float = 50.0
    default_concurrency: float = 8.0
    auth_failures_per_minute: int = 20

    def rate_of(self, role: str) -> float:
        return self.rates.get(role, self.rates.get(ANONYMOUS, self.default_rate))

    def concurrency_of(self, role: str) -> int:
        return int(self.concurrency.get(role, self.concurrency.get(ANONYMOUS, self.default_concurrency)))


def exhausted(message: str, reason: str, retry_after: float, **metadata: str) -> ResourceExhausted:
    return ResourceExhausted(message, reason=reason, metadata=metadata, retry_after_seconds=retry_after)


class _Bucket:
    """A token bucket of ``rate`` tokens a second holding at most ``2 * rate``."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, 2 * rate)
        self.tokens = self.capacity
        self.stamp = now  # refilled and taken from in Admission.enter


class Ticket:
    """One admitted call; ``release`` gives its slots back (idempotent). Made on every call: slots."""

    __slots__ = ("_release", "identity", "released", "streaming")

    def __init__(self, identity: str, streaming: bool, release: Callable[[Ticket], None]) -> None:
        self.identity = identity
        self.streaming = streaming
        self._release = release
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._release(self)


class Admission:
    """Thread-safe bookkeeping of calls in flight, streams open, buckets and failed authentications."""

    def __init__(self, settings: LimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = defaultdict(int)
        self._streams: dict[str, int] = defaultdict(int)
        self._streams_total = 0
        self._buckets: dict[str, _Bucket] = {}
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._watches: dict[str, int] = defaultdict(int)
        self._role_limits: dict[str, tuple[float, int]] = {}  # role -> (rate, concurrency), settings frozen

    # --- failed authentication, per peer host -------------------------------------------------------

    def check_peer(self, host: str) -> None:
        """Refuse a peer that failed authentication too often in the last minute."""
        with self._lock:
            window = self._window(host)
            if len(window) >= self.settings.auth_failures_per_minute:
                retry = max(0.1, 60.0 - (self.clock() - window[0]))
                raise exhausted(
                    "too many failed authentication attempts from this address; retry later",
                    "AUTH_THROTTLED",
                    retry,
                )

    def auth_failed(self, host: str) -> None:
        with self._lock:
            self._window(host).append(self.clock())
            if len(self._failures) > 100_000:  # bound memory under a spray of addresses
                self._failures.clear()

    def _window(self, host: str) -> deque[float]:
        window = self._failures[host]
        cutoff = self.clock() - 60.0
        while window and window[0] < cutoff:
            window.popleft()
        return window

    # --- admission of one call ----------------------------------------------------------------------

    def admit(self, identity: str, role: str, *, streaming: bool) -> Ticket:
        """Take a rate token, an in-flight slot and (for streams) a stream slot, or raise."""
        self.enter(identity, role, streaming)
        return Ticket(identity, streaming, self._release)

    def enter(self, identity: str, role: str, streaming: bool = False) -> None:
        """``admit`` without the ticket (a unary call gives its slot back with ``leave``)."""
        limits = self._role_limits.get(role)
        if limits is None:
            limits = (self.settings.rate_of(role), self.settings.concurrency_of(role))
            self._role_limits[role] = limits
        rate, quota = limits
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(identity)
            if bucket is None or bucket.rate != rate:
                if len(self._buckets) > 100_000:
                    self._buckets.clear()
                bucket = self._buckets[identity] = _Bucket(rate, now)
            # refill since the last call, then take a token (or say when one will be there)
            tokens = min(bucket.capacity, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if tokens < 1:
                bucket.tokens = tokens
                raise exhausted(
                    f"rate limit of {bucket.rate:g} calls/s for role {role} exceeded",
                    "RATE_LIMITED",
                    (1 - tokens) / rate,
                )
            bucket.tokens = tokens - 1
            if streaming:
                self._check_streams(identity)
            in_flight = self._in_flight
            flying = in_flight.get(identity, 0)
            if flying >= quota:
                raise exhausted(
                    f"at most {quota} concurrent calls for role {role}", "CONCURRENCY_LIMITED", 1.0
                )
            if streaming:
                self._streams[identity] += 1
                self._streams_total += 1
            in_flight[identity] = flying + 1  # not += 1: the defaultdict's missing-key call, every call

    def leave(self, identity: str) -> None:
        """The in-flight slot of a unary call admitted by ``enter``."""
        with self._lock:
            in_flight = self._in_flight
            left = in_flight[identity] - 1
            if left > 0:
                in_flight[identity] = left
            else:
                del in_flight[identity]

    def _check_streams(self, identity: str) -> None:
        per_caller = self.settings.max_streams_per_caller
        if self._streams[identity] >= per_caller:
            raise exhausted(
                f"at most {per_caller} open streams per caller; close one first", "STREAM_LIMITED", 5.0
            )
        if self._streams_total >= self.settings.max_streams_total:
            raise exhausted("the server's open-stream limit is reached", "STREAM_LIMITED", 5.0)

    def _release(self, ticket: Ticket) -> None:
        with self._lock:
            self._in_flight[ticket.identity] -= 1
            if self._in_flight[ticket.identity] <= 0:
                del self._in_flight[ticket.identity]
            if ticket.streaming:
                self._streams_total -= 1
                self._streams[ticket.identity] -= 1
                if self._streams[ticket.identity] <= 0:
                    del self._streams[ticket.identity]

    def admit_watch(self, identity: str) -> Ticket:
        """A health Watch holds no thread, only memory: at most MAX_WATCHES_PER_PEER open per peer."""
        with self._lock:
            if self._watches[identity] >= MAX_WATCHES_PER_PEER:
                raise exhausted(
                    f"at most {MAX_WATCHES_PER_PEER} open health watches per address", "STREAM_LIMITED", 5.0
                )
            self._watches[identity] += 1
        return Ticket(identity, False, self._release_watch)

    def _release_watch(self, ticket: Ticket) -> None:
        with self._lock:
            self._watches[ticket.identity] -= 1
            if self._watches[ticket.identity] <= 0:
                del self._watches[ticket.identity]

    def open_streams(self) -> int:
        with self._lock:
            return self._streams_total


def peer_host(peer: str) -> str:
    """``ipv4:127.0.0.1:5555`` -> ``127.0.0.1``; ``ipv6:[::1]:5555`` -> ``::1``; others unchanged."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1 : rest.find("]")]
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer
