"""Shared fixtures: migrated databases (SQLite and PostgreSQL) and in-process servers on port 0.

PostgreSQL comes from TANXIAO_TEST_POSTGRES_URL (the Makefile points it at 127.0.0.1:5432/test). Each
pytest worker gets its own database, created once and truncated between tests. When it is unreachable
the PostgreSQL tests skip locally but FAIL when CI=true, so CI can never pass without PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings
from sqlalchemy.engine import make_url

from tanxiao.platform import db
from tanxiao.platform import logging as service_logging

# Property tests assert properties, never timings (performance lives in `make bench`): hypothesis'
# per-example deadline would turn a loaded machine into a failure, so it is off for every test.
settings.register_profile("tanxiao", deadline=None)
settings.load_profile("tanxiao")

POSTGRES_URL = os.environ.get(
    "TANXIAO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


# Servers write their log lines from a writer thread, after the call. Written before each phase of a
# test (setup, call, teardown) ends, a phase's lines stay in its own captured output instead of
# reaching the terminal while capture is suspended between phases (servers of module-scoped fixtures
# outlive the test that called them). trylast: inside the capture plugin's wrapper of the phase.
@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    yield
    service_logging.flush()


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    yield
    service_logging.flush()


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    yield
    service_logging.flush()


def _postgres_unavailable(reason: str) -> None:
    message = (
        f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string(hide_password=True)} unreachable: {reason}"
    )
    if IN_CI:
        pytest.fail(message + " (CI=true: PostgreSQL tests must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied per test (migrating takes longer than copying)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    db.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database(worker_id: str) -> Iterator[str]:
    """A migrated database of this worker's own on the test server, dropped at the end."""
    admin_url = make_url(POSTGRES_URL)
    name = f"tanxiao_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        _postgres_unavailable(str(exc).splitlines()[0])
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    db.upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        tables = [
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            connection.exec_driver_sql(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            )
    engine.dispose()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "tanxiao.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    _truncate_postgres(postgres_database)
    return postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database: every test using it runs on SQLite and on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))
