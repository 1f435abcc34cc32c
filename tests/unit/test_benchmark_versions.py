"""Published benchmark versions (docs/accounting.md section 4): leave-one-out extremes per cell,
membership, and the provenance flags a profile carries. Hand-worked vectors, arithmetic in the tests."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry_service.domain.benchmarks import benchmark_members, benchmark_provenance, compute_benchmarks
from registry_service.domain.grading import load_grading_method

METHOD = load_grading_method("huzhou-2023")
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _yearly(rows: list[tuple[str, float, float]], industry: str = "3011") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uscc": [u for u, _, _ in rows],
            "year": 2024,
            "industry_code": industry,
            "region_code": "330502",
            "net_tco2": [t for _, t, _ in rows],
            "added_value_10k_cny": [a for _, _, a in rows],
        }
    )


SMALL = _yearly([("A", 100.0, 100.0), ("B", 300.0, 100.0), ("C", 200.0, 200.0)])


def _cell(frame: pd.DataFrame, industry: str = "3011") -> pd.Series:
    table = compute_benchmarks(frame)
    row = table[(table["industry_code"] == industry) & (table["region_code"] == "330502")]
    return row.iloc[0]


def test_leave_one_out_extremes_of_a_three_firm_cell() -> None:
    """T = 100 + 300 + 200 = 600 t, A = 100 + 100 + 200 = 400 万元, average 1.5. Without A: 500 / 300 =
    1.6667; without B: 300 / 300 = 1.0; without C: 400 / 200 = 2.0 -> extremes 1.0 and 2.0."""
    cell = _cell(SMALL)
    assert cell["average_intensity"] == pytest.approx(1.5)
    assert (cell["loo_min_intensity"], cell["loo_max_intensity"]) == pytest.approx((1.0, 2.0))


def test_a_one_firm_cell_has_no_leave_one_out_average() -> None:
    cell = _cell(_yearly([("A", 100.0, 100.0)]))
    assert np.isnan(cell["loo_min_intensity"]) and np.isnan(cell["loo_max_intensity"])


def test_members_are_the_firms_the_benchmark_counts() -> None:
    frame = _yearly([("B", 1.0, 1.0), ("A", 1.0, 1.0), ("Z", 1.0, 0.0), ("N", float("nan"), 1.0)])
    assert benchmark_members(frame) == ["A", "B"]  # Z: no added value, N: no emissions figure


def _published(frame: pd.DataFrame, version: int) -> pd.DataFrame:
    return compute_benchmarks(frame).assign(version=version, compute_time=WHEN)


def _profiles(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    """Profiles graded against the 4-digit county cell of 2024 (K = L / average, grade from the method)."""
    frame = _yearly(rows)
    return frame.assign(
        benchmark_industry_code="3011",
        benchmark_region_code="330502",
        benchmark_year=2024,
        carbon_intensity=frame["net_tco2"] / frame["added_value_10k_cny"],
    )


def _graded(profiles: pd.DataFrame, average: float) -> pd.DataFrame:
    return profiles.assign(grade=METHOD.grades_of(profiles["carbon_intensity"] / average))


def test_small_cell_members_are_sensitive_and_included() -> None:
    """A: L = 1.0, K = 1.0 / 1.5 = 0.667 -> grade 2; at the lowest leave-one-out average 1.0 K = 1.0 ->
    grade 3: sensitive. B: L = 3.0, K = 2.0 -> grade 4 (bounds inclusive); at 1.0 K = 3.0 -> grade 5:
    sensitive. All three are members of version 1."""
    profiles = _graded(_profiles([("A", 100.0, 100.0), ("B", 300.0, 100.0), ("C", 200.0, 200.0)]), 1.5)
    assert list(profiles["grade"]) == [2, 4, 2]
    members = pd.DataFrame({"year": 2024, "version": 1, "uscc": ["A", "B", "C"]})
    out = benchmark_provenance(profiles, _published(SMALL, 1), members, METHOD.grades_of)
    assert list(out["benchmark_version"]) == [1, 1, 1]
    assert list(out["benchmark_includes_self"]) == [True, True, True]
    assert list(out["benchmark_excludes_self"]) == [False, False, False]
    assert list(out["benchmark_sensitive"]) == [True, True, True]
    assert list(out["benchmark_computed_at"]) == [WHEN] * 3


def test_a_new_firm_against_a_version_without_it_is_flagged() -> None:
    """Ten members at L = 1.0 (100 t on 100 万元 each): average 1.0, every leave-one-out average 900 /
    900 = 1.0. New firm N: 50 t on 100 万元, L = 0.5, K = 0.5 -> grade 1; with N added the average
    would be (1,000 + 50) / (1,000 + 100) = 0.9545, K = 0.5238 -> grade 1: excluded but not sensitive.
    New firm M: 140 t on 100 万元, L = 1.4, K = 1.4 -> grade 4; with M: 1,140 / 1,100 = 1.0364,
    K = 1.3509 -> grade 4 too. Member X (L = 1.0, K = 1.0 -> grade 3) is in it and not sensitive."""
    big = _yearly([(f"X{i}", 100.0, 100.0) for i in range(10)])
    members = pd.DataFrame({"year": 2024, "version": 3, "uscc": [f"X{i}" for i in range(10)]})
    profiles = _graded(_profiles([("N", 50.0, 100.0), ("M", 140.0, 100.0), ("X0", 100.0, 100.0)]), 1.0)
    assert list(profiles["grade"]) == [1, 4, 3]
    out = benchmark_provenance(profiles, _published(big, 3), members, METHOD.grades_of)
    assert list(out["benchmark_version"]) == [3, 3, 3]
    assert list(out["benchmark_includes_self"]) == [False, False, True]
    assert list(out["benchmark_excludes_self"]) == [True, True, False]
    assert list(out["benchmark_sensitive"]) == [False, False, False]


def test_a_new_firm_that_would_move_its_cell_is_sensitive() -> None:
    """The three-firm cell (average 1.5). New firm F: 140 t on 100 万元, L = 1.4, K = 0.9333 -> grade 3.
    With F added: (600 + 140) / (400 + 100) = 1.48, K = 0.9459 -> grade 3; but without B the average is
    1.0 and K = 1.4 -> grade 4: one firm moves it past a boundary, so it is flagged."""
    profiles = _graded(_profiles([("F", 140.0, 100.0)]), 1.5)
    assert list(profiles["grade"]) == [3]
    members = pd.DataFrame({"year": 2024, "version": 1, "uscc": ["A", "B", "C"]})
    out = benchmark_provenance(profiles, _published(SMALL, 1), members, METHOD.grades_of)
    assert out.iloc[0][["benchmark_excludes_self", "benchmark_sensitive"]].tolist() == [True, True]


def test_membership_is_per_version() -> None:
    """A firm in version 1 but graded against version 2 (which it is not in) is excluded."""
    profiles = _graded(_profiles([("A", 100.0, 100.0)]), 1.5)
    members = pd.DataFrame({"year": 2024, "version": [1, 2, 2], "uscc": ["A", "B", "C"]})
    out = benchmark_provenance(profiles, _published(SMALL, 2), members, METHOD.grades_of)
    assert (out.iloc[0]["benchmark_version"], out.iloc[0]["benchmark_includes_self"]) == (2, False)


def test_an_ungraded_or_unbenchmarked_profile_carries_no_flags() -> None:
    profiles = _profiles([("A", 100.0, 100.0)]).assign(grade=0, benchmark_year=2023)  # no 2023 cell
    out = benchmark_provenance(profiles, _published(SMALL, 1), pd.DataFrame(
        {"year": [2024], "version": [1], "uscc": ["A"]}), METHOD.grades_of)  # fmt: skip
    assert out.iloc[0][list(out.columns)].tolist()[0] == 0
    assert not out.iloc[0]["benchmark_excludes_self"] and not out.iloc[0]["benchmark_sensitive"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(1.0, 1_000.0), st.floats(1.0, 1_000.0)), min_size=1, max_size=8),
    st.tuples(st.floats(1.0, 1_000.0), st.floats(1.0, 1_000.0)),
)
def test_sensitive_is_exactly_whether_one_firm_moves_the_grade(
    firms: list[tuple[float, float]], newcomer: tuple[float, float]
) -> None:
    """Brute force against the leave-one-out shortcut: a member is sensitive iff removing some single
    firm from the cell changes its grade (or it is alone); a newcomer iff removing one member or adding
    itself does."""
    rows = [(f"F{i}", t, a) for i, (t, a) in enumerate(firms)]
    cell = _yearly(rows)
    total_t, total_a = sum(t for _, t, _ in rows), sum(a for _, _, a in rows)
    average = total_t / total_a
    profiles = _graded(_profiles([*rows, ("NEW", *newcomer)]), average)
    members = pd.DataFrame({"year": 2024, "version": 1, "uscc": [u for u, _, _ in rows]})
    out = benchmark_provenance(profiles, _published(cell, 1), members, METHOD.grades_of)

    def grade(intensity: float, benchmark: float) -> int:
        return int(METHOD.grades_of([intensity / benchmark])[0])

    without = [(total_t - t) / (total_a - a) for _, t, a in rows] if len(rows) > 1 else []
    for i, (uscc, t, a) in enumerate([*rows, ("NEW", *newcomer)]):
        own, base = t / a, grade(t / a, average)
        alternatives = list(without)
        if uscc == "NEW":
            alternatives.append((total_t + t) / (total_a + a))
        expected = any(grade(own, b) != base for b in alternatives) or (uscc != "NEW" and len(rows) == 1)
        assert bool(out.iloc[i]["benchmark_sensitive"]) == expected
        assert bool(out.iloc[i]["benchmark_excludes_self"]) == (uscc == "NEW")
