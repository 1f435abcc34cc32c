"""Soak and concurrency: the registry and scoring services on loopback under concurrent streaming ingest,
quotes (request ids deliberately repeated) and portfolio reports, bounded in count and time. Afterwards:
no record lost, one decision per (lender, request_id), the audit chain verifies, and memory does not keep
growing (the RSS of a second, equal phase grows less than a generous bound).

Short form (SQLite, two phases of a few seconds) runs in `make test`; the long form (minutes a phase)
runs with TANXIAO_SOAK=long (`make soak`, `python tests/soak.py`); TANXIAO_SOAK_SECONDS overrides the
length of a phase. A second test runs two scoring replicas and an ingest against one PostgreSQL database
at once: no deadlock (every call finishes within its deadline), no lost or duplicated write."""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import pytest
import sqlalchemy as sa
from helpers import graded_year_records, make_uscc

from registry_service.app import start_registry
from registry_service.domain.enterprise import AnnualFinancials, Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.tables import records
from scoring_service.app import start_scoring
from scoring_service.audit import verify_chain
from scoring_service.storage.tables import log_decisions as decisions
from tanxiao.common.v1 import common_pb2
from tanxiao.platform.config import Settings
from tanxiao.platform.db import make_engine
from tanxiao.platform.server import RunningServer
from tanxiao.portfolio.v1 import portfolio_pb2 as ppb
from tanxiao.portfolio.v1 import portfolio_pb2_grpc
from tanxiao.registry.v1 import registry_pb2 as rpb
from tanxiao.registry.v1 import registry_pb2_grpc
from tanxiao.scoring.v1 import scoring_pb2 as spb
from tanxiao.scoring.v1 import scoring_pb2_grpc

pytestmark = [pytest.mark.slow, pytest.mark.heavy]
LONG = os.environ.get("TANXIAO_SOAK", "").lower() == "long"
PHASE_SECONDS = float(os.environ.get("TANXIAO_SOAK_SECONDS", "300" if LONG else "6"))
RSS_GROWTH_LIMIT_MB = 50.0
INTENSITIES = [0.3, 1.0, 2.0, 2.9, 3.5, 8.0]
PRICED = [make_uscc(900 + i) for i in range(len(INTENSITIES))]  # graded, quoted, lent to
FEEDS = [make_uscc(950 + i) for i in range(4)]  # receive the streamed ingest (never priced)
LENDER = "lenders/soak-bank"
AS_OF = "2023-06-30"


def soak_settings(url: str, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "TANXIAO_DATABASE_URL": url,
            "TANXIAO_MAX_WORKERS": "8",
            "TANXIAO_PROFILE_CACHE_SECONDS": "0",
            "TANXIAO_ALLOW_PLAINTEXT": "true",
            "TANXIAO_AUTH_REQUIRED": "false",
            **extra,
        }
    )


@dataclass
class Services:
    url: str
    registry: RunningServer
    scorings: list[RunningServer]
    channels: list[grpc.Channel] = field(default_factory=list)

    def registry_stub(self) -> registry_pb2_grpc.CarbonRegistryStub:
        return registry_pb2_grpc.CarbonRegistryStub(self._channel(self.registry.address))

    def scoring_stub(self, replica: int = 0) -> scoring_pb2_grpc.LoanScoringStub:
        return scoring_pb2_grpc.LoanScoringStub(self._channel(self.scorings[replica].address))

    def portfolio_stub(self, replica: int = 0) -> portfolio_pb2_grpc.PortfolioReportingStub:
        return portfolio_pb2_grpc.PortfolioReportingStub(self._channel(self.scorings[replica].address))

    def _channel(self, address: str) -> grpc.Channel:
        channel = grpc.insecure_channel(address)
        self.channels.append(channel)
        return channel


def _serve(url: str, replicas: int, **extra: str) -> Iterator[Services]:
    engine = make_engine(url)
    financials = (AnnualFinancials(2022, 3_000_000_000, 12_000_000_000, 4_000_000_000, 6_000_000_000),)
    try:
        EnterpriseRepository(engine).create_many(
            [
                Enterprise(u, f"湖州织造{i}", "2822", "330502", financials=financials)
                for i, u in enumerate(PRICED)
            ]
            + [Enterprise(u, f"湖州数据{i}", "1710", "330503") for i, u in enumerate(FEEDS)]
        )
    finally:
        engine.dispose()
    config = soak_settings(url, **extra)
    registry = start_registry(config, "127.0.0.1:0")
    services = Services(url, registry, [])
    try:
        for _ in range(replicas):
            services.scorings.append(start_scoring(config, "127.0.0.1:0", registry_addr=registry.address))
        stub = services.registry_stub()
        rows = [r for u, i in zip(PRICED, INTENSITIES, strict=True) for r in graded_year_records(u, i)]
        stub.BatchIngestRecords(rpb.BatchIngestRecordsRequest(records=rows), timeout=60)
        stub.RecomputeBenchmarks(rpb.RecomputeBenchmarksRequest(year=2022), timeout=120)
        names = [f"enterprises/{u}/profiles/2022" for u in PRICED]
        stub.BatchGetCarbonProfiles(rpb.BatchGetCarbonProfilesRequest(names=names), timeout=120)
        portfolio = services.portfolio_stub()
        for i, uscc in enumerate(PRICED):
            portfolio.RecordLoan(
                ppb.RecordLoanRequest(
                    request_id=f"loan-{i}", lender=LENDER, loan_id=f"L{i}", enterprise=f"enterprises/{uscc}",
                    product="GENERAL", committed_amount_fen=2_000_000_000, outstanding_fen=1_000_000_000,
                    start_date="2023-01-15", maturity_date="2026-01-15", rate_bp=345,
                ),
                timeout=60,
            )  # fmt: skip
        yield services
    finally:
        for channel in services.channels:
            channel.close()
        for scoring in services.scorings:
            scoring.stop(None)
        registry.stop(None)


def _quote(request_id: str, lender: str = LENDER) -> spb.QuoteLoanTermsRequest:
    """The same request id always carries the same request (a true retry), derived from the id."""
    number = int(request_id.rsplit("-", 1)[1])
    return spb.QuoteLoanTermsRequest(
        request_id=request_id, lender=lender, enterprise=f"enterprises/{PRICED[number % len(PRICED)]}",
        product=spb.GENERAL, requested_amount_fen=(1_000_000 + 1_000 * (number % 97)) * 100, tenor_months=36,
        profile_period="2022",
    )  # fmt: skip


@dataclass
class Tally:
    """What the workers saw, shared under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ingested: set[str] = field(default_factory=set)  # external ids of committed streams
    accepted: int = 0
    decisions: dict[str, set[str]] = field(default_factory=dict)  # request id -> decision names seen
    quotes: int = 0
    reports: int = 0
    errors: list[str] = field(default_factory=list)


def _worker(stop: threading.Event, tally: Tally, step: Callable[[], None]) -> None:
    while not stop.is_set():
        try:
            step()
        except grpc.RpcError as error:
            with tally.lock:
                tally.errors.append(f"{error.code().name}: {error.details()}")
        except Exception as error:  # surfaced by the assertion on tally.errors
            with tally.lock:
                tally.errors.append(repr(error))


class Load:
    """Concurrent streaming ingest, quotes and reports against ``services`` until stopped."""

    def __init__(self, services: Services, seed: int = 7) -> None:
        self.services = services
        self.tally = Tally()
        self.keys = itertools.count()
        self.random = random.Random(seed)
        self.random_lock = threading.Lock()

    def _draw(self, upper: int) -> int:
        with self.random_lock:
            return self.random.randrange(upper)

    def ingest_step(self) -> Callable[[], None]:
        stub = self.services.registry_stub()

        def step() -> None:
            ids = [f"soak-{next(self.keys)}" for _ in range(300)]

            def chunks() -> Iterator[rpb.IngestRecordsRequest]:
                for start in range(0, len(ids), 100):
                    yield rpb.IngestRecordsRequest(
                        records=[
                            rpb.Record(uscc=FEEDS[j % len(FEEDS)], period=f"2022-{1 + j % 12:02d}",
                                       category="ELECTRICITY", quantity=float(j),
                                       source=common_pb2.SELF_REPORTED, external_id=i)
                            for j, i in enumerate(ids[start : start + 100], start)
                        ]
                    )  # fmt: skip

            response = stub.IngestRecords(chunks(), timeout=60)
            assert (response.accepted, response.rejected) == (len(ids), 0), response
            with self.tally.lock:
                self.tally.ingested.update(ids)
                self.tally.accepted += response.accepted

        return step

    def quote_step(self, replica: int = 0, pool: int = 400) -> Callable[[], None]:
        stub = self.services.scoring_stub(replica)

        def step() -> None:
            request_id = f"soak-q-{self._draw(pool)}"  # a small pool: many ids come back as retries
            decision = stub.QuoteLoanTerms(_quote(request_id), timeout=60)
            with self.tally.lock:
                self.tally.decisions.setdefault(request_id, set()).add(decision.name)
                self.tally.quotes += 1

        return step

    def report_step(self) -> Callable[[], None]:
        stub = self.services.portfolio_stub()

        def step() -> None:
            report = stub.GetPortfolioReport(
                ppb.GetPortfolioReportRequest(lender=LENDER, as_of_date=AS_OF, top_n=5), timeout=60
            )
            assert report.totals.loans == len(PRICED), report.totals
            with self.tally.lock:
                self.tally.reports += 1

        return step

    def run(self, seconds: float, steps: list[Callable[[], None]]) -> None:
        stop = threading.Event()
        threads = [threading.Thread(target=_worker, args=(stop, self.tally, s), daemon=True) for s in steps]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a worker is stuck (deadlock?)"


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def _check_store(url: str, tally: Tally) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            stored = set(
                connection.execute(
                    sa.select(records.c.external_id).where(records.c.external_id.like("soak-%"))
                ).scalars()
            )
            duplicates = connection.execute(
                sa.select(decisions.c.lender, decisions.c.request_id, sa.func.count())
                .group_by(decisions.c.lender, decisions.c.request_id)
                .having(sa.func.count() > 1)
            ).all()
            quoted = set(
                connection.execute(
                    sa.select(decisions.c.request_id).where(decisions.c.request_id.like("soak-q-%"))
                ).scalars()
            )
        report = verify_chain(engine)
    finally:
        engine.dispose()
    assert stored == tally.ingested and len(stored) == tally.accepted  # nothing lost, nothing extra
    assert duplicates == []
    assert quoted == set(tally.decisions)  # one stored decision per request id answered, no other
    assert all(len(names) == 1 for names in tally.decisions.values()), "a retry got another decision"
    assert report.ok, report.problems[:10]


@pytest.fixture
def soak_services(sqlite_url: str) -> Iterator[Services]:
    yield from _serve(sqlite_url, replicas=1)


@pytest.mark.timeout(int(PHASE_SECONDS * 2 + 240))
def test_soak_ingest_quotes_and_reports_lose_nothing_and_memory_is_bounded(soak_services: Services) -> None:
    load = Load(soak_services)
    steps = [load.ingest_step(), load.quote_step(), load.quote_step(), load.report_step()]
    load.run(PHASE_SECONDS, steps)  # warm-up phase: caches, pools, imports reach their size
    after_first = _rss_mb()
    first = (load.tally.accepted, load.tally.quotes, load.tally.reports)
    load.run(PHASE_SECONDS, steps)
    growth = _rss_mb() - after_first
    tally = load.tally
    assert tally.errors == []
    second = (tally.accepted - first[0], tally.quotes - first[1], tally.reports - first[2])
    assert all(n > 0 for n in first) and all(n > 0 for n in second), (first, second)  # load did run
    assert len(tally.decisions) < tally.quotes  # some request ids were retried
    _check_store(soak_services.url, tally)
    assert growth < RSS_GROWTH_LIMIT_MB, f"RSS grew {growth:.1f} MB over an equal second phase"


IDLE_SECONDS = 3.0


@pytest.fixture
def stream_soak_services(sqlite_url: str) -> Iterator[Services]:
    # Every caller here is the same peer (no authentication), so its stream allowance covers the load's
    # ingest stream plus the idle and slow ones below.
    yield from _serve(
        sqlite_url,
        replicas=1,
        TANXIAO_STREAM_IDLE_SECONDS=str(IDLE_SECONDS),
        TANXIAO_MAX_STREAMS_PER_CALLER="12",
        TANXIAO_MAX_STREAMS_TOTAL="12",
    )


def _silent(stop: threading.Event) -> Iterator[rpb.IngestRecordsRequest]:
    stop.wait()
    return
    yield  # pragma: no cover - a generator that never sends


def _slow_quotes(count: int, pause: float) -> Iterator[spb.BatchQuoteRequest]:
    for number in range(count):
        time.sleep(pause)  # slower than any client should be, faster than the idle timeout
        yield spb.BatchQuoteRequest(quote=_quote(f"slow-q-{number}"))


@pytest.mark.timeout(int(PHASE_SECONDS * 2 + 240))
def test_soak_with_idle_and_slow_streams_everyone_else_is_served(stream_soak_services: Services) -> None:
    """Idle streams (never a message) and slow ones (a message every 1 s) open beside the usual load:
    the load runs without an error, idle streams are cancelled after TANXIAO_STREAM_IDLE_SECONDS, slow
    ones run to completion."""
    services = stream_soak_services
    load = Load(services)
    stop = threading.Event()
    registry = services.registry_stub()
    scoring = services.scoring_stub()
    idle = [registry.IngestRecords.future(_silent(stop), timeout=PHASE_SECONDS + 120) for _ in range(5)]
    slow_count = max(3, int(min(PHASE_SECONDS, 30)))
    slow = [
        futures.ThreadPoolExecutor(1).submit(
            lambda: list(scoring.BatchQuote(_slow_quotes(slow_count, 1.0), timeout=600))
        )
        for _ in range(2)
    ]
    try:
        load.run(
            max(PHASE_SECONDS, IDLE_SECONDS + 3), [load.ingest_step(), load.quote_step(), load.report_step()]
        )
        assert load.tally.errors == []
        assert load.tally.quotes > 0 and load.tally.reports > 0 and load.tally.accepted > 0
        deadline = time.monotonic() + IDLE_SECONDS + 5
        while not all(f.done() for f in idle) and time.monotonic() < deadline:
            time.sleep(0.2)
        codes = [f.exception().code() if f.done() and f.exception() else None for f in idle]  # type: ignore[union-attr]
        assert codes == [grpc.StatusCode.DEADLINE_EXCEEDED] * len(idle)
        answered = [f.result(timeout=slow_count * 3 + 60) for f in slow]
        assert [len(a) for a in answered] == [slow_count, slow_count]
    finally:
        stop.set()
    _check_store(services.url, load.tally)


@pytest.fixture
def replicas_on_postgres(postgres_url: str) -> Iterator[Services]:
    yield from _serve(postgres_url, replicas=2)


@pytest.mark.postgres
def test_two_scoring_replicas_and_an_ingest_on_one_postgres_neither_deadlock_nor_lose_writes(
    replicas_on_postgres: Services,
) -> None:
    services = replicas_on_postgres
    load = Load(services)
    stubs = [services.scoring_stub(0), services.scoring_stub(1)]
    request_ids = [f"pg-q-{i}" for i in range(60)]
    barrier = threading.Barrier(4)

    def quote_all(replica: int, order: list[str]) -> dict[str, str]:
        barrier.wait(timeout=30)
        return {rid: stubs[replica].QuoteLoanTerms(_quote(rid), timeout=60).name for rid in order}

    def ingest_all() -> int:
        barrier.wait(timeout=30)
        step = load.ingest_step()
        for _ in range(5):
            step()
        return load.tally.accepted

    with futures.ThreadPoolExecutor(max_workers=4) as pool:
        # Each id is quoted on both replicas at about the same time (the same order on both); a third
        # caller retries them in reverse on replica 0, while a stream ingests into the registry.
        jobs = [
            pool.submit(quote_all, 0, request_ids),
            pool.submit(quote_all, 1, request_ids),
            pool.submit(quote_all, 0, request_ids[::-1]),
            pool.submit(ingest_all),
        ]
        _, pending = futures.wait(jobs, timeout=240)
        assert not pending, "calls still running after 240 s: deadlock?"
    answers = [job.result() for job in jobs[:3]]
    assert jobs[3].result() == 1_500
    for rid in request_ids:
        assert len({answer[rid] for answer in answers}) == 1, f"{rid} got different decisions"
    tally = load.tally
    tally.decisions = {rid: {answers[0][rid]} for rid in request_ids}
    engine = make_engine(services.url)
    try:
        with engine.connect() as connection:
            per_request = dict(
                connection.execute(
                    sa.select(decisions.c.request_id, sa.func.count()).group_by(decisions.c.request_id)
                ).all()
            )
            stored = set(connection.execute(sa.select(records.c.external_id).where(
                records.c.external_id.like("soak-%"))).scalars())  # fmt: skip
        report = verify_chain(engine)
    finally:
        engine.dispose()
    assert per_request == dict.fromkeys(request_ids, 1)
    assert stored == tally.ingested and len(stored) == 1_500
    assert report.ok and report.checked == len(request_ids), report.problems[:10]
