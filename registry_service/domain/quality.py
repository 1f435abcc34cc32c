"""Data quality of enterprise-periods: a 0-100 score, the PCAF data-quality score 1-5 and flags
(pure: pandas + packaged YAML). Model and thresholds: registry_service/data/quality.yaml, explained in
docs/data-quality.md.

Inputs are *all* records of the window (every source and revision): the effective values come from
source precedence, and the others are what reconciliation compares them with. Everything is computed
for many enterprises at once (``assess_quality_batch``); ``assess_quality`` is the one-enterprise view
of the same code, so both always agree.
"""

from __future__ import annotations

import functools
import math
import string
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import yaml

from registry_service.domain.precedence import (
    REQUIRED_COLUMNS,
    Precedence,
    current_records,
    load_precedence,
    quantity_column,
    select_effective,
)
from registry_service.domain.trend import ordinal_period, period_ordinal

SEVERITIES = ("CRITICAL", "WARNING", "INFO")
# PROCESS (catalog 2026.2): carbonate process CO2, not energy.
KINDS = ("ENERGY", "RENEWABLE", "ECONOMIC", "RESOURCE", "PROCESS")
FLAG_COLUMNS = ("uscc", "code", "severity", "category", "period", "reason_en", "reason_zh")
SCORE_COLUMNS = (
    "score",
    "pcaf_score",
    "coverage",
    "added_value_coverage",
    "source_score",
    "penalty",
    "months_expected",
    "months_covered",
    "n_flags",
)
_GROUP = ["uscc", "category"]


@dataclass(frozen=True)
class QualityFlag:
    code: str  # UPPER_SNAKE, e.g. MOM_SPIKE
    severity: str  # INFO / WARNING / CRITICAL
    category: str  # "" when not about one category
    period: str  # "YYYY-MM", "" when not about one month
    reason_en: str
    reason_zh: str


@dataclass(frozen=True)
class QualityAssessment:
    score: float  # 0 (unusable) .. 100 (verified, complete, consistent)
    pcaf_score: int  # 1 verified .. 5 nothing but sector averages
    coverage: float  # share of expected months with energy data
    flags: tuple[QualityFlag, ...]
    added_value_coverage: float = 0.0  # share of expected months with positive added value
    # share of effective energy category-months per source
    source_mix: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    months_expected: int = 0
    months_covered: int = 0
    config_version: str = ""


# --- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    code: str
    severity: str
    en: str
    zh: str


@dataclass(frozen=True)
class Penalty:
    per_flag: float
    cap: float


@dataclass(frozen=True)
class MomSpikeConfig:
    z_threshold: float = 3.5
    min_abs_log_change: float = math.log(1.5)
    min_changes: int = 6
    min_scale: float = 0.05
    zero_floor_fraction: float = 0.01
    holiday_months: frozenset[int] = frozenset({1, 2, 3})
    holiday_min_abs_log_change: float = math.log(2.5)


@dataclass(frozen=True)
class PeerOutlierConfig:
    z_threshold: float = 3.5
    min_peers: int = 10
    min_scale: float = 0.10


@dataclass(frozen=True)
class QualityConfig:
    version: str
    category_kinds: Mapping[str, str]  # category -> kind; unlisted categories are ENERGY
    added_value_category: str
    weights: Mapping[str, float]  # source, coverage, added_value
    source_weights: Mapping[str, float]
    foreign_utility_weight: float
    penalties: Mapping[str, Penalty]
    pcaf_verified_min_coverage: float
    pcaf_min_coverage: float
    coverage_critical_below: float
    tolerance: float
    critical_tolerance: float
    category_tolerance: Mapping[str, float]
    mom: MomSpikeConfig
    peer: PeerOutlierConfig
    stale_after_months: int
    messages: Mapping[str, Message]
    # category -> (zh, en) name that the reasons show instead of the code (the catalog's names); the
    # flag's own `category` field keeps the code for machines
    category_names: Mapping[str, tuple[str, str]] = field(default_factory=lambda: MappingProxyType({}))

    def kind(self, category: str) -> str:
        return self.category_kinds.get(category, "ENERGY")

    def with_category_names(self, names: Mapping[str, tuple[str, str]]) -> QualityConfig:
        """This configuration with the catalog's category names for the reasons' texts."""
        return replace(self, category_names=MappingProxyType({**self.category_names, **names}))

    def with_category_kinds(self, kinds: Mapping[str, str]) -> QualityConfig:
        """This configuration with the catalog's kinds (they win over the fallback lists)."""
        merged = {**self.category_kinds, **{c: str(k) for c, k in kinds.items()}}
        bad = sorted({k for k in merged.values() if k not in KINDS})
        if bad:
            raise ValueError(f"unknown category kinds {bad}")
        return replace(self, category_kinds=MappingProxyType(merged))


def load_quality_config(text: str | None = None) -> QualityConfig:
    """The packaged quality.yaml (read once: the result is immutable), or the given YAML text;
    ValueError when invalid."""
    if text is None:
        return _packaged()
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise ValueError("quality configuration must be a mapping")
    try:
        config = _config_from_dict(raw)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"invalid quality configuration: {exc!r}") from exc
    problems = _config_problems(config)
    if problems:
        raise ValueError("invalid quality configuration: " + "; ".join(problems))
    return config


@functools.cache
def _packaged() -> QualityConfig:
    text = resources.files("registry_service.data").joinpath("quality.yaml").read_text("utf-8")
    return load_quality_config(text)


def _config_from_dict(raw: Mapping[str, Any]) -> QualityConfig:
    sections = ("score", "pcaf", "reconciliation", "mom_spike", "peer_outlier")
    score, pcaf, rec, mom, peer = (raw[k] for k in sections)
    kinds = {str(c): str(kind) for kind, cats in (raw.get("category_kinds") or {}).items() for c in cats}
    return QualityConfig(
        version=str(raw["version"]),
        category_kinds=MappingProxyType(kinds),
        added_value_category=str(raw["added_value_category"]),
        weights=MappingProxyType({str(k): float(v) for k, v in score["weights"].items()}),
        source_weights=MappingProxyType({str(k): float(v) for k, v in score["source_weights"].items()}),
        foreign_utility_weight=float(score["foreign_utility_weight"]),
        penalties=MappingProxyType(
            {str(c): Penalty(float(p["per_flag"]), float(p["cap"])) for c, p in score["penalties"].items()}
        ),
        pcaf_verified_min_coverage=float(pcaf["verified_min_coverage"]),
        pcaf_min_coverage=float(pcaf["min_coverage"]),
        coverage_critical_below=float(raw["coverage"]["critical_below"]),
        tolerance=float(rec["tolerance"]),
        critical_tolerance=float(rec["critical_tolerance"]),
        category_tolerance=MappingProxyType(
            {str(c): float(t) for c, t in (rec.get("category_tolerance") or {}).items()}
        ),
        mom=MomSpikeConfig(
            z_threshold=float(mom["z_threshold"]),
            min_abs_log_change=float(mom["min_abs_log_change"]),
            min_changes=int(mom["min_changes"]),
            min_scale=float(mom["min_scale"]),
            zero_floor_fraction=float(mom["zero_floor_fraction"]),
            holiday_months=frozenset(int(m) for m in mom.get("holiday_months") or ()),
            holiday_min_abs_log_change=float(mom["holiday_min_abs_log_change"]),
        ),
        peer=PeerOutlierConfig(float(peer["z_threshold"]), int(peer["min_peers"]), float(peer["min_scale"])),
        stale_after_months=int(raw["stale"]["after_months"]),
        messages=MappingProxyType(
            {
                str(k): Message(str(m["code"]), str(m["severity"]), str(m["en"]), str(m["zh"]))
                for k, m in raw["messages"].items()
            }
        ),
    )


# Message templates and the placeholders each may use (besides uscc, category and period).
_PLACEHOLDERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "MISSING_MONTHS": frozenset(),
        "MISSING_ADDED_VALUE_MONTH": frozenset(),
        "SOURCE_DISAGREEMENT": frozenset(
            {"other_source", "other_value", "source", "value", "difference", "tolerance"}
        ),
        "SELF_REPORTED_ONLY": frozenset({"months"}),
        "NO_ADDED_VALUE": frozenset(),
        "ZERO_ADDED_VALUE_MONTH": frozenset({"value"}),
        "NON_POSITIVE_ADDED_VALUE_TOTAL": frozenset({"value"}),
        "MOM_SPIKE": frozenset({"value", "ratio_prev", "ratio_next", "z"}),
        "MOM_SHIFT": frozenset({"value", "ratio_prev", "z"}),
        "PEER_OUTLIER_HIGH": frozenset({"value", "median", "z", "peers"}),
        "PEER_OUTLIER_LOW": frozenset({"value", "median", "z", "peers"}),
        "STALE_DATA": frozenset({"months", "reference"}),
        "MULTIPLE_RECORDS": frozenset({"records", "source"}),
    }
)


def _template_problems(name: str, message: Message) -> list[str]:
    allowed = _PLACEHOLDERS.get(name, frozenset()) | {"uscc", "category", "period"}
    problems = []
    for language, text in (("en", message.en), ("zh", message.zh)):
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            problems.append(f"messages.{name}.{language}: {exc}")
            continue
        problems += [f"messages.{name}.{language}: unknown placeholder {f}" for f in sorted(fields - allowed)]
    return problems


def _config_problems(c: QualityConfig) -> list[str]:
    problems = [f"messages: {t} missing" for t in _PLACEHOLDERS if t not in c.messages]
    problems += [p for name, m in c.messages.items() for p in _template_problems(name, m)]
    problems += [
        f"messages.{k}: bad severity {m.severity}"
        for k, m in c.messages.items()
        if m.severity not in SEVERITIES
    ]
    problems += [
        f"category_kinds: unknown kind {k}" for k in sorted(set(c.category_kinds.values())) if k not in KINDS
    ]
    parts = {"source", "coverage", "added_value"}
    if set(c.weights) != parts or not math.isclose(sum(c.weights.values()), 1):
        problems.append("score.weights: need source, coverage, added_value summing to 1")
    fractions = {
        "pcaf.verified_min_coverage": c.pcaf_verified_min_coverage,
        "pcaf.min_coverage": c.pcaf_min_coverage,
        "coverage.critical_below": c.coverage_critical_below,
        "reconciliation.tolerance": c.tolerance,
        "reconciliation.critical_tolerance": c.critical_tolerance,
        **{f"score.source_weights.{k}": v for k, v in c.source_weights.items()},
        **{f"reconciliation.category_tolerance.{k}": v for k, v in c.category_tolerance.items()},
    }
    problems += [f"{name} must be within 0..1" for name, v in fractions.items() if not 0 <= v <= 1]
    if c.mom.min_changes < 3 or c.peer.min_peers < 3 or c.stale_after_months < 0:
        problems.append("mom_spike.min_changes and peer_outlier.min_peers must be >= 3, stale >= 0")
    return problems


# --- entry points --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityBatch:
    """Assessments of many enterprises: ``scores`` (index uscc, SCORE_COLUMNS), ``flags``
    (FLAG_COLUMNS, sorted by uscc, severity, code, category, period) and ``source_mix`` (index uscc,
    one column per source: share of effective energy category-months)."""

    scores: pd.DataFrame
    flags: pd.DataFrame
    source_mix: pd.DataFrame
    config_version: str

    def assessment(self, uscc: str) -> QualityAssessment:
        return self._build([uscc], self.flags[self.flags["uscc"] == uscc])[uscc]

    def assessments(self) -> dict[str, QualityAssessment]:
        return self._build([str(u) for u in self.scores.index], self.flags)

    def _build(self, usccs: list[str], flags: pd.DataFrame) -> dict[str, QualityAssessment]:
        """Assessments from plain Python rows: one pass over each frame, not one lookup per enterprise."""
        by_uscc: dict[str, list[QualityFlag]] = {u: [] for u in usccs}
        for uscc, *values in flags[list(FLAG_COLUMNS)].itertuples(index=False, name=None):
            by_uscc[str(uscc)].append(QualityFlag(*(str(v) for v in values)))
        scores = self.scores.loc[usccs].to_dict("index")
        mix = self.source_mix.reindex(usccs).fillna(0.0).to_dict("index")
        return {u: self._assessment(scores[u], mix[u], by_uscc[u]) for u in usccs}

    def _assessment(
        self, row: Mapping[str, Any], mix: Mapping[str, float], flags: list[QualityFlag]
    ) -> QualityAssessment:
        return QualityAssessment(
            score=float(row["score"]),
            pcaf_score=int(row["pcaf_score"]),
            coverage=float(row["coverage"]),
            flags=tuple(flags),
            added_value_coverage=float(row["added_value_coverage"]),
            source_mix=MappingProxyType({str(s): float(v) for s, v in mix.items() if v > 0}),
            months_expected=int(row["months_expected"]),
            months_covered=int(row["months_covered"]),
            config_version=self.config_version,
        )


def assess_quality(
    records: pd.DataFrame,
    expected_periods: Sequence[str],
    *,
    uscc: str | None = None,
    intensity: float | None = None,
    peer_intensities: Sequence[float] | np.ndarray | pd.Series | None = None,
    as_of: date | None = None,
    config: QualityConfig | None = None,
    precedence: Precedence | None = None,
    category_kinds: Mapping[str, str] | None = None,
) -> QualityAssessment:
    """Quality of one enterprise over ``expected_periods`` ("YYYY-MM" months).

    ``records``: every record of the enterprise (all sources and revisions; columns as for
    precedence.select_effective). ``intensity`` and ``peer_intensities`` (the peers' carbon
    intensities, same unit) enable PEER_OUTLIER. ``as_of`` enables STALE_DATA against the last
    complete month before it (else against the window's last month).
    """
    present = sorted(map(str, records["uscc"].unique())) if len(records) else []
    if len(present) > 1 or (uscc is not None and present and present != [uscc]):
        raise ValueError(f"records of one enterprise expected, got {present[:3]}")
    who = uscc if uscc is not None else (present[0] if present else "")
    targets = peers = None
    if intensity is not None and peer_intensities is not None:
        peers = pd.DataFrame({"intensity": np.asarray(peer_intensities, dtype=np.float64), "group": 0})
        targets = pd.DataFrame({"intensity": [float(intensity)], "group": [0]}, index=[who])
    batch = _assess(
        records,
        expected_periods,
        [who],
        peers=peers,
        targets=targets,
        as_of=as_of,
        config=config,
        precedence=precedence,
        category_kinds=category_kinds,
    )
    return batch.assessment(who)


def assess_quality_batch(
    records: pd.DataFrame,
    expected_periods: Sequence[str],
    *,
    usccs: Collection[str] | None = None,
    intensities: pd.Series | None = None,
    peer_groups: pd.Series | None = None,
    as_of: date | None = None,
    config: QualityConfig | None = None,
    precedence: Precedence | None = None,
    category_kinds: Mapping[str, str] | None = None,
) -> QualityBatch:
    """Quality of many enterprises over the same ``expected_periods``.

    ``usccs`` adds enterprises without any record (they score 0, PCAF 5). ``intensities`` (uscc ->
    carbon intensity) with optional ``peer_groups`` (uscc -> any hashable, e.g. industry code; all
    one group when absent) enables PEER_OUTLIER: each enterprise is compared with the robust
    statistics of its group's intensities (itself included; with >= min_peers it hardly matters).
    """
    who = sorted(set(map(str, records["uscc"].unique())) | set(usccs or ()))
    return _assess(
        records,
        expected_periods,
        who,
        peers=_peers(intensities, peer_groups),
        as_of=as_of,
        config=config,
        precedence=precedence,
        category_kinds=category_kinds,
    )


@dataclass(frozen=True)
class ResolvedRecords:
    """A window's records already resolved under the precedence, so that quality does not resolve
    them again (profiles.build_profiles resolves each record once for the profiles and quality).

    ``current``: the current revisions of the window's records (columns as select_effective's input);
    ``chosen``, ``quantity``, ``n_records``: per (uscc, period, category) in key order, the position in
    ``current`` of select_effective's row, its effective quantity and the records it combines
    (precedence.Resolution restricted to the window: a window takes whole keys, so their resolution
    is the same as select_effective over the window alone)."""

    current: pd.DataFrame
    chosen: np.ndarray
    quantity: np.ndarray
    n_records: np.ndarray


def assess_quality_resolved(
    resolved: ResolvedRecords,
    expected_periods: Sequence[str],
    *,
    usccs: Collection[str],
    intensities: pd.Series | None = None,
    peer_groups: pd.Series | None = None,
    as_of: date | None = None,
    config: QualityConfig | None = None,
    precedence: Precedence | None = None,
    category_kinds: Mapping[str, str] | None = None,
) -> QualityBatch:
    """assess_quality_batch of the records ``resolved`` describes (every revision of the window's
    ``usccs`` and ``expected_periods`` months) with the same result, without resolving them again."""
    who = sorted(set(map(str, resolved.current["uscc"].unique())) | set(usccs))
    return _assess(
        resolved,
        expected_periods,
        who,
        peers=_peers(intensities, peer_groups),
        as_of=as_of,
        config=config,
        precedence=precedence,
        category_kinds=category_kinds,
    )


def _peers(intensities: pd.Series | None, peer_groups: pd.Series | None) -> pd.DataFrame | None:
    if intensities is None:
        return None
    groups = peer_groups.reindex(intensities.index) if peer_groups is not None else 0
    peers = pd.DataFrame({"intensity": intensities.to_numpy(dtype=np.float64), "group": groups})
    peers.index = intensities.index.astype(str)
    return peers


# --- the batch pipeline --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    enterprises: pd.Index  # usccs assessed
    expected: list[str]  # sorted months
    current: pd.DataFrame  # current records in the window, + qty, kind
    effective: pd.DataFrame  # effective rows in the window, + qty, kind
    latest_energy: pd.Series  # uscc -> ordinal of the last month with energy data (any month)
    reference: int  # ordinal the staleness is measured against


def _assess(
    records: pd.DataFrame | ResolvedRecords,
    expected_periods: Sequence[str],
    enterprises: Sequence[str],
    *,
    peers: pd.DataFrame | None,
    targets: pd.DataFrame | None = None,
    as_of: date | None,
    config: QualityConfig | None,
    precedence: Precedence | None,
    category_kinds: Mapping[str, str] | None,
) -> QualityBatch:
    cfg = config if config is not None else load_quality_config()
    if category_kinds:
        cfg = cfg.with_category_kinds(category_kinds)
    prec = precedence if precedence is not None else load_precedence()
    targets = peers if targets is None else targets  # a batch compares each firm with its own group
    w = _window(records, expected_periods, enterprises, as_of, cfg, prec)
    parts = [
        _missing_months(w, cfg),
        _added_value_flags(w, cfg),
        _disagreements(w, cfg),
        _self_reported_only(w, cfg),
        _mom_spikes(w, cfg),
        _peer_outliers(targets, peers, w, cfg),
        _stale(w, cfg),
        _multiple_records(w, cfg),
    ]
    flags = _sorted_flags(pd.concat([p for p in parts if len(p)] or [_no_flags()], ignore_index=True))
    mix = _source_mix(w)
    scores = _scores(w, flags, cfg, prec)
    return QualityBatch(scores, flags, mix, cfg.version)


def _window(
    records: pd.DataFrame | ResolvedRecords,
    expected_periods: Sequence[str],
    enterprises: Sequence[str],
    as_of: date | None,
    cfg: QualityConfig,
    prec: Precedence,
) -> _Window:
    expected = sorted(set(expected_periods))
    if not expected:
        raise ValueError("expected_periods is empty")
    for p in expected:
        period_ordinal(p)  # ValueError when malformed
    if isinstance(records, ResolvedRecords):
        current = _slim(records.current)
    else:
        current = current_records(_slim(records))
    current = current.assign(kind=_per_distinct(current["category"], cfg.kind))
    energy = current[current["kind"] == "ENERGY"]
    latest = energy.groupby("uscc")["period"].max().map(period_ordinal) if len(energy) else pd.Series()
    in_window = current[_isin(current["period"], expected)]
    if isinstance(records, ResolvedRecords):
        effective = current.iloc[records.chosen].reset_index(drop=True)
        effective = effective.assign(n_records=records.n_records, qty=records.quantity)
        effective = effective[_isin(effective["period"], expected)].reset_index(drop=True)
    else:
        effective = select_effective(in_window, prec)
        effective = effective.assign(  # qty again: several records of one source are summed
            qty=effective[quantity_column(records)].to_numpy(dtype=np.float64),
            kind=_per_distinct(effective["category"], cfg.kind),
        )
    last_expected = period_ordinal(expected[-1])
    reference = last_expected if as_of is None else as_of.year * 12 + as_of.month - 2  # last full month
    return _Window(pd.Index(enterprises, name="uscc"), expected, in_window, effective, latest, reference)


def _slim(records: pd.DataFrame) -> pd.DataFrame:
    """Only the columns quality needs, quantity as ``qty``: every later subset copies less."""
    column = quantity_column(records)
    keep = [c for c in (*REQUIRED_COLUMNS, column, "id", "ingest_time", "is_current") if c in records.columns]
    slim = records[keep].assign(qty=records[column].to_numpy(dtype=np.float64))
    for name in ("uscc", "period", "category", "source"):  # few distinct values, many rows
        # one sorted factorisation: the categories Categorical(values, sorted(unique)) gets, at a
        # fifth of its cost (it hashed every value twice and sorted the distinct ones in Python)
        codes, uniques = pd.factorize(slim[name], sort=True)
        slim[name] = pd.Categorical.from_codes(codes, categories=uniques, ordered=True)
    return slim


def _isin(values: pd.Series, wanted: Collection[object]) -> np.ndarray:
    """values.isin via the distinct values (arrow-backed isin converts row by row)."""
    return np.asarray(_per_distinct(values, lambda v: v in wanted), dtype=bool)


def _missing_months(w: _Window, cfg: QualityConfig) -> pd.DataFrame:
    grid = pd.MultiIndex.from_product([w.enterprises, w.expected], names=["uscc", "period"])
    energy = w.effective[w.effective["kind"] == "ENERGY"]
    present = pd.MultiIndex.from_frame(energy[["uscc", "period"]].drop_duplicates())
    missing = grid.difference(present).to_frame(index=False)
    if missing.empty:
        return _no_flags()
    coverage = _coverage(w, energy)
    critical = missing["uscc"].map(coverage).to_numpy() < cfg.coverage_critical_below
    missing["category"] = ""
    missing["severity"] = np.where(critical, "CRITICAL", cfg.messages["MISSING_MONTHS"].severity)
    return _render(cfg, "MISSING_MONTHS", missing)


def _added_value_flags(w: _Window, cfg: QualityConfig) -> pd.DataFrame:
    av = w.effective[w.effective["category"] == cfg.added_value_category]
    code = cfg.added_value_category
    with_av = set(av["uscc"])
    without = [u for u in w.enterprises.tolist() if u not in with_av]
    none = pd.DataFrame({"uscc": without, "category": code, "period": ""})
    grid = pd.MultiIndex.from_product([sorted(with_av), w.expected], names=["uscc", "period"])
    gaps = grid.difference(pd.MultiIndex.from_frame(av[["uscc", "period"]])).to_frame(index=False)
    zero = av.loc[av["qty"] <= 0, ["uscc", "period", "qty"]].assign(category=code)
    totals = av.groupby("uscc")["qty"].sum()
    non_positive = totals[totals <= 0].rename("qty").reset_index().assign(category=code, period="")
    return pd.concat(
        [
            _render(cfg, "NO_ADDED_VALUE", none),
            _render(cfg, "MISSING_ADDED_VALUE_MONTH", gaps.assign(category=code)),
            _render(cfg, "ZERO_ADDED_VALUE_MONTH", zero.assign(value=_fmt(zero["qty"]))),
            _render(
                cfg, "NON_POSITIVE_ADDED_VALUE_TOTAL", non_positive.assign(value=_fmt(non_positive["qty"]))
            ),
        ],
        ignore_index=True,
    )


def _disagreements(w: _Window, cfg: QualityConfig) -> pd.DataFrame:
    """Each other source's total against the effective value of the same uscc/period/category."""
    key = ["uscc", "period", "category"]
    totals = w.current.groupby([*key, "source"], as_index=False)["qty"].sum()
    used = w.effective[[*key, "source", "qty"]].rename(columns={"source": "used_source", "qty": "used_qty"})
    pairs = totals.merge(used, on=key)
    pairs = pairs[pairs["source"] != pairs["used_source"]]
    if pairs.empty:
        return _no_flags()
    a, b = pairs["qty"].to_numpy(), pairs["used_qty"].to_numpy()
    scale = np.maximum(np.abs(a), np.abs(b))
    diff = np.divide(np.abs(a - b), scale, out=np.zeros_like(scale), where=scale > 0)
    tolerance = _per_distinct(pairs["category"], lambda c: cfg.category_tolerance.get(c, cfg.tolerance))
    tolerance = tolerance.astype(np.float64)
    flagged = pairs.assign(diff=diff, tol=tolerance)[diff > tolerance]
    flagged = flagged.assign(
        severity=np.where(flagged["diff"] > cfg.critical_tolerance, "CRITICAL", "WARNING"),
        other_source=flagged["source"],
        other_value=_fmt(flagged["qty"]),
        source=flagged["used_source"],
        value=_fmt(flagged["used_qty"]),
        difference=_pct(flagged["diff"]),
        tolerance=_pct(flagged["tol"]),
    )
    return _render(cfg, "SOURCE_DISAGREEMENT", flagged)


def _self_reported_only(w: _Window, cfg: QualityConfig) -> pd.DataFrame:
    energy = w.effective[w.effective["kind"] == "ENERGY"]
    if energy.empty:
        return _no_flags()
    by = energy.assign(own=energy["source"] == "SELF_REPORTED").groupby(_GROUP)
    summary = by.agg(all_self=("own", "all"), months=("period", "nunique")).reset_index()
    only = summary[summary["all_self"]].assign(period="")
    return _render(cfg, "SELF_REPORTED_ONLY", only)


def _mom_spikes(w: _Window, cfg: QualityConfig) -> pd.DataFrame:
    """Robust z of month-on-month log changes per uscc/category; an up-and-down pair of flagged
    changes is one spike month, a lone flagged change a level shift (module docs)."""
    m = cfg.mom
    e = w.effective
    watched = (e["kind"] == "ENERGY") | (e["category"] == cfg.added_value_category)
    s = e.loc[watched, [*_GROUP, "period", "qty"]].copy()
    if s.empty:
        return _no_flags()
    s["ordinal"] = _per_distinct(s["period"], period_ordinal).astype(np.int64)
    s = s.sort_values([*_GROUP, "ordinal"], ignore_index=True)
    typical = s["qty"].where(s["qty"] > 0).groupby([s[c] for c in _GROUP]).transform("median")
    typical = typical.fillna(0.0).to_numpy()
    qty = s["qty"].to_numpy()
    # A zero month counts as a deep drop; series that are all zero have no changes at all.
    logq = np.log(np.where(typical > 0, np.maximum(qty, m.zero_floor_fraction * typical), 1.0))
    same = (s[_GROUP] == s[_GROUP].shift()).all(axis=1).to_numpy() & (s["ordinal"].diff().to_numpy() == 1)
    d = np.where(same & (typical > 0), logq - np.roll(logq, 1), np.nan)
    s["d"] = d
    z = _robust_z(s, m)
    month = s["ordinal"].to_numpy() % 12 + 1
    holiday = np.isin(month, list(m.holiday_months))
    threshold = np.where(holiday, m.holiday_min_abs_log_change, m.min_abs_log_change)
    flagged = (np.abs(z) > m.z_threshold) & (np.abs(d) >= threshold)
    next_flagged = np.r_[flagged[1:], False] & np.r_[same[1:], False]
    spike = flagged & next_flagged & (np.sign(d) != np.sign(np.r_[d[1:], np.nan]))
    shift = flagged & ~np.r_[False, spike[:-1]] & ~spike
    s["z"] = z
    s["prev"] = np.r_[np.nan, qty[:-1]]
    s["next"] = np.r_[qty[1:], np.nan]
    return pd.concat(
        [
            _render(cfg, "MOM_SPIKE", _spike_params(s[spike], with_next=True)),
            _render(cfg, "MOM_SHIFT", _spike_params(s[shift], with_next=False)),
        ],
        ignore_index=True,
    )


def _robust_z(s: pd.DataFrame, m: MomSpikeConfig) -> np.ndarray:
    grouped = s.groupby(_GROUP)["d"]
    centre = grouped.transform("median")
    deviation = (s["d"] - centre).abs()
    by = deviation.groupby([s[c] for c in _GROUP])
    mad = by.transform("median") * 1.4826
    mean_ad = by.transform("mean") * 1.2533  # fallback when over half the changes are identical
    count = grouped.transform("count").to_numpy()
    scale = np.maximum(np.where(mad > 0, mad, mean_ad), m.min_scale)
    z = ((s["d"] - centre) / scale).to_numpy(dtype=np.float64)
    return np.where(count >= m.min_changes, z, np.nan)


def _spike_params(rows: pd.DataFrame, *, with_next: bool) -> pd.DataFrame:
    out = rows[[*_GROUP, "period"]].assign(
        value=_fmt(rows["qty"]),
        ratio_prev=_ratio(rows["qty"], rows["prev"]),
        z=[f"{v:.1f}" for v in rows["z"]],
    )
    if with_next:
        out["ratio_next"] = _ratio(rows["qty"], rows["next"])
    return out


def _peer_outliers(
    targets: pd.DataFrame | None, peers: pd.DataFrame | None, w: _Window, cfg: QualityConfig
) -> pd.DataFrame:
    """Robust z of ln(intensity) against each peer group's median and MAD."""
    if targets is None or peers is None:
        return _no_flags()
    p = cfg.peer
    intensity = pd.to_numeric(peers["intensity"], errors="coerce").astype(np.float64)
    valid = peers.assign(intensity=intensity)[np.isfinite(intensity) & (intensity > 0)]
    if valid.empty:  # e.g. only firms without energy data (L = 0): no peer statistics at all
        return _no_flags()
    logs = np.log(valid["intensity"])
    by_group = logs.groupby(valid["group"])
    # Explicit float dtypes: an empty or string-keyed group-by yields pandas 3 "str" columns that
    # fail arithmetic with floats ("operation 'rsub' not supported for dtype 'str'").
    stats = pd.DataFrame(
        {"median": by_group.median().astype(np.float64), "n": by_group.size().astype(np.int64)}
    )
    deviation = (logs - valid["group"].map(stats["median"]).astype(np.float64)).abs()
    stats["mad"] = (deviation.groupby(valid["group"]).median() * 1.4826).astype(np.float64)
    own = pd.to_numeric(targets["intensity"], errors="coerce").astype(np.float64)
    usable = np.isfinite(own) & (own > 0)
    t = targets.assign(intensity=own)[targets.index.isin(w.enterprises) & usable]
    t = t.join(stats, on="group", how="inner")
    t = t[t["n"] >= p.min_peers]
    if t.empty:
        return _no_flags()
    z = (np.log(t["intensity"]) - t["median"]) / np.maximum(t["mad"], p.min_scale)
    t = t.assign(z=z)[np.abs(z) > p.z_threshold]
    params = pd.DataFrame(
        {
            "uscc": t.index.astype(str),
            "category": "",
            "period": "",
            "value": _fmt(t["intensity"]),
            "median": _fmt(np.exp(t["median"])),
            "z": [f"{v:.1f}" for v in t["z"]],
            "peers": t["n"].astype(int).astype(str),
        }
    )
    high = t["z"].to_numpy() > 0
    return pd.concat(
        [_render(cfg, "PEER_OUTLIER_HIGH", params[high]), _render(cfg, "PEER_OUTLIER_LOW", params[~high])],
        ignore_index=True,
    )


def _stale(w: _Window, cfg: QualityConfig) -> pd.DataFrame:
    latest = w.latest_energy.reindex(w.enterprises).dropna().astype(int)
    age = w.reference - latest
    stale = age[age > cfg.stale_after_months]
    params = pd.DataFrame(
        {
            "uscc": stale.index.astype(str),
            "category": "",
            "period": [ordinal_period(int(v)) for v in latest[stale.index]],
            "months": stale.astype(str).to_numpy(),
            "reference": ordinal_period(w.reference),
        }
    )
    return _render(cfg, "STALE_DATA", params)


def _multiple_records(w: _Window, cfg: QualityConfig) -> pd.DataFrame:
    several = w.effective[w.effective["n_records"] > 1]
    return _render(cfg, "MULTIPLE_RECORDS", several.assign(records=several["n_records"].astype(str)))


# --- scores --------------------------------------------------------------------------------------


def _coverage(w: _Window, energy: pd.DataFrame) -> pd.Series:
    months = energy.groupby("uscc")["period"].nunique().reindex(w.enterprises, fill_value=0)
    return months / len(w.expected)


def _source_mix(w: _Window) -> pd.DataFrame:
    energy = w.effective[w.effective["kind"] == "ENERGY"]
    if energy.empty:
        return pd.DataFrame(index=w.enterprises)
    counts = energy.groupby(["uscc", "source"]).size().unstack(fill_value=0)
    shares = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    return shares.reindex(w.enterprises, fill_value=0.0).rename_axis(index="uscc", columns=None)


def _scores(w: _Window, flags: pd.DataFrame, cfg: QualityConfig, prec: Precedence) -> pd.DataFrame:
    energy = w.effective[w.effective["kind"] == "ENERGY"]
    coverage = _coverage(w, energy)
    av = w.effective[(w.effective["category"] == cfg.added_value_category) & (w.effective["qty"] > 0)]
    av_months = av.groupby("uscc")["period"].nunique().reindex(w.enterprises, fill_value=0)
    av_coverage = av_months / len(w.expected)
    weight = _source_weights(energy, cfg, prec)
    source = weight.groupby(energy["uscc"]).mean().reindex(w.enterprises, fill_value=0.0)
    penalty = _penalties(flags, cfg).reindex(w.enterprises, fill_value=0.0)
    weights = cfg.weights
    raw = 100 * (
        weights["source"] * source + weights["coverage"] * coverage + weights["added_value"] * av_coverage
    )
    out = pd.DataFrame(index=w.enterprises)
    out["score"] = np.clip(raw - penalty, 0, 100).round(1)
    out["pcaf_score"] = _pcaf(w, energy, coverage, cfg)
    out["coverage"] = coverage
    out["added_value_coverage"] = av_coverage
    out["source_score"] = source
    out["penalty"] = penalty
    out["months_expected"] = len(w.expected)
    out["months_covered"] = (coverage * len(w.expected)).round().astype(int)
    out["n_flags"] = flags.groupby("uscc").size().reindex(w.enterprises, fill_value=0).astype(int)
    return out[list(SCORE_COLUMNS)]


def _source_weights(energy: pd.DataFrame, cfg: QualityConfig, prec: Precedence) -> pd.Series:
    """Credibility weight per effective energy row, looked up once per (source, category)."""

    def weight(source: str, category: str) -> float:
        own = prec.own_categories.get(source)
        if own is not None and category not in own:
            return cfg.foreign_utility_weight
        return cfg.source_weights.get(source, 0.0)

    pairs = energy[["source", "category"]].drop_duplicates()
    distinct = zip(pairs["source"], pairs["category"], strict=True)
    pairs["weight"] = [weight(str(s), str(c)) for s, c in distinct]
    joined = energy[["source", "category"]].merge(pairs, on=["source", "category"], how="left")
    return pd.Series(joined["weight"].to_numpy(dtype=np.float64), index=energy.index)


def _penalties(flags: pd.DataFrame, cfg: QualityConfig) -> pd.Series:
    counts = flags.groupby(["uscc", "code"]).size().reset_index(name="n")
    per_flag = counts["code"].map(lambda c: cfg.penalties[c].per_flag if c in cfg.penalties else 0.0)
    cap = counts["code"].map(lambda c: cfg.penalties[c].cap if c in cfg.penalties else 0.0)
    counts["points"] = np.minimum(counts["n"] * per_flag, cap)
    return counts.groupby("uscc")["points"].sum().astype(float)


def _pcaf(w: _Window, energy: pd.DataFrame, coverage: pd.Series, cfg: QualityConfig) -> np.ndarray:
    """1 verified / 2 primary energy data / 3 energy data with gaps / 4 economic only / 5 nothing."""
    verified = (energy["source"] == "THIRD_PARTY_VERIFIED").groupby(energy["uscc"]).all()
    verified = verified.reindex(w.enterprises, fill_value=False).to_numpy(dtype=bool)
    economic = set(w.effective.loc[w.effective["kind"] == "ECONOMIC", "uscc"].unique())
    has_economic = np.array([u in economic for u in w.enterprises.tolist()], dtype=bool)
    cov = coverage.to_numpy()
    has_energy = cov > 0
    return np.select(
        [
            has_energy & verified & (cov >= cfg.pcaf_verified_min_coverage),
            has_energy & (cov >= cfg.pcaf_min_coverage),
            has_energy,
            has_economic,
        ],
        [1, 2, 3, 4],
        default=5,
    ).astype(int)


# --- flag rendering ------------------------------------------------------------------------------


def _render(cfg: QualityConfig, template: str, params: pd.DataFrame) -> pd.DataFrame:
    """Flags from one message template; ``params`` has uscc, category, period and the template's
    placeholders (strings), and optionally a per-row ``severity``."""
    if params.empty:
        return _no_flags()
    message = cfg.messages[template]
    columns = list(params.columns)
    values = zip(*(params[c].tolist() for c in columns), strict=True)
    rows = [dict(zip(columns, row, strict=True)) for row in values]
    return pd.DataFrame(
        {
            "uscc": params["uscc"].astype(str).to_numpy(),
            "code": message.code,
            "severity": params["severity"].to_numpy() if "severity" in params else message.severity,
            "category": params["category"].astype(str).to_numpy(),
            "period": params["period"].astype(str).to_numpy(),
            "reason_en": [message.en.format_map(_named(cfg, r, 1)) for r in rows],
            "reason_zh": [message.zh.format_map(_named(cfg, r, 0)) for r in rows],
        }
    )


def _named(cfg: QualityConfig, params: dict[str, Any], language: int) -> dict[str, Any]:
    """Template parameters with the category's name in that language (0 zh, 1 en) for its code."""
    names = cfg.category_names.get(str(params.get("category", "")))
    return {**params, "category": names[language]} if names else params


def _per_distinct(values: pd.Series, func: Callable[[Any], Any]) -> np.ndarray:
    """func applied once per distinct value (categories, periods: few distinct, many rows)."""
    codes, uniques = pd.factorize(values)
    table = np.array([func(u) for u in uniques], dtype=object)
    return table[codes] if len(codes) else np.array([], dtype=object)


def _no_flags() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in FLAG_COLUMNS})


def _sorted_flags(flags: pd.DataFrame) -> pd.DataFrame:
    severity = flags["severity"].map({s: i for i, s in enumerate(SEVERITIES)})
    order = flags.assign(_s=severity).sort_values(["uscc", "_s", "code", "category", "period", "reason_en"])
    return order.drop(columns="_s").reset_index(drop=True)[list(FLAG_COLUMNS)]


def _fmt(values: pd.Series | np.ndarray) -> list[str]:
    """Quantities for people: thousands separated when large, 4 significant digits otherwise."""
    return [f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}" for v in np.asarray(values, dtype=np.float64)]


def _pct(values: pd.Series) -> list[str]:
    return [f"{v:.1%}" for v in values.to_numpy(dtype=np.float64)]


def _ratio(numerator: pd.Series, denominator: pd.Series) -> list[str]:
    pairs = zip(numerator.to_numpy(dtype=np.float64), denominator.to_numpy(dtype=np.float64), strict=True)
    return [f"{a / b:.2f}" if b > 0 else "∞" for a, b in pairs]
