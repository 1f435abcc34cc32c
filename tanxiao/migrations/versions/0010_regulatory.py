"""Regulatory reporting: money in fen in the loan book; a loan's use of proceeds and benefits.

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-30

The loan book's float yuan columns (revision 0004) become integer fen: committed_amount_cny ->
committed_amount_fen, and on the balance events amount_cny -> amount_fen, outstanding_cny ->
outstanding_fen. Existing rows are converted with ROUND(yuan * 100) (half away from zero on both
SQLite and PostgreSQL); a non-finite or absurd float (e.g. 1e308) cannot be an integer, so such a row
makes the upgrade fail loudly rather than store a wrong number (clean it first).

Hand-written to match scoring_service/storage/tables.py (tests/integration/test_migrations.py diffs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None

FEN = sa.BigInteger()
YUAN = sa.Float(precision=53)
# (table, old float yuan column, new integer fen column)
MONEY_COLUMNS = (
    ("loans", "committed_amount_cny", "committed_amount_fen"),
    ("loan_balance_events", "amount_cny", "amount_fen"),
    ("loan_balance_events", "outstanding_cny", "outstanding_fen"),
)
# Beyond this (10^16 fen = 10^14 yuan) a stored amount is no loan: refuse to convert it.
MAX_CONVERTIBLE_YUAN = 1e14


def _convert(to_fen: bool) -> None:
    for table, yuan, fen in MONEY_COLUMNS:
        new, old = (fen, yuan) if to_fen else (yuan, fen)
        op.add_column(table, sa.Column(new, FEN if to_fen else YUAN, nullable=True))
        if to_fen:
            bad = (
                op.get_bind()
                .execute(
                    sa.text(f"SELECT COUNT(*) FROM {table} WHERE NOT ({old} BETWEEN :lo AND :hi)"),
                    {"lo": -MAX_CONVERTIBLE_YUAN, "hi": MAX_CONVERTIBLE_YUAN},
                )
                .scalar_one()
            )
            if bad:
                raise RuntimeError(f"{table}.{old}: {bad} amounts are not plausible; fix them before 0010")
            op.execute(f"UPDATE {table} SET {new} = CAST(ROUND({old} * 100) AS BIGINT)")
        else:
            op.execute(f"UPDATE {table} SET {new} = {old} / 100.0")
    for table in ("loans", "loan_balance_events"):
        with op.batch_alter_table(table) as batch:
            for name, yuan, fen in MONEY_COLUMNS:
                if name != table:
                    continue
                new, old = (fen, yuan) if to_fen else (yuan, fen)
                batch.alter_column(new, existing_type=FEN if to_fen else YUAN, nullable=False)
                batch.drop_column(old)


def _green_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("green_category", sa.String(16), nullable=False, server_default=""),
        sa.Column("co2_reduced_tco2_per_year", YUAN, nullable=False, server_default="0"),
        sa.Column("energy_saved_tce_per_year", YUAN, nullable=False, server_default="0"),
        sa.Column("benefit_factors", sa.String(64), nullable=False, server_default=""),
    ]


def upgrade() -> None:
    _convert(to_fen=True)
    with op.batch_alter_table("loans") as batch:
        for column in _green_columns():
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("loans") as batch:
        for column in _green_columns():
            batch.drop_column(column.name)
    _convert(to_fen=False)
