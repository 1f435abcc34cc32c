"""The registry served in-process on port 0 over each test database (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from helpers import DEVELOPMENT, Registry, serving_registry
from sqlalchemy.engine import make_url

from tanxiao.platform.config import Settings

# Small limits so the RESOURCE_EXHAUSTED paths are cheap to reach.
TEST_MAX_BATCH_RECORDS = 200
TEST_MAX_STREAM_RECORDS = 2_000


def registry_settings(url: str) -> Settings:
    return Settings.from_env(
        {
            "TANXIAO_DATABASE_URL": url,
            "TANXIAO_MAX_BATCH_RECORDS": str(TEST_MAX_BATCH_RECORDS),
            "TANXIAO_MAX_STREAM_RECORDS": str(TEST_MAX_STREAM_RECORDS),
            "TANXIAO_MAX_WORKERS": "4",
            **DEVELOPMENT,
        }
    )


@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:
    with serving_registry(registry_settings(db_url), db_url) as registry:
        yield registry


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A database with no tables at all (not even alembic_version), on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/empty.db"
        return
    # Reuse the session database's server (and its skip-or-fail-in-CI handling when it is down).
    server_url = make_url(request.getfixturevalue("postgres_database"))
    name = f"tanxiao_empty_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
