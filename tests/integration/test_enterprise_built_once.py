"""GetEnterprise converts the same rows once: the repository keeps the Enterprise built from the rows
it read (keyed by every value of every row) and convert.enterprise_answer keeps that object's answer
bytes. The read itself runs on every call, so any change of any column is answered at once; each call
gets a message of its own; both are bounded. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers import make_uscc

from registry_service import convert
from registry_service.domain.enterprise import AnnualFinancials, Enterprise
from registry_service.storage.enterprises import EnterpriseRepository
from registry_service.storage.tables import enterprise_financials, enterprises
from tanxiao.errors import NotFound
from tanxiao.platform.db import make_engine


def _firm(n: int, *years: int) -> Enterprise:
    money = tuple(AnnualFinancials(year=y, revenue_fen=y * 100, listed=y % 2 == 0) for y in years)
    return Enterprise(make_uscc(n), f"企业{n}", "2822", "330502", financials=money)


def test_the_same_rows_give_the_same_enterprise_and_any_changed_value_a_new_one(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        repository = EnterpriseRepository(engine)
        repository.create_many([_firm(1, 2023, 2024), _firm(2)])
        first = repository.get(make_uscc(1))
        assert repository.get(make_uscc(1)) is first  # built once while the rows stay the same
        with engine.connect() as connection:
            assert first == repository.get(make_uscc(1), connection=connection)
        # one amount of one year changed underneath, no other column (not even update_time)
        with engine.begin() as connection:
            connection.execute(
                sa.update(enterprise_financials)
                .where(enterprise_financials.c.uscc == make_uscc(1), enterprise_financials.c.year == 2023)
                .values(revenue_fen=7)
            )
        changed = repository.get(make_uscc(1))
        assert [f.revenue_fen for f in changed.financials] == [7, 2024 * 100]
        assert changed.update_time == first.update_time
        with engine.begin() as connection:  # a year of financials gone, the name changed
            connection.execute(sa.delete(enterprise_financials).where(enterprise_financials.c.year == 2024))
            connection.execute(sa.update(enterprises).values(display_name="新名"))
        after = repository.get(make_uscc(1))
        assert (after.display_name, [f.year for f in after.financials]) == ("新名", [2023])
        assert repository.get(make_uscc(2)).financials == ()
        with engine.begin() as connection:
            connection.execute(sa.delete(enterprises).where(enterprises.c.uscc == make_uscc(2)))
        with pytest.raises(NotFound):  # a deleted enterprise is not found, whatever was built before
            repository.get(make_uscc(2))
    finally:
        engine.dispose()


def test_the_kept_enterprises_are_bounded(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(db_url)
    try:
        repository = EnterpriseRepository(engine)
        monkeypatch.setattr(repository, "MAX_BUILT", 2)
        firms = [_firm(n, 2020 + n) for n in range(1, 6)]
        repository.create_many(firms)
        for _ in range(2):
            for firm in firms:
                got = repository.get(firm.uscc)
                assert (got.display_name, got.financials) == (firm.display_name, firm.financials)
                assert len(repository._built) <= 2
    finally:
        engine.dispose()


def test_an_answer_is_the_conversion_and_each_call_gets_its_own_message(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(db_url)
    try:
        repository = EnterpriseRepository(engine)
        repository.create_many([_firm(n, 2022, 2023) for n in range(1, 4)])
        enterprise = repository.get(make_uscc(1))
        first = convert.enterprise_answer(enterprise)
        again = convert.enterprise_answer(enterprise)
        assert first == again == convert.enterprise_to_proto(enterprise)
        assert first is not again
        again.display_name = "改了"  # a caller changing its message changes no later answer
        again.financials[0].revenue_fen = 1
        third = convert.enterprise_answer(enterprise)
        assert third == convert.enterprise_to_proto(enterprise)
        assert third.financials[1].HasField("revenue_fen") and not third.financials[1].HasField("evic_fen")
        # an equal enterprise that is another object is converted on its own
        twin = Enterprise(**{f: getattr(enterprise, f) for f in enterprise.__dataclass_fields__})
        assert convert.enterprise_answer(twin) == third
        monkeypatch.setattr(convert, "_MAX_ANSWERS", 2)
        monkeypatch.setattr(convert, "_ANSWERS", {})
        for n in (1, 2, 3, 1):
            firm = repository.get(make_uscc(n))
            assert convert.enterprise_answer(firm) == convert.enterprise_to_proto(firm)
            assert len(convert._ANSWERS) <= 2
    finally:
        engine.dispose()
