"""A year's recompute split by industry division across processes (RecomputeBenchmarks on many cores).

Nothing a recompute computes spans two 2-digit industry divisions: benchmark cells are 4, 3 or 2
digits deep (``benchmarks.DEPTH_ORDER``), an enterprise is only compared with cells cut from its own
code, and data-quality peer groups are whole industry codes; everything else is per enterprise. So each
partition (a set of divisions) reads its own enterprises and records and builds its profiles and
benchmarks alone, and the union is what one pass over everything gives (tests/integration/
test_recompute_partitions.py compares them field by field).

Workers are processes of the "forkserver" start method (never forked from a process that runs gRPC
threads); each builds its share's rows and details JSON too. The parent computes the lightest
partition itself (on PostgreSQL; on a SQLite file the workers read through ADBC's driver, at ~40 %
of the parent's read CPU, and build every partition) and writes the shares in one transaction, each
as it arrives while workers still compute the others, and commits after the last, so a worker that
fails leaves nothing written. Each
partition reads in its own read transaction: a division is read consistently, and divisions share
no computed figure. A worker's share is built in two pieces (worker_pieces), each written as it
arrives: the server writes the heavy piece while the worker computes the light one, so after the
worker's last compute only the light piece (about a quarter of the share) is left to write.
"""

from __future__ import annotations

import copyreg
import multiprocessing
import threading
import types
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol

import pandas as pd
from sqlalchemy import Connection, Engine

from registry_service.domain.catalog import Catalog
from registry_service.domain.grading import GradingMethod
from registry_service.domain.precedence import Precedence
from registry_service.domain.profiles import ProfileInputs, ProfileSet, build_profiles
from registry_service.domain.quality import QualityConfig, load_quality_config
from registry_service.storage import profiles as store
from registry_service.storage.arrow_reads import ArrowReader, arrow_reader, sqlite_file
from tanxiao.platform.db import make_engine, read_only

# The light piece's share of a worker's enterprises: its compute must outlast the heavy piece's write
# (a division's write costs ~0.35 s against ~3 s of compute at 50k), and its write is the tail.
LIGHT_PIECE = 0.25


# The catalog, method and quality configuration keep read-only tables as mappingproxy, which pickle
# refuses; a worker gets the same read-only view of a copy.
def _read_only(items: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(items)


copyreg.pickle(types.MappingProxyType, lambda m: (_read_only, (dict(m),)))


@dataclass(frozen=True)
class Partition:
    """One worker's share of a recompute_year: what it reads and how it builds (picklable)."""

    database_url: str
    divisions: tuple[str, ...]
    month_from: str
    year: int
    as_of: date | None
    catalog: Catalog
    method: GradingMethod
    precedence: Precedence
    quality: QualityConfig | None
    earlier_benchmarks: pd.DataFrame


def buckets(sizes: Mapping[str, int], count: int) -> list[tuple[str, ...]]:
    """Divisions dealt into at most ``count`` buckets of about equal enterprises (largest first, each
    to the lightest bucket); the heaviest bucket first. Deterministic for the same sizes."""
    loads: list[tuple[int, list[str]]] = [(0, []) for _ in range(max(1, min(count, len(sizes))))]
    for division in sorted(sizes, key=lambda d: (-sizes[d], d)):
        index = min(range(len(loads)), key=lambda i: (loads[i][0], i))
        load, members = loads[index]
        loads[index] = (load + sizes[division], [*members, division])
    ordered = sorted((b for b in loads if b[1]), key=lambda b: -b[0])
    return [tuple(sorted(members)) for _, members in ordered]


class InputRules(Protocol):
    """The rules a recompute reads its inputs under (a ProfileService, or a worker's Partition)."""

    @property
    def catalog(self) -> Catalog: ...
    @property
    def method(self) -> GradingMethod: ...
    @property
    def precedence(self) -> Precedence: ...
    @property
    def quality(self) -> QualityConfig | None: ...


def load_inputs(
    conn: Connection | ArrowReader,
    rules: InputRules,
    usccs: Collection[str] | None,
    month_from: str,
    *,
    divisions: Collection[str] | None = None,
    ties_only: bool = False,
) -> ProfileInputs:
    """The stored records and enterprises (of ``usccs``/``divisions``; None: all) with ``rules``;
    ``ties_only``: the records' tie-break columns only where they are read (store.load_records)."""
    records = store.load_records(conn, usccs, month_from, divisions=divisions, ties_only=ties_only)
    firms, annual = store.load_enterprises(conn, usccs, divisions=divisions)
    return ProfileInputs(
        records=records,
        enterprises=firms,
        annual=annual,
        catalog=rules.catalog,
        method=rules.method,
        precedence=rules.precedence,
        quality=rules.quality,
    )


def build_partition(partition: Partition, engine: Engine | None = None) -> ProfileSet:
    """The profiles of ``partition``'s enterprises (in a worker: its own connection to the same
    database; a SQLite file through ADBC's driver, as the worker opens no other connection to it)."""
    inputs = _read_partition(partition, engine)
    return build_profiles(
        inputs,
        years=[partition.year],
        latest_rolling=True,
        as_of=partition.as_of,
        earlier_benchmarks=partition.earlier_benchmarks,
    )


def _read_partition(partition: Partition, engine: Engine | None) -> ProfileInputs:
    """``partition``'s inputs in one read transaction: through ``engine`` (this process), else through
    a connection of the worker's own (arrow_reads on a SQLite file: never in the server process, which
    has other connections to it)."""

    def read(conn: Connection | ArrowReader) -> ProfileInputs:
        divisions = partition.divisions
        return load_inputs(conn, partition, None, partition.month_from, divisions=divisions, ties_only=True)

    path = sqlite_file(partition.database_url) if engine is None else None
    if path is not None:
        with arrow_reader(path) as reader:
            return read(reader)
    own = engine is None
    engine = engine if engine is not None else make_engine(partition.database_url, pool_size=1)
    try:
        with read_only(engine) as conn:
            return read(conn)
    finally:
        if own:
            engine.dispose()


@dataclass(frozen=True)
class Share:
    """What the write needs of a partition's result: its year's benchmark cells and members, its
    profiles' rows ready to insert, and (for the summary) each profile's grade."""

    year: int
    benchmarks: pd.DataFrame
    members: tuple[str, ...]
    grades: pd.DataFrame  # uscc, period, granularity, grade
    rows: store.PreparedProfiles


def share_of(result: ProfileSet, year: int) -> Share:
    frame = result.profiles
    grades = frame[[c for c in ("uscc", "period", "granularity", "grade") if c in frame]]
    cells = (
        result.benchmarks[result.benchmarks["year"].astype(int) == year]
        if len(result.benchmarks)
        else result.benchmarks
    )
    return Share(year, cells, result.members, grades, store.prepare_profiles(result))


def build_share(partition: Partition, engine: Engine | None = None) -> Share:
    """A partition's profiles built and their rows prepared (in a worker, or this process)."""
    return share_of(build_partition(partition, engine), partition.year)


def pieces(sizes: Mapping[str, int]) -> list[tuple[str, ...]]:
    """A worker's divisions as at most two pieces, the heavy one first: the lightest divisions holding
    at most LIGHT_PIECE of the enterprises (at least one division) make the light piece. Each piece
    costs a read query and a pipeline pass (~0.2-0.3 s of fixed CPU): no more than the overlap needs."""
    light: list[str] = []
    held, total = 0, sum(sizes.values())
    for division in sorted(sizes, key=lambda d: (sizes[d], d))[:-1]:
        if light and held + sizes[division] > total * LIGHT_PIECE:
            break
        light.append(division)
        held += sizes[division]
    heavy = [d for d in sizes if d not in light]
    return [tuple(sorted(p)) for p in (heavy, light) if p]


def worker_pieces(engine: Engine, partitions: Sequence[Partition]) -> list[Partition]:
    """Each of ``partitions`` dealt into ``pieces``, all of them heaviest first (the lightest are
    built, and written, last). A piece carries the quality configuration resolved: a worker would
    otherwise parse the packaged YAML again."""
    with read_only(engine) as conn:
        sizes = store.division_sizes(conn)
    quality = load_quality_config()
    dealt = [
        (
            sum(sizes.get(d, 0) for d in divisions),
            replace(p, divisions=divisions, quality=p.quality or quality),
        )
        for p in partitions
        for divisions in pieces({d: sizes.get(d, 0) for d in p.divisions})
    ]
    return [piece for _, piece in sorted(dealt, key=lambda pair: -pair[0])]


def build_shares(engine: Engine, partitions: Sequence[Partition]) -> Iterator[Share]:
    """Every partition's share: the last (lightest, as buckets orders them) built in this process and
    yielded first, so that its rows are written while worker processes still build the others; then
    the workers' shares as they complete. A worker's failure is raised at the share it owed.
    Workers that read a SQLite file through ADBC (arrow_reads) read it in ~40 % of this process's CPU,
    and this process writes every share besides: then every partition goes to the workers and this
    process only writes (on 2 cores the 2 workers and the writes share the cores)."""
    own: Partition | None = None if sqlite_file(partitions[0].database_url) else partitions[-1]
    others = partitions if own is None else partitions[:-1]
    if own is not None and not others:
        yield build_share(own, engine)
        return
    tasks = worker_pieces(engine, others)
    context = multiprocessing.get_context("forkserver")
    # Workers fork from a server that has the pipeline imported already (once per parent process).
    context.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(max_workers=len(others), mp_context=context) as pool:
        futures: list[Future[Share]] = []
        failed: list[BaseException] = []

        def submit() -> None:
            try:
                futures.extend(pool.submit(build_share, p) for p in tasks)
            except BaseException as exc:  # raised below, in the caller's thread
                failed.append(exc)

        # Submitting waits for the first worker to start (the fork server imports the pipeline):
        # from a thread, so that this process meanwhile builds its own share.
        starter = threading.Thread(target=submit, name="recompute-submit")
        starter.start()
        try:
            first = build_share(own, engine) if own is not None else None
        finally:
            starter.join()
        try:
            if failed:
                raise failed[0]
            if first is not None:
                yield first
            for future in as_completed(futures):
                yield future.result()
        finally:  # a failure (or the consumer giving up) cancels what has not started
            for future in futures:
                future.cancel()
