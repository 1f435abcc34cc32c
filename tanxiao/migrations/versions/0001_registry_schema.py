"""Registry schema: enterprises, financials, the data-category catalog, records, ingest batches and the
shared idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2025-11-25

Hand-written to match registry_service/storage/tables.py and tanxiao/platform/idempotency.py exactly
(tests/integration/test_migrations.py diffs the migrated schema against that metadata). The catalog's
*data* is not loaded here: the service loads its packaged catalog idempotently at start-up
(registry_service.storage.catalog.ensure_catalog), so a new catalog version needs no migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)
QUANTITY = sa.Float(precision=53)
BOOLEAN = sa.Boolean(create_constraint=False)


def upgrade() -> None:
    _enterprises()
    _catalog()
    _records()
    op.create_table(
        "idempotency_keys",
        sa.Column("method", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("response", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("method", "request_id", name="pk_idempotency_keys"),
    )


def _enterprises() -> None:
    op.create_table(
        "enterprises",
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("industry_code", sa.String(4), nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("size_class", sa.String(32), nullable=False),
        sa.Column("create_time", UTC_TIME, nullable=False),
        sa.Column("update_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("uscc", name="pk_enterprises"),
    )
    op.create_index("ix_enterprises_industry_code", "enterprises", ["industry_code"])
    op.create_index("ix_enterprises_region_code", "enterprises", ["region_code"])
    op.create_table(
        "enterprise_financials",
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("year", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("industrial_added_value_10k_cny", QUANTITY, nullable=True),
        sa.Column("revenue_10k_cny", QUANTITY, nullable=True),
        sa.Column("total_equity_10k_cny", QUANTITY, nullable=True),
        sa.Column("total_debt_10k_cny", QUANTITY, nullable=True),
        sa.Column("listed", BOOLEAN, nullable=False),
        sa.Column("evic_10k_cny", QUANTITY, nullable=True),
        sa.ForeignKeyConstraint(
            ["uscc"],
            ["enterprises.uscc"],
            name="fk_enterprise_financials_uscc_enterprises",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uscc", "year", name="pk_enterprise_financials"),
    )


def _catalog() -> None:
    op.create_table(
        "catalog_versions",
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("loaded_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_catalog_versions"),
    )
    op.create_table(
        "data_categories",
        sa.Column("catalog_version", sa.String(32), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("accepted_units", sa.JSON, nullable=False),
        sa.Column("kgce_per_unit", QUANTITY, nullable=True),
        sa.Column("kgco2_per_unit", QUANTITY, nullable=True),
        sa.Column("uses_grid_factor", BOOLEAN, nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["catalog_version"],
            ["catalog_versions.version"],
            name="fk_data_categories_catalog_version_catalog_versions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("catalog_version", "code", name="pk_data_categories"),
    )
    op.create_table(
        "grid_emission_factors",
        sa.Column("catalog_version", sa.String(32), nullable=False),
        sa.Column("region", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("tco2_per_mwh", QUANTITY, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["catalog_version"],
            ["catalog_versions.version"],
            name="fk_grid_emission_factors_catalog_version_catalog_versions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("catalog_version", "region", "year", name="pk_grid_emission_factors"),
    )


def _records() -> None:
    op.create_table(
        "ingest_batches",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("received", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("revised", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("ingest_time", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_batches"),
    )
    op.create_table(
        "records",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("is_current", BOOLEAN, nullable=False),
        sa.Column("quantity", QUANTITY, nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("canonical_quantity", QUANTITY, nullable=False),
        sa.Column("canonical_unit", sa.String(16), nullable=False),
        sa.Column("catalog_version", sa.String(32), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("batch_id", BIG_ID, nullable=False),
        sa.Column("ingest_time", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(["uscc"], ["enterprises.uscc"], name="fk_records_uscc_enterprises"),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["ingest_batches.id"], name="fk_records_batch_id_ingest_batches"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_records"),
        sa.UniqueConstraint(
            "source", "external_id", "revision", name="uq_records_source_external_id_revision"
        ),
    )
    op.create_index(
        "uq_records_current_key",
        "records",
        ["source", "external_id"],
        unique=True,
        sqlite_where=sa.text("is_current = 1"),
        postgresql_where=sa.text("is_current"),
    )
    op.create_index("ix_records_uscc_period_category", "records", ["uscc", "period", "category"])
    op.create_index("ix_records_batch_id", "records", ["batch_id"])


def downgrade() -> None:
    for index, table in (
        ("ix_records_batch_id", "records"),
        ("ix_records_uscc_period_category", "records"),
        ("uq_records_current_key", "records"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "records",
        "ingest_batches",
        "grid_emission_factors",
        "data_categories",
        "catalog_versions",
        "enterprise_financials",
        "enterprises",
        "idempotency_keys",
    ):
        op.drop_table(table)
