"""Policy files: the default loads, the hash identifies the content, invalid policies are rejected with
every problem named by its key path."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from loan_cases import DEFAULT_TEXT, default_raw

import loan_rules as lr
from loan_rules.model import GRADES


def test_default_policy_loads() -> None:
    policy = lr.load_policy()
    assert policy is lr.default_policy()
    assert policy.version == "2026.1"
    assert str(policy.effective_date) == "2026-01-01"
    assert set(policy.products) == set(lr.Product)
    assert "not any bank" in policy.description
    assert len(policy.content_hash) == 64


def test_load_from_path_text_and_mapping(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(DEFAULT_TEXT, encoding="utf-8")
    expected = lr.default_policy().content_hash
    assert lr.load_policy(path).content_hash == expected
    assert lr.load_policy(str(path)).content_hash == expected
    assert lr.load_policy(DEFAULT_TEXT).content_hash == expected
    assert lr.policy_from_mapping(default_raw()).content_hash == expected
    json_path = tmp_path / "policy.json"
    json_path.write_text(json.dumps(default_raw(), default=str), encoding="utf-8")
    assert lr.load_policy(json_path).content_hash == expected
    with pytest.raises(FileNotFoundError):
        lr.load_policy(str(tmp_path / "missing.yaml"))


def test_hash_is_of_content_not_formatting() -> None:
    raw = default_raw()
    expected = lr.content_hash(raw)
    assert lr.default_policy().content_hash == expected
    # same content, other formatting and comments, 1 vs 1.0
    reformatted = "# another comment\n" + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, indent=4)
    assert lr.parse_policy(reformatted).content_hash == expected
    raw["products"]["GENERAL"]["limit_multiplier_by_grade"][1] = 1
    assert lr.policy_from_mapping(raw).content_hash == expected
    # any value changes it
    raw["products"]["GENERAL"]["rate_bp_by_grade"][1] = -16
    assert lr.policy_from_mapping(raw).content_hash != expected
    assert json.loads(lr.canonical_json(default_raw()))["effective_date"] == "2026-01-01"


def problems(raw: Any) -> list[str]:
    with pytest.raises(lr.PolicyError) as info:
        lr.policy_from_mapping(raw)
    assert str(info.value).startswith("invalid loan policy")
    return [str(p) for p in info.value.problems]


def mutated(change: Callable[[dict[str, Any]], None]) -> list[str]:
    raw = default_raw()
    change(raw)
    return problems(raw)


def expansion(raw: dict[str, Any]) -> dict[str, Any]:
    product: dict[str, Any] = raw["products"]["LOW_CARBON_EXPANSION"]
    return product


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "non-monotone rate table",
        lambda r: expansion(r)["rate_bp_by_grade"].update({3: -30}),
        "products.LOW_CARBON_EXPANSION.rate_bp_by_grade.3: non-monotone grade table: grade 3 gets -30 bp, "
        "less than better grade 2 (-25 bp): a better grade may never pay more",
    ),
    (
        "non-monotone limit table",
        lambda r: r["products"]["GENERAL"]["limit_multiplier_by_grade"].update({5: 0.95}),
        "products.GENERAL.limit_multiplier_by_grade.5: non-monotone grade table: grade 5 gets 0.95x, "
        "more than better grade 4 (0.9x): a better grade may never get a lower limit",
    ),
    (
        "missing grade",
        lambda r: expansion(r)["rate_bp_by_grade"].pop(4),
        "products.LOW_CARBON_EXPANSION.rate_bp_by_grade.4: missing (the table must cover grades 1..5)",
    ),
    (
        "not a number",
        lambda r: expansion(r)["rate_bp_by_grade"].update({3: "ten"}),
        "products.LOW_CARBON_EXPANSION.rate_bp_by_grade.3: must be a number, got str 'ten'",
    ),
    (
        "too many decimals",
        lambda r: expansion(r)["rate_bp_by_grade"].update({1: -40.125}),
        "products.LOW_CARBON_EXPANSION.rate_bp_by_grade.1: basis points have at most two decimals",
    ),
    (
        "overlapping data-quality bands",
        lambda r: r["data_quality"]["bands"][1].update({"from": 2.5}),
        "data_quality.bands[1]: overlapping ranges: [2.5, 4) overlaps [1, 3) of data_quality.bands[0]",
    ),
    (
        "overlapping reduction bands",
        lambda r: r["products"]["HIGH_CARBON_RETROFIT"]["commitment"]["reduction_rate_bp"][2].update(
            {"from": 5000}
        ),
        "products.HIGH_CARBON_RETROFIT.commitment.reduction_rate_bp[2]: overlapping ranges",
    ),
    (
        "gap between bands",
        lambda r: r["data_quality"]["bands"][2].update({"from": 4.5}),
        "data_quality.bands[2]: gap: values in [4, 4.5) fall in no band",
    ),
    (
        "bands not covering the best scores",
        lambda r: r["data_quality"]["bands"][0].update({"from": 1.5}),
        "data_quality.bands[0].from: must be <= 1",
    ),
    (
        "closed last band",
        lambda r: r["data_quality"]["bands"][2].update({"to": 5}),
        "data_quality.bands[2].to: must be null or above 5: the last band must be open",
    ),
    (
        "missing product",
        lambda r: r["products"].pop("GENERAL"),
        "products.GENERAL: missing product (every product must be defined)",
    ),
    (
        "unknown product",
        lambda r: r["products"].update({"MORTGAGE": {}}),
        "products.MORTGAGE: unknown product",
    ),
    (
        "unknown key",
        lambda r: r["products"]["GENERAL"].update({"rate_bp_by_grde": {}}),
        "products.GENERAL.rate_bp_by_grde: unknown key (expected one of tenor_months, ",
    ),
    ("unknown top-level key", lambda r: r.update({"currency": "CNY"}), "currency: unknown key"),
    ("missing key", lambda r: r["total_adjustment_bp"].pop("max"), "total_adjustment_bp.max: missing"),
    (
        "positive cap floor",
        lambda r: r["total_adjustment_bp"].update({"min": 5}),
        "total_adjustment_bp.min: must be <= 0",
    ),
    (
        "unquoted version",
        lambda r: r.update({"version": 2026.1}),
        "version: must be a non-empty string, got float 2026.1 (quote it)",
    ),
    (
        "bad date",
        lambda r: r.update({"effective_date": "2026-13-01"}),
        "effective_date: must be a date YYYY-MM-DD",
    ),
    (
        "non-monotone eligibility",
        lambda r: expansion(r).update({"eligible_grades": [1, 3], "conditional_grades": {}}),
        "products.LOW_CARBON_EXPANSION.eligible_grades: non-monotone eligibility: grade 3 is eligible but "
        "better grade 2 is not eligible",
    ),
    (
        "conditional before eligible",
        lambda r: expansion(r).update({"eligible_grades": [1, 3], "conditional_grades": {2: {}}}),
        "products.LOW_CARBON_EXPANSION.eligible_grades: non-monotone eligibility: grade 3 is eligible but "
        "better grade 2 is conditionally eligible",
    ),
    (
        "grade eligible and conditional",
        lambda r: expansion(r).update({"eligible_grades": [1, 2, 3]}),
        "products.LOW_CARBON_EXPANSION.conditional_grades.3: grade 3 is listed in eligible_grades too",
    ),
    (
        "looser condition for a worse grade",
        lambda r: expansion(r)["conditional_grades"].update({4: {"max_data_quality_score": 3}}),
        "products.LOW_CARBON_EXPANSION.conditional_grades.4.max_data_quality_score: "
        "looser than the condition of better grade 3",
    ),
    (
        "non-monotone trend table",
        lambda r: r["trend"]["rate_bp"].update({"WORSENING": -10}),
        "trend.rate_bp.WORSENING: non-monotone trend table: WORSENING gets -10 bp, less than UNKNOWN (0 bp)",
    ),
    (
        "improving bonus that is a surcharge",
        lambda r: expansion(r).update({"improving_trend_bp": 5}),
        "products.LOW_CARBON_EXPANSION.improving_trend_bp: must be <= 0",
    ),
    (
        "larger discount for worse data",
        lambda r: r["data_quality"]["bands"][2].update({"discount_factor": 0.75}),
        "data_quality.bands[2].discount_factor: must not exceed the previous band's",
    ),
    (
        "smaller discount for a larger reduction",
        lambda r: r["products"]["HIGH_CARBON_RETROFIT"]["commitment"]["reduction_rate_bp"][2].update(
            {"rate_bp": -20}
        ),
        "products.HIGH_CARBON_RETROFIT.commitment.reduction_rate_bp[2].rate_bp: non-monotone",
    ),
    (
        "unknown status",
        lambda r: r["products"]["HIGH_CARBON_RETROFIT"]["commitment"]["review_statuses"].append("LATE"),
        "products.HIGH_CARBON_RETROFIT.commitment.review_statuses[2]: must be one of NOT_STARTED, ",
    ),
    (
        "no-commitment surcharge falling with the grade",
        lambda r: r["products"]["GENERAL"]["no_commitment"]["rate_bp_by_grade"].update({4: 30}),
        "products.GENERAL.no_commitment.rate_bp_by_grade.5: non-monotone grade table",
    ),
    (
        "tenor range reversed",
        lambda r: r["products"]["GENERAL"].update({"tenor_months": {"min": 12, "max": 6}}),
        "products.GENERAL.tenor_months: max 6 is below min 12",
    ),
    (
        "bad covenant code",
        lambda r: r["products"]["GENERAL"]["no_commitment"]["covenants"][0].update({"code": "plan-12m"}),
        "products.GENERAL.no_commitment.covenants[0].code: must be an UPPER_SNAKE_CASE code",
    ),
]


@pytest.mark.parametrize(("name", "change", "message"), CASES, ids=[c[0] for c in CASES])
def test_invalid_policy_is_rejected_with_its_path(
    name: str, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    found = mutated(change)
    assert any(p.startswith(message) for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["products"].pop("GENERAL")
        raw["trend"]["min_confidence"] = 2
        expansion(raw)["rate_bp_by_grade"][5] = -100

    found = mutated(change)
    assert len(found) == 3, found
    assert found[0].startswith("trend.min_confidence: must be <= 1")


def test_not_a_policy() -> None:
    assert problems("just text") == ["must be a mapping, got str"]
    with pytest.raises(lr.PolicyError, match="not valid YAML"):
        lr.parse_policy("version: [")
    with pytest.raises(lr.PolicyError, match="duplicate key 'version'"):
        lr.parse_policy(DEFAULT_TEXT + '\nversion: "2"\n')
    with pytest.raises(lr.PolicyError, match=r"rate_vs_lpr_bp.floor: must be finite"):
        lr.parse_policy(DEFAULT_TEXT.replace("floor: -50 ", "floor: .inf "))
    with pytest.raises(
        lr.PolicyError, match=r"limit_multiplier_by_grade.1: ratios applied to money have at most"
    ):
        lr.parse_policy(DEFAULT_TEXT.replace("{1: 1.3, 2: 1.15,", "{1: 1.33333, 2: 1.15,"))
    with pytest.raises(lr.PolicyError, match=r"max_limit_cny: must be whole yuan"):
        lr.parse_policy(DEFAULT_TEXT.replace("max_limit_cny: 100000000", "max_limit_cny: 100000000.5"))
    with pytest.raises(lr.PolicyError, match=r"limit_factor: must not exceed the previous band's"):
        lr.parse_policy(DEFAULT_TEXT.replace("limit_factor: 0.5,", "limit_factor: 0.9,"))
    with pytest.raises(
        lr.PolicyError, match=r"two_high_excluded_levels: excludes MEDIUM_CARBON but not a worse"
    ):
        lr.parse_policy(DEFAULT_TEXT.replace("levels: [HIGH_CARBON]", "levels: [MEDIUM_CARBON]"))


@given(st.lists(st.integers(-100, 100), min_size=5, max_size=5).filter(lambda v: v != sorted(v)))
def test_any_unsorted_rate_table_is_rejected(values: list[int]) -> None:
    raw = default_raw()
    raw["products"]["GENERAL"]["rate_bp_by_grade"] = dict(zip(GRADES, values, strict=True))
    found = problems(raw)
    assert found and all(
        p.startswith("products.GENERAL.rate_bp_by_grade.") and "non-monotone" in p for p in found
    )


@given(st.lists(st.integers(0, 20), min_size=2, max_size=4, unique=True), st.data())
def test_any_overlap_or_gap_is_rejected(starts: list[int], data: st.DataObject) -> None:
    starts = sorted(starts)
    bands = [
        {"from": lo, "to": hi, "rate_bp": -10} for lo, hi in zip(starts, [*starts[1:], None], strict=True)
    ]
    i = data.draw(st.integers(0, len(bands) - 2))
    shift = data.draw(st.sampled_from([-1, 1]))
    bands[i]["to"] = bands[i]["to"] + shift  # type: ignore[operator]
    raw = default_raw()
    raw["products"]["HIGH_CARBON_RETROFIT"]["commitment"]["reduction_rate_bp"] = copy.deepcopy(bands)
    found = problems(raw)
    kind = "overlapping ranges" if shift > 0 else "gap"
    assert any(f"reduction_rate_bp[{i + 1}]: {kind}" in p for p in found) or any(
        "empty range" in p for p in found
    ), found
