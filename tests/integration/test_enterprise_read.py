"""GetEnterprise's read on a pooled DBAPI connection (registry_service.storage.enterprises._RawRead)
gives what the same statement gives through a SQLAlchemy Connection: times in UTC, booleans, money,
financials oldest year first, on SQLite and PostgreSQL; and it leaves no connection checked out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from helpers import make_uscc

from registry_service.domain.enterprise import AnnualFinancials, Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from tanxiao.errors import NotFound
from tanxiao.platform.db import make_engine


def test_the_raw_read_equals_the_connection_read(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        repository = EnterpriseRepository(engine)
        money = [
            AnnualFinancials(year=2024, revenue_fen=12_345_678_901_234, listed=True),
            AnnualFinancials(year=2023, total_debt_fen=7, evic_fen=9_000_000_000_000_000, listed=False),
        ]
        firms = [
            Enterprise(make_uscc(1), "湖州化纤", "2822", "330502", financials=tuple(money)),
            Enterprise(make_uscc(2), "无财务数据", "3011", "330523"),
        ]
        repository.create_many(firms)
        for firm in firms:
            raw = repository.get(firm.uscc)
            with engine.connect() as connection:
                assert raw == repository.get(firm.uscc, connection=connection)
            assert raw.create_time is not None and raw.create_time.utcoffset() is not None
        assert [f.year for f in repository.get(make_uscc(1)).financials] == [2023, 2024]
        assert repository.get(make_uscc(1)).financials[1].listed is True
        with pytest.raises(NotFound):
            repository.get(make_uscc(3))
        pool: sa.pool.QueuePool = engine.pool  # type: ignore[assignment]
        assert pool.checkedout() == 0
    finally:
        engine.dispose()


def test_the_raw_read_sees_every_committed_write_and_its_errors_close_the_connection(db_url: str) -> None:
    """Reads reuse their connections (SQLite: ones of the read's own, out of the pool): a write
    committed through any other connection, and by another engine (another replica), is seen by the
    next read, never an older snapshot; the threads reading at once each get a connection of their own."""
    engine, other = make_engine(db_url), make_engine(db_url)
    try:
        repository, writer = EnterpriseRepository(engine), EnterpriseRepository(other)
        uscc = make_uscc(5)
        repository.create_many([Enterprise(uscc, "原名", "2822", "330502")])
        assert repository.get(uscc).display_name == "原名"
        for round_ in range(3):
            patch = Enterprise(
                uscc, f"新名{round_}", "2822", "330502",
                financials=(AnnualFinancials(year=2020 + round_, revenue_fen=round_ + 1),),
            )  # fmt: skip
            writer.update(uscc, patch, ["display_name", "financials"])
            got = repository.get(uscc)
            assert got.display_name == f"新名{round_}"
            assert [f.year for f in got.financials] == list(range(2020, 2021 + round_))
        with ThreadPoolExecutor(8) as pool:
            names = list(pool.map(lambda _: repository.get(uscc).display_name, range(200)))
        assert names == ["新名2"] * 200
        readers = repository._get_one.readers
        if readers is not None:  # SQLite: kept for the next reads, bounded
            assert 1 <= len(readers.idle) <= readers.MAX_IDLE
            before = len(readers.idle)
            with pytest.raises(engine.dialect.dbapi.Error):  # type: ignore[union-attr]
                repository._get_one({"uscc": object()})  # a parameter SQLite cannot bind
            assert len(readers.idle) == before - 1  # the failed read's connection was closed
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        engine.dispose()  # a stopping server: the read's own connections are closed with the pool's
        if readers is not None:
            assert readers.idle == []
        assert repository.get(uscc).display_name == "新名2"  # and opened anew after
    finally:
        engine.dispose()
        other.dispose()
