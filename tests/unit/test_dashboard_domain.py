"""The dashboard's pure rules, by hand: which commitments count as verified or overdue, and the largest
energy source of an enterprise (registry_service.domain.dashboard)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from registry_service.domain import dashboard
from registry_service.domain.catalog import load_catalog


def _commitments() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("c1", "u1", "330502", "2822", 1_000.0, date(2024, 6, 30)),
            ("c2", "u2", "330502", "2822", 400.0, date(2024, 6, 30)),
            ("c3", "u3", "330521", "1713", 250.0, date(2026, 1, 31)),
        ],
        columns=list(dashboard.COMMITMENT_COLUMNS),
    )


def test_the_latest_verification_by_the_date_decides() -> None:
    checks = pd.DataFrame(
        [
            ("c1", date(2024, 9, 1), 1, True, 900.0),  # passed ...
            ("c1", date(2025, 3, 1), 2, False, 0.0),  # ... then failed: no longer verified
            ("c2", date(2025, 2, 1), 3, False, 0.0),  # same day: recorded later wins
            ("c2", date(2025, 2, 1), 4, True, 380.0),
        ],
        columns=list(dashboard.VERIFICATION_COLUMNS),
    )
    early = dashboard.pipeline_states(_commitments(), checks, date(2024, 12, 31)).set_index("id")
    assert early["verified"].to_dict() == {"c1": True, "c2": False, "c3": False}
    assert early["overdue"].to_dict() == {"c1": False, "c2": True, "c3": False}
    late = dashboard.pipeline_states(_commitments(), checks, date(2025, 6, 30)).set_index("id")
    assert late["verified"].to_dict() == {"c1": False, "c2": True, "c3": False}
    assert late["verified_tco2"].to_dict() == {"c1": 0.0, "c2": 380.0, "c3": 0.0}
    assert late["overdue"].to_dict() == {"c1": True, "c2": False, "c3": False}
    figures = dashboard.savings_pipeline(late.reset_index(), "", 1).totals
    assert (figures.pledged, figures.pledged_tco2, figures.verified_tco2, figures.overdue_tco2) == (
        3, 1_650.0, 380.0, 1_000.0,
    )  # fmt: skip


def test_the_largest_source_uses_the_grid_factor_of_the_region_and_year() -> None:
    catalog = load_catalog()
    factor = catalog.grid_factor("330502", 2022).tco2_per_mwh
    records = pd.DataFrame(
        {
            "uscc": ["u1", "u1", "u1", "u2"],
            "period": ["2022-01", "2022-02", "2022-01", "2022-01"],
            "category": ["ELECTRICITY", "ELECTRICITY", "NATURAL_GAS", "INDUSTRIAL_ADDED_VALUE"],
            "canonical_quantity": [1_000_000.0, 1_000_000.0, 100_000.0, 250.0],
        }
    )
    top = dashboard.largest_sources(records, {"u1": "330502", "u2": "330502"}, catalog).set_index("uscc")
    electricity = 2_000_000 / 1000 * factor  # kWh -> MWh x tCO2/MWh
    gas = 100_000 * catalog.category("NATURAL_GAS").kgco2_per_unit / 1000  # type: ignore[operator]
    assert list(top.index) == ["u1"]  # u2 has no energy records
    assert top.loc["u1", "category"] == "ELECTRICITY"
    assert top.loc["u1", "tco2"] == pytest.approx(electricity)
    assert top.loc["u1", "share"] == pytest.approx(electricity / (electricity + gas))
