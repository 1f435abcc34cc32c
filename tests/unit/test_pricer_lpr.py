"""Pricer.lpr keeps the table's answer by (table, term, date): the same quote the table gives, a new
one on another day, another term or another table, and the table's error as FAILED_PRECONDITION."""

from __future__ import annotations

import datetime as dt

import pytest

from loan_rules.lpr import default_lpr_table
from scoring_service.pricing import Pricer, load_configured_policy
from tanxiao.errors import FailedPrecondition
from tanxiao.platform.config import Settings


def test_kept_lpr_is_the_tables_answer_for_the_day_term_and_table() -> None:
    table = default_lpr_table()
    days = [table.fixings[0].effective_date, table.fixings[-1].effective_date, dt.date(2026, 12, 2)]
    today = [days[0]]
    pricer = Pricer(None, None, load_configured_policy(Settings()), table, today=lambda: today[0])  # type: ignore[arg-type]
    for day in days * 2:
        today[0] = day
        for tenor in (1, 36, 60, 61, 360):
            assert pricer.lpr(tenor) == table.lpr_for(tenor, day)
    other = default_lpr_table()
    pricer.lpr_table = other
    assert pricer.lpr(36) is not table.lpr_for(36, today[0]) and pricer.lpr(36) == other.lpr_for(36, today[0])
    today[0] = days[0] - dt.timedelta(days=1)
    with pytest.raises(FailedPrecondition):
        pricer.lpr(36)
