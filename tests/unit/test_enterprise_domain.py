"""Enterprise values: validation with field paths, normalisation, update-mask merging."""

from __future__ import annotations

from dataclasses import replace

from helpers import make_uscc

from registry_service.domain.enterprise import (
    AnnualFinancials,
    Enterprise,
    apply_update,
    normalize_enterprise,
    validate_enterprise,
)

GOOD = Enterprise(make_uscc(1), "湖州某某化纤有限公司", "2825", "330502", "ABOVE_DESIGNATED_SIZE")


def _fields(enterprise: Enterprise, **kwargs: object) -> list[str]:
    return [v.field for v in validate_enterprise(enterprise, **kwargs)]  # type: ignore[arg-type]


def test_a_good_enterprise_has_no_violations() -> None:
    assert validate_enterprise(GOOD) == []
    assert validate_enterprise(replace(GOOD, uscc=GOOD.uscc.lower())) == []


def test_every_bad_field_is_named() -> None:
    bad = Enterprise("91110000600037341N", "", "28x", "3305", "HUGE")
    assert _fields(bad) == [
        "enterprise.uscc",
        "enterprise.display_name",
        "enterprise.industry_code",
        "enterprise.region_code",
        "enterprise.size_class",
    ]
    assert all(v.description for v in validate_enterprise(bad))


def test_required_and_length_limits() -> None:
    assert _fields(replace(GOOD, uscc="", industry_code="", region_code="")) == [
        "enterprise.uscc",
        "enterprise.industry_code",
        "enterprise.region_code",
    ]
    assert _fields(replace(GOOD, display_name="名" * 201)) == ["enterprise.display_name"]
    assert _fields(replace(GOOD, display_name="名" * 200)) == []


def test_financials_are_checked_per_entry() -> None:
    financials = (
        AnnualFinancials(2023, industrial_added_value_fen=-3, total_equity_fen=-1),  # both allowed
        AnnualFinancials(2023),
        AnnualFinancials(1800),
        AnnualFinancials(2024, revenue_fen=-1, total_debt_fen=10**18 + 1, evic_fen=-2),
        AnnualFinancials(2025, total_debt_fen=10**18, total_equity_fen=-(10**18)),  # the bounds themselves
    )
    assert _fields(replace(GOOD, financials=financials)) == [
        "enterprise.financials[1].year",
        "enterprise.financials[2].year",
        "enterprise.financials[3].revenue_fen",
        "enterprise.financials[3].total_debt_fen",
        "enterprise.financials[3].evic_fen",
    ]


def test_only_the_named_fields_are_validated() -> None:
    patch = Enterprise("", "新名字", "bad", "bad")
    assert _fields(patch, fields=["display_name"]) == []
    assert _fields(patch, fields=["region_code"], prefix="e") == ["e.region_code"]


def test_normalisation() -> None:
    messy = replace(
        GOOD,
        uscc=f" {GOOD.uscc.lower()} ",
        display_name="  某公司 ",
        financials=(AnnualFinancials(2024), AnnualFinancials(2022)),
    )
    clean = normalize_enterprise(messy)
    assert clean.uscc == GOOD.uscc and clean.display_name == "某公司"
    assert [f.year for f in clean.financials] == [2022, 2024]


def test_apply_update_merges_financials_by_year() -> None:
    current = replace(GOOD, financials=(AnnualFinancials(2022, revenue_fen=1), AnnualFinancials(2023)))
    patch = Enterprise("", "新名字", "", "", financials=(AnnualFinancials(2023, revenue_fen=5),))
    updated = apply_update(current, patch, ["display_name", "financials"])
    assert updated.display_name == "新名字" and updated.industry_code == "2825"
    assert [(f.year, f.revenue_fen) for f in updated.financials] == [(2022, 1), (2023, 5)]
    assert updated.financials_for(2023) == AnnualFinancials(2023, revenue_fen=5)
    assert apply_update(current, patch, ["size_class"]).size_class == "UNSPECIFIED"
