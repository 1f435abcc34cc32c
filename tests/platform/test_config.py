from pathlib import Path

import pytest

from tanxiao.platform.config import Settings, markdown_table


def test_defaults_are_local_sqlite_and_standard_ports() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.registry_listen.endswith(":50051")
    assert settings.scoring_listen.endswith(":50052")


def test_env_overrides_are_parsed_by_type() -> None:
    settings = Settings.from_env({"TANXIAO_MAX_BATCH_RECORDS": "7", "TANXIAO_SHUTDOWN_GRACE_SECONDS": "1.5"})
    assert settings.max_batch_records == 7
    assert settings.shutdown_grace_seconds == 1.5


def test_bad_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="TANXIAO_MAX_WORKERS"):
        Settings.from_env({"TANXIAO_MAX_WORKERS": "many"})


def test_every_setting_is_documented() -> None:
    table = markdown_table()
    assert "TANXIAO_DATABASE_URL" in table
    assert all(row.count("|") == 4 for row in table.splitlines())


def test_the_configuration_doc_carries_the_current_table() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text("utf-8")
    assert markdown_table() in doc, "docs/configuration.md is stale: paste `tanxiao config` into it"
