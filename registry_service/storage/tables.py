"""The registry's tables (SQLAlchemy Core). Alembic revision 0001 creates exactly this schema, plus the
shared ``idempotency_keys`` table defined in tanxiao.platform.idempotency.

Portable across SQLite and PostgreSQL: money is integer fen (BIGINT, revision 0013), quantities are
double precision floats, timestamps are
timezone-aware (UTC), surrogate ids are BIGINT on PostgreSQL and INTEGER (rowid alias) on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa

from tanxiao.platform.schema import BigId, Quantity, UtcTime, new_metadata

Fen = sa.BigInteger()  # money: integer fen (1 万元 = 1,000,000 fen)

metadata = new_metadata()


enterprises = sa.Table(
    "enterprises",
    metadata,
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("industry_code", sa.String(4), nullable=False),
    sa.Column("region_code", sa.String(6), nullable=False),
    sa.Column("size_class", sa.String(32), nullable=False),
    sa.Column("create_time", UtcTime, nullable=False),
    sa.Column("update_time", UtcTime, nullable=False),
    sa.Index(None, "industry_code"),
    sa.Index(None, "region_code"),
)

enterprise_financials = sa.Table(
    "enterprise_financials",
    metadata,
    sa.Column("uscc", sa.String(18), sa.ForeignKey("enterprises.uscc", ondelete="CASCADE"), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("industrial_added_value_fen", Fen, nullable=True),
    sa.Column("revenue_fen", Fen, nullable=True),
    sa.Column("total_equity_fen", Fen, nullable=True),
    sa.Column("total_debt_fen", Fen, nullable=True),
    sa.Column("listed", sa.Boolean(create_constraint=False), nullable=False),
    sa.Column("evic_fen", Fen, nullable=True),
)

# One row per catalog version ever loaded; a version's content is immutable (checked by content_hash).
catalog_versions = sa.Table(
    "catalog_versions",
    metadata,
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("loaded_at", UtcTime, nullable=False),
)

data_categories = sa.Table(
    "data_categories",
    metadata,
    sa.Column(
        "catalog_version",
        sa.String(32),
        sa.ForeignKey("catalog_versions.version", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),  # order in the catalog file
    sa.Column("name_zh", sa.String(100), nullable=False),
    sa.Column("name_en", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("unit", sa.String(16), nullable=False),
    sa.Column("accepted_units", sa.JSON, nullable=False),  # [{"unit": "MWh", "multiplier": 1000.0}, ...]
    sa.Column("kgce_per_unit", Quantity, nullable=True),
    sa.Column("kgco2_per_unit", Quantity, nullable=True),
    sa.Column("uses_grid_factor", sa.Boolean(create_constraint=False), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
)

grid_emission_factors = sa.Table(
    "grid_emission_factors",
    metadata,
    sa.Column(
        "catalog_version",
        sa.String(32),
        sa.ForeignKey("catalog_versions.version", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("region", sa.String(16), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("tco2_per_mwh", Quantity, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
)

ingest_batches = sa.Table(
    "ingest_batches",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("received", sa.Integer, nullable=False),
    sa.Column("accepted", sa.Integer, nullable=False),
    sa.Column("duplicates", sa.Integer, nullable=False),
    sa.Column("revised", sa.Integer, nullable=False),
    sa.Column("rejected", sa.Integer, nullable=False),
    sa.Column("ingest_time", UtcTime, nullable=False),
)

records = sa.Table(
    "records",
    metadata,
    # PostgreSQL (revision 0016_pgpart): partitioned by RANGE (period), one partition per year plus a
    # DEFAULT one (registry_service/storage/record_partitions.py). Its primary key there is (uscc, period,
    # category, id): every unique index of a partitioned table must hold the partition key, and this one
    # also serves the by-enterprise reads, so it is the table's only index (the index below is SQLite's;
    # one index per row written instead of two). ids still come from one sequence, so id alone stays
    # unique. SQLite: one table, id the rowid.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    # No foreign keys (revision 0015_i17): their per-row checks were most of the ingest's cost; the ingest
    # checks and locks the enterprises in bulk and writes the batch row in the same transaction.
    sa.Column("uscc", sa.String(18), nullable=False),  # a registered enterprise
    sa.Column("period", sa.String(7), nullable=False),  # "YYYY-MM": sorts and ranges as text
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),  # tanxiao.common.v1.DataSource name
    sa.Column("external_id", sa.String(128), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("is_current", sa.Boolean(create_constraint=False), nullable=False),
    sa.Column("quantity", Quantity, nullable=False),  # as sent
    sa.Column("unit", sa.String(16), nullable=False),  # as sent; empty = canonical
    sa.Column("canonical_quantity", Quantity, nullable=False),
    sa.Column("canonical_unit", sa.String(16), nullable=False),
    sa.Column("catalog_version", sa.String(32), nullable=False),  # catalog used for the conversion
    sa.Column("content_hash", sa.String(64), nullable=False),  # sha256 of the content as sent
    sa.Column("batch_id", BigId, nullable=False),  # ingest_batches.id
    sa.Column("ingest_time", UtcTime, nullable=False),
    # Uniqueness of the idempotency key: on PostgreSQL in record_keys (0016_pgpart), as a partitioned
    # table cannot have a unique index on (source, external_id) alone, and a correction may move a record
    # to another month, i.e. another partition; on SQLite (one table) this partial unique index
    # (0018_ingest8_sqlite_key): one index entry a current row instead of a record_keys row a key.
    sa.Index(None, "uscc", "period", "category"),
    sa.Index(
        "uq_records_current_key", "source", "external_id", unique=True, sqlite_where=sa.text("is_current = 1")
    ).ddl_if(dialect="sqlite"),
    postgresql_partition_by="RANGE (period)",
)

# PostgreSQL only (SQLite: records' partial unique index, 0018_ingest8_sqlite_key). The current revision
# of every idempotency key (source, external_id), whatever its period: one row per key, written by the
# ingest in the transaction that writes the record (registry_service/storage/record_merge.py). Its
# primary key is what makes a key's revisions one sequence under concurrent ingests: a new key is
# inserted (two racing ingests collide on the key), a known one is updated only from the revision the
# ingest read (a mismatch re-runs the ingest). The ingest's lookup reads this narrow table, never the
# partitioned records.
record_keys = sa.Table(
    "record_keys",
    metadata,
    # Bytewise comparisons (0020_pg12_record_keys_c): an identifier, only ever compared for equality,
    # whose primary key insertions skipped the database's strcoll.
    sa.Column("source", sa.String(32, collation="C"), primary_key=True),
    sa.Column("external_id", sa.String(128, collation="C"), primary_key=True),
    # Where the current revision is: records' primary key on PostgreSQL, (uscc, period, category, id).
    sa.Column("record_id", BigId, nullable=False),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
)

# --- revision 0002: profiles, benchmarks, commitments -------------------------------------------------

# One row per enterprise and period ("2024", "2024-Q1", "2024-03", "R12-2024-03"). Columns that reports
# filter or aggregate on are columns; the rest of the profile (trend, quality flags, benchmark fallback
# steps) is in ``details`` (JSON). Rewritten whole on every recompute of the enterprise.
carbon_profiles = sa.Table(
    "carbon_profiles",
    metadata,
    sa.Column("uscc", sa.String(18), sa.ForeignKey("enterprises.uscc", ondelete="CASCADE"), primary_key=True),
    sa.Column("period", sa.String(12), primary_key=True),
    sa.Column("granularity", sa.String(10), nullable=False),  # month / quarter / year / rolling12
    sa.Column("year", sa.Integer, nullable=False),  # of the period's last month
    sa.Column("industry_code", sa.String(4), nullable=False),
    sa.Column("region_code", sa.String(6), nullable=False),
    sa.Column("months_covered", sa.Integer, nullable=False),
    sa.Column("months_expected", sa.Integer, nullable=False),
    sa.Column("record_count", sa.Integer, nullable=False),
    sa.Column("energy_tce", Quantity, nullable=False),
    sa.Column("scope1_tco2", Quantity, nullable=False),
    sa.Column("scope2_gross_tco2", Quantity, nullable=False),
    sa.Column("green_power_netting_tco2", Quantity, nullable=False),
    sa.Column("own_renewable_netting_tco2", Quantity, nullable=False),
    sa.Column("gross_tco2", Quantity, nullable=False),
    sa.Column("net_tco2", Quantity, nullable=False),
    sa.Column("added_value_fen", Fen, nullable=True),
    sa.Column("revenue_fen", Fen, nullable=True),
    sa.Column("energy_intensity", Quantity, nullable=True),
    sa.Column("carbon_intensity", Quantity, nullable=True),
    sa.Column("neutrality_rate", Quantity, nullable=True),
    sa.Column("benchmark_industry_code", sa.String(4), nullable=True),
    sa.Column("benchmark_region_code", sa.String(6), nullable=True),
    sa.Column("benchmark_year", sa.Integer, nullable=True),
    sa.Column("benchmark_intensity", Quantity, nullable=True),
    sa.Column("k_value", Quantity, nullable=True),
    sa.Column("grade", sa.Integer, nullable=False),  # 0 = ungraded
    sa.Column("level", sa.String(16), nullable=False),  # LOW_CARBON / MEDIUM_CARBON / HIGH_CARBON / ""
    sa.Column("quality_score", Quantity, nullable=True),
    sa.Column("pcaf_score", sa.Integer, nullable=True),
    sa.Column("trend_direction", sa.String(20), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("catalog_version", sa.String(32), nullable=False),
    sa.Column("grading_method", sa.String(64), nullable=False),
    sa.Column("inputs_fingerprint", sa.String(64), nullable=False),
    sa.Column("compute_time", UtcTime, nullable=False),
    sa.Index(None, "granularity", "year", "grade"),
)

# Industry averages per (industry code at its depth) x (region code at its level) x year; the code's
# length is the depth and the region code's zeros are the level, so the key needs no more columns.
benchmarks = sa.Table(
    "benchmarks",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("industry_code", sa.String(4), primary_key=True),
    sa.Column("region_code", sa.String(6), primary_key=True),
    sa.Column("industry_depth", sa.Integer, nullable=False),
    sa.Column("region_level", sa.String(10), nullable=False),
    sa.Column("average_intensity", Quantity, nullable=False),
    sa.Column("median_intensity", Quantity, nullable=False),
    sa.Column("q1_intensity", Quantity, nullable=False),
    sa.Column("q3_intensity", Quantity, nullable=False),
    sa.Column("enterprise_count", sa.Integer, nullable=False),
    sa.Column("total_tco2", Quantity, nullable=False),
    sa.Column("total_added_value_fen", Fen, nullable=False),  # the cell's added value, fen (0013)
    sa.Column("grading_method", sa.String(64), nullable=False),
    sa.Column("compute_time", UtcTime, nullable=False),
    # revision 0006: the published version these rows are, and the cell's leave-one-out extremes
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("loo_min_intensity", Quantity, nullable=True),
    sa.Column("loo_max_intensity", Quantity, nullable=True),
)

# --- revision 0006: published benchmark versions --------------------------------------------------

# One row per RecomputeBenchmarks of a year: version n of the year's benchmarks, when and from how many
# firms. ``benchmarks`` holds the cells of the latest version; a profile names the version it used.
benchmark_versions = sa.Table(
    "benchmark_versions",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("compute_time", UtcTime, nullable=False),
    sa.Column("grading_method", sa.String(64), nullable=False),
    sa.Column("firm_count", sa.Integer, nullable=False),
)

# The firms whose complete year profiles a version was computed from (self-inclusion on a profile).
benchmark_members = sa.Table(
    "benchmark_members",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.ForeignKeyConstraint(
        ["year", "version"], ["benchmark_versions.year", "benchmark_versions.version"], ondelete="CASCADE"
    ),
)

# Enterprises whose records changed since their profiles were computed (written in the ingest's own
# transaction, so a committed record always leaves its enterprise marked). ``version`` grows with each
# mark: a recompute clears the mark only if nothing was ingested while it ran.
profile_dirty = sa.Table(
    "profile_dirty",
    metadata,
    sa.Column("uscc", sa.String(18), sa.ForeignKey("enterprises.uscc", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("marked_at", UtcTime, nullable=False),
)

# Profile changes, numbered in the order they were recorded (registry_service/storage/profile_changes.py):
# what WatchProfileChanges streams. ``usccs`` lists the enterprises (space-separated), NULL = all.
profile_changes = sa.Table(
    "profile_changes",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column("usccs", sa.Text, nullable=True),
    sa.Column("recomputed_year", sa.Integer, nullable=True),
    sa.Column("change_time", UtcTime, nullable=False),
    sqlite_autoincrement=True,  # never reuse a number: subscribers resume after it
)

commitments = sa.Table(
    "commitments",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("uscc", sa.String(18), sa.ForeignKey("enterprises.uscc", ondelete="CASCADE"), nullable=False),
    sa.Column("project_type", sa.String(16), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("baseline_year", sa.Integer, nullable=False),
    sa.Column("baseline_intensity", Quantity, nullable=True),
    sa.Column("baseline_tco2", Quantity, nullable=True),
    sa.Column("baseline_tce", Quantity, nullable=True),
    sa.Column("target_savings_tce_per_year", Quantity, nullable=False),
    sa.Column("target_savings_tco2_per_year", Quantity, nullable=False),
    sa.Column("capex_fen", Fen, nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("milestones", sa.JSON, nullable=False),  # [{"title", "due_date", "target_fraction"}]
    sa.Column("verifier", sa.String(200), nullable=False),
    sa.Column("create_time", UtcTime, nullable=False),
    sa.Index(None, "uscc"),
)

verifications = sa.Table(
    "commitment_verifications",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "commitment_id", sa.String(32), sa.ForeignKey("commitments.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("verification_date", sa.Date, nullable=False),
    sa.Column("verifier", sa.String(200), nullable=False),
    sa.Column("verified_savings_tco2", Quantity, nullable=False),
    sa.Column("verified_savings_tce", Quantity, nullable=False),
    sa.Column("passed", sa.Boolean(create_constraint=False), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("record_time", UtcTime, nullable=False),
    sa.Index(None, "commitment_id"),
)

# --- revision 0011: green-power contracts and green certificates claimed once ------------------------

# One row per contract or certificate id (EnergyRecord.instrument_id), held by the first record key
# (enterprise, month, category) that claimed it; a later record of another key is rejected. Never
# deleted: a certificate's environmental attribute is used up once claimed (docs/accounting.md).
instrument_claims = sa.Table(
    "instrument_claims",
    metadata,
    sa.Column("instrument_id", sa.String(128), primary_key=True),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("claim_time", UtcTime, nullable=False),
)

# --- utility accounts (registry_service.domain.accounts) ---------------------------------------------
# An account (电力户号 and the like) named "utilityAccounts/{kind}/{number}", and who held it when.
# Holdings may overlap (verification data disagrees): kept as registered, reported as ambiguous.
utility_accounts = sa.Table(
    "utility_accounts",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("number", sa.String(64), nullable=False),
    sa.Column("create_time", UtcTime, nullable=False),
    sa.Index(None, "kind"),
)

utility_account_holdings = sa.Table(
    "utility_account_holdings",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "account", sa.String(100), sa.ForeignKey("utility_accounts.name", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("uscc", sa.String(18), sa.ForeignKey("enterprises.uscc", ondelete="CASCADE"), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date, nullable=True),  # exclusive; NULL = still held
    sa.Index(None, "account"),
    sa.Index(None, "uscc"),
)

# Rows rejected because their account could not be attributed, appended per ingest batch (no upsert:
# concurrent ingests never collide); the reconciliation report sums them per account and reason.
utility_account_sightings = sa.Table(
    "utility_account_sightings",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(100), nullable=False),  # not a foreign key: may be unregistered
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("reason_code", sa.String(32), nullable=False),
    sa.Column("claimed_uscc", sa.String(18), nullable=False),
    sa.Column("holder_uscc", sa.String(18), nullable=False),
    sa.Column("first_period", sa.String(7), nullable=False),
    sa.Column("last_period", sa.String(7), nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("seen_time", UtcTime, nullable=False),
    sa.Index(None, "reason_code", "account"),
)
