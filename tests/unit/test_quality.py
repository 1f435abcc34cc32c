"""Data quality: planted anomalies are flagged where they are, PCAF mapping, score, batch = single."""

from __future__ import annotations

import datetime as dt
from importlib import resources

import numpy as np
import pandas as pd
import pytest
import yaml

from registry_service.domain.quality import (
    FLAG_COLUMNS,
    QualityAssessment,
    assess_quality,
    assess_quality_batch,
    load_quality_config,
)

MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
COLUMNS = ["uscc", "period", "category", "source", "external_id", "revision", "quantity"]


def series(
    category: str,
    source: str,
    values: list[float] | np.ndarray,
    *,
    uscc: str = "E1",
    months: list[str] = MONTHS,
) -> list[tuple[object, ...]]:
    return [
        (uscc, m, category, source, f"{source}-{category}-{uscc}-{m}", 1, float(v))
        for m, v in zip(months, values, strict=True)
        if not np.isnan(v)
    ]


def steady(n: int = 12, level: float = 100_000.0, seed: int = 0) -> np.ndarray:
    return level * (1 + 0.03 * np.random.default_rng(seed).standard_normal(n))


def good_enterprise(uscc: str = "E1", seed: int = 0) -> list[tuple[object, ...]]:
    return [
        *series("ELECTRICITY", "GRID_UTILITY", steady(seed=seed), uscc=uscc),
        *series("RAW_COAL", "STATISTICS", steady(level=20_000, seed=seed + 1), uscc=uscc),
        *series("INDUSTRIAL_ADDED_VALUE", "STATISTICS", steady(level=800, seed=seed + 2), uscc=uscc),
    ]


def records(*rows: list[tuple[object, ...]]) -> pd.DataFrame:
    return pd.DataFrame([r for part in rows for r in part], columns=COLUMNS)


def codes(a: QualityAssessment) -> list[tuple[str, str, str]]:
    return [(f.code, f.category, f.period) for f in a.flags]


def test_clean_metered_data_has_no_flags_and_pcaf_2() -> None:
    a = assess_quality(records(good_enterprise()), MONTHS)
    assert a.flags == ()
    assert (a.pcaf_score, a.coverage, a.added_value_coverage, a.months_covered) == (2, 1.0, 1.0, 12)
    assert a.score == pytest.approx(100 * (0.4 * 0.85 + 0.4 + 0.2))  # grid 0.9, statistics 0.8
    assert dict(a.source_mix) == {"GRID_UTILITY": 0.5, "STATISTICS": 0.5}


def test_a_planted_spike_is_flagged_on_its_month_only() -> None:
    electricity = steady()
    electricity[6] *= 4  # July
    rows = records(
        series("ELECTRICITY", "GRID_UTILITY", electricity),
        series("INDUSTRIAL_ADDED_VALUE", "STATISTICS", steady(level=800, seed=2)),
    )
    a = assess_quality(rows, MONTHS)
    assert codes(a) == [("MOM_SPIKE", "ELECTRICITY", "2024-07")]
    assert "month before" in a.flags[0].reason_en and "下月" in a.flags[0].reason_zh


def test_a_level_shift_is_flagged_once() -> None:
    electricity = steady()
    electricity[8:] *= 3
    a = assess_quality(records(series("ELECTRICITY", "GRID_UTILITY", electricity)), MONTHS)
    assert [c for c in codes(a) if c[0] == "MOM_SPIKE"] == [("MOM_SPIKE", "ELECTRICITY", "2024-09")]


def test_spring_festival_dip_is_not_a_spike() -> None:
    electricity = steady()
    electricity[1] *= 0.55  # February shutdown
    a = assess_quality(records(series("ELECTRICITY", "GRID_UTILITY", electricity)), MONTHS)
    assert "MOM_SPIKE" not in [f.code for f in a.flags]
    electricity[1], electricity[5] = electricity[1] / 0.55, electricity[5] * 0.55  # same dip in June
    a = assess_quality(records(series("ELECTRICITY", "GRID_UTILITY", electricity)), MONTHS)
    assert ("MOM_SPIKE", "ELECTRICITY", "2024-06") in codes(a)


def test_a_drop_to_zero_is_flagged() -> None:
    electricity = steady()
    electricity[4] = 0.0
    a = assess_quality(records(series("ELECTRICITY", "GRID_UTILITY", electricity)), MONTHS)
    assert ("MOM_SPIKE", "ELECTRICITY", "2024-05") in codes(a)


def test_a_missing_month_is_flagged_and_lowers_coverage() -> None:
    rows = records(good_enterprise())
    rows = rows[~((rows["period"] == "2024-04") & (rows["category"] != "INDUSTRIAL_ADDED_VALUE"))]
    a = assess_quality(rows, MONTHS)
    assert codes(a) == [("MISSING_MONTHS", "", "2024-04")]
    assert a.flags[0].severity == "WARNING" and a.coverage == pytest.approx(11 / 12)
    assert a.pcaf_score == 2


def test_large_gaps_are_critical_and_pcaf_3() -> None:
    electricity = steady()
    electricity[:7] = np.nan
    a = assess_quality(records(series("ELECTRICITY", "GRID_UTILITY", electricity)), MONTHS)
    missing = [f for f in a.flags if f.code == "MISSING_MONTHS" and f.category == ""]
    assert len(missing) == 7 and {f.severity for f in missing} == {"CRITICAL"}
    assert a.pcaf_score == 3


def test_two_sources_disagreeing_are_flagged_with_both_values() -> None:
    own = steady()  # the same readings as the grid's
    own[2] *= 1.04  # within the 5 % tolerance
    own[9] *= 1.40
    rows = records(good_enterprise(), series("ELECTRICITY", "SELF_REPORTED", own))
    a = assess_quality(rows, MONTHS)
    assert codes(a) == [("SOURCE_DISAGREEMENT", "ELECTRICITY", "2024-10")]
    flag = a.flags[0]
    assert flag.severity == "CRITICAL"  # 40 % > critical tolerance 25 %
    assert "SELF_REPORTED" in flag.reason_en and "GRID_UTILITY (used)" in flag.reason_en


def test_economic_categories_have_their_own_tolerance() -> None:
    added = steady(level=800, seed=2)
    tax_view = added.copy()
    tax_view[0] *= 1.08  # within 10 %
    tax_view[1] *= 1.15
    rows = records(good_enterprise(), series("INDUSTRIAL_ADDED_VALUE", "TAX", tax_view))
    a = assess_quality(rows, MONTHS)
    assert codes(a) == [("SOURCE_DISAGREEMENT", "INDUSTRIAL_ADDED_VALUE", "2024-02")]
    assert a.flags[0].severity == "WARNING"


def test_self_reported_only_and_pcaf() -> None:
    rows = records(
        series("ELECTRICITY", "SELF_REPORTED", steady()),
        series("INDUSTRIAL_ADDED_VALUE", "STATISTICS", steady(level=800)),
    )
    a = assess_quality(rows, MONTHS)
    assert codes(a) == [("SELF_REPORTED_ONLY", "ELECTRICITY", "")]
    assert a.pcaf_score == 2  # complete primary energy data, PCAF option 2b
    assert a.score < assess_quality(records(good_enterprise()), MONTHS).score


def test_pcaf_scores() -> None:
    verified = records(
        series("ELECTRICITY", "THIRD_PARTY_VERIFIED", steady()),
        series("RAW_COAL", "THIRD_PARTY_VERIFIED", steady(level=2e4)),
    )
    economic_only = records(series("REVENUE", "TAX", steady(level=900)))
    assert assess_quality(verified, MONTHS).pcaf_score == 1
    assert assess_quality(economic_only, MONTHS).pcaf_score == 4
    nothing = assess_quality(records(), MONTHS, uscc="E9")
    assert (nothing.pcaf_score, nothing.score, nothing.coverage) == (5, 0.0, 0.0)
    assert ("NO_ADDED_VALUE", "INDUSTRIAL_ADDED_VALUE", "") in codes(nothing)
    partly = records(
        series("ELECTRICITY", "THIRD_PARTY_VERIFIED", steady()),
        series("RAW_COAL", "SELF_REPORTED", steady(level=2e4)),
    )
    assert assess_quality(partly, MONTHS).pcaf_score == 2


def test_added_value_problems() -> None:
    added = steady(level=800)
    added[3] = 0.0
    added[7] = np.nan
    rows = records(
        series("ELECTRICITY", "GRID_UTILITY", steady()), series("INDUSTRIAL_ADDED_VALUE", "STATISTICS", added)
    )
    a = assess_quality(rows, MONTHS)
    assert ("NEGATIVE_OR_ZERO_ADDED_VALUE", "INDUSTRIAL_ADDED_VALUE", "2024-04") in codes(a)
    assert ("MISSING_MONTHS", "INDUSTRIAL_ADDED_VALUE", "2024-08") in codes(a)
    assert a.added_value_coverage == pytest.approx(10 / 12)
    none = assess_quality(records(series("ELECTRICITY", "GRID_UTILITY", steady())), MONTHS)
    assert [f.severity for f in none.flags if f.code == "NO_ADDED_VALUE"] == ["CRITICAL"]
    zero = records(
        series("ELECTRICITY", "GRID_UTILITY", steady()),
        series("INDUSTRIAL_ADDED_VALUE", "STATISTICS", np.zeros(12)),
    )
    totals = [f for f in assess_quality(zero, MONTHS).flags if f.period == "" and f.code.startswith("NEG")]
    assert [f.severity for f in totals] == ["CRITICAL"]


def test_peer_outliers_on_the_log_scale() -> None:
    peers = np.random.default_rng(0).lognormal(0.0, 0.3, 40)
    rows = records(good_enterprise())
    high = assess_quality(rows, MONTHS, intensity=8.0, peer_intensities=peers)
    low = assess_quality(rows, MONTHS, intensity=0.05, peer_intensities=peers)
    normal = assess_quality(rows, MONTHS, intensity=1.3, peer_intensities=peers)
    few = assess_quality(rows, MONTHS, intensity=8.0, peer_intensities=peers[:5])
    assert codes(high) == [("PEER_OUTLIER", "", "")] and "above" in high.flags[0].reason_en
    assert codes(low) == [("PEER_OUTLIER", "", "")] and "below" in low.flags[0].reason_en
    assert normal.flags == () and few.flags == ()
    assert high.score == pytest.approx(normal.score - 10)


def test_stale_data_against_as_of() -> None:
    rows = records(good_enterprise())
    assert assess_quality(rows, MONTHS, as_of=dt.date(2025, 2, 10)).flags == ()
    stale = assess_quality(rows, MONTHS, as_of=dt.date(2025, 6, 10))
    assert codes(stale) == [("STALE_DATA", "", "2024-12")] and "5 months" in stale.flags[0].reason_en


def test_several_records_of_one_source_are_added_and_noted() -> None:
    rows = records(good_enterprise())
    extra = pd.DataFrame(
        [("E1", "2024-03", "ELECTRICITY", "GRID_UTILITY", "meter-2", 1, 5000.0)], columns=COLUMNS
    )
    a = assess_quality(pd.concat([rows, extra]), MONTHS)
    assert codes(a) == [("MULTIPLE_RECORDS", "ELECTRICITY", "2024-03")] and a.flags[0].severity == "INFO"


def test_batch_equals_single_and_covers_enterprises_without_records() -> None:
    rows = records(good_enterprise("E1"), good_enterprise("E2", seed=3), good_enterprise("E3", seed=6))
    rows = rows[~((rows["uscc"] == "E2") & (rows["period"] == "2024-05"))]
    intensities = pd.Series(
        np.r_[np.random.default_rng(1).lognormal(0, 0.3, 20), 9.0],
        index=[f"P{i}" for i in range(20)] + ["E3"],
    )
    batch = assess_quality_batch(rows, MONTHS, usccs=["E4"], intensities=intensities)
    assert list(batch.scores.index) == ["E1", "E2", "E3", "E4"]
    assert list(batch.flags.columns) == list(FLAG_COLUMNS)
    for uscc in ("E1", "E2"):
        assert batch.assessment(uscc) == assess_quality(rows[rows["uscc"] == uscc], MONTHS)
    assert [f.code for f in batch.assessment("E3").flags] == ["PEER_OUTLIER"]
    assert batch.assessment("E4").pcaf_score == 5
    assert set(batch.assessments()) == {"E1", "E2", "E3", "E4"}


def test_flags_are_sorted_critical_first() -> None:
    electricity = steady()
    electricity[:7] = np.nan
    a = assess_quality(records(series("ELECTRICITY", "SELF_REPORTED", electricity)), MONTHS)
    severities = [f.severity for f in a.flags]
    assert severities == sorted(severities, key=["CRITICAL", "WARNING", "INFO"].index)


def test_configuration_is_validated() -> None:
    raw = yaml.safe_load(resources.files("registry_service.data").joinpath("quality.yaml").read_text("utf-8"))
    raw["messages"]["STALE_DATA"]["en"] = "Latest data {perod}"
    with pytest.raises(ValueError, match="unknown placeholder perod"):
        load_quality_config(yaml.safe_dump(raw, allow_unicode=True))
    raw = yaml.safe_load(resources.files("registry_service.data").joinpath("quality.yaml").read_text("utf-8"))
    raw["score"]["weights"]["source"] = 0.9
    with pytest.raises(ValueError, match="summing to 1"):
        load_quality_config(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(ValueError, match="unknown category kinds"):
        load_quality_config().with_category_kinds({"STEAM": "FUEL"})


def test_catalog_kinds_override_the_fallback() -> None:
    rows = records(good_enterprise(), series("STEAM_PURCHASED", "SELF_REPORTED", steady(level=50)))
    kinds = {"STEAM_PURCHASED": "RESOURCE"}
    assert "SELF_REPORTED_ONLY" in [f.code for f in assess_quality(rows, MONTHS).flags]
    assert assess_quality(rows, MONTHS, category_kinds=kinds).flags == ()


def test_one_enterprise_at_a_time() -> None:
    with pytest.raises(ValueError, match="one enterprise"):
        assess_quality(records(good_enterprise("E1"), good_enterprise("E2")), MONTHS)
    with pytest.raises(ValueError, match="month must be 01 to 12"):
        assess_quality(records(good_enterprise()), ["2024-13"])


def test_a_firm_with_only_added_value_has_no_peer_statistics_and_no_crash() -> None:
    # Regression: with no energy data L = 0, so no peer has a positive intensity; pandas 3 then gave the
    # empty group medians its "str" dtype and ln(L) - median raised TypeError (INTERNAL over gRPC).
    rows = records(series("INDUSTRIAL_ADDED_VALUE", "STATISTICS", steady(level=800), uscc="AV"))
    intensities = pd.Series([0.0], index=["AV"])
    groups = pd.Series(["3011"], index=["AV"], dtype="str")
    batch = assess_quality_batch(rows, MONTHS, usccs=["AV"], intensities=intensities, peer_groups=groups)
    assert batch.scores.loc["AV", "coverage"] == 0.0
    assert not batch.flags["code"].str.startswith("PEER_OUTLIER").any()


def test_peer_outliers_with_string_groups_and_a_target_outside_every_group() -> None:
    rows = records(*(good_enterprise(f"E{i}", seed=i) for i in range(6)))
    intensities = pd.Series([1.0, 1.1, 0.9, 1.05, 0.95, 50.0], index=[f"E{i}" for i in range(6)])
    groups = pd.Series(["2822"] * 5 + ["3011"], index=intensities.index, dtype="str")
    batch = assess_quality_batch(rows, MONTHS, intensities=intensities, peer_groups=groups)
    # E5 is alone in its group (fewer than min_peers): no statistics, so no outlier flag either.
    assert not (batch.flags["code"].str.startswith("PEER_OUTLIER") & (batch.flags["uscc"] == "E5")).any()
