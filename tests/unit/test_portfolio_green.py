"""Green-loan statistics by use of proceeds (scoring_service.portfolio.green), worked by hand."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest

from scoring_service.portfolio.green import catalogue, green_statistics, is_category

M = 100_000_000  # one million yuan, in fen


def _loan(name: str, category: str, **fields: Any) -> dict[str, Any]:
    row = {
        "loan": f"lenders/a/loans/{name}", "lender": "lenders/a", "uscc": f"U{name}",
        "green_category": category,
        "outstanding_fen": 10 * M, "committed_amount_fen": 12 * M, "start_date": date(2025, 3, 1),
        "co2_reduced_tco2_per_year": 0.0, "energy_saved_tce_per_year": 0.0, "industry_code": "2822",
        "region_code": "330502",
    }  # fmt: skip
    return {**row, **fields}


def test_the_catalogue_has_its_source_and_marks_unconfirmed_numbers() -> None:
    listed = catalogue()
    assert "绿色产业指导目录（2019年版）" in listed.source and listed.version == "2019"
    assert listed.names["1.5"] == ("节能改造", "Energy-saving retrofits")
    assert listed.extra["1"]["confirmed"] == "yes" and listed.extra["1.5"]["confirmed"] == "unconfirmed"
    assert is_category("3.2") and not is_category("9.9")


def test_green_statistics_by_category_with_new_loans_and_benefits() -> None:
    # R1 retrofit (1.5): 10M, since 2025-03-01 (in the period), 800 tCO2/yr, 300 tce/yr
    # R2 retrofit (1.6): 20M, since 2024-05-01 (before the period), 200 tCO2/yr, 50 tce/yr
    # P1 solar plant (3.2): 30M, since 2025-06-30, 1,500 tCO2/yr
    # X1 expansion loan, unclassified: 40M -> not green, reported apart
    rows = [
        _loan("R1", "1.5", co2_reduced_tco2_per_year=800.0, energy_saved_tce_per_year=300.0),
        _loan("R2", "1.6", outstanding_fen=20 * M, start_date=date(2024, 5, 1),
              co2_reduced_tco2_per_year=200.0, energy_saved_tce_per_year=50.0),
        _loan("P1", "3.2", outstanding_fen=30 * M, committed_amount_fen=30 * M, start_date=date(2025, 6, 30),
              co2_reduced_tco2_per_year=1_500.0, region_code="330523"),
        _loan("X1", "", outstanding_fen=40 * M),
    ]  # fmt: skip
    stats = green_statistics(
        pd.DataFrame(rows), dimension="CATEGORY", period_start=date(2025, 1, 1), as_of=date(2025, 6, 30)
    )
    by = {r.key: r for r in stats.rows}
    assert list(by) == ["1", "3"]
    # 1 (节能环保产业) = R1 + R2: 30M, 2 loans; new in the period: R1 only (committed 12M);
    # benefits 800 + 200 = 1,000 tCO2 and 300 + 50 = 350 tce a year
    assert (by["1"].label_zh, by["1"].loans, by["1"].outstanding_fen) == ("节能环保产业", 2, 30 * M)
    assert (by["1"].new_loans, by["1"].new_amount_fen) == (1, 12 * M)
    assert (by["1"].co2_reduced_tco2_per_year, by["1"].energy_saved_tce_per_year) == (1_000.0, 350.0)
    # 3 (清洁能源产业) = P1 started on the report date itself: new, 30M committed
    assert (by["3"].new_loans, by["3"].new_amount_fen, by["3"].outstanding_fen) == (1, 30 * M, 30 * M)
    # totals: 60M green, 2,500 tCO2/yr; unclassified 40M apart; 60M + 40M = the 100M book
    assert (stats.totals.outstanding_fen, stats.totals.co2_reduced_tco2_per_year) == (60 * M, 2_500.0)
    assert (stats.unclassified.loans, stats.unclassified.outstanding_fen) == (1, 40 * M)
    assert sum(r.outstanding_fen for r in stats.rows) == stats.totals.outstanding_fen
    county = green_statistics(pd.DataFrame(rows), dimension="COUNTY", period_start=date(2025, 1, 1),
                              as_of=date(2025, 6, 30))  # fmt: skip
    assert [(r.key, r.label_zh, r.outstanding_fen) for r in county.rows] == [
        ("330502", "湖州市吴兴区", 30 * M),
        ("330523", "湖州市安吉县", 30 * M),
    ]
    with pytest.raises(ValueError):
        green_statistics(
            pd.DataFrame(rows), dimension="GRADE", period_start=date(2025, 1, 1), as_of=date(2025, 6, 30)
        )


def test_regulator_green_statistics_obey_the_minimum_cell_size() -> None:
    # category 1: 3 borrowers (shown), category 3: 1 borrower (primary), category 5: 2 borrowers
    # (also < 3: primary). Two hidden cells with 1 + 2 = 3 borrowers: no complement needed.
    rows = [_loan(f"a{i}", "1.5") for i in range(3)] + [_loan("s1", "3.2")]
    rows += [_loan(f"g{i}", "5.1") for i in range(2)]
    stats = green_statistics(
        pd.DataFrame(rows), dimension="CATEGORY", period_start=date(2025, 1, 1), as_of=date(2025, 6, 30),
        min_cell_size=3,
    )  # fmt: skip
    by = {r.key: r for r in stats.rows}
    assert [k for k, r in by.items() if r.suppressed] == ["3", "5"]
    assert by["3"].outstanding_fen == 0 and by["1"].outstanding_fen == 30 * M
    assert stats.totals.outstanding_fen == 60 * M and not stats.totals.suppressed  # 6 borrowers


def test_benefits_are_the_registry_measurement_on_frozen_factors_attributed_to_the_loan() -> None:
    """The carbon-data issue's vector (tests/unit/test_real_savings.py): motors retrofit, baseline 2022
    at grid factor 0.5153; in 2023 the grid factor fell to 0.4800. Nominal saving 833 t, of which 317.7 t
    is the grid: the frozen-factor saving is 515.3 tCO2 and 200 tce a year. The project costs 1,200 万元
    (capex, 1,200 x 10^6 fen = 12,000,000.00 yuan); a loan of 3,000,000.00 yuan finances a quarter of it:
    515.3 / 4 = 128.825 tCO2 and 200 / 4 = 50 tce a year (not 833 / 4 = 208.25: the grid's share is not
    the loan's benefit)."""
    import datetime as dt

    from test_real_savings import BASE, COMMITMENT, PLUS_5, YEAR

    from registry_service.domain.commitments import commitment_progress
    from scoring_service.portfolio.green import frozen_benefits
    from scoring_service.portfolio_frames import capex_fen
    from tanxiao.registry.v1 import registry_pb2

    progress = commitment_progress(COMMITMENT, {2022: BASE, 2023: YEAR}, as_of=dt.date(2024, 3, 1),
                                   deflator=PLUS_5)  # fmt: skip
    investment = capex_fen(registry_pb2.Commitment(capex_fen=COMMITMENT.capex_fen))
    assert investment == 1_200_000_000
    benefits = frozen_benefits(
        3 * M, investment, progress.achieved_tco2_per_year, progress.achieved_tce_per_year,
        "registry: 2023 vs baseline 2022, grid factor frozen at 2022", lender_figures=(999.0, 99.0, "x"),
    )  # fmt: skip
    assert benefits.co2_tco2_per_year == pytest.approx(128.825)
    assert benefits.tce_per_year == pytest.approx(50.0)
    assert "frozen at 2022" in benefits.factors
    # a loan larger than the project is credited the whole project, never more
    whole = frozen_benefits(20 * M, investment, 515.3, 200.0, "f", lender_figures=(0.0, 0.0, ""))
    assert (whole.co2_tco2_per_year, whole.tce_per_year) == (515.3, 200.0)
    # not measured yet (or no project investment): the lender's figures as recorded at origination
    kept = frozen_benefits(3 * M, investment, None, None, "", lender_figures=(500.0, 200.0, "catalog-2024.1"))
    assert kept == type(kept)(500.0, 200.0, "catalog-2024.1")
