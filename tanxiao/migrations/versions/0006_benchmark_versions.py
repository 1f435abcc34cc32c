"""Published benchmark versions: a version per RecomputeBenchmarks of a year, its member firms, and the
cells' version and leave-one-out extremes (docs/accounting.md section 4, "Published versions").

Revision ID: 0006
Revises: 0010
Create Date: 2026-11-30

Hand-written to match registry_service/storage/tables.py (tests/integration/test_migrations.py diffs).
Benchmarks stored before this revision become version 1 of their year (server default); their
leave-one-out extremes are NULL until the next recompute, so profiles graded against them are not
flagged sensitive until then.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)
QUANTITY = sa.Float(precision=53)


def upgrade() -> None:
    with op.batch_alter_table("benchmarks") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("loo_min_intensity", QUANTITY, nullable=True))
        batch.add_column(sa.Column("loo_max_intensity", QUANTITY, nullable=True))
    op.create_table(
        "benchmark_versions",
        sa.Column("year", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("version", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("compute_time", UTC_TIME, nullable=False),
        sa.Column("grading_method", sa.String(64), nullable=False),
        sa.Column("firm_count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("year", "version", name="pk_benchmark_versions"),
    )
    op.create_table(
        "benchmark_members",
        sa.Column("year", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("version", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.PrimaryKeyConstraint("year", "version", "uscc", name="pk_benchmark_members"),
        sa.ForeignKeyConstraint(
            ["year", "version"],
            ["benchmark_versions.year", "benchmark_versions.version"],
            name="fk_benchmark_members_year_benchmark_versions",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("benchmark_members")
    op.drop_table("benchmark_versions")
    with op.batch_alter_table("benchmarks") as batch:
        batch.drop_column("loo_max_intensity")
        batch.drop_column("loo_min_intensity")
        batch.drop_column("version")
