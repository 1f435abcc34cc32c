"""Carbon profiles, industry benchmarks, the profile recompute queue, retrofit commitments.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Hand-written to match registry_service/storage/tables.py (tests/integration/test_migrations.py diffs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)
QUANTITY = sa.Float(precision=53)
BOOLEAN = sa.Boolean(create_constraint=False)


def _fk(table: str, column: str, target: str, target_column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.{target_column}"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def upgrade() -> None:
    _profiles()
    _benchmarks()
    _commitments()


def downgrade() -> None:
    op.drop_table("commitment_verifications")
    op.drop_table("commitments")
    op.drop_table("profile_dirty")
    op.drop_table("benchmarks")
    op.drop_index("ix_carbon_profiles_granularity_year_grade", table_name="carbon_profiles")
    op.drop_table("carbon_profiles")


def _profiles() -> None:
    quantities = [
        "energy_tce",
        "scope1_tco2",
        "scope2_gross_tco2",
        "green_power_netting_tco2",
        "own_renewable_netting_tco2",
        "gross_tco2",
        "net_tco2",
    ]
    optional = ["added_value_10k_cny", "revenue_10k_cny", "energy_intensity", "carbon_intensity"]
    op.create_table(
        "carbon_profiles",
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("period", sa.String(12), nullable=False),
        sa.Column("granularity", sa.String(10), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("industry_code", sa.String(4), nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("months_covered", sa.Integer, nullable=False),
        sa.Column("months_expected", sa.Integer, nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False),
        *(sa.Column(name, QUANTITY, nullable=False) for name in quantities),
        *(sa.Column(name, QUANTITY, nullable=True) for name in optional),
        sa.Column("neutrality_rate", QUANTITY, nullable=True),
        sa.Column("benchmark_industry_code", sa.String(4), nullable=True),
        sa.Column("benchmark_region_code", sa.String(6), nullable=True),
        sa.Column("benchmark_year", sa.Integer, nullable=True),
        sa.Column("benchmark_intensity", QUANTITY, nullable=True),
        sa.Column("k_value", QUANTITY, nullable=True),
        sa.Column("grade", sa.Integer, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("quality_score", QUANTITY, nullable=True),
        sa.Column("pcaf_score", sa.Integer, nullable=True),
        sa.Column("trend_direction", sa.String(20), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("catalog_version", sa.String(32), nullable=False),
        sa.Column("grading_method", sa.String(64), nullable=False),
        sa.Column("inputs_fingerprint", sa.String(64), nullable=False),
        sa.Column("compute_time", UTC_TIME, nullable=False),
        _fk("carbon_profiles", "uscc", "enterprises", "uscc"),
        sa.PrimaryKeyConstraint("uscc", "period", name="pk_carbon_profiles"),
    )
    op.create_index(
        "ix_carbon_profiles_granularity_year_grade", "carbon_profiles", ["granularity", "year", "grade"]
    )
    op.create_table(
        "profile_dirty",
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("marked_at", UTC_TIME, nullable=False),
        _fk("profile_dirty", "uscc", "enterprises", "uscc"),
        sa.PrimaryKeyConstraint("uscc", name="pk_profile_dirty"),
    )


def _benchmarks() -> None:
    op.create_table(
        "benchmarks",
        sa.Column("year", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("industry_code", sa.String(4), nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("industry_depth", sa.Integer, nullable=False),
        sa.Column("region_level", sa.String(10), nullable=False),
        *(
            sa.Column(name, QUANTITY, nullable=False)
            for name in ("average_intensity", "median_intensity", "q1_intensity", "q3_intensity")
        ),
        sa.Column("enterprise_count", sa.Integer, nullable=False),
        sa.Column("total_tco2", QUANTITY, nullable=False),
        sa.Column("total_added_value", QUANTITY, nullable=False),
        sa.Column("grading_method", sa.String(64), nullable=False),
        sa.Column("compute_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("year", "industry_code", "region_code", name="pk_benchmarks"),
    )


def _commitments() -> None:
    op.create_table(
        "commitments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("project_type", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("baseline_year", sa.Integer, nullable=False),
        sa.Column("baseline_intensity", QUANTITY, nullable=True),
        sa.Column("baseline_tco2", QUANTITY, nullable=True),
        sa.Column("baseline_tce", QUANTITY, nullable=True),
        sa.Column("target_savings_tce_per_year", QUANTITY, nullable=False),
        sa.Column("target_savings_tco2_per_year", QUANTITY, nullable=False),
        sa.Column("capex_10k_cny", QUANTITY, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("milestones", sa.JSON, nullable=False),
        sa.Column("verifier", sa.String(200), nullable=False),
        sa.Column("create_time", UTC_TIME, nullable=False),
        _fk("commitments", "uscc", "enterprises", "uscc"),
        sa.PrimaryKeyConstraint("id", name="pk_commitments"),
    )
    op.create_index("ix_commitments_uscc", "commitments", ["uscc"])
    op.create_table(
        "commitment_verifications",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("commitment_id", sa.String(32), nullable=False),
        sa.Column("verification_date", sa.Date, nullable=False),
        sa.Column("verifier", sa.String(200), nullable=False),
        sa.Column("verified_savings_tco2", QUANTITY, nullable=False),
        sa.Column("verified_savings_tce", QUANTITY, nullable=False),
        sa.Column("passed", BOOLEAN, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("record_time", UTC_TIME, nullable=False),
        _fk("commitment_verifications", "commitment_id", "commitments", "id"),
        sa.PrimaryKeyConstraint("id", name="pk_commitment_verifications"),
    )
    op.create_index(
        "ix_commitment_verifications_commitment_id", "commitment_verifications", ["commitment_id"]
    )
