"""Vectorised record validation, content hashing and in-batch classification (pure pandas)."""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np
import pandas as pd
import pytest
from helpers import make_uscc

from registry_service.domain.catalog import load_catalog
from registry_service.domain.records import (
    DATA_SOURCES,
    content_hashes,
    period_format_problem,
    validate_records,
)
from registry_service.ingest import classify
from tanxiao.common.v1 import common_pb2

TODAY = date(2025, 6, 15)
CATALOG = load_catalog()
GOOD = {
    "uscc": make_uscc(1),
    "period": "2025-06",
    "category": "ELECTRICITY",
    "quantity": 10.0,
    "unit": "",
    "source": "GRID_UTILITY",
    "external_id": "e-1",
}


def _frame(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame([{**GOOD, **row} for row in rows])


def _validate(frame: pd.DataFrame, first_index: int = 0) -> pd.DataFrame:
    return validate_records(frame, CATALOG, today=TODAY, first_index=first_index)


def test_sources_are_the_proto_enum_without_unspecified() -> None:
    names = [v.name for v in common_pb2.DataSource.DESCRIPTOR.values if v.number != 0]
    assert list(DATA_SOURCES) == names


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"uscc": "91110000600037341N"}, "uscc", "INVALID_USCC"),
        ({"uscc": ""}, "uscc", "INVALID_USCC"),
        ({"period": "2025-6"}, "period", "BAD_PERIOD"),
        ({"period": "2025-13"}, "period", "BAD_PERIOD"),
        ({"period": "2025-00"}, "period", "BAD_PERIOD"),
        ({"period": "1999-12"}, "period", "BAD_PERIOD"),
        ({"period": "2025-07"}, "period", "FUTURE_PERIOD"),
        ({"category": "PLUTONIUM"}, "category", "UNKNOWN_CATEGORY"),
        ({"quantity": float("nan")}, "quantity", "NON_FINITE_QUANTITY"),
        ({"quantity": float("-inf")}, "quantity", "NON_FINITE_QUANTITY"),
        ({"quantity": "lots"}, "quantity", "NON_FINITE_QUANTITY"),
        ({"quantity": -0.5}, "quantity", "NEGATIVE_QUANTITY"),
        ({"unit": "m3"}, "unit", "UNIT_MISMATCH"),
        ({"unit": "mwh"}, "unit", "UNIT_MISMATCH"),  # units are case-sensitive: mWh is not MWh
        ({"source": "DATA_SOURCE_UNSPECIFIED"}, "source", "UNKNOWN_SOURCE"),
        ({"source": ""}, "source", "UNKNOWN_SOURCE"),
        ({"external_id": "  "}, "external_id", "MISSING_EXTERNAL_ID"),
        ({"external_id": "x" * 129}, "external_id", "EXTERNAL_ID_TOO_LONG"),
    ],
)
def test_each_problem_is_reported_on_its_field(change: dict[str, object], field: str, code: str) -> None:
    out = _validate(_frame(GOOD, change), first_index=40)
    assert out["reject_code"].tolist() == ["", code]
    assert out["reject_field"].tolist() == ["", f"records[41].{field}"]
    assert out["reject_reason"].iloc[1] and out["reject_reason"].iloc[0] == ""


def test_first_problem_in_field_order_wins() -> None:
    out = _validate(_frame({"period": "2099-01", "quantity": -1.0, "category": "NOPE", "external_id": ""}))
    assert (out["reject_field"].iloc[0], out["reject_code"].iloc[0]) == ("records[0].period", "FUTURE_PERIOD")


def test_current_month_is_allowed_and_input_is_normalised() -> None:
    out = _validate(
        _frame({"uscc": f" {make_uscc(1).lower()} ", "category": "electricity", "source": "grid_utility"})
    )
    assert out["reject_code"].tolist() == [""]
    assert out[["uscc", "category", "source"]].iloc[0].tolist() == [
        make_uscc(1),
        "ELECTRICITY",
        "GRID_UTILITY",
    ]


@pytest.mark.parametrize(
    ("category", "quantity", "unit", "canonical", "canonical_unit"),
    [
        ("ELECTRICITY", 1.5, "MWh", 1500.0, "kWh"),
        ("ELECTRICITY", 7.0, "kWh", 7.0, "kWh"),
        ("ELECTRICITY", 7.0, "", 7.0, "kWh"),
        ("NATURAL_GAS", 2.0, "万m3", 20000.0, "m3"),
        ("RAW_COAL", 3.0, "t", 3000.0, "kg"),
    ],
)
def test_units_convert_to_canonical_with_the_catalog(
    category: str, quantity: float, unit: str, canonical: float, canonical_unit: str
) -> None:
    out = _validate(_frame({"category": category, "quantity": quantity, "unit": unit}))
    assert out["reject_code"].iloc[0] == ""
    assert out["canonical_quantity"].iloc[0] == pytest.approx(canonical)
    assert out["canonical_unit"].iloc[0] == canonical_unit
    assert out["canonical_quantity"].iloc[0] == pytest.approx(CATALOG.to_canonical(category, quantity, unit))


def test_a_large_frame_is_judged_per_row() -> None:
    n = 30_000
    frame = pd.DataFrame(
        {
            "uscc": [make_uscc(i % 50) for i in range(n)],
            "period": "2024-01",
            "category": "ELECTRICITY",
            "quantity": np.where(np.arange(n) % 1000 == 7, -1.0, 1.0),
            "unit": "MWh",
            "source": "GRID_UTILITY",
            "external_id": [f"id-{i}" for i in range(n)],
        }
    )
    out = _validate(frame)
    bad = out.index[out["reject_code"] != ""].tolist()
    assert bad == list(range(7, n, 1000)) and set(out.loc[bad, "reject_code"]) == {"NEGATIVE_QUANTITY"}
    assert out["canonical_quantity"].iloc[0] == 1000.0


def test_empty_frame() -> None:
    out = _validate(pd.DataFrame({c: [] for c in GOOD}))
    assert out.empty and "canonical_quantity" in out.columns


def test_missing_column_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="external_id"):
        _validate(_frame(GOOD).drop(columns=["external_id"]))


def test_period_format_problem() -> None:
    assert period_format_problem("2024-02") == ""
    assert period_format_problem("2024/02") and period_format_problem("1999-01")


def _hashes(*rows: dict[str, object]) -> list[str]:
    return content_hashes(_validate(_frame(*rows)))


def test_content_hash_is_the_content_as_sent() -> None:
    same = _hashes({"unit": ""}, {"unit": "kWh"}, {"quantity": 10}, {"external_id": "other"})
    assert len(set(same)) == 1  # empty unit = canonical; external_id is the key, not content
    assert _hashes({"quantity": 0.0}) == _hashes({"quantity": -0.0})
    different = _hashes(
        GOOD, {"quantity": 10.000001}, {"period": "2025-05"}, {"unit": "MWh", "quantity": 0.01}
    )
    assert len(set(different)) == 4


def _hashes_as_before(frame: pd.DataFrame) -> list[str]:
    """content_hashes as written before it hashed in one pass (the stored format must not change)."""
    unit = frame["unit"].to_numpy(dtype=object)
    units = np.where(unit != "", unit, frame["canonical_unit"].to_numpy(dtype=object)).tolist()
    quantities = (np.asarray(frame["quantity"], dtype=np.float64) + 0.0).tolist()
    columns = (
        frame["uscc"].tolist(),
        frame["period"].tolist(),
        frame["category"].tolist(),
        quantities,
        units,
    )
    texts = [f"{u}\x1f{p}\x1f{c}\x1f{q!r}\x1f{n}" for u, p, c, q, n in zip(*columns, strict=True)]
    if "instrument_id" in frame.columns:
        instruments = frame["instrument_id"].fillna("").astype(str).tolist()
        texts = [f"{t}\x1f{i}" if i else t for t, i in zip(texts, instruments, strict=True)]
    return [hashlib.sha256(text.encode()).hexdigest() for text in texts]


@pytest.mark.parametrize("instruments", [False, True])
def test_content_hashes_equal_the_former_two_pass_hashes_on_varied_rows(instruments: bool) -> None:
    rng = np.random.default_rng(17)
    n = 2_000
    quantities = rng.choice([0.0, -0.0, 1e-300, 1e300, 123456.789, 0.1 + 0.2, 7.0, 1 / 3], n)
    rows = [
        {
            "uscc": make_uscc(int(rng.integers(1, 50))).lower()
            if i % 7 == 0
            else make_uscc(int(rng.integers(1, 50))),
            "period": f"20{int(rng.integers(10, 25))}-{int(rng.integers(1, 13)):02d}",
            "category": ["ELECTRICITY", " natural_gas ", "DIESEL", "电力", "NOPE"][i % 5],
            "quantity": float(quantities[i]) * (1 + i % 3),
            "unit": ["", "kWh", "MWh", " kwh ", "m3", "t"][i % 6],
            "source": "GRID_UTILITY",
            "external_id": f"x-{i}",
            **({"instrument_id": ["", "PPA-1", None, "证书-9"][i % 4]} if instruments else {}),
        }
        for i in range(n)
    ]
    frame = _validate(_frame(*rows))
    if not instruments:
        frame = frame.drop(columns=["instrument_id"])
    assert content_hashes(frame) == _hashes_as_before(frame)
    if instruments:  # a frame whose instrument column is all empty hashes as one without it
        empty = frame.assign(instrument_id="")
        assert content_hashes(empty) == _hashes_as_before(empty.drop(columns=["instrument_id"]))


def _staged(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "index": range(len(rows)),
            "source": "GRID_UTILITY",
            "external_id": [k for k, _ in rows],
            "content_hash": [h for _, h in rows],
        }
    )


def _stored(*rows: tuple[str, int, int, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [("GRID_UTILITY", *row) for row in rows],
        columns=["source", "external_id", "current_id", "current_revision", "current_hash"],
    )


def test_classify_applies_same_key_rows_in_order() -> None:
    plan = classify(
        _staged([("a", "h1"), ("b", "x"), ("a", "h1"), ("a", "h2"), ("c", "old"), ("c", "new"), ("a", "h1")]),
        _stored(("c", 10, 4, "old")),
    )
    assert plan["status"].tolist() == [
        "ACCEPTED",
        "ACCEPTED",
        "DUPLICATE",
        "REVISED",
        "DUPLICATE",
        "REVISED",
        "REVISED",
    ]
    assert plan["revision"].tolist() == [1, 1, 1, 2, 4, 5, 3]
    assert plan["is_current"].tolist() == [False, True, False, False, False, True, True]
    assert plan.loc[plan["supersedes"], "current_id"].tolist() == [10]


def test_classify_against_stored_duplicate() -> None:
    plan = classify(_staged([("k", "same")]), _stored(("k", 3, 2, "same")))
    assert plan[["status", "revision"]].values.tolist() == [["DUPLICATE", 2]]
    assert not plan["supersedes"].any()


def test_a_finite_quantity_that_overflows_on_conversion_is_rejected_naming_the_field() -> None:
    # 1e308 MWh x 1,000 kWh/MWh = 1e311 kWh > 1.797e308, the largest double: inf after conversion.
    checked = _validate(
        _frame({"quantity": 1e308, "unit": "MWh", "external_id": "big"}, {"external_id": "ok"})
    )
    assert list(checked["reject_code"]) == ["OVERFLOW_AFTER_CONVERSION", ""]
    assert checked["reject_field"].iloc[0] == "records[0].quantity"
    assert "kWh" in checked["reject_reason"].iloc[0]


def test_a_quantity_above_the_category_plausible_maximum_is_rejected_and_a_setting_raises_it() -> None:
    # ELECTRICITY's bound is 1e10 kWh a month: 10,000,001 MWh = 1.0000001e10 kWh is above, 1e7 MWh is on it.
    rows = _frame(
        {"quantity": 10_000_001, "unit": "MWh", "external_id": "a"},
        {"quantity": 10_000_000, "unit": "MWh", "external_id": "b"},
        {
            "category": "INDUSTRIAL_ADDED_VALUE",
            "quantity": 1e13,
            "unit": "cny",
            "external_id": "c",
        },  # 1e9 万元
        {"category": "INDUSTRIAL_ADDED_VALUE", "quantity": 1.1e13, "unit": "cny", "external_id": "d"},
    )
    checked = _validate(rows)
    assert list(checked["reject_code"]) == ["IMPLAUSIBLE_QUANTITY", "", "", "IMPLAUSIBLE_QUANTITY"]
    assert list(checked["reject_field"]) == ["records[0].quantity", "", "", "records[3].quantity"]
    assert "plausible monthly maximum 1e+10 kWh for ELECTRICITY" in checked["reject_reason"].iloc[0]
    raised = validate_records(rows, CATALOG, today=TODAY, max_scale=2.0)
    assert list(raised["reject_code"]) == ["", "", "", ""]


def test_the_plausible_maxima_cover_the_catalog_and_name_their_source() -> None:
    from registry_service.domain.records import plausible_maxima

    limits = plausible_maxima()
    assert {c.code for c in CATALOG.categories} <= set(limits.maxima)
    assert "unconfirmed" in limits.source
