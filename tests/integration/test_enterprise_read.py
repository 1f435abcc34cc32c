"""GetEnterprise's read on a pooled DBAPI connection (registry_service.storage.enterprises._RawRead)
gives what the same statement gives through a SQLAlchemy Connection: times in UTC, booleans, money,
financials oldest year first, on SQLite and PostgreSQL; and it leaves no connection checked out."""

from __future__ import annotations

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
