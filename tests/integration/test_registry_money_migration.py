"""Revision 0013_i12 turns the registry's float 万元 into integer fen, on SQLite and PostgreSQL: rows
written under 0012 come out exactly (the float's decimal text x 1,000,000, a half fen away from zero),
NULL stays NULL, an implausible amount stops the upgrade, and the downgrade gives the 万元 back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from helpers import make_uscc

from tanxiao.platform import db

UTC_NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
USCC = make_uscc(7)
# 万元 written under 0012 -> the fen 0013_i12 must store
FINANCIALS = {
    2023: {
        "industrial_added_value_10k_cny": (1200.5, 1_200_500_000),
        "revenue_10k_cny": (0.0, 0),
        "total_equity_10k_cny": (-50.25, -50_250_000),
        "total_debt_10k_cny": (None, None),
        "evic_10k_cny": (1234.5678, 1_234_567_800),  # 0.1 and friends are not exact binary floats
    },
    2024: {
        "industrial_added_value_10k_cny": (0.0000005, 1),  # half a fen: up
        "revenue_10k_cny": (0.0000004, 0),  # less than half: down
        "total_equity_10k_cny": (-0.0000005, -1),  # half a fen below zero: away from zero
        "total_debt_10k_cny": (999_999.999999, 999_999_999_999),
        "evic_10k_cny": (None, None),
    },
}


def _filler(column: sa.Column[Any]) -> Any:
    """A value for a NOT NULL column the test does not care about."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 0
    if isinstance(kind, sa.Float | sa.Numeric):
        return 0.0
    if isinstance(kind, sa.DateTime):
        return UTC_NOW
    if isinstance(kind, sa.Date):
        return dt.date(2023, 1, 1)
    if isinstance(kind, sa.JSON):
        return []
    return "x"


def _row(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    filled = {
        c.name: _filler(c)
        for c in table.columns
        if not c.nullable and c.server_default is None and c.autoincrement is not True
    }
    return {**filled, **values}


def _seed_0012(url: str, capex: float = 800.25) -> None:
    db.upgrade(url, "0012")
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(
            engine,
            only=["enterprises", "enterprise_financials", "carbon_profiles", "commitments", "benchmarks"],
        )
        t = meta.tables
        with engine.begin() as conn:
            conn.execute(t["enterprises"].insert(), [_row(t["enterprises"], {"uscc": USCC})])
            conn.execute(
                t["enterprise_financials"].insert(),
                [
                    _row(t["enterprise_financials"], {"uscc": USCC, "year": year, "listed": False})
                    | {name: wan for name, (wan, _) in columns.items()}
                    for year, columns in FINANCIALS.items()
                ],
            )
            conn.execute(
                t["carbon_profiles"].insert(),
                [
                    _row(t["carbon_profiles"], {"uscc": USCC, "period": "2023", "year": 2023})
                    | {"added_value_10k_cny": 3_000.0, "revenue_10k_cny": None},
                    _row(t["carbon_profiles"], {"uscc": USCC, "period": "2024", "year": 2024})
                    | {"added_value_10k_cny": 2_999.9999995, "revenue_10k_cny": 12_000.125},  # .5 fen: up
                ],
            )
            conn.execute(
                t["benchmarks"].insert(),
                [
                    _row(t["benchmarks"], {"year": 2023, "industry_code": "2822", "region_code": "330500"})
                    | {"total_added_value": 18_000.5}
                ],
            )
            conn.execute(
                t["commitments"].insert(),
                [
                    _row(t["commitments"], {"id": "c1", "uscc": USCC, "milestones": []})
                    | {"capex_10k_cny": capex}
                ],
            )
    finally:
        engine.dispose()


def _read(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def test_registry_money_becomes_exact_fen_and_back(empty_db_url: str) -> None:
    url = empty_db_url
    _seed_0012(url)
    db.upgrade(url)
    names = list(FINANCIALS[2023])
    fen_names = [n.replace("_10k_cny", "_fen") for n in names]
    rows = _read(url, f"SELECT year, {', '.join(fen_names)} FROM enterprise_financials ORDER BY year")
    assert rows == [(year, *(fen for _, fen in FINANCIALS[year].values())) for year in sorted(FINANCIALS)]
    assert all(isinstance(v, int) for r in rows for v in r[1:] if v is not None)
    profiles = _read(url, "SELECT period, added_value_fen, revenue_fen FROM carbon_profiles ORDER BY period")
    assert profiles == [("2023", 3_000_000_000, None), ("2024", 3_000_000_000, 12_000_125_000)]
    assert _read(url, "SELECT id, capex_fen FROM commitments") == [("c1", 800_250_000)]
    assert _read(url, "SELECT total_added_value_fen FROM benchmarks") == [(18_000_500_000,)]
    engine = sa.create_engine(url)
    try:
        columns = {c["name"] for c in sa.inspect(engine).get_columns("enterprise_financials")}
    finally:
        engine.dispose()
    assert set(fen_names) <= columns and not {n for n in columns if n.endswith("_10k_cny")}

    # the downgrade divides back: 万元 as double precision again
    command.downgrade(db.alembic_config(url), "0012")
    back = _read(url, f"SELECT year, {', '.join(names)} FROM enterprise_financials ORDER BY year")
    assert back[0] == (2023, 1200.5, 0.0, -50.25, None, 1234.5678)
    assert _read(url, "SELECT capex_10k_cny FROM commitments") == [(800.25,)]
    # and up again: the same fen
    db.upgrade(url)
    assert _read(url, "SELECT capex_fen FROM commitments") == [(800_250_000,)]


def test_an_implausible_amount_stops_the_upgrade(empty_db_url: str) -> None:
    _seed_0012(empty_db_url, capex=1e13)  # 10^17 yuan: not a project
    with pytest.raises(RuntimeError, match=r"commitments\.capex_10k_cny \(c1\).*not a plausible amount"):
        db.upgrade(empty_db_url)
