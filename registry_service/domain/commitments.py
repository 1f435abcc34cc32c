"""Retrofit commitments: validation and progress measured from the registry's own yearly data
(pure Python). Method in docs/data-quality.md, "Commitment progress".

Savings of year Y against the baseline year B are measured two ways and both are reported:

* absolute: tCO2_B - tCO2_Y;
* intensity-based: (L_B - L_Y) x AV_Y = L_B x AV_Y - tCO2_Y, i.e. what year Y would have emitted at
  the baseline intensity minus what it did emit (IPMVP-style adjustment of the baseline for output).

Both are measured as the retrofit would have changed them, not as the grid or prices did
(docs/data-quality.md, "Savings that are real"): year Y's emissions are recomputed with the
baseline year's grid factor (frozen: tCO2_Y + grid MWh_Y x (factor_B - factor_Y)) and year Y's
added value is put at the baseline year's prices with a deflator (AV_Y x index_B / index_Y). The
frozen-factor figure is the achieved (and verified) reduction; the nominal one and the grid
factor's share are reported beside it, the intensity improvement 1 - L'_Y / L_B apart, as a ratio.

Status uses the intensity-based figure whenever both years have positive added value, else the
absolute one (``basis``): an efficiency project should neither be penalised because the enterprise
grew (the low-carbon expansion the loans are meant to fund) nor credited because it shrank.
The same holds for tce. ``achieved_ratio`` compares tCO2 with the tCO2 target (the figure lenders
disclose for carbon-reduction facilities); the tce ratio is reported alongside.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NamedTuple

import numpy as np

from registry_service.domain.deflators import Deflator
from tanxiao.errors import FieldViolation
from tanxiao.locale import text

MIN_BASELINE_YEAR = 2000
MAX_CAPEX_FEN = 10**18  # 10^16 yuan: beyond any project; int64 holds ~9.2 x 10^18


class ProjectType(StrEnum):
    PV = "PV"
    WASTE_HEAT = "WASTE_HEAT"
    MOTORS = "MOTORS"
    TRANSFORMER = "TRANSFORMER"
    PROCESS = "PROCESS"
    FUEL_SWITCH = "FUEL_SWITCH"
    OTHER = "OTHER"


class CommitmentStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    ON_TRACK = "ON_TRACK"
    AT_RISK = "AT_RISK"
    MISSED = "MISSED"
    ACHIEVED = "ACHIEVED"


class MeasurementBasis(StrEnum):
    INTENSITY = "INTENSITY"  # (L_B - L_Y) x AV_Y
    ABSOLUTE = "ABSOLUTE"  # tCO2_B - tCO2_Y (added value missing or not positive)
    NONE = "NONE"  # no complete year to measure yet


@dataclass(frozen=True)
class Milestone:
    name: str  # proto: Milestone.title
    due_date: dt.date
    target_fraction: float  # share of the target savings expected by due_date, (0, 1]


@dataclass(frozen=True)
class Verification:
    date: dt.date  # proto: verification_date
    verifier: str
    verified_savings_tco2: float  # annualised, tCO2/yr
    verified_savings_tce: float  # annualised, tce/yr
    passed: bool
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Commitment:
    id: str
    uscc: str
    project_type: ProjectType
    baseline_year: int
    target_savings_tce_per_year: float
    target_savings_tco2_per_year: float
    capex_fen: int  # capital expenditure, integer fen (1 万元 = 1,000,000 fen)
    start_date: dt.date
    milestones: tuple[Milestone, ...]
    verifier: str
    title: str = ""
    # Baseline from the registry's profile of baseline_year; None = take it from the yearly actuals.
    baseline_intensity: float | None = None  # tCO2 per 万元
    baseline_tco2: float | None = None
    baseline_tce: float | None = None
    verifications: tuple[Verification, ...] = ()


class YearlyActual(NamedTuple):
    """One calendar year of the enterprise from its profiles (a plain (tco2, tce, added_value) tuple
    works too and counts as a complete year)."""

    tco2: float
    tce: float
    added_value_10k_cny: float | None
    months: int = 12  # months with energy data; fewer than ProgressPolicy.complete_months = incomplete
    # Grid-factor MWh (purchases less green power netted) and the factor used, tCO2/MWh; None = no
    # electricity data, and then the year is not re-valued at the baseline's factor.
    grid_mwh: float | None = None
    grid_factor: float | None = None


@dataclass(frozen=True)
class ProgressPolicy:
    at_risk_tolerance: float = 0.10  # AT_RISK when achieved < expected x (1 - this)
    miss_tolerance: float = 0.0  # a milestone is missed when achieved < target_fraction x (1 - this)
    complete_months: int = 12  # a year with fewer months of data is not measured
    evidence_grace_days: int = 120  # after the end of a milestone's year before missing data is AT_RISK
    achieved_ratio: float = 1.0  # ACHIEVED from this achieved / target


@dataclass(frozen=True)
class MilestoneStatus:
    name: str
    due: dt.date
    expected: float  # target_fraction
    achieved: float | None  # achieved ratio in the milestone's year once measured, else the latest
    met: bool | None  # None until the milestone's year is measured
    measured_year: int | None  # the year that decided ``met``


@dataclass(frozen=True)
class CommitmentProgress:
    commitment_id: str
    as_of: dt.date
    status: CommitmentStatus
    basis: MeasurementBasis
    measured_year: int | None  # latest complete year measured
    achieved_tco2_per_year: float | None  # on ``basis``
    achieved_tce_per_year: float | None
    absolute_tco2_per_year: float | None
    absolute_tce_per_year: float | None
    intensity_based_tco2_per_year: float | None
    intensity_based_tce_per_year: float | None
    achieved_ratio: float | None  # achieved tCO2 / target tCO2 (status uses this)
    achieved_ratio_tce: float | None
    expected_ratio: float  # from the milestones, at as_of
    expected_ratio_measured_year: float | None  # milestone curve averaged over the measured year
    milestones: tuple[MilestoneStatus, ...]
    milestones_missed: int
    last_verification: Verification | None
    verified: bool  # the latest verification up to as_of passed
    reason_en: str
    reason_zh: str
    savings: Savings | None = None  # how the achieved figure was made comparable, once measured


@dataclass(frozen=True)
class Savings:
    """The latest measured year against the baseline, made comparable (module docstring)."""

    year: int
    nominal_absolute_tco2: float  # tCO2_B - tCO2_Y as reported (includes the grid factor's change)
    frozen_absolute_tco2: float  # tCO2_B - tCO2_Y at the baseline's grid factor
    grid_factor_effect_tco2: float  # nominal - frozen: the part of the change the grid made
    baseline_grid_factor: float | None
    year_grid_factor: float | None
    added_value_nominal: float | None  # 万元, year Y prices
    added_value_constant: float | None  # 万元, baseline-year prices (None: no deflator for the years)
    intensity_improvement: float | None  # 1 - L'_Y / L_B, L'_Y = frozen tCO2 / constant added value
    deflator_source: str


# --- validation ----------------------------------------------------------------------------------


def validate_commitment(
    c: Commitment, *, today: dt.date | None = None, prefix: str = "commitment"
) -> list[FieldViolation]:
    """Every problem of ``c`` as field violations (paths use the proto field names)."""
    today = today or dt.date.today()
    out: list[FieldViolation] = []

    def bad(field: str, reason: str) -> None:
        out.append(FieldViolation(f"{prefix}.{field}" if prefix else field, reason))

    if not c.uscc.strip():
        bad("uscc", "required")
    if c.project_type not in set(ProjectType):
        bad("project_type", f"must be one of {', '.join(ProjectType)}")
    if not MIN_BASELINE_YEAR <= c.baseline_year <= today.year:
        bad("baseline_year", f"must be between {MIN_BASELINE_YEAR} and {today.year} (not in the future)")
    elif c.start_date.year < c.baseline_year:
        bad("start_date", f"must not be before the baseline year {c.baseline_year}")
    for name in ("target_savings_tce_per_year", "target_savings_tco2_per_year"):
        if (problem := _number_problem(getattr(c, name), positive=True)) is not None:
            bad(name, problem)
    if c.capex_fen < 0:
        bad("capex_fen", "must be >= 0")
    elif c.capex_fen > MAX_CAPEX_FEN:
        bad("capex_fen", f"must be at most {MAX_CAPEX_FEN} fen")
    for field, reason in _baseline_problems(c):
        bad(field, reason)
    if not c.verifier.strip():
        bad("verifier", "required: an independent verifier must be named")
    for field, reason in _milestone_problems(c.milestones, c.start_date):
        bad(field, reason)
    for i, v in enumerate(c.verifications):
        out.extend(validate_verification(v, c, today=today, prefix=f"{prefix}.verifications[{i}]"))
    return out


def validate_verification(
    v: Verification,
    commitment: Commitment | None = None,
    *,
    today: dt.date | None = None,
    prefix: str = "verification",
) -> list[FieldViolation]:
    today = today or dt.date.today()
    out = []
    if not v.verifier.strip():
        out.append(FieldViolation(f"{prefix}.verifier", "required"))
    if v.date > today:
        out.append(FieldViolation(f"{prefix}.verification_date", "must not be in the future"))
    elif commitment is not None and v.date < commitment.start_date:
        out.append(FieldViolation(f"{prefix}.verification_date", "must not be before the start date"))
    for name in ("verified_savings_tco2", "verified_savings_tce"):
        if (problem := _number_problem(getattr(v, name), positive=False)) is not None:
            out.append(FieldViolation(f"{prefix}.{name}", problem))
    return out


def _number_problem(value: float, *, positive: bool) -> str | None:
    if not math.isfinite(value):
        return "must be a finite number"
    if positive and value <= 0:
        return "must be > 0"
    if not positive and value < 0:
        return "must be >= 0"
    return None


def _baseline_problems(c: Commitment) -> list[tuple[str, str]]:
    problems = []
    for name in ("baseline_intensity", "baseline_tco2", "baseline_tce"):
        value = getattr(c, name)
        if value is not None and (problem := _number_problem(value, positive=False)) is not None:
            problems.append((name, problem))
    pairs = (
        ("tco2", c.baseline_tco2, c.target_savings_tco2_per_year),
        ("tce", c.baseline_tce, c.target_savings_tce_per_year),
    )
    for unit, baseline, target in pairs:
        if baseline is not None and math.isfinite(baseline) and math.isfinite(target) and target > baseline:
            problems.append((f"target_savings_{unit}_per_year", f"exceeds the baseline {baseline:g} {unit}"))
    return problems


def _milestone_problems(milestones: Sequence[Milestone], start: dt.date) -> list[tuple[str, str]]:
    if not milestones:
        return [("milestones", "at least one milestone is required")]
    problems = []
    names: set[str] = set()
    for i, m in enumerate(milestones):
        path = f"milestones[{i}]"
        if not m.name.strip():
            problems.append((f"{path}.title", "required"))
        elif m.name.strip() in names:
            problems.append((f"{path}.title", f"'{m.name}' used twice"))
        names.add(m.name.strip())
        if not (math.isfinite(m.target_fraction) and 0 < m.target_fraction <= 1):
            problems.append((f"{path}.target_fraction", "must be within (0, 1]"))
        if m.due_date < start:
            problems.append((f"{path}.due_date", "must not be before the start date"))
        if i and m.due_date <= milestones[i - 1].due_date:
            problems.append((f"{path}.due_date", "milestones must be in increasing due-date order"))
        if i and m.target_fraction < milestones[i - 1].target_fraction:
            problems.append((f"{path}.target_fraction", "must not be below the previous milestone's"))
    return problems


# --- progress ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Baseline:
    tco2: float
    tce: float
    added_value: float | None  # 万元; None when unknown or not positive
    year: int = 0
    grid_factor: float | None = None


@dataclass(frozen=True)
class _Measured:
    year: int
    basis: MeasurementBasis
    absolute_tco2: float
    absolute_tce: float
    intensity_tco2: float | None
    intensity_tce: float | None
    savings: Savings | None = None

    @property
    def tco2(self) -> float:
        return self.intensity_tco2 if self.intensity_tco2 is not None else self.absolute_tco2

    @property
    def tce(self) -> float:
        return self.intensity_tce if self.intensity_tce is not None else self.absolute_tce


def commitment_progress(
    commitment: Commitment,
    yearly_actuals: Mapping[int, YearlyActual | tuple[float, float, float | None]],
    verifications: Iterable[Verification] | None = None,
    as_of: dt.date | None = None,
    *,
    policy: ProgressPolicy | None = None,
    deflator: Deflator | None = None,
) -> CommitmentProgress:
    """Progress of ``commitment`` on ``as_of`` (default today) from the enterprise's yearly actuals
    (year -> (tCO2, tce, added value 万元[, months, grid MWh, grid factor])). ``verifications`` default to
    the commitment's. ``deflator``: added value at the baseline year's prices (None: nominal)."""
    c, p = commitment, policy or ProgressPolicy()
    as_of = as_of or dt.date.today()
    actuals = {int(y): _actual(a) for y, a in yearly_actuals.items()}
    base = _baseline(c, actuals, p)
    years = _measurable_years(c, actuals, as_of, p)
    measured = {y: m for y in years if (m := _measure(base, y, actuals[y], deflator)) is not None}
    latest = measured[max(measured)] if measured else None
    curve = _ExpectedCurve(c)
    ratio = _ratio(latest.tco2, c.target_savings_tco2_per_year) if latest else None
    milestones = tuple(_milestone_status(m, c, measured, ratio, as_of, p) for m in c.milestones)
    history = sorted(
        (v for v in (c.verifications if verifications is None else verifications) if v.date <= as_of),
        key=lambda v: (v.date, v.passed, v.verified_savings_tco2, v.verifier),
    )
    last = history[-1] if history else None
    expected_measured = curve.mean_over_year(latest.year) if latest else None
    status, reason_en, reason_zh = _status(c, as_of, ratio, expected_measured, milestones, latest, p)
    if base is None and status is not CommitmentStatus.NOT_STARTED:
        status = CommitmentStatus.AT_RISK
        reason_en, reason_zh = _reason("no_baseline", year=c.baseline_year)
    return CommitmentProgress(
        commitment_id=c.id,
        as_of=as_of,
        status=status,
        basis=latest.basis if latest else MeasurementBasis.NONE,
        measured_year=latest.year if latest else None,
        achieved_tco2_per_year=latest.tco2 if latest else None,
        achieved_tce_per_year=latest.tce if latest else None,
        absolute_tco2_per_year=latest.absolute_tco2 if latest else None,
        absolute_tce_per_year=latest.absolute_tce if latest else None,
        intensity_based_tco2_per_year=latest.intensity_tco2 if latest else None,
        intensity_based_tce_per_year=latest.intensity_tce if latest else None,
        achieved_ratio=ratio,
        achieved_ratio_tce=_ratio(latest.tce, c.target_savings_tce_per_year) if latest else None,
        expected_ratio=curve.at(as_of),
        expected_ratio_measured_year=expected_measured,
        milestones=milestones,
        milestones_missed=sum(1 for m in milestones if m.met is False),
        last_verification=last,
        verified=bool(last and last.passed),
        reason_en=reason_en,
        reason_zh=reason_zh,
        savings=latest.savings if latest else None,
    )


def with_baseline(commitment: Commitment, yearly_actuals: Mapping[int, YearlyActual]) -> Commitment:
    """The commitment with baseline_tco2/tce/intensity filled from its baseline year's actuals."""
    actual = yearly_actuals.get(commitment.baseline_year)
    if actual is None:
        return commitment
    a = _actual(actual)
    av = a.added_value_10k_cny
    c = commitment
    return replace(
        c,
        baseline_tco2=c.baseline_tco2 if c.baseline_tco2 is not None else a.tco2,
        baseline_tce=c.baseline_tce if c.baseline_tce is not None else a.tce,
        baseline_intensity=c.baseline_intensity
        if c.baseline_intensity is not None
        else (a.tco2 / av if av is not None and av > 0 else None),
    )


def _actual(value: YearlyActual | tuple[float, float, float | None]) -> YearlyActual:
    return value if isinstance(value, YearlyActual) else YearlyActual(*value)


def _baseline(c: Commitment, actuals: Mapping[int, YearlyActual], p: ProgressPolicy) -> _Baseline | None:
    """Baseline emissions from the commitment (registry profile) or the baseline year's actuals; an
    incomplete baseline year would make every project look like a failure, so it does not count."""
    a = actuals.get(c.baseline_year)
    if a is not None and a.months < p.complete_months:
        a = None
    tco2 = c.baseline_tco2 if c.baseline_tco2 is not None else (a.tco2 if a else None)
    tce = c.baseline_tce if c.baseline_tce is not None else (a.tce if a else None)
    if tco2 is None or tce is None:
        return None
    added_value = a.added_value_10k_cny if a else None
    if added_value is None and c.baseline_intensity:
        added_value = tco2 / c.baseline_intensity  # the profile's L = tCO2 / AV
    factor = a.grid_factor if a else None
    return _Baseline(
        tco2, tce, added_value if added_value and added_value > 0 else None, c.baseline_year, factor
    )


def _measurable_years(
    c: Commitment, actuals: Mapping[int, YearlyActual], as_of: dt.date, p: ProgressPolicy
) -> list[int]:
    """Complete calendar years after the baseline, from the start year, that ended before as_of."""
    first = max(c.baseline_year + 1, c.start_date.year)
    return sorted(y for y, a in actuals.items() if first <= y < as_of.year and a.months >= p.complete_months)


def _measure(
    base: _Baseline | None, year: int, actual: YearlyActual, deflator: Deflator | None = None
) -> _Measured | None:
    if base is None:
        return None
    frozen = _frozen_tco2(base, actual)
    absolute = (base.tco2 - frozen, base.tce - actual.tce)
    av = actual.added_value_10k_cny
    constant = _constant_prices(av, year, base.year, deflator)
    savings = Savings(
        year=year,
        nominal_absolute_tco2=base.tco2 - actual.tco2,
        frozen_absolute_tco2=absolute[0],
        grid_factor_effect_tco2=(base.tco2 - actual.tco2) - absolute[0],
        baseline_grid_factor=base.grid_factor,
        year_grid_factor=actual.grid_factor,
        added_value_nominal=av,
        added_value_constant=constant if deflator is not None else None,
        intensity_improvement=_improvement(base, frozen, constant),
        deflator_source=deflator.source_of(base.year, year) if deflator is not None else "",
    )
    if base.added_value is None or constant is None or constant <= 0:
        return _Measured(year, MeasurementBasis.ABSOLUTE, *absolute, None, None, savings)
    scale = constant / base.added_value  # (L_B - L'_Y) x AV'_Y = E_B x AV'_Y / AV_B - E'_Y
    intensity = (base.tco2 * scale - frozen, base.tce * scale - actual.tce)
    return _Measured(year, MeasurementBasis.INTENSITY, *absolute, *intensity, savings)


def _frozen_tco2(base: _Baseline, actual: YearlyActual) -> float:
    """Year Y's tCO2 at the baseline year's grid factor: only the grid-factor part changes. Without
    electricity figures on either side the year is taken as reported."""
    if base.grid_factor is None or actual.grid_factor is None or actual.grid_mwh is None:
        return actual.tco2
    return actual.tco2 + actual.grid_mwh * (base.grid_factor - actual.grid_factor)


def _constant_prices(av: float | None, year: int, base_year: int, deflator: Deflator | None) -> float | None:
    """Added value of ``year`` at the baseline year's prices; nominal without a deflator, None when
    the deflator has no index for either year (not measured on intensity then: nominal would credit
    inflation)."""
    if av is None or deflator is None:
        return av
    return deflator.to_prices_of(av, year, base_year)


def _improvement(base: _Baseline, frozen: float, constant: float | None) -> float | None:
    if base.added_value is None or constant is None or constant <= 0 or base.tco2 <= 0:
        return None
    return 1 - (frozen / constant) / (base.tco2 / base.added_value)


def _ratio(achieved: float, target: float) -> float | None:
    return achieved / target if target > 0 else None


class _ExpectedCurve:
    """Expected fraction of the target over time: 0 at the start date, linear between milestones,
    flat after the last one (no milestones: full savings one year after the start)."""

    def __init__(self, c: Commitment) -> None:
        points = [(c.start_date, 0.0), *((m.due_date, m.target_fraction) for m in c.milestones)]
        if not c.milestones:
            points.append((c.start_date + dt.timedelta(days=365), 1.0))
        # Monotone even for unvalidated input: nothing is expected before the start date.
        self._x = np.maximum.accumulate(np.array([d.toordinal() for d, _ in points], dtype=np.float64))
        self._y = np.maximum.accumulate(np.array([f for _, f in points], dtype=np.float64))

    def at(self, day: dt.date) -> float:
        return float(np.interp(day.toordinal(), self._x, self._y, left=0.0))

    def mean_over_year(self, year: int) -> float:
        first, end = dt.date(year, 1, 1).toordinal(), dt.date(year + 1, 1, 1).toordinal()
        days = np.arange(first, end, dtype=np.float64)
        return float(np.interp(days, self._x, self._y, left=0.0).mean())


def _milestone_status(
    m: Milestone,
    c: Commitment,
    measured: Mapping[int, _Measured],
    latest_ratio: float | None,
    as_of: dt.date,
    p: ProgressPolicy,
) -> MilestoneStatus:
    """A due milestone is judged on the year containing its due date (at the earliest the first year
    after the baseline), once that year is measured."""
    if as_of < m.due_date:
        return MilestoneStatus(m.name, m.due_date, m.target_fraction, latest_ratio, None, None)
    year = max(m.due_date.year, c.baseline_year + 1)
    if year not in measured:
        return MilestoneStatus(m.name, m.due_date, m.target_fraction, latest_ratio, None, None)
    ratio = _ratio(measured[year].tco2, c.target_savings_tco2_per_year)
    met = ratio is not None and ratio >= m.target_fraction * (1 - p.miss_tolerance)
    return MilestoneStatus(m.name, m.due_date, m.target_fraction, ratio, met, year)


def _evidence_overdue(m: MilestoneStatus, c: Commitment, as_of: dt.date, p: ProgressPolicy) -> bool:
    """Due, unjudged, and its year's data should have arrived by now."""
    if m.met is not None or as_of < m.due:
        return False
    year = max(m.due.year, c.baseline_year + 1)
    return as_of > dt.date(year, 12, 31) + dt.timedelta(days=p.evidence_grace_days)


def _status(
    c: Commitment,
    as_of: dt.date,
    ratio: float | None,
    expected: float | None,
    milestones: Sequence[MilestoneStatus],
    latest: _Measured | None,
    p: ProgressPolicy,
) -> tuple[CommitmentStatus, str, str]:
    """Status with its reason in English and Chinese. Order: not started, achieved, missed, at risk."""
    if as_of < c.start_date:
        return CommitmentStatus.NOT_STARTED, *_reason("not_started", start=c.start_date)
    missed = [m for m in milestones if m.met is False]
    overdue = [m for m in milestones if _evidence_overdue(m, c, as_of, p)]
    if ratio is not None and latest is not None and ratio >= p.achieved_ratio:
        return CommitmentStatus.ACHIEVED, *_reason("achieved", year=latest.year, ratio=f"{ratio:.0%}")
    if missed:
        m = missed[0]
        achieved = f"{m.achieved:.0%}" if m.achieved is not None else "n/a"
        fields = {"name": m.name, "due": m.due, "achieved": achieved, "expected": f"{m.expected:.0%}"}
        return CommitmentStatus.MISSED, *_reason("missed", **fields)
    behind = ratio is not None and expected is not None and ratio < expected * (1 - p.at_risk_tolerance)
    if behind and ratio is not None and expected is not None and latest is not None:
        fields = {"year": latest.year, "ratio": f"{ratio:.0%}", "expected": f"{expected:.0%}"}
        return CommitmentStatus.AT_RISK, *_reason("behind", **fields)
    if overdue:
        m = overdue[0]
        return CommitmentStatus.AT_RISK, *_reason("overdue", name=m.name, due=m.due)
    if latest is None or ratio is None:
        return CommitmentStatus.ON_TRACK, *_reason("no_year_yet")
    return CommitmentStatus.ON_TRACK, *_reason("on_track", year=latest.year, ratio=f"{ratio:.0%}")


def _reason(key: str, **fields: object) -> tuple[str, str]:
    """(en, zh) of the status reason ``commitment_reason.<key>`` from the catalogue, filled in."""
    en, zh = (text(f"commitment_reason.{key}", lang).format(**fields) for lang in ("en", "zh"))
    return en, zh
