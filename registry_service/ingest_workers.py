"""IngestRecords on more than one core: worker processes decode, validate and hash the stream's chunks
while the server process writes the blocks before them.

The server process alone did everything on one interpreter (one GIL): parsing the 5,000-record
messages, building their frames, validating and hashing (about 40 % of its time), then the writes.
Now the handler receives each message as its serialized bytes (``RawIngestRequest``, registered with
``add_registry_servicer`` in place of the generated message parser), hands blocks of them (about
BLOCK_BYTES) to a pool of long-lived worker processes (TANXIAO_INGEST_WORKERS; the "spawn" start
method: never forked from a process running gRPC threads; one pool per process, started with the
first server and shared by the servers of the process) and takes their results back *in the stream's
order*: the rows' indexes, revisions and precedence are what the in-process path gives.
A worker returns the block checked (``check_block``: ``validate_records`` plus the content hash of
every valid row) with indexes counted from the block's first row; the server numbers them across the
stream, applies the checks that need the database or the caller (provider scope, unknown
enterprises) and stages the block for the write, which runs meanwhile on the writer thread
(registry_service.ingest_writer). A block with utility accounts comes back decoded only: resolving an
account reads the database, so it is resolved and checked in the server process, in its turn.

A worker that dies fails the call (UNAVAILABLE, nothing stored) and the pool is started again for the
next call; a message that does not parse fails it as INVALID_ARGUMENT naming the message.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from typing import Any

import grpc
import pandas as pd
from google.protobuf.message import DecodeError

import registry_service.recompute_partitions  # noqa: F401  (pickles the catalog's read-only tables)
from registry_service import convert
from registry_service.domain.catalog import Catalog
from registry_service.ingest import IngestStream, check_block
from tanxiao.errors import FieldViolation, Unavailable, ValidationError
from tanxiao.registry.v1 import registry_pb2, registry_pb2_grpc

SERVICE = "tanxiao.registry.v1.CarbonRegistry"
BLOCK_BYTES = 4 * 1024 * 1024  # serialized bytes a worker checks at once (~45k records of the bench)
PARENT_CHECK_SECONDS = 1.0  # how often a worker checks that the server process is still there
IN_FLIGHT = 3  # blocks per worker handed out and not yet taken back (bounds the server's memory)


class RawIngestRequest:
    """One IngestRecordsRequest as received: its bytes, parsed only if someone reads a field here (the
    authorization of a data provider reads ``records``), else in a worker."""

    __slots__ = ("_parsed", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._parsed: registry_pb2.IngestRecordsRequest | None = None

    @classmethod
    def FromString(cls, data: bytes) -> RawIngestRequest:  # the protobuf parser's name
        return cls(data)

    def parsed(self, number: int = 0) -> registry_pb2.IngestRecordsRequest:
        """The message (``number``: its place in the stream, for the error if it does not parse)."""
        if self._parsed is None:
            self._parsed = parse_request(self.data, number)
        return self._parsed

    @property
    def records(self) -> Any:
        return self.parsed().records

    @property
    def include_accepted_results(self) -> bool:
        return self.parsed().include_accepted_results


def add_registry_servicer(servicer: Any, server: grpc.Server) -> None:
    """The generated add_CarbonRegistryServicer_to_server, but IngestRecords receives RawIngestRequest:
    its handler replaces the generated one among the registered method handlers (looked up first) and
    comes first among the generic ones (asked in order)."""
    raw = grpc.stream_unary_rpc_method_handler(
        servicer.IngestRecords,
        request_deserializer=RawIngestRequest.FromString,
        response_serializer=registry_pb2.IngestRecordsResponse.SerializeToString,
    )
    registry_pb2_grpc.add_CarbonRegistryServicer_to_server(servicer, _RawIngest(server, raw))


class _RawIngest:
    """What the generated function adds to a server, with IngestRecords' handler swapped for ``raw``."""

    def __init__(self, server: grpc.Server, raw: grpc.RpcMethodHandler) -> None:
        self._server = server
        self._raw = raw

    def add_generic_rpc_handlers(self, handlers: tuple[grpc.GenericRpcHandler, ...]) -> None:
        ours = grpc.method_handlers_generic_handler(SERVICE, {"IngestRecords": self._raw})
        self._server.add_generic_rpc_handlers((ours, *handlers))

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self._server.add_registered_method_handlers(service, {**handlers, "IngestRecords": self._raw})


def parse_request(data: bytes, number: int) -> registry_pb2.IngestRecordsRequest:
    try:
        return registry_pb2.IngestRecordsRequest.FromString(data)
    except DecodeError:
        raise _unparsable(number) from None


def _unparsable(number: int) -> ValidationError:
    text = f"stream message {number} is not a serialized IngestRecordsRequest"
    return ValidationError(text, violations=[FieldViolation("records", text)])


@dataclass(frozen=True)
class Checked:
    """A block as a worker returns it: ``checked`` (check_block's frame, indexes from 0), or, when some
    row has a utility account, ``decoded`` (records_frame's) for the server to resolve and check."""

    rows: int
    include_accepted: bool  # the block's first message's flag
    checked: pd.DataFrame | None = None
    decoded: pd.DataFrame | None = None
    bad_message: int | None = None  # the number of a message that did not parse


# --- in the worker --------------------------------------------------------------------------------


def _ready() -> int:
    return os.getpid()


def _watch_parent(parent: int) -> None:
    """Worker initializer: end this worker when the server process is gone (killed, say, with
    SIGKILL: nothing of it would tell the worker, which would wait for tasks for ever)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="ingest-worker-parent", daemon=True).start()


def check_messages(
    messages: list[bytes], first_message: int, today: date, catalog: Catalog, max_scale: float
) -> Checked:
    """Parse, decode, validate and hash one block of serialized messages (in a worker). A message that
    does not parse is named in ``bad_message`` (an exception would lose its details on the way back)."""
    parsed = []
    for number, data in enumerate(messages, start=first_message):
        try:
            parsed.append(registry_pb2.IngestRecordsRequest.FromString(data))
        except DecodeError:
            return Checked(0, False, bad_message=number)
    records = list(itertools.chain.from_iterable(m.records for m in parsed))
    frame = convert.records_frame(records)
    flag = bool(parsed[0].include_accepted_results) if parsed else False
    if not len(frame):
        return Checked(0, flag)
    if (frame["utility_account"] != "").any():
        return Checked(len(frame), flag, decoded=frame)
    checked = check_block(frame, catalog, today=today, first_index=0, max_scale=max_scale)
    return Checked(len(frame), flag, checked=checked)


# --- in the server --------------------------------------------------------------------------------


def worker_count(setting: int) -> int:
    """TANXIAO_INGEST_WORKERS: -1 = one per core but one (none on a single core), 0 = none."""
    if setting >= 0:
        return setting
    return max(0, (os.cpu_count() or 1) - 1)


class _Pools:
    """The worker pools of this process, one per worker count, shared by its servers and kept for the
    process's life (its workers end with it): a process running many servers one after the other
    (tests) would otherwise spawn workers for each, about 1.5 s of CPU apiece. A pool whose worker
    died is replaced on next use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[int, ProcessPoolExecutor] = {}

    def get(self, count: int) -> ProcessPoolExecutor:
        with self._lock:
            pool = self._pools.get(count)
            if pool is None or getattr(pool, "_broken", False):
                if pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
                context = multiprocessing.get_context("spawn")
                pool = self._pools[count] = ProcessPoolExecutor(
                    max_workers=count,
                    mp_context=context,
                    initializer=_watch_parent,
                    initargs=(os.getpid(),),
                )
            return pool


_POOLS = _Pools()


class IngestWorkers:
    """A server's use of the ingest worker processes (``count`` of them; 0: none, the stream is checked
    in the server process). The pool is started on first use or by ``warm``."""

    def __init__(self, count: int, catalog: Catalog, max_scale: float) -> None:
        self.count = count
        self._catalog = catalog
        self._max_scale = max_scale
        self._open = count > 0

    def _executor(self) -> ProcessPoolExecutor:
        if not self._open:
            raise Unavailable("the server is shutting down")
        return _POOLS.get(self.count)

    def warm(self) -> None:
        """Start the workers now (in the background): a spawned worker takes a second or two to import
        pandas and the ingest, which the first stream would otherwise wait for."""
        if self._open:
            pool = self._executor()
            for _ in range(self.count):
                pool.submit(_ready)

    def close(self) -> None:
        """The server stops: no new stream goes to the workers (the pool stays for the process)."""
        self._open = False

    def feed(self, stream: IngestStream, requests: Iterable[Any]) -> None:
        """Every message of ``requests`` (RawIngestRequest or IngestRecordsRequest) into ``stream``,
        checked by the workers in blocks, taken back in order."""
        pool = self._executor()
        today = stream.today()
        pending: deque[Future[Checked]] = deque()
        taken = 0  # blocks taken back

        def take(wait: bool) -> None:
            """The blocks at the head of ``pending`` that are done (with ``wait``, at least the first)."""
            nonlocal taken
            while pending and (wait or pending[0].done()):
                try:
                    result = pending.popleft().result()
                except BrokenProcessPool:
                    raise _worker_died() from None
                except CancelledError:  # the pool was shut down under the stream: the server stops
                    raise Unavailable("the server is shutting down; nothing was stored") from None
                if result.bad_message is not None:
                    raise _unparsable(result.bad_message)
                if taken == 0:  # read from the stream's first message only
                    stream.include_accepted = result.include_accepted
                taken += 1
                if result.checked is not None:
                    stream.add_checked(result.checked)
                elif result.decoded is not None:
                    stream.add(result.decoded)
                    stream.flush()
                wait = False

        block: list[bytes] = []
        size = 0
        first = 0  # number of the block's first message
        try:
            for number, request in enumerate(requests):
                data = request.data if isinstance(request, RawIngestRequest) else request.SerializeToString()
                if not block:
                    first = number
                block.append(data)
                size += len(data)
                if size >= BLOCK_BYTES:
                    pending.append(self._submit(pool, block, first, today))
                    block, size = [], 0
                    take(wait=len(pending) > IN_FLIGHT * self.count)
            if block:
                pending.append(self._submit(pool, block, first, today))
            while pending:
                take(wait=True)
        finally:
            for future in pending:
                future.cancel()

    def _submit(
        self, pool: ProcessPoolExecutor, block: list[bytes], first: int, today: date
    ) -> Future[Checked]:
        try:
            return pool.submit(check_messages, block, first, today, self._catalog, self._max_scale)
        except BrokenProcessPool:
            raise _worker_died() from None
        except RuntimeError:  # "cannot schedule new futures after shutdown": the server stops
            raise Unavailable("the server is shutting down; nothing was stored") from None


def _worker_died() -> Unavailable:
    return Unavailable(
        "an ingest worker process ended unexpectedly; nothing was stored, send the stream again"
    )


def messages_of(requests: Iterable[Any]) -> Iterator[registry_pb2.IngestRecordsRequest]:
    """The requests as messages (in process: a RawIngestRequest is parsed here)."""
    for number, request in enumerate(requests):
        yield request.parsed(number) if isinstance(request, RawIngestRequest) else request
