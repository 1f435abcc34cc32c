"""Alembic builds, from nothing, exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from registry_service.consent_store import metadata as consent_metadata
from registry_service.storage.tables import metadata as registry_metadata
from scoring_service.storage.tables import metadata as scoring_metadata
from tanxiao.platform import db
from tanxiao.platform.auth import metadata as auth_metadata
from tanxiao.platform.idempotency import metadata as idempotency_metadata

BY_ENTERPRISE = "ix_records_uscc_period_category"
CURRENT_KEY = "uq_records_current_key"  # SQLite's (0018_ingest8_sqlite_key); record_keys is PostgreSQL's


def _declared() -> sa.MetaData:
    combined = sa.MetaData()
    for table in [
        *registry_metadata.tables.values(),
        *idempotency_metadata.tables.values(),
        *scoring_metadata.tables.values(),
        *auth_metadata.tables.values(),
        *consent_metadata.tables.values(),
    ]:
        table.to_metadata(combined)
    return combined


def _schema_diff(url: str, declared: sa.MetaData) -> list[object]:
    """Alembic autogenerate's diff, restricted to the declared tables (later migrations add others)."""

    postgres = url.startswith("postgresql")

    def ours(_object: object, name: str | None, type_: str, _reflected: bool, _compare_to: object) -> bool:
        if postgres and type_ == "index" and name == BY_ENTERPRISE:
            return False  # PostgreSQL's records primary key (uscc, period, category, id) serves it
        if type_ == "index" and name == CURRENT_KEY:
            return not postgres  # declared for SQLite only (ddl_if), which autogenerate does not read
        if type_ == "table" and name == "record_keys":
            return postgres
        return type_ != "table" or name in declared.tables

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": ours}
            )
            return list(compare_metadata(context, declared))
    finally:
        engine.dispose()


def test_upgrade_from_empty_matches_declared_metadata(empty_db_url: str) -> None:
    declared = _declared()
    db.upgrade(empty_db_url)
    assert _schema_diff(empty_db_url, declared) == []
    engine = sa.create_engine(empty_db_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    postgres_only = set() if empty_db_url.startswith("postgresql") else {"record_keys"}
    assert set(declared.tables) - postgres_only <= tables


def test_idempotency_key_is_record_keys_on_postgresql_a_partial_index_on_sqlite(empty_db_url: str) -> None:
    db.upgrade(empty_db_url)
    engine = sa.create_engine(empty_db_url)
    try:
        inspector = sa.inspect(engine)
        indexes = {i["name"]: i for i in inspector.get_indexes("records")}
        if engine.dialect.name == "postgresql":
            assert inspector.get_pk_constraint("record_keys")["constrained_columns"] == [
                "source",
                "external_id",
            ]
            assert CURRENT_KEY not in indexes
        else:
            assert "record_keys" not in inspector.get_table_names()
            assert indexes[CURRENT_KEY]["column_names"] == ["source", "external_id"]
            assert indexes[CURRENT_KEY]["unique"]
            with engine.connect() as conn:
                sql = conn.exec_driver_sql(f"SELECT sql FROM sqlite_master WHERE name = '{CURRENT_KEY}'")
                assert str(sql.scalar_one()).endswith("WHERE is_current = 1")
    finally:
        engine.dispose()


def test_downgrade_then_upgrade_round_trips(empty_db_url: str) -> None:
    db.upgrade(empty_db_url)
    command.downgrade(db.alembic_config(empty_db_url), "base")
    engine = sa.create_engine(empty_db_url)
    try:
        assert not set(sa.inspect(engine).get_table_names()) & set(_declared().tables)
    finally:
        engine.dispose()
    db.upgrade(empty_db_url)
    assert _schema_diff(empty_db_url, _declared()) == []
