"""Source precedence: authority order, utilities' own carriers, revisions, summing, order invariance."""

from __future__ import annotations

from importlib import resources

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from registry_service.domain.precedence import (
    SOURCES,
    Precedence,
    current_records,
    effective_mask,
    load_precedence,
    precedence_from_dict,
    select_effective,
)

PRECEDENCE = load_precedence()
COLUMNS = ["id", "uscc", "period", "category", "source", "external_id", "revision", "quantity"]


def frame(*rows: tuple[object, ...]) -> pd.DataFrame:
    """Rows of (id, uscc, period, category, source, external_id, revision, quantity)."""
    return pd.DataFrame(list(rows), columns=COLUMNS)


def effective(records: pd.DataFrame) -> dict[tuple[str, str, str], pd.Series]:
    out = select_effective(records, PRECEDENCE)
    return {(row.uscc, row.period, row.category): row for _, row in out.iterrows()}


def test_sources_match_the_public_enum() -> None:
    from tanxiao.common.v1 import common_pb2

    names = {v.name for v in common_pb2.DataSource.DESCRIPTOR.values if v.number != 0}
    assert set(SOURCES) == names


def test_verified_beats_utility_beats_statistics_beats_self_reported() -> None:
    records = frame(
        (1, "A", "2024-01", "ELECTRICITY", "SELF_REPORTED", "s1", 1, 90.0),
        (2, "A", "2024-01", "ELECTRICITY", "STATISTICS", "st1", 1, 95.0),
        (3, "A", "2024-01", "ELECTRICITY", "GRID_UTILITY", "g1", 1, 100.0),
        (4, "A", "2024-02", "ELECTRICITY", "SELF_REPORTED", "s2", 1, 90.0),
        (5, "A", "2024-02", "ELECTRICITY", "GRID_UTILITY", "g2", 1, 100.0),
        (6, "A", "2024-02", "ELECTRICITY", "THIRD_PARTY_VERIFIED", "v2", 1, 101.0),
        (7, "A", "2024-03", "ELECTRICITY", "SELF_REPORTED", "s3", 1, 90.0),
    )
    rows = effective(records)
    assert rows[("A", "2024-01", "ELECTRICITY")].source == "GRID_UTILITY"
    assert rows[("A", "2024-01", "ELECTRICITY")].superseded_sources == "STATISTICS,SELF_REPORTED"
    assert rows[("A", "2024-01", "ELECTRICITY")].superseded_count == 2
    assert rows[("A", "2024-02", "ELECTRICITY")].source == "THIRD_PARTY_VERIFIED"
    assert rows[("A", "2024-03", "ELECTRICITY")].source == "SELF_REPORTED"
    assert rows[("A", "2024-03", "ELECTRICITY")].superseded_sources == ""


def test_a_utility_is_authoritative_only_for_its_own_carriers() -> None:
    records = frame(
        (1, "A", "2024-01", "RAW_COAL", "GRID_UTILITY", "g", 1, 10.0),
        (2, "A", "2024-01", "RAW_COAL", "STATISTICS", "st", 1, 12.0),
        (3, "A", "2024-01", "NATURAL_GAS", "GAS_UTILITY", "gas", 1, 5.0),
        (4, "A", "2024-01", "NATURAL_GAS", "STATISTICS", "st2", 1, 6.0),
        (5, "A", "2024-01", "DIESEL", "GAS_UTILITY", "gas2", 1, 1.0),
        (6, "A", "2024-01", "DIESEL", "TAX", "tax", 1, 2.0),
        (7, "A", "2024-01", "ELECTRICITY", "GAS_UTILITY", "gas3", 1, 7.0),
        (8, "A", "2024-01", "ELECTRICITY", "STATISTICS", "st3", 1, 8.0),
    )
    rows = effective(records)
    assert rows[("A", "2024-01", "RAW_COAL")].source == "STATISTICS"
    assert rows[("A", "2024-01", "NATURAL_GAS")].source == "GAS_UTILITY"
    assert rows[("A", "2024-01", "DIESEL")].source == "GAS_UTILITY"  # after STATISTICS, still before TAX
    assert rows[("A", "2024-01", "ELECTRICITY")].source == "STATISTICS"
    assert PRECEDENCE.rank("GRID_UTILITY", "ELECTRICITY") < PRECEDENCE.rank("STATISTICS", "ELECTRICITY")
    assert PRECEDENCE.rank("STATISTICS", "RAW_COAL") < PRECEDENCE.rank("GRID_UTILITY", "RAW_COAL")


def test_latest_revision_wins_within_a_source() -> None:
    records = frame(
        (1, "A", "2024-01", "ELECTRICITY", "GRID_UTILITY", "g1", 1, 100.0),
        (2, "A", "2024-01", "ELECTRICITY", "GRID_UTILITY", "g1", 3, 130.0),
        (3, "A", "2024-01", "ELECTRICITY", "GRID_UTILITY", "g1", 2, 120.0),
    )
    row = effective(records)[("A", "2024-01", "ELECTRICITY")]
    assert (row.revision, row.quantity, row.superseded_count) == (3, 130.0, 0)
    assert list(current_records(records)["id"]) == [2]


def test_a_correction_that_moves_a_record_leaves_nothing_behind() -> None:
    records = frame(
        (1, "A", "2024-01", "ELECTRICITY", "GRID_UTILITY", "g1", 1, 100.0),
        (2, "A", "2024-02", "ELECTRICITY", "GRID_UTILITY", "g1", 2, 100.0),  # wrong month corrected
    )
    assert set(effective(records)) == {("A", "2024-02", "ELECTRICITY")}


def test_is_current_is_trusted_when_present() -> None:
    records = frame(
        (1, "A", "2024-01", "ELECTRICITY", "GRID_UTILITY", "g1", 1, 100.0),
        (2, "A", "2024-01", "ELECTRICITY", "GRID_UTILITY", "g1", 2, 130.0),
    ).assign(is_current=[False, True])
    assert effective(records)[("A", "2024-01", "ELECTRICITY")].quantity == 130.0
    assert effective_mask(records, PRECEDENCE).tolist() == [False, True]


def test_several_records_of_the_winning_source_are_summed_in_canonical_units() -> None:
    records = frame(
        (1, "A", "2024-01", "ELECTRICITY", "GRID_UTILITY", "meter-1", 1, 0.1),
        (2, "A", "2024-01", "ELECTRICITY", "GRID_UTILITY", "meter-2", 1, 50.0),
        (3, "A", "2024-01", "ELECTRICITY", "SELF_REPORTED", "s", 1, 140.0),
    ).assign(unit=["MWh", "kWh", "kWh"], canonical_quantity=[100.0, 50.0, 140.0], canonical_unit="kWh")
    row = effective(records)[("A", "2024-01", "ELECTRICITY")]
    assert (row.canonical_quantity, row.quantity, row.unit) == (150.0, 150.0, "kWh")
    assert (row.n_records, row.record_ids, row.superseded_count) == (2, (1, 2), 1)
    assert effective_mask(records, PRECEDENCE).tolist() == [True, True, False]


def test_latest_mode_takes_the_most_recently_ingested_record() -> None:
    order = _config(same_source_records="latest")
    records = frame(
        (1, "A", "2024-01", "ELECTRICITY", "GRID_UTILITY", "x", 1, 100.0),
        (2, "A", "2024-01", "ELECTRICITY", "GRID_UTILITY", "y", 1, 150.0),
    ).assign(ingest_time=pd.to_datetime(["2024-03-01", "2024-02-01"], utc=True))
    row = select_effective(records, order).iloc[0]
    assert (row.id, row.quantity, row.n_records, row.superseded_count) == (1, 100.0, 1, 1)
    assert row.superseded_sources == "GRID_UTILITY"


def test_category_orders_override_the_default() -> None:
    order = _config(category_orders={"INDUSTRIAL_ADDED_VALUE": ["TAX", "STATISTICS"]})
    records = frame(
        (1, "A", "2024-01", "INDUSTRIAL_ADDED_VALUE", "STATISTICS", "st", 1, 10.0),
        (2, "A", "2024-01", "INDUSTRIAL_ADDED_VALUE", "TAX", "tax", 1, 11.0),
        (3, "A", "2024-01", "INDUSTRIAL_ADDED_VALUE", "THIRD_PARTY_VERIFIED", "v", 1, 12.0),
    )
    assert select_effective(records, order).iloc[0].source == "TAX"
    assert select_effective(records, PRECEDENCE).iloc[0].source == "THIRD_PARTY_VERIFIED"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"order": ["THIRD_PARTY_VERIFIED", "GRID_UTILITY"]}, "missing"),
        ({"order": [*SOURCES, "TAX"]}, "listed twice"),
        ({"foreign_rank_after": "METER_READER"}, "unknown source"),
        ({"own_categories": {"WATER_UTILITY": ["WATER"]}}, "unknown source"),
        ({"same_source_records": "average"}, "same_source_records"),
        ({"order": []}, "non-empty list"),
    ],
)
def test_invalid_configuration_is_rejected(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _config(**change)


def test_empty_and_malformed_frames() -> None:
    empty = select_effective(frame(), PRECEDENCE)
    assert empty.empty and {"superseded_sources", "superseded_count", "record_ids"} <= set(empty.columns)
    with pytest.raises(ValueError, match="lacks columns"):
        select_effective(frame().drop(columns=["revision"]), PRECEDENCE)


def test_output_is_sorted_and_one_row_per_key() -> None:
    records = frame(
        (1, "B", "2024-01", "ELECTRICITY", "GRID_UTILITY", "1", 1, 1.0),
        (2, "A", "2024-02", "RAW_COAL", "STATISTICS", "2", 1, 1.0),
        (3, "A", "2024-02", "ELECTRICITY", "TAX", "3", 1, 1.0),
        (4, "A", "2024-01", "RAW_COAL", "TAX", "4", 1, 1.0),
        (5, "A", "2024-01", "RAW_COAL", "SELF_REPORTED", "5", 1, 1.0),
    )
    out = select_effective(records, PRECEDENCE)
    keys = list(zip(out.uscc, out.period, out.category, strict=True))
    assert keys == sorted(set(keys)) and len(keys) == 4


_record = st.tuples(
    st.sampled_from(["A", "B"]),
    st.sampled_from(["2024-01", "2024-02"]),
    st.sampled_from(["ELECTRICITY", "RAW_COAL", "NATURAL_GAS"]),
    st.sampled_from(SOURCES),
    st.sampled_from(["e1", "e2", "e3"]),
    st.integers(1, 3),
    st.floats(0, 1e6, allow_nan=False),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_record, min_size=1, max_size=25), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_row_order(rows: list[tuple[object, ...]], rnd: object) -> None:
    records = frame(*((i, *r) for i, r in enumerate(rows)))
    shuffled = records.sample(frac=1.0, random_state=rnd.randint(0, 10**6))  # type: ignore[attr-defined]
    for order in (PRECEDENCE, _config(same_source_records="latest")):
        expected = select_effective(records, order)
        pd.testing.assert_frame_equal(select_effective(shuffled, order), expected)
        mask = effective_mask(shuffled, order)
        assert sorted(shuffled.loc[mask, "id"]) == sorted(i for ids in expected["record_ids"] for i in ids)


def _config(**changes: object) -> Precedence:
    text = resources.files("registry_service.data").joinpath("precedence.yaml").read_text("utf-8")
    return precedence_from_dict({**yaml.safe_load(text), **changes})
