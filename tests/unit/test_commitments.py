"""Retrofit commitments: validation, measured savings on both bases, statuses and milestones."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import pytest

from registry_service.domain.commitments import (
    Commitment,
    CommitmentStatus,
    MeasurementBasis,
    Milestone,
    ProjectType,
    Verification,
    YearlyActual,
    commitment_progress,
    validate_commitment,
    validate_verification,
    with_baseline,
)

TODAY = dt.date(2025, 6, 1)
JUNE_2023 = dt.date(2023, 6, 1)
MAY_2024 = dt.date(2024, 5, 1)
BASELINE = YearlyActual(tco2=10_000.0, tce=4_000.0, added_value_10k_cny=5_000.0)


def commitment(**changes: object) -> Commitment:
    c = Commitment(
        id="c1",
        uscc="91330500MA2B3C4D5E",
        project_type=ProjectType.WASTE_HEAT,
        title="Kiln waste-heat recovery",
        baseline_year=2022,
        target_savings_tce_per_year=800.0,
        target_savings_tco2_per_year=2_000.0,
        capex_fen=1_200_000_000,
        start_date=dt.date(2023, 1, 1),
        milestones=(
            Milestone("commissioning", dt.date(2023, 12, 31), 0.5),
            Milestone("full savings", dt.date(2024, 12, 31), 1.0),
        ),
        verifier="CQC",
    )
    return replace(c, **changes)  # type: ignore[arg-type]


def actuals(**years: YearlyActual | tuple[float, float, float]) -> dict[int, YearlyActual]:
    out = {2022: BASELINE}
    out.update({int(y[1:]): YearlyActual(*v) for y, v in years.items()})
    return out


def fields(c: Commitment, today: dt.date = TODAY) -> set[str]:
    return {v.field for v in validate_commitment(c, today=today)}


def test_a_sound_commitment_is_valid() -> None:
    assert validate_commitment(commitment(), today=TODAY) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"target_savings_tce_per_year": 0.0}, "commitment.target_savings_tce_per_year"),
        ({"target_savings_tco2_per_year": -5.0}, "commitment.target_savings_tco2_per_year"),
        ({"target_savings_tco2_per_year": math.nan}, "commitment.target_savings_tco2_per_year"),
        ({"capex_fen": -1}, "commitment.capex_fen"),
        ({"baseline_year": 2026}, "commitment.baseline_year"),
        ({"start_date": dt.date(2021, 6, 1)}, "commitment.start_date"),
        ({"verifier": " "}, "commitment.verifier"),
        ({"uscc": ""}, "commitment.uscc"),
        ({"baseline_tco2": 1_500.0}, "commitment.target_savings_tco2_per_year"),
        ({"milestones": ()}, "commitment.milestones"),
        (
            {
                "milestones": (
                    Milestone("a", dt.date(2024, 1, 1), 0.5),
                    Milestone("b", dt.date(2023, 6, 1), 1.0),
                )
            },
            "commitment.milestones[1].due_date",
        ),
        (
            {
                "milestones": (
                    Milestone("a", dt.date(2023, 6, 1), 0.6),
                    Milestone("b", dt.date(2024, 1, 1), 0.4),
                )
            },
            "commitment.milestones[1].target_fraction",
        ),
        ({"milestones": (Milestone("a", JUNE_2023, 1.2),)}, "commitment.milestones[0].target_fraction"),
        ({"milestones": (Milestone("a", JUNE_2023, 0.0),)}, "commitment.milestones[0].target_fraction"),
        ({"milestones": (Milestone("a", dt.date(2022, 6, 1), 1.0),)}, "commitment.milestones[0].due_date"),
        ({"milestones": (Milestone("", JUNE_2023, 1.0),)}, "commitment.milestones[0].title"),
        (
            {
                "milestones": (
                    Milestone("a", dt.date(2023, 6, 1), 0.5),
                    Milestone("a", dt.date(2024, 1, 1), 1.0),
                )
            },
            "commitment.milestones[1].title",
        ),
    ],
)
def test_each_problem_names_its_field(changes: dict[str, object], field: str) -> None:
    assert field in fields(commitment(**changes))


def test_verifications_are_validated() -> None:
    bad = Verification(dt.date(2026, 1, 1), "", -1.0, 0.0, True)
    paths = {v.field for v in validate_verification(bad, commitment(), today=TODAY)}
    names = ("verifier", "verification_date", "verified_savings_tco2")
    assert paths == {f"verification.{name}" for name in names}
    early = Verification(dt.date(2022, 5, 1), "CQC", 1.0, 1.0, True)
    assert "commitment.verifications[0].verification_date" in fields(commitment(verifications=(early,)))


def test_not_started_before_the_start_date() -> None:
    late = (Milestone("commissioning", dt.date(2026, 6, 30), 1.0),)
    c = commitment(start_date=dt.date(2025, 9, 1), milestones=late)
    p = commitment_progress(c, actuals(), as_of=TODAY)
    assert p.status is CommitmentStatus.NOT_STARTED and p.basis is MeasurementBasis.NONE
    assert p.expected_ratio == 0.0


def test_on_track_with_no_complete_year_yet() -> None:
    p = commitment_progress(commitment(), actuals(), as_of=dt.date(2023, 8, 1))
    assert p.status is CommitmentStatus.ON_TRACK and p.measured_year is None
    assert p.expected_ratio == pytest.approx(0.5 * 212 / 364, abs=0.01)
    assert p.milestones[0].met is None


def test_on_track_when_savings_follow_the_milestones() -> None:
    # 2023: 1,100 t saved at constant output, 55 % of the target; the curve averages 25 % over 2023.
    p = commitment_progress(commitment(), actuals(y2023=(8_900.0, 3_560.0, 5_000.0)), as_of=MAY_2024)
    assert p.status is CommitmentStatus.ON_TRACK
    assert (p.measured_year, p.basis) == (2023, MeasurementBasis.INTENSITY)
    assert p.achieved_tco2_per_year == pytest.approx(1_100.0)
    assert p.absolute_tco2_per_year == pytest.approx(1_100.0)
    assert p.achieved_ratio == pytest.approx(0.55) and p.achieved_ratio_tce == pytest.approx(0.55)
    assert p.expected_ratio_measured_year == pytest.approx(0.25, abs=0.01)
    assert p.milestones[0].met is True and p.milestones[0].measured_year == 2023
    assert p.milestones[1].met is None and p.milestones_missed == 0


def test_at_risk_when_behind_the_curve_before_a_milestone_is_judged() -> None:
    c = commitment(milestones=(Milestone("full savings", dt.date(2024, 12, 31), 1.0),))
    # Linear from 2023-01-01 to 2024-12-31: 2023 averages ~25 %; 5 % achieved.
    p = commitment_progress(c, actuals(y2023=(9_900.0, 3_960.0, 5_000.0)), as_of=dt.date(2024, 6, 1))
    assert p.status is CommitmentStatus.AT_RISK
    assert p.achieved_ratio == pytest.approx(0.05)
    assert "expected" in p.reason_en and p.milestones[0].met is None


def test_missed_when_a_due_milestone_falls_short() -> None:
    p = commitment_progress(commitment(), actuals(y2023=(9_500.0, 3_800.0, 5_000.0)), as_of=MAY_2024)
    assert p.status is CommitmentStatus.MISSED
    assert p.milestones[0].met is False and p.milestones[0].achieved == pytest.approx(0.25)
    assert p.milestones_missed == 1 and "commissioning" in p.reason_en and "里程碑" in p.reason_zh


def test_achieved_when_the_full_target_is_measured() -> None:
    data = actuals(y2023=(9_000.0, 3_600.0, 5_000.0), y2024=(7_900.0, 3_150.0, 5_000.0))
    p = commitment_progress(commitment(), data, as_of=dt.date(2025, 4, 1))
    assert p.status is CommitmentStatus.ACHIEVED and p.measured_year == 2024
    assert p.achieved_ratio == pytest.approx(1.05)
    assert all(m.met for m in p.milestones)


def test_growth_is_not_held_against_an_efficiency_project() -> None:
    # Output +30 %, emissions +5 %: absolute savings are negative, the intensity-based ones are not.
    data = actuals(y2023=(10_500.0, 4_100.0, 6_500.0))
    p = commitment_progress(commitment(), data, as_of=dt.date(2024, 5, 1))
    assert p.basis is MeasurementBasis.INTENSITY
    assert p.absolute_tco2_per_year == pytest.approx(-500.0)
    assert p.intensity_based_tco2_per_year == pytest.approx(10_000 * 1.3 - 10_500)
    assert p.achieved_tco2_per_year == p.intensity_based_tco2_per_year
    assert p.status is CommitmentStatus.ACHIEVED


def test_absolute_basis_without_added_value() -> None:
    data = {2022: YearlyActual(10_000.0, 4_000.0, None), 2023: YearlyActual(8_800.0, 3_500.0, None)}
    p = commitment_progress(commitment(), data, as_of=dt.date(2024, 5, 1))
    assert p.basis is MeasurementBasis.ABSOLUTE and p.intensity_based_tco2_per_year is None
    assert p.achieved_tco2_per_year == pytest.approx(1_200.0)


def test_incomplete_years_and_the_current_year_are_not_measured() -> None:
    data = actuals(y2023=YearlyActual(8_000.0, 3_200.0, 5_000.0, months=9), y2024=(7_000.0, 3_000.0, 5_000.0))
    p = commitment_progress(commitment(), data, as_of=dt.date(2024, 11, 1))
    assert p.measured_year is None
    assert p.status is CommitmentStatus.AT_RISK  # 2023 should have decided the first milestone by now
    late = commitment_progress(commitment(), data, as_of=dt.date(2024, 6, 1) + dt.timedelta(days=365))
    assert late.measured_year == 2024


def test_missing_evidence_after_the_grace_period_is_at_risk() -> None:
    p = commitment_progress(commitment(), actuals(), as_of=dt.date(2024, 3, 1))
    assert p.status is CommitmentStatus.ON_TRACK  # 2023's data may still come
    p = commitment_progress(commitment(), actuals(), as_of=dt.date(2024, 6, 1))
    assert p.status is CommitmentStatus.AT_RISK and "No complete data" in p.reason_en


def test_baseline_from_the_commitment_or_the_actuals() -> None:
    data = {2023: YearlyActual(9_000.0, 3_600.0, 5_000.0)}  # baseline year not in the actuals
    c = commitment(baseline_tco2=10_000.0, baseline_tce=4_000.0, baseline_intensity=2.0)
    p = commitment_progress(c, data, as_of=dt.date(2024, 5, 1))
    assert p.basis is MeasurementBasis.INTENSITY and p.achieved_tco2_per_year == pytest.approx(1_000.0)
    filled = with_baseline(commitment(), actuals())
    assert (filled.baseline_tco2, filled.baseline_tce, filled.baseline_intensity) == (10_000.0, 4_000.0, 2.0)
    unmeasurable = commitment_progress(commitment(), {}, as_of=TODAY)
    assert unmeasurable.basis is MeasurementBasis.NONE and unmeasurable.status is CommitmentStatus.AT_RISK
    half_year = {
        2022: YearlyActual(5_000.0, 2_000.0, 2_500.0, months=6),
        2023: YearlyActual(9_000.0, 3_600.0, 5_000.0),
    }
    assert "baseline" in commitment_progress(commitment(), half_year, as_of=MAY_2024).reason_en


def test_verifications_up_to_as_of() -> None:
    checks = (
        Verification(dt.date(2024, 3, 1), "CQC", 1_000.0, 400.0, True),
        Verification(dt.date(2024, 9, 1), "CQC", 900.0, 350.0, False, "meter not calibrated"),
    )
    c = commitment(verifications=checks)
    before = commitment_progress(c, actuals(), as_of=dt.date(2024, 5, 1))
    after = commitment_progress(c, actuals(), as_of=dt.date(2024, 10, 1))
    assert before.verified and before.last_verification == checks[0]
    assert not after.verified and after.last_verification == checks[1]
    assert not commitment_progress(c, actuals(), verifications=[], as_of=TODAY).verified
