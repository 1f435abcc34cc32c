"""The column-wise profile_rows (what a recompute stores) gives exactly the rows the one-row
profile_row (what an on-demand profile shows) gives: same keys, same values, same Python types."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from test_coverage import build, rows

from registry_service.storage.profiles import STORED_GRANULARITIES, profile_row, profile_rows


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_column_wise_rows_equal_row_by_row() -> None:
    records: list[dict[str, object]] = []
    industries = {}
    for i, (months, mwh, added) in enumerate(
        [(range(1, 13), 800.0, 120.0), (range(1, 13), 2_000.0, 90.0), ([1, 2, 3], 500.0, 100.0),
         (range(1, 13), 0.0, 0.0), (range(1, 13), 1_200.0, 0.0), (range(1, 13), 300.0, 300.0)]
    ):  # fmt: skip
        uscc = f"F{i:02d}"
        industries[uscc] = "2822" if i % 2 else "3011"
        records += rows(uscc, "ELECTRICITY", list(months), mwh * 1000, "GRID_UTILITY")
        records += rows(uscc, "INDUSTRIAL_ADDED_VALUE", range(1, 13), added, "STATISTICS")
    records += rows("F01", "RAW_COAL", range(1, 13), 40_000.0, "SELF_REPORTED")
    result = build(records, industries)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    stored = result.profiles[result.profiles["granularity"].isin(STORED_GRANULARITIES)]
    assert len(stored) >= 6 and (stored["grade"] == 0).any() and (stored["grade"] > 0).any()
    expected = [
        profile_row(row, result.flags.get((row["uscc"], row["period"]), []), "2026.2", "huzhou", now)
        for row in stored.to_dict("records")
    ]
    assert any(row["details"]["quality"]["flags"] for row in expected)  # flags travel too
    got = profile_rows(result, "2026.2", "huzhou", now)
    assert len(got) == len(expected)
    for a, b in zip(expected, got, strict=True):
        assert _same(a, b), {k: (a[k], b[k]) for k in a if not _same(a[k], b[k])}
