"""Encoding detection and conversion of import files (pure file handling, no database)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tanxiao.input_files import InputFileError, as_importable, detect_encoding


def test_detection_rule() -> None:
    assert detect_encoding("湖州,电费".encode()) == "utf-8"
    assert detect_encoding("湖州,电费".encode("gbk")) == "gb18030"
    assert detect_encoding(b"plain,ascii") == "utf-8"
    # GB18030 four-byte characters (beyond GBK) decode too
    assert "𠀀".encode("gb18030").decode(detect_encoding("𠀀".encode("gb18030"))) == "𠀀"


def test_a_utf8_file_is_read_in_place(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("uscc,period\n1,2025-01\n", encoding="utf-8")
    got = as_importable(path, tmp_path / "work")
    assert got.path == path and got.encoding == "utf-8"


def test_gbk_is_converted_to_utf8_without_touching_the_original(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    original = "uscc,name\n1,湖州织里\n".encode("gbk")
    path.write_bytes(original)
    work = tmp_path / "work"
    work.mkdir()
    got = as_importable(path, work)
    assert got.encoding == "gb18030" and got.path.parent == work
    assert got.path.read_text("utf-8") == "uscc,name\n1,湖州织里\n"
    assert path.read_bytes() == original


def test_an_undecodable_file_names_the_option(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes("湖州".encode("gbk"))
    with pytest.raises(InputFileError, match="--encoding"):
        as_importable(path, tmp_path, "utf-8")


def test_xlsx_keeps_codes_as_text_and_periods_as_months(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    frame = pd.DataFrame({"uscc": ["0123"], "period": [pd.Timestamp("2025-03-01")], "quantity": [1.5]})
    frame.to_excel(path, index=False, engine="openpyxl")
    got = as_importable(path, tmp_path)
    text = got.path.read_text("utf-8").splitlines()
    assert text == ["uscc,period,quantity", "0123,2025-03,1.5"]
