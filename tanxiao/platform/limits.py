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


class _Caller:
    """One identity's admission: its token bucket of ``rate`` tokens a second holding at most
    ``2 * rate`` (refilled and taken from under the Admission's lock) and the slots of its calls in
    flight. A slot is made when the identity has fewer than ``quota`` calls in flight and no free slot,
    taken from ``free`` under the lock and given back to ``free`` without it: ``list.append`` and
    ``list.pop`` are each one step under the interpreter lock, and pops happen under the Admission's
    lock only, so a free slot seen there is still there to take. In flight = ``made - len(free)``."""

    __slots__ = ("capacity", "free", "made", "quota", "rate", "role", "stamp", "tokens")

    def __init__(self, role: str, rate: float, quota: int, now: float) -> None:
        self.role = role
        self.rate = rate
        self.capacity = max(1.0, 2 * rate)
        self.tokens = self.capacity
        self.stamp = now
        self.quota = quota
        self.made = 0
        self.free: list[None] = []


class Ticket:
    """One admitted call; ``release`` gives its slots back (idempotent). Made on every stream: slots."""

    __slots__ = ("_release", "identity", "released", "slots", "streaming")

    def __init__(
        self, identity: str, streaming: bool, release: Callable[[Ticket], None], slots: list[None]
    ) -> None:
        self.identity = identity
        self.streaming = streaming
        self._release = release
        self.slots = slots
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
        self._callers: dict[str, _Caller] = {}
        self._streams: dict[str, int] = defaultdict(int)
        self._streams_total = 0
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._watches: dict[str, int] = defaultdict(int)

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
        return Ticket(identity, streaming, self._release, self.enter(identity, role, streaming))

    def enter(self, identity: str, role: str, streaming: bool = False) -> list[None]:
        """``admit`` without the ticket: returns the list the call's in-flight slot goes back to when
        it ends (a unary call: ``slots.append(None)``, no lock)."""
        caller = self._callers.get(identity)
        if caller is None or caller.role != role:
            caller = self._caller(identity, role)
        with self._lock:
            now = self.clock()
            # refill since the last call, then take a token (or say when one will be there)
            tokens = caller.tokens + (now - caller.stamp) * caller.rate
            if tokens > caller.capacity:
                tokens = caller.capacity
            caller.stamp = now
            if tokens < 1:
                caller.tokens = tokens
                raise exhausted(
                    f"rate limit of {caller.rate:g} calls/s for role {role} exceeded",
                    "RATE_LIMITED",
                    (1 - tokens) / caller.rate,
                )
            caller.tokens = tokens - 1
            if streaming:
                self._check_streams(identity)
            free = caller.free
            if caller.made - len(free) >= caller.quota:
                raise exhausted(
                    f"at most {caller.quota} concurrent calls for role {role}", "CONCURRENCY_LIMITED", 1.0
                )
            if free:
                free.pop()
            else:
                caller.made += 1
            if streaming:
                self._streams[identity] += 1
                self._streams_total += 1
        return free

    def _caller(self, identity: str, role: str) -> _Caller:
        """The identity's admission, made (or its role's limits applied) under the lock. A role of
        another rate starts a full bucket; the calls in flight stay counted."""
        rate, quota = self.settings.rate_of(role), self.settings.concurrency_of(role)
        with self._lock:
            old = self._callers.get(identity)
            if old is not None and old.role == role:
                return old
            if len(self._callers) > 100_000:  # bound memory under a spray of identities
                self._callers = {k: c for k, c in self._callers.items() if c.made > len(c.free)}
            caller = _Caller(role, rate, quota, self.clock())
            if old is not None:
                caller.made, caller.free = old.made, old.free
                if old.rate == rate:
                    caller.tokens, caller.stamp = old.tokens, old.stamp
            self._callers[identity] = caller
            return caller

    def _check_streams(self, identity: str) -> None:
        per_caller = self.settings.max_streams_per_caller
        if self._streams[identity] >= per_caller:
            raise exhausted(
                f"at most {per_caller} open streams per caller; close one first", "STREAM_LIMITED", 5.0
            )
        if self._streams_total >= self.settings.max_streams_total:
            raise exhausted("the server's open-stream limit is reached", "STREAM_LIMITED", 5.0)

    def _release(self, ticket: Ticket) -> None:
        ticket.slots.append(None)
        if ticket.streaming:
            with self._lock:
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
        return Ticket(identity, False, self._release_watch, [])

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
