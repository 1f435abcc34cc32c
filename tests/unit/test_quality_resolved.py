"""Data quality from the profile pipeline's one resolution of the records (quality.assess_quality_resolved,
fed by profiles._window_of) equals assess_quality_batch resolving the window's records again: scores,
flags and source mix, exactly, on varied data (gaps, disagreeing and verified sources, revisions,
several records of one source summed, spikes, zeros, stopped reporters, firms without records,
months outside the window) under both same-source rules."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from registry_service.domain import profiles, quality
from registry_service.domain.catalog import load_catalog
from registry_service.domain.frames import isin
from registry_service.domain.precedence import Precedence, load_precedence
from registry_service.domain.quality import (
    QualityBatch,
    assess_quality_batch,
    assess_quality_resolved,
    load_quality_config,
)

MONTHS = [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)] + ["2025-01", "2025-02"]
LEVELS = {
    "ELECTRICITY": 150_000.0,
    "NATURAL_GAS": 9_000.0,
    "RAW_COAL": 2_000.0,
    "INDUSTRIAL_ADDED_VALUE": 300.0,
}
SOURCES = {
    "ELECTRICITY": "GRID_UTILITY",
    "NATURAL_GAS": "GAS_UTILITY",
    "RAW_COAL": "STATISTICS",
    "INDUSTRIAL_ADDED_VALUE": "STATISTICS",
}


def _records(count: int) -> pd.DataFrame:
    """Every revision, with the store's columns (id, is_current, canonical_quantity, ingest_time)."""
    rng = np.random.default_rng(29)
    rows: list[dict[str, Any]] = []
    revisions: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def add(uscc: str, month: str, category: str, source: str, qty: float, external: str) -> None:
        previous = revisions.setdefault((source, external), [])
        for r in previous:
            r["is_current"] = False
        row = {"uscc": uscc, "period": month, "category": category, "source": source,
               "external_id": external, "revision": len(previous) + 1, "is_current": True,
               "canonical_quantity": qty, "quantity": qty}  # fmt: skip
        previous.append(row)
        rows.append(row)

    for i in range(count):
        uscc = f"E{i:03d}"
        scale = rng.lognormal(0.0, 0.8)
        for category, source in SOURCES.items():
            if (category == "NATURAL_GAS" and i % 4 == 1) or (category == "RAW_COAL" and i % 3 != 0):
                continue
            if category == "INDUSTRIAL_ADDED_VALUE" and i % 17 == 4:
                continue  # no added value at all
            for month in MONTHS:
                if i % 11 == 3 and month in ("2024-05", "2024-06"):
                    continue  # gaps
                if i % 9 == 0 and month > "2024-08":
                    continue  # stopped reporting
                if i % 23 == 7 and month < "2024-03":
                    continue  # started late
                qty = round(LEVELS[category] * scale * rng.normal(1.0, 0.05), 3)
                if i % 13 == 5 and month == "2024-07" and category == "ELECTRICITY":
                    qty *= 6  # a spike
                if i % 19 == 2 and month == "2024-10":
                    qty = 0.0  # a zero month (added value too)
                own = source
                if i % 15 == 6 and category == "ELECTRICITY":
                    own = "THIRD_PARTY_VERIFIED"
                if i % 12 == 6 and category == "NATURAL_GAS":
                    own = "SELF_REPORTED"  # the only gas figures are the firm's own
                external = f"{own}-{uscc}-{category}-{month}"
                add(uscc, month, category, own, qty, external)
                if i % 7 == 2 and category == "ELECTRICITY":  # a second source that disagrees
                    add(uscc, month, category, "SELF_REPORTED", qty * 1.3, f"S-{external}")
                if i % 8 == 3 and category in ("ELECTRICITY", "NATURAL_GAS"):  # a revision
                    add(uscc, month, category, own, round(qty * 1.07, 3), external)
                if i % 10 == 1 and category == "ELECTRICITY" and month.endswith(("-02", "-09")):
                    add(uscc, month, category, own, qty / 3, f"{external}-b")  # two bills, summed
    frame = pd.DataFrame(rows)
    frame.insert(0, "id", np.arange(1, len(frame) + 1, dtype=np.int64))
    start = pd.Timestamp("2025-03-01", tz="UTC")
    frame["ingest_time"] = start + pd.to_timedelta(frame["id"], unit="s")
    for column in ("uscc", "period", "category", "source", "external_id"):
        frame[column] = frame[column].astype("str")  # arrow-backed, as the store's frame
    return frame


def _assess(
    records: pd.DataFrame, precedence: Precedence, months: list[str], as_of: dt.date | None
) -> tuple[QualityBatch, QualityBatch]:
    """(assess_quality_batch of the window's records, assess_quality_resolved of the same window)."""
    catalog = load_catalog()
    config = load_quality_config().with_category_names(
        {c.code: (c.name_zh, c.name_en) for c in catalog.categories}
    )
    kinds = {c.code: c.kind.value for c in catalog.categories}
    usccs = [*sorted(set(records["uscc"])), "E999", "E998"]  # two firms without records
    rng = np.random.default_rng(3)
    intensities = pd.Series(rng.lognormal(0.0, 0.6, len(usccs)), index=usccs)
    intensities.iloc[::9] *= 8  # outliers
    groups = pd.Series(["2822" if i % 3 else "3011" for i in range(len(usccs))], index=usccs)
    common: dict[str, Any] = dict(
        usccs=usccs, intensities=intensities, peer_groups=groups, as_of=as_of, config=config,
        precedence=precedence, category_kinds=kinds,
    )  # fmt: skip
    window = records[isin(records["uscc"], usccs) & isin(records["period"], months)]
    again = assess_quality_batch(window, months, **common)
    once = assess_quality_resolved(
        profiles._window_of(profiles._resolved(records, precedence), usccs, months), months, **common
    )
    return again, once


@pytest.mark.parametrize("rule", ["sum", "latest"])
@pytest.mark.parametrize(
    ("months", "as_of"),
    [
        ([f"2024-{m:02d}" for m in range(1, 13)], None),
        ([f"2024-{m:02d}" for m in range(3, 13)] + ["2025-01", "2025-02"], dt.date(2025, 3, 10)),
    ],
)
def test_quality_from_the_pipelines_resolution_equals_resolving_again(
    rule: str, months: list[str], as_of: dt.date | None
) -> None:
    records = _records(120)
    assert (~records["is_current"]).sum() > 100  # revisions are in the data
    precedence = dataclasses.replace(load_precedence(), same_source_records=rule)
    again, once = _assess(records, precedence, months, as_of)
    codes = set(again.flags["code"])
    assert {"MISSING_MONTHS", "SOURCE_DISAGREEMENT", "MOM_SPIKE", "MULTIPLE_RECORDS" if rule == "sum"
            else "SOURCE_DISAGREEMENT", "SELF_REPORTED_ONLY", "NO_ADDED_VALUE"} <= codes  # fmt: skip
    assert len(again.flags) > 200
    pd.testing.assert_frame_equal(once.scores, again.scores, check_exact=True)
    pd.testing.assert_frame_equal(once.flags, again.flags, check_exact=True)
    pd.testing.assert_frame_equal(once.source_mix, again.source_mix, check_exact=True)
    assert once.config_version == again.config_version


def test_an_empty_window_assesses_the_firms_without_records() -> None:
    records = _records(12)
    months = ["2030-01", "2030-02"]
    again, once = _assess(records, load_precedence(), months, None)
    pd.testing.assert_frame_equal(once.scores, again.scores, check_exact=True)
    pd.testing.assert_frame_equal(once.flags, again.flags, check_exact=True)
    assert list(once.scores.index) == list(again.scores.index)


def test_slim_columns_are_the_sorted_categoricals_of_their_values() -> None:
    records = _records(40)
    slim = quality._slim(records)
    for name in ("uscc", "period", "category", "source"):
        expected = pd.Categorical(records[name], categories=sorted(records[name].unique()), ordered=True)
        pd.testing.assert_series_equal(
            slim[name], pd.Series(expected, index=records.index, name=name), check_exact=True
        )
        assert slim[name].dtype == expected.dtype
