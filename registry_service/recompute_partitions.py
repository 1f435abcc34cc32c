"""A year's recompute split by industry division across processes (RecomputeBenchmarks on many cores).

Nothing a recompute computes spans two 2-digit industry divisions: benchmark cells are 4, 3 or 2
digits deep (``benchmarks.DEPTH_ORDER``), an enterprise is only compared with cells cut from its own
code, and data-quality peer groups are whole industry codes; everything else is per enterprise. So each
partition (a set of divisions) reads its own enterprises and records and builds its profiles and
benchmarks alone, and the union is what one pass over everything gives (tests/integration/
test_recompute_partitions.py compares them field by field).

Workers are processes of the "forkserver" start method (never forked from a process that runs gRPC
threads); the parent computes the largest partition itself and writes everything in one transaction
afterwards, so a worker that fails leaves nothing written. Each partition reads in its own read
transaction: a division is read consistently, and divisions share no computed figure.
"""

from __future__ import annotations

import copyreg
import multiprocessing
import threading
import types
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from registry_service.domain.catalog import Catalog
from registry_service.domain.grading import GradingMethod
from registry_service.domain.precedence import Precedence
from registry_service.domain.profiles import ProfileInputs, ProfileSet, build_profiles
from registry_service.domain.quality import QualityConfig
from registry_service.storage import profiles as store
from tanxiao.platform.db import make_engine, read_only


# The catalog, method and quality configuration keep read-only tables as mappingproxy, which pickle
# refuses; a worker gets the same read-only view of a copy.
def _read_only(items: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(items)


copyreg.pickle(types.MappingProxyType, lambda m: (_read_only, (dict(m),)))

_BENCHMARK_KEY = ["industry_code", "industry_depth", "region_code", "region_level", "year"]


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


def build_partition(partition: Partition, engine: Engine | None = None) -> ProfileSet:
    """The profiles of ``partition``'s enterprises (in a worker: its own engine on the same database)."""
    own = engine is None
    engine = engine if engine is not None else make_engine(partition.database_url, pool_size=1)
    try:
        with read_only(engine) as conn:
            records = store.load_records(conn, None, partition.month_from, divisions=partition.divisions)
            firms, annual = store.load_enterprises(conn, None, divisions=partition.divisions)
    finally:
        if own:
            engine.dispose()
    inputs = ProfileInputs(
        records=records,
        enterprises=firms,
        annual=annual,
        catalog=partition.catalog,
        method=partition.method,
        precedence=partition.precedence,
        quality=partition.quality,
    )
    return build_profiles(
        inputs,
        years=[partition.year],
        latest_rolling=True,
        as_of=partition.as_of,
        earlier_benchmarks=partition.earlier_benchmarks,
    )


def build_partitioned(engine: Engine, partitions: Sequence[Partition]) -> ProfileSet:
    """Every partition built, the first in this process and the others in worker processes; merged."""
    if len(partitions) == 1:
        return merge([build_partition(partitions[0], engine)], partitions[0])
    context = multiprocessing.get_context("forkserver")
    # Workers fork from a server that has the pipeline imported already (once per parent process).
    context.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(max_workers=len(partitions) - 1, mp_context=context) as pool:
        futures: list[Future[ProfileSet]] = []
        failed: list[BaseException] = []

        def submit() -> None:
            try:
                futures.extend(pool.submit(build_partition, p) for p in partitions[1:])
            except BaseException as exc:  # raised below, in the caller's thread
                failed.append(exc)

        # Submitting waits for the first worker to start (the fork server imports the pipeline):
        # from a thread, so that this process meanwhile builds its own share.
        starter = threading.Thread(target=submit, name="recompute-submit")
        starter.start()
        try:
            first = build_partition(partitions[0], engine)
        finally:
            starter.join()
        try:
            if failed:
                raise failed[0]
            parts = [first, *(f.result() for f in futures)]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return merge(parts, partitions[0])


def merge(parts: Sequence[ProfileSet], partition: Partition) -> ProfileSet:
    """The partitions' results as the one pass over all enterprises gives them: profiles in
    (granularity, uscc) order, the year's benchmarks sorted by their key followed by the stored ones
    of the year before that it did not compute, flags and members united."""
    frames = [p.profiles for p in parts if len(p.profiles)]
    profiles = pd.concat(frames, ignore_index=True) if frames else parts[0].profiles
    if len(profiles):
        profiles = profiles.sort_values(["granularity", "uscc", "period"], kind="stable", ignore_index=True)
    computed = [p.benchmarks[p.benchmarks["year"].astype(int) == partition.year] for p in parts]
    benchmarks = pd.concat(computed, ignore_index=True)
    benchmarks = benchmarks.sort_values(_BENCHMARK_KEY, kind="stable", ignore_index=True)
    earlier = partition.earlier_benchmarks
    if len(earlier) and len(profiles):
        done = set(benchmarks["year"].astype(int))
        earlier = earlier[~earlier["year"].astype(int).isin(done)]
        benchmarks = pd.concat([benchmarks, earlier[list(benchmarks.columns)]], ignore_index=True)
    flags = {key: value for p in parts for key, value in p.flags.items()}
    members = tuple(sorted({m for p in parts for m in p.members}))
    return ProfileSet(profiles, benchmarks, flags, members)
