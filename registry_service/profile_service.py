"""Profiles on demand and in batch: the registry's carbon-efficiency computation around the database.

* ``recompute_year`` (RecomputeBenchmarks): every enterprise's profile of a year from scratch, the
  year's benchmarks from them, grades against them; the latest rolling windows too.
* ``refresh`` (after ingest): enterprises queued by an ingest (profile_dirty) get all their stored
  profiles recomputed against the stored benchmarks; readers refresh what they are about to read.
* ``profile``: a stored profile, or one computed on demand for any other period (never stored).
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from registry_service.domain.accounting import parse_period
from registry_service.domain.benchmarks import benchmark_provenance
from registry_service.domain.catalog import Catalog
from registry_service.domain.grading import GradingMethod, load_grading_method
from registry_service.domain.precedence import Precedence, load_precedence
from registry_service.domain.profiles import ProfileInputs, build_profiles, with_provenance
from registry_service.domain.quality import QualityConfig
from registry_service.domain.trend import period_ordinal
from registry_service.recompute_partitions import (
    Partition,
    Share,
    buckets,
    build_shares,
    load_inputs,
    share_of,
)
from registry_service.storage import chunked
from registry_service.storage import profiles as store
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.profile_changes import record_profile_change
from registry_service.storage.tables import carbon_profiles, enterprise_financials, records
from tanxiao.errors import NotFound, ValidationError
from tanxiao.platform.db import read_only
from tanxiao.platform.idempotency import run_in_transaction

TREND_YEARS_BEFORE = 2  # records from two years before a year feed its 36-month trend window
# Starting worker processes costs about a second; below this many enterprises one process is faster.
MIN_PARALLEL_ENTERPRISES = 4_000


@dataclass(frozen=True)
class RecomputeSummary:
    year: int
    enterprises: int
    profiles: int
    benchmarks: int
    graded: int
    ungraded: int
    grade_counts: list[int] = field(default_factory=lambda: [0] * 5)
    duration_seconds: float = 0.0


class ProfileService:
    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        *,
        method: GradingMethod | None = None,
        precedence: Precedence | None = None,
        quality: QualityConfig | None = None,
        workers: int = 0,
        min_parallel_enterprises: int = MIN_PARALLEL_ENTERPRISES,
    ) -> None:
        """``workers``: processes a year's recompute is split across (0: one per CPU core, 1: in this
        process); below ``min_parallel_enterprises`` it is always computed in this process."""
        self.engine = engine
        self.workers = workers if workers > 0 else os.cpu_count() or 1
        self.min_parallel_enterprises = min_parallel_enterprises
        self.catalog = catalog
        self.method = method or load_grading_method()
        self.precedence = precedence or load_precedence()
        self.quality = quality
        self.enterprises = EnterpriseRepository(engine)

    @property
    def method_label(self) -> str:
        return f"{self.method.method_id}@{self.method.version}"

    # --- batch ------------------------------------------------------------------------------------

    def recompute_year(self, year: int, *, as_of: date | None = None) -> RecomputeSummary:
        started = time.perf_counter()
        with read_only(self.engine) as conn:
            month_from = f"{_trend_year(conn, year) - TREND_YEARS_BEFORE:04d}-01"
            earlier = store.stored_benchmarks(conn, [year - 1])
            shares = self._shares(conn)
            inputs = self._inputs(conn, None, month_from) if len(shares) < 2 else None
        if inputs is not None:
            result = build_profiles(
                inputs, years=[year], latest_rolling=True, as_of=as_of, earlier_benchmarks=earlier
            )
            source: Iterator[Share] = iter([share_of(result, year)])
        else:  # the same result, divisions built in parallel (registry_service.recompute_partitions)
            url = self.engine.url.render_as_string(hide_password=False)
            common = (month_from, year, as_of, self.catalog, self.method, self.precedence, self.quality)
            source = build_shares(
                self.engine, [Partition(url, divisions, *common, earlier) for divisions in shares]
            )
        # The first share is received before the write transaction opens (it holds the write lock).
        arrivals = _Arrivals(source)
        try:
            arrivals.prime()
            written = run_in_transaction(self.engine, lambda conn: self._write_year(conn, year, arrivals))
        finally:
            arrivals.close()
        return _summary(year, arrivals.seen, *written, time.perf_counter() - started)

    def _write_year(self, conn: Connection, year: int, shares: Iterable[Share]) -> tuple[int, int]:
        """A new published version of the year (docs/accounting.md section 4): its cells, when, and
        the firms it counts; each profile names it (and the stored version of the year before). Shares
        are written as they arrive; their cells never meet (recompute_partitions), so each share's
        provenance needs only its own cells and members besides the stored year before."""
        now = datetime.now(UTC)
        label = self.method_label
        version = store.next_benchmark_version(conn, year)
        store.publish_benchmark_version(conn, year, version, (), label, now)  # firm_count at the end
        store.delete_benchmarks(conn, [year])
        earlier_members = store.stored_members(conn, [year - 1], None)
        cells = stored = firms = 0
        written: list[tuple[set[str], set[str]]] = []
        for share in shares:
            cells += store.insert_benchmarks(conn, share.benchmarks, [year], label, now, version)
            store.insert_members(conn, year, version, share.members)
            firms += len(share.members)
            usccs, periods = share.rows.usccs, share.rows.periods
            if not usccs:
                continue
            members = pd.DataFrame({"year": year, "version": version, "uscc": list(share.members)})
            provenance = benchmark_provenance(
                share.rows.provenance_inputs,
                store.stored_benchmarks(conn, [year, year - 1]),
                pd.concat([earlier_members, members], ignore_index=True),
                self.method.grades_of,
            )
            store.delete_profiles(conn, usccs, periods, whole_enterprises=False)
            stored += store.insert_prepared(
                conn, share.rows, provenance, catalog_version=self.catalog.version, grading_method=label,
                compute_time=now,
            )  # fmt: skip
            written.append((usccs, periods))
        # one replace of all profiles deleted every period any share stored, for every enterprise
        everywhere = set().union(*(periods for _, periods in written))
        for usccs, periods in written:
            if everywhere - periods:
                store.delete_profiles(
                    conn, usccs, everywhere - periods, whole_enterprises=False, rolling=False
                )
        store.set_firm_count(conn, year, version, firms)
        record_profile_change(conn, None, recomputed_year=year)  # last statement of the write
        return cells, stored

    def recompute_all(self, *, as_of: date | None = None) -> list[RecomputeSummary]:
        """Every year with records, oldest first (the demo loader). Enterprises queued by ingests made
        before it started are fully recomputed by it, so their marks are cleared (unless re-marked)."""
        with read_only(self.engine) as conn:
            queued = store.dirty_versions(conn)
            query = sa.select(sa.func.substr(records.c.period, 1, 4)).distinct()
            years = conn.execute(query).scalars().all()
        summaries = [self.recompute_year(int(y), as_of=as_of) for y in sorted(years)]
        run_in_transaction(self.engine, lambda conn: store.clear_dirty(conn, queued))
        return summaries

    # --- incremental ------------------------------------------------------------------------------

    def refresh(self, usccs: Collection[str], *, as_of: date | None = None) -> int:
        """Recompute every stored profile of ``usccs`` against the stored benchmarks."""
        if not usccs:
            return 0
        with read_only(self.engine) as conn:
            versions = store.dirty_versions(conn, usccs)
            inputs = self._inputs(conn, usccs, "")
            years = sorted({int(p[:4]) for p in inputs.records["period"]}) if len(inputs.records) else []
            benchmarks = store.stored_benchmarks(conn, years + [y - 1 for y in years])
            members = store.stored_members(conn, years + [y - 1 for y in years], usccs)
            peers = store.peer_profiles(conn, [str(y) for y in years] + self._rolling_periods(inputs), usccs)
        inputs = ProfileInputs(**{**inputs.__dict__, "peers": peers})
        result = build_profiles(inputs, years=years, latest_rolling=True, benchmarks=benchmarks, as_of=as_of)
        result = with_provenance(result, benchmarks, members, self.method)
        now = datetime.now(UTC)

        def write(conn: Connection) -> int:
            conn.execute(carbon_profiles.delete().where(carbon_profiles.c.uscc.in_(sorted(usccs))))
            stored = store.replace_profiles(
                conn, result, catalog_version=self.catalog.version, grading_method=self.method_label,
                compute_time=now, whole_enterprises=True,
            )  # fmt: skip
            store.clear_dirty(conn, versions)
            return stored

        return run_in_transaction(self.engine, write)

    def refresh_dirty(self, usccs: Collection[str] | None = None, *, batch: int = 2_000) -> int:
        """Refresh the queued enterprises (all, or those of ``usccs`` that are queued)."""
        refreshed = 0
        while True:
            with read_only(self.engine) as conn:
                queued = store.dirty_versions(conn, usccs, limit=None if usccs is not None else batch)
            if not queued:
                return refreshed
            for chunk in chunked(sorted(queued), batch):
                self.refresh(chunk)
                refreshed += len(chunk)
            if usccs is not None:
                return refreshed

    # --- reads ------------------------------------------------------------------------------------

    def profiles(
        self, keys: Sequence[tuple[str, str]], *, allow_missing: bool = False
    ) -> list[dict[str, Any]]:
        """carbon_profiles rows for (uscc, period) keys, in order; stored ones fresh, others on demand.
        NOT_FOUND names the first key without an enterprise or without records in its period, unless
        ``allow_missing``: then those keys are left out."""
        for index, (_, period) in enumerate(keys):
            _check_period(period, f"names[{index}]" if len(keys) > 1 else "name")
        usccs = sorted({u for u, _ in keys})
        missing = set(usccs) - self.enterprises.existing_usccs(set(usccs))
        if missing and not allow_missing:
            raise NotFound(
                f"enterprise {sorted(missing)[0]} is not registered", reason="ENTERPRISE_NOT_FOUND"
            )
        keys = [k for k in keys if k[0] not in missing]
        usccs = sorted(set(usccs) - missing)
        self.refresh_dirty(usccs)
        stored = self._stored(keys)
        absent = [k for k in keys if k not in stored]
        if absent:
            stored.update(self._on_demand(absent))
        if allow_missing:
            keys = [k for k in keys if k in stored]
        for uscc, period in keys:
            if (uscc, period) not in stored:
                raise NotFound(
                    f"no records of enterprise {uscc} in period {period}",
                    reason="PROFILE_NOT_FOUND",
                    metadata={"uscc": uscc, "period": period},
                )
        financials = self._financials(usccs)
        return [{**stored[k], "financials": financials.get((k[0], stored[k]["year"]))} for k in keys]

    def _financials(self, usccs: Collection[str]) -> dict[tuple[str, int], dict[str, Any]]:
        with read_only(self.engine) as conn:
            found: dict[tuple[str, int], dict[str, Any]] = {}
            for chunk in chunked(sorted(usccs)):
                query = sa.select(enterprise_financials).where(enterprise_financials.c.uscc.in_(chunk))
                for row in conn.execute(query).mappings():
                    found[(row["uscc"], int(row["year"]))] = dict(row)
            return found

    def _stored(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        with read_only(self.engine) as conn:
            for chunk in chunked(sorted(set(keys)), 500):
                condition = sa.tuple_(carbon_profiles.c.uscc, carbon_profiles.c.period).in_(chunk)
                for row in conn.execute(sa.select(carbon_profiles).where(condition)).mappings():
                    found[(row["uscc"], row["period"])] = dict(row)
        return found

    def _on_demand(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        usccs = sorted({u for u, _ in keys})
        periods = sorted({p for _, p in keys})
        with read_only(self.engine) as conn:
            inputs = self._inputs(conn, usccs, "")
            years = sorted({int(p[-7:-3]) if p.startswith("R12-") else int(p[:4]) for p in periods})
            benchmarks = store.stored_benchmarks(conn, years + [y - 1 for y in years])
            members = store.stored_members(conn, years + [y - 1 for y in years], usccs)
        result = build_profiles(inputs, extra_periods=periods, benchmarks=benchmarks)
        result = with_provenance(result, benchmarks, members, self.method)
        now = datetime.now(UTC)
        out = {}
        for row in result.profiles.to_dict("records"):
            key = (row["uscc"], row["period"])
            if key in set(keys):
                flags = result.flags.get(key, [])
                out[key] = store.profile_row(row, flags, self.catalog.version, self.method_label, now)
        return out

    # --- helpers ----------------------------------------------------------------------------------

    def _shares(self, conn: Connection) -> list[tuple[str, ...]]:
        """The industry divisions of each recompute process; one share (in process) for one worker, a
        database only this process can open, or fewer enterprises than a process pool pays off for."""
        if self.workers <= 1 or self.engine.url.database in (None, "", ":memory:"):
            return []
        sizes = store.division_sizes(conn)
        if sum(sizes.values()) < self.min_parallel_enterprises:
            return []
        return buckets(sizes, self.workers)

    def _inputs(self, conn: Connection, usccs: Collection[str] | None, month_from: str) -> ProfileInputs:
        return load_inputs(conn, self, usccs, month_from)

    @staticmethod
    def _rolling_periods(inputs: ProfileInputs) -> list[str]:
        if inputs.records.empty:
            return []
        return sorted({"R12-" + p for p in inputs.records.groupby("uscc")["period"].max()})


def _check_period(period: str, field: str) -> None:
    try:
        _, _, last = parse_period(period)
    except ValueError as exc:
        raise ValidationError.for_field(field, str(exc)) from None
    if period_ordinal(last) > _this_month():
        raise ValidationError.for_field(field, f"period {period} ends in the future")


def _trend_year(conn: Connection, year: int) -> int:
    """The year whose trend window a recompute of ``year`` reads back from: ``year``, or the year of the
    last month with current records when they end before it. Whether they reach ``year`` is asked first:
    the last month itself takes a read of every record."""
    if store.has_current_records_from(conn, f"{year:04d}-01"):
        return year
    last = store.last_record_month(conn)
    return min(year, int(last[:4])) if last else year


def _this_month() -> int:
    today = date.today()
    return today.year * 12 + today.month - 1


class _Arrivals:
    """Shares as they arrive, remembered: a write transaction that is re-run (a lost race) writes the
    same shares again, and a worker's failure is raised again rather than ending the shares early."""

    def __init__(self, source: Iterator[Share]) -> None:
        self.source = source
        self.seen: list[Share] = []
        self.failure: BaseException | None = None

    def __iter__(self) -> Iterator[Share]:
        yield from list(self.seen)
        while self._pull():
            yield self.seen[-1]

    def _pull(self) -> bool:
        """The next share into ``seen``; False when there are no more."""
        if self.failure is not None:
            raise self.failure
        try:
            self.seen.append(next(self.source))
        except StopIteration:
            return False
        except BaseException as exc:
            self.failure = exc
            raise
        return True

    def prime(self) -> None:
        """Receive the first share (this process's own, or a worker's first) before the write
        transaction opens."""
        if not self.seen:
            self._pull()

    def close(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            close()


def _summary(
    year: int, shares: Sequence[Share], benchmarks: int, stored: int, seconds: float
) -> RecomputeSummary:
    frames = [s.grades for s in shares if len(s.grades)]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    yearly = frame[(frame["granularity"] == "year") & (frame["period"] == str(year))] if len(frame) else frame
    grades = yearly["grade"] if len(yearly) else pd.Series(dtype=int)
    counts = [int((grades == g).sum()) for g in range(1, 6)]
    return RecomputeSummary(
        year=year,
        enterprises=int(yearly["uscc"].nunique()) if len(yearly) else 0,
        profiles=stored,
        benchmarks=benchmarks,
        graded=sum(counts),
        ungraded=int((grades == 0).sum()),
        grade_counts=counts,
        duration_seconds=round(seconds, 3),
    )
