"""The registry's money in integer fen: annual financials, profiles' added value and revenue, capex.

Revision ID: 0013_i12
Revises: 0012
Create Date: 2026-11-30

The registry's float 万元 columns become BIGINT fen (1 万元 = 1,000,000 fen):
enterprise_financials.{industrial_added_value,revenue,total_equity,total_debt,evic}_10k_cny ->
*_fen, carbon_profiles.{added_value,revenue}_10k_cny -> *_fen, commitments.capex_10k_cny ->
capex_fen, benchmarks.total_added_value (万元, a cell's sum) -> total_added_value_fen. Existing
values are converted in Python, identically on SQLite and PostgreSQL, from the float's shortest
decimal text (1234.5678 -> 1,234,567,800 fen exactly), a half fen rounded away from
zero (half-up on the magnitude). NULL stays NULL; a non-finite or absurd float (beyond 10^12 万元)
cannot be money, so such a row makes the upgrade fail loudly rather than store a wrong number.
The downgrade divides back (fen / 1,000,000 as double precision).

Hand-written to match registry_service/storage/tables.py (tests/integration/test_migrations.py diffs;
tests/integration/test_registry_money_migration.py converts hand-made rows on both databases).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from alembic import op

revision = "0013_i12"
down_revision = "0012"
branch_labels = None
depends_on = None

FEN = sa.BigInteger()
WAN = sa.Float(precision=53)
FEN_PER_10K_YUAN = 1_000_000
MAX_WAN = 1e12  # 10^16 yuan: no firm's figure; beyond it the row is wrong, not money
# table -> (primary key columns, [(old 万元 column, new fen column, nullable)])
MONEY: dict[str, tuple[tuple[str, ...], list[tuple[str, str, bool]]]] = {
    "enterprise_financials": (
        ("uscc", "year"),
        [
            ("industrial_added_value_10k_cny", "industrial_added_value_fen", True),
            ("revenue_10k_cny", "revenue_fen", True),
            ("total_equity_10k_cny", "total_equity_fen", True),
            ("total_debt_10k_cny", "total_debt_fen", True),
            ("evic_10k_cny", "evic_fen", True),
        ],
    ),
    "carbon_profiles": (
        ("uscc", "period"),
        [("added_value_10k_cny", "added_value_fen", True), ("revenue_10k_cny", "revenue_fen", True)],
    ),
    "commitments": (("id",), [("capex_10k_cny", "capex_fen", False)]),
    "benchmarks": (
        ("year", "industry_code", "region_code"),
        [("total_added_value", "total_added_value_fen", False)],
    ),
}
_BATCH = 2_000


def wan_to_fen(value: float | None, where: str) -> int | None:
    """One stored 万元 float -> fen, half away from zero on its shortest decimal text."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number) or abs(number) > MAX_WAN:
        raise RuntimeError(f"{where}: {number!r} 万元 is not a plausible amount; fix it before 0013_i12")
    fen = (Decimal(repr(number)) * FEN_PER_10K_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(fen)


def _copy(table: str, to_fen: bool) -> None:
    keys, columns = MONEY[table]
    sources = [old if to_fen else new for old, new, _ in columns]
    targets = [new if to_fen else old for old, new, _ in columns]
    bind = op.get_bind()
    select = sa.text(f"SELECT {', '.join([*keys, *sources])} FROM {table}")
    assignments = ", ".join(f"{target} = :v{i}" for i, target in enumerate(targets))
    condition = " AND ".join(f"{key} = :k{i}" for i, key in enumerate(keys))
    update = sa.text(f"UPDATE {table} SET {assignments} WHERE {condition}")
    rows = bind.execute(select).all()
    for start in range(0, len(rows), _BATCH):
        params = []
        for row in rows[start : start + _BATCH]:
            item: dict[str, object] = {f"k{i}": row[i] for i in range(len(keys))}
            for i, value in enumerate(row[len(keys) :]):
                where = f"{table}.{sources[i]} ({', '.join(str(k) for k in row[: len(keys)])})"
                if to_fen:
                    item[f"v{i}"] = wan_to_fen(value, where)
                else:
                    item[f"v{i}"] = None if value is None else int(value) / FEN_PER_10K_YUAN
            params.append(item)
        bind.execute(update, params)


def _convert(to_fen: bool) -> None:
    for table, (_, columns) in MONEY.items():
        for old, new, _nullable in columns:
            name, kind = (new, FEN) if to_fen else (old, WAN)
            op.add_column(table, sa.Column(name, kind, nullable=True))
        _copy(table, to_fen)
        with op.batch_alter_table(table) as batch:
            for old, new, nullable in columns:
                name, kind, gone = (new, FEN, old) if to_fen else (old, WAN, new)
                if not nullable:
                    batch.alter_column(name, existing_type=kind, nullable=False)
                batch.drop_column(gone)


def upgrade() -> None:
    _convert(to_fen=True)


def downgrade() -> None:
    _convert(to_fen=False)
