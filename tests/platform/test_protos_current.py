"""Checked-in generated code must match the protos (regenerate with `make protos`)."""

from tanxiao.protogen import stale_files


def test_generated_code_matches_protos() -> None:
    assert stale_files() == []
