"""Loan policy files: loading, schema validation, content hash and the compiled lookup tables.

A policy is a YAML (or JSON) document; the format is documented in docs/loan-policy.md and the packaged
example is ``loan_rules/policies/default-2026.yaml``. Validation collects every problem, each naming
its key path (``products.LOW_CARBON_EXPANSION.rate_bp_by_grade.3: ...``), and raises one
:class:`PolicyError`. Beyond types and ranges it enforces what the property tests rely on: a better
grade never gets a higher rate, a lower limit or lost eligibility; IMPROVING is never priced above
WORSENING; bands are sorted, contiguous and do not overlap.

The content hash is the sha256 of the canonical JSON of the parsed document (keys sorted and as
strings, dates ISO, integral floats as integers, no whitespace), so comments and formatting do not
change it while any value does.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

from loan_rules import safe_yaml
from loan_rules.model import (
    GRADES,
    LEVELS,
    PRODUCTS,
    STATUSES,
    TRENDS,
    CarbonLevel,
    CommitmentStatus,
    Covenant,
    Product,
    TrendDirection,
)

DEFAULT_POLICY = "default-2026.yaml"
E4 = 10_000  # ratios applied to money are integers per 10,000 (at most four decimals)
FEN_INF = 2**62  # "no cap" in the int64 fen tables
_CODE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
_INF = math.inf


# --------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class PolicyProblem:
    path: str  # e.g. products.GENERAL.rate_bp_by_grade.5 ("" for the document itself)
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class PolicyError(ValueError):
    """An invalid policy; ``problems`` lists every problem found, each with its key path."""

    def __init__(self, problems: Sequence[PolicyProblem], source: str = "") -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f" ({source})" if source else ""
        super().__init__(f"invalid loan policy{where}: " + "; ".join(str(p) for p in self.problems))


# ---------------------------------------------------------------------------------------- typed model


@dataclass(frozen=True)
class QualityBand:
    """PCAF data-quality scores in [lo, hi): discounts are multiplied by ``discount_factor``."""

    lo: float
    hi: float  # inf when open
    discount_factor: float
    manual_review: bool
    limit_factor: float = 1.0  # the limit is capped at the credit base x this factor


@dataclass(frozen=True)
class ReductionBand:
    """Committed reductions (tCO2/yr) in [lo, hi) earn ``rate_bp`` (<= 0)."""

    lo: float
    hi: float
    rate_bp: float


@dataclass(frozen=True)
class GradeCondition:
    """What a conditionally eligible grade must also meet (None = no such condition)."""

    max_data_quality_score: float | None
    max_trend: TrendDirection | None  # the worst trend (after the confidence gate) still accepted
    max_carbon_efficiency: float | None
    covenants: tuple[Covenant, ...]


@dataclass(frozen=True)
class ProjectLimit:
    """Limit cap of a commitment-backed loan: capex x ratio + committed tCO2/yr x yuan per tonne, and
    never more than capex x (1 - min_equity_share): the borrower funds at least that share itself."""

    capex_ratio: float
    yuan_per_tco2_per_year: float
    min_equity_share: float


@dataclass(frozen=True)
class Ratchet:
    """Sustainability-linked margin ratchet, applied now to the commitment's state and attached as
    conditions for the loan's life."""

    milestone_missed_bp: float  # per missed milestone
    verification_absent_bp: float  # started project without a passed verification
    target_exceeded_bp: float  # step-down (as a positive number) when verified savings exceed
    exceed_ratio: float  # ... target x exceed_ratio
    cap_bp: float  # aggregate cap, either direction


@dataclass(frozen=True)
class CommitmentRules:
    required: bool
    min_target_tco2_per_year: float
    review_statuses: frozenset[CommitmentStatus]
    reduction_bands: tuple[ReductionBand, ...]
    project_limit: ProjectLimit | None
    ratchet: Ratchet | None
    provisional_share: float = 1.0  # share of the reduction discount paid before a passed verification


@dataclass(frozen=True)
class NoCommitmentRules:
    """Surcharge and haircut by grade when the borrower has no registered commitment."""

    rate_bp_by_grade: tuple[float, ...]  # index grade - 1
    limit_multiplier_by_grade: tuple[float, ...]
    covenants: tuple[Covenant, ...]


@dataclass(frozen=True)
class ProductPolicy:
    product: Product
    name_zh: str
    name_en: str
    tenor_min_months: int
    tenor_max_months: int
    max_limit_fen: int | None
    review_above_fen: int | None
    eligible_grades: frozenset[int]
    conditional_grades: Mapping[int, GradeCondition]
    rate_bp_by_grade: tuple[float, ...]  # index grade - 1
    limit_multiplier_by_grade: tuple[float, ...]
    carbon_level_rate_bp: tuple[float, ...] | None  # index = CarbonLevel order
    improving_trend_bp: float
    covenants: tuple[Covenant, ...]
    commitment: CommitmentRules | None
    no_commitment: NoCommitmentRules | None
    facility_max_spread_bp: float | None = None  # PBoC carbon-reduction facility: |final - LPR| <= this
    two_high_excluded_levels: frozenset[CarbonLevel] = frozenset()  # 两高 firms at these levels: declined


@dataclass(frozen=True)
class Capacity:
    """Debt capacity from the borrower's financials: new debt fits under both leverage tests."""

    max_debt_to_equity: float  # (total debt + new loan) / equity
    max_debt_to_revenue: float  # (total debt + new loan) / revenue


@dataclass(frozen=True, eq=False)
class PolicyTables:
    """The policy as flat numpy lookup tables (read-only), indexed by integer codes:
    ``p`` = product (``PRODUCTS`` order), ``g`` = grade 0..5 (``[p * 6 + g]``), trend, level, status."""

    elig: np.ndarray  # [p*6+g] 2 eligible, 1 conditional, 0 not
    cond_max_dq: np.ndarray
    cond_max_trend: np.ndarray
    cond_max_k: np.ndarray
    rate: np.ndarray
    mult: np.ndarray  # int64 per 10,000
    nc_rate: np.ndarray
    nc_mult: np.ndarray  # int64 per 10,000
    level_rate: np.ndarray  # [p*3+level]
    improving: np.ndarray  # [p]
    tenor_min: np.ndarray
    tenor_max: np.ndarray
    max_limit: np.ndarray  # int64 fen (FEN_INF: none)
    review_above: np.ndarray  # int64 fen
    requires_commitment: np.ndarray
    min_target: np.ndarray
    review_status: np.ndarray  # [p*5+status]
    has_project_limit: np.ndarray
    capex_ratio: np.ndarray  # int64 per 10,000
    yuan_per_t: np.ndarray
    loan_share: np.ndarray  # int64 per 10,000: 1 - min_equity_share
    provisional: np.ndarray  # [p] share of the reduction discount before a passed verification
    facility: np.ndarray  # [p] bool
    facility_spread: np.ndarray  # [p] bp
    two_high_excluded: np.ndarray  # [p*3+level] bool
    ratchet_missed: np.ndarray
    ratchet_verification: np.ndarray
    ratchet_exceeded: np.ndarray
    exceed_ratio: np.ndarray
    ratchet_cap: np.ndarray
    reduction: tuple[tuple[int, np.ndarray, np.ndarray], ...]  # (p, band starts, rates)
    trend_rate: np.ndarray  # [trend]
    dq_starts: np.ndarray
    dq_factor: np.ndarray
    dq_review: np.ndarray
    dq_limit: np.ndarray  # int64 per 10,000


@dataclass(frozen=True, eq=False)
class Policy:
    """A validated policy. Two policies are equal when their content hashes are."""

    version: str
    effective_date: dt.date
    description: str
    content_hash: str  # sha256 hex of the canonical JSON of the content
    floor_vs_lpr_bp: float  # the final rate is never below LPR + this (<= 0 usually)
    cap_vs_lpr_bp: float  # ... nor above LPR + this
    total_min_bp: float
    total_max_bp: float
    ungraded_as_grade: int  # eligibility of an ungraded profile; no grade discount, no multiplier > 1
    ungraded_decline: bool
    ungraded_manual_review: bool
    capacity: Capacity | None
    four_eyes_above_fen: int | None  # overrides with a larger limit need a second approver
    stale_after_days: int | None  # the watch list flags data older than this (after the period end)
    trend_min_confidence: float
    trend_rate_bp: tuple[float, ...]  # index = TrendDirection order
    quality_bands: tuple[QualityBand, ...]
    gate_flags: frozenset[str]
    products: Mapping[Product, ProductPolicy]
    content: Mapping[str, Any] = field(repr=False)
    tables: PolicyTables = field(repr=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and other.content_hash == self.content_hash

    def __hash__(self) -> int:
        return hash(self.content_hash)


# ------------------------------------------------------------------------------------------- loading


def load_policy(source: str | Path | None = None) -> Policy:
    """The packaged default policy (``None``), a policy file (a ``Path``, or a one-line ``str`` ending
    in .yaml/.yml/.json) or YAML/JSON text. Raises :class:`PolicyError` when invalid."""
    if source is None:
        return default_policy()
    if isinstance(source, Path) or (
        "\n" not in source and source.strip().lower().endswith((".yaml", ".yml", ".json"))
    ):
        path = Path(source)
        return parse_policy(path.read_text(encoding="utf-8"), source=str(path))
    return parse_policy(source)


@functools.cache
def default_policy() -> Policy:
    """The packaged illustrative template (``policies/default-2026.yaml``), loaded once."""
    text = resources.files("loan_rules").joinpath("policies", DEFAULT_POLICY).read_text("utf-8")
    return parse_policy(text, source=DEFAULT_POLICY)


def parse_policy(text: str, *, source: str = "") -> Policy:
    try:
        raw = safe_yaml.load(text, _StrictLoader)  # a SafeLoader subclass, bounded before construction
    except yaml.YAMLError as exc:
        raise PolicyError([PolicyProblem("", f"not valid YAML: {exc}")], source) from None
    return policy_from_mapping(raw, source=source)


def policy_from_mapping(raw: object, *, source: str = "") -> Policy:
    """Validate an already parsed document (e.g. from JSON or TOML)."""
    reader = _Reader()
    policy = reader.policy(raw)
    if reader.problems or policy is None:
        raise PolicyError(reader.problems or [PolicyProblem("", "invalid policy")], source)
    return policy


def canonical_json(content: object) -> str:
    return json.dumps(
        _canonical(content), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def content_hash(content: object) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def _canonical(value: object) -> object:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# -------------------------------------------------------------------------------------------- reader


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _fmt(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:g}"


class _Reader:
    """Walks the parsed document, collecting problems; returns fallbacks so that it can go on."""

    def __init__(self) -> None:
        self.problems: list[PolicyProblem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(PolicyProblem(path, message))

    def mark(self) -> int:
        return len(self.problems)

    # ------------------------------------------------------------------------------------- primitives

    def mapping(
        self, value: object, path: str, required: Sequence[str], optional: Sequence[str] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, got {_kind(value)}")
            return None
        known = (*required, *optional)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if str(key) not in known:
                self.fail(_join(path, key), f"unknown key (expected one of {', '.join(known)})")
            else:
                out[str(key)] = item
        for key in required:
            if key not in out:
                self.fail(_join(path, key), "missing")
        return out

    def number(
        self,
        value: object,
        path: str,
        *,
        lo: float | None = None,
        hi: float | None = None,
        bp: bool = False,
        fallback: float = 0.0,
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"must be a number, got {_kind(value)} {value!r}")
            return fallback
        number = float(value)
        if not math.isfinite(number):
            self.fail(path, f"must be finite, got {value!r} (use null for 'no limit' where allowed)")
            return fallback
        if lo is not None and number < lo:
            self.fail(path, f"must be >= {_fmt(lo)}, got {_fmt(number)}")
            return fallback
        if hi is not None and number > hi:
            self.fail(path, f"must be <= {_fmt(hi)}, got {_fmt(number)}")
            return fallback
        if bp and abs(number * 100 - round(number * 100)) > 1e-6:
            self.fail(path, f"basis points have at most two decimals, got {number!r}")
            return fallback
        return number

    def ratio(self, value: object, path: str, *, hi: float = 1.0, fallback: float = 1.0) -> float:
        """A ratio applied to money: 0..hi with at most four decimals (exact in integer arithmetic)."""
        number = self.number(value, path, lo=0.0, hi=hi, fallback=fallback)
        if abs(number * E4 - round(number * E4)) > 1e-6:
            self.fail(path, f"ratios applied to money have at most four decimals, got {number!r}")
            return fallback
        return number

    def yuan(self, m: Mapping[str, Any], key: str, path: str, *, lo: int) -> int | None:
        """A whole-yuan amount in the policy, returned in fen."""
        if m.get(key) is None:
            return None
        value = m[key]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < lo or value > 10**14:
            self.fail(_join(path, key), f"must be whole yuan, {lo}..1e14, got {value!r}")
            return None
        return value * 100

    def optional_number(self, m: Mapping[str, Any], key: str, path: str, **kw: Any) -> float | None:
        if m.get(key) is None:
            return None
        return self.number(m[key], _join(path, key), **kw)

    def integer(self, value: object, path: str, *, lo: int, hi: int | None = None, fallback: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"must be an integer, got {_kind(value)} {value!r}")
            return fallback
        if value < lo or (hi is not None and value > hi):
            self.fail(path, f"must be {lo}..{hi}" if hi is not None else f"must be >= {lo}")
            return fallback
        return value

    def boolean(self, value: object, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {_kind(value)} {value!r}")
            return False
        return value

    def text(self, value: object, path: str, *, code: bool = False) -> str:
        if not isinstance(value, str) or not value.strip():
            hint = " (quote it)" if isinstance(value, int | float) else ""
            self.fail(path, f"must be a non-empty string, got {_kind(value)} {value!r}{hint}")
            return ""
        if code and not _CODE.match(value):
            self.fail(path, f"must be an UPPER_SNAKE_CASE code, got {value!r}")
        return value

    def sequence(self, value: object, path: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, f"must be a list, got {_kind(value)}")
            return []
        return value

    def grade_key(self, key: object, path: str) -> int | None:
        grade = int(key) if isinstance(key, str) and key.isdigit() else key
        if isinstance(grade, bool) or not isinstance(grade, int) or grade not in GRADES:
            self.fail(_join(path, key), "unknown grade (grades are 1..5)")
            return None
        return grade

    def grade_table(
        self,
        value: object,
        path: str,
        *,
        read: Callable[[object, str], float],
        default: float | None = None,
    ) -> dict[int, float]:
        """{grade: value}; every grade 1..5 unless a default fills the missing ones."""
        out: dict[int, float] = {}
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping of grade (1..5) to a number, got {_kind(value)}")
            return {g: default or 0.0 for g in GRADES}
        for key, item in value.items():
            grade = self.grade_key(key, path)
            if grade is not None:
                out[grade] = read(item, _join(path, key))
        for grade in GRADES:
            if grade not in out:
                if default is None:
                    self.fail(_join(path, grade), "missing (the table must cover grades 1..5)")
                out[grade] = default or 0.0
        return out

    def monotone_grades(self, table: Mapping[int, float], path: str, *, increasing: bool, what: str) -> None:
        for grade in GRADES[1:]:
            better, worse = table[grade - 1], table[grade]
            if (worse < better) if increasing else (worse > better):
                relation = "less than" if increasing else "more than"
                rule = "may never pay more" if increasing else "may never get a lower limit"
                self.fail(
                    _join(path, grade),
                    f"non-monotone grade table: grade {grade} gets {_fmt(worse)}{what}, {relation} "
                    f"better grade {grade - 1} ({_fmt(better)}{what}): a better grade {rule}",
                )

    def enum(self, value: object, path: str, enum: type[Any]) -> Any:
        try:
            return enum(value)
        except ValueError:
            self.fail(path, f"must be one of {', '.join(m.value for m in enum)}, got {value!r}")
            return None

    def covenants(self, value: object, path: str) -> tuple[Covenant, ...]:
        out: list[Covenant] = []
        seen: set[str] = set()
        for i, item in enumerate(self.sequence(value, path)):
            p = f"{path}[{i}]"
            m = self.mapping(item, p, ("code", "text_zh", "text_en"))
            if m is None:
                continue
            code = self.text(m.get("code"), _join(p, "code"), code=True) if "code" in m else ""
            if code in seen:
                self.fail(_join(p, "code"), f"duplicate covenant {code}")
            seen.add(code)
            zh = self.text(m.get("text_zh"), _join(p, "text_zh")) if "text_zh" in m else ""
            en = self.text(m.get("text_en"), _join(p, "text_en")) if "text_en" in m else ""
            out.append(Covenant(code, zh, en))
        return tuple(out)

    def bands(
        self, value: object, path: str, extra: Sequence[str], *, domain_lo: float, open_end_above: float
    ) -> list[tuple[float, float, dict[str, Any]]]:
        """Sorted, contiguous, non-overlapping [from, to) bands covering [domain_lo, open_end_above]."""
        items = self.sequence(value, path)
        if isinstance(value, list) and not items:
            self.fail(path, "must have at least one band")
        out: list[tuple[float, float, dict[str, Any]]] = []
        start = self.mark()
        for i, item in enumerate(items):
            p = f"{path}[{i}]"
            m = self.mapping(item, p, ("from", "to", *extra))
            if m is None:
                continue
            lo = self.number(m.get("from", 0), _join(p, "from"), lo=0.0)
            hi = _INF if m.get("to") is None else self.number(m["to"], _join(p, "to"), lo=0.0)
            if hi <= lo:
                self.fail(p, f"empty range: from {_fmt(lo)} must be below to {_fmt(hi)}")
            out.append((lo, hi, m))
        if self.mark() > start or not out:
            return out
        if out[0][0] > domain_lo:
            self.fail(
                f"{path}[0].from",
                f"must be <= {_fmt(domain_lo)}: values below {_fmt(out[0][0])} fall in no band",
            )
        for i in range(1, len(out)):
            (plo, phi, _), (lo, hi, _) = out[i - 1], out[i]
            if lo < phi:
                self.fail(
                    f"{path}[{i}]",
                    f"overlapping ranges: [{_fmt(lo)}, {_fmt(hi)}) overlaps [{_fmt(plo)}, {_fmt(phi)}) of "
                    f"{path}[{i - 1}] (bands must be sorted and must not overlap)",
                )
            elif lo > phi:
                self.fail(f"{path}[{i}]", f"gap: values in [{_fmt(phi)}, {_fmt(lo)}) fall in no band")
        last = out[-1][1]
        if not (math.isinf(last) or last > open_end_above):
            where = "null" if math.isinf(open_end_above) else f"null or above {_fmt(open_end_above)}"
            self.fail(f"{path}[{len(out) - 1}].to", f"must be {where}: the last band must be open")
        return out

    # ----------------------------------------------------------------------------------- the document

    def policy(self, raw: object) -> Policy | None:
        top = self.mapping(
            raw,
            "",
            (
                "version",
                "effective_date",
                "rate_vs_lpr_bp",
                "total_adjustment_bp",
                "ungraded",
                "trend",
                "data_quality",
                "products",
            ),
            ("description", "capacity", "review"),
        )
        if top is None:
            return None
        version = self.text(top.get("version"), "version") if "version" in top else ""
        effective = (
            self.date(top.get("effective_date"), "effective_date") if "effective_date" in top else None
        )
        description = self.text(top["description"], "description") if "description" in top else ""
        bounds = self.mapping(top.get("rate_vs_lpr_bp", {}), "rate_vs_lpr_bp", ("floor", "cap")) or {}
        floor = self.number(bounds.get("floor", 0), "rate_vs_lpr_bp.floor", lo=-1000.0, hi=0.0, bp=True)
        ceiling = self.number(bounds.get("cap", 0), "rate_vs_lpr_bp.cap", lo=0.0, hi=2000.0, bp=True)
        capacity = self.capacity(top["capacity"]) if "capacity" in top else None
        review = (
            self.mapping(top.get("review", {}), "review", (), ("four_eyes_above_cny", "stale_after_days"))
            or {}
        )
        four_eyes = self.yuan(review, "four_eyes_above_cny", "review", lo=0)
        stale = (
            self.integer(review["stale_after_days"], "review.stale_after_days", lo=1)
            if review.get("stale_after_days") is not None
            else None
        )
        total = self.mapping(top.get("total_adjustment_bp", {}), "total_adjustment_bp", ("min", "max")) or {}
        tmin = self.number(total.get("min", 0), "total_adjustment_bp.min", hi=0.0, bp=True)
        tmax = self.number(total.get("max", 0), "total_adjustment_bp.max", lo=0.0, bp=True)
        ungraded = (
            self.mapping(
                top.get("ungraded", {}), "ungraded", ("treat_as_grade", "manual_review"), ("decline",)
            )
            or {}
        )
        as_grade = self.integer(
            ungraded.get("treat_as_grade", 5), "ungraded.treat_as_grade", lo=1, hi=5, fallback=5
        )
        ungraded_review = self.boolean(ungraded.get("manual_review", True), "ungraded.manual_review")
        ungraded_decline = self.boolean(ungraded.get("decline", False), "ungraded.decline")
        if not (ungraded_review or ungraded_decline):
            self.fail("ungraded", "an ungraded profile must be declined or sent to manual review")
        min_conf, trend_rates = self.trend(top.get("trend", {}))
        bands, gate_flags = self.data_quality(top.get("data_quality", {}))
        products = self.products(top.get("products", {}))
        if self.problems or effective is None:
            return None
        return Policy(
            version=version,
            effective_date=effective,
            description=description,
            content_hash=content_hash(raw),
            floor_vs_lpr_bp=floor,
            cap_vs_lpr_bp=ceiling,
            total_min_bp=tmin,
            total_max_bp=tmax,
            ungraded_as_grade=as_grade,
            ungraded_decline=ungraded_decline,
            ungraded_manual_review=ungraded_review,
            capacity=capacity,
            four_eyes_above_fen=four_eyes,
            stale_after_days=stale,
            trend_min_confidence=min_conf,
            trend_rate_bp=trend_rates,
            quality_bands=bands,
            gate_flags=gate_flags,
            products=MappingProxyType(products),
            content=MappingProxyType(dict(raw)) if isinstance(raw, dict) else MappingProxyType({}),
            tables=_tables(products, trend_rates, bands),
        )

    def capacity(self, value: object) -> Capacity | None:
        m = self.mapping(value, "capacity", ("max_debt_to_equity", "max_debt_to_revenue"))
        if m is None:
            return None
        return Capacity(
            self.ratio(m.get("max_debt_to_equity", 1), "capacity.max_debt_to_equity", hi=100.0),
            self.ratio(m.get("max_debt_to_revenue", 1), "capacity.max_debt_to_revenue", hi=100.0),
        )

    def date(self, value: object, path: str) -> dt.date | None:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        self.fail(path, f"must be a date YYYY-MM-DD, got {value!r}")
        return None

    def trend(self, value: object) -> tuple[float, tuple[float, ...]]:
        m = self.mapping(value, "trend", ("min_confidence", "rate_bp")) or {}
        min_conf = self.number(m.get("min_confidence", 0), "trend.min_confidence", lo=0.0, hi=1.0)
        rates = self.mapping(m.get("rate_bp", {}), "trend.rate_bp", [t.value for t in TRENDS]) or {}
        start = self.mark()
        table = [self.number(rates.get(t.value, 0), f"trend.rate_bp.{t.value}", bp=True) for t in TRENDS]
        if self.mark() == start:
            for i in range(1, len(TRENDS)):
                if table[i] < table[i - 1]:
                    self.fail(
                        f"trend.rate_bp.{TRENDS[i].value}",
                        f"non-monotone trend table: {TRENDS[i].value} gets {_fmt(table[i])} bp, less than "
                        f"{TRENDS[i - 1].value} ({_fmt(table[i - 1])} bp); the order best to worst is "
                        + " <= ".join(t.value for t in TRENDS),
                    )
        return min_conf, tuple(table)

    def data_quality(self, value: object) -> tuple[tuple[QualityBand, ...], frozenset[str]]:
        m = self.mapping(value, "data_quality", ("bands",), ("gate_flags",)) or {}
        raw_bands = self.bands(
            m.get("bands", []),
            "data_quality.bands",
            ("discount_factor", "manual_review", "limit_factor"),
            domain_lo=1.0,
            open_end_above=5.0,
        )
        bands: list[QualityBand] = []
        for i, (lo, hi, b) in enumerate(raw_bands):
            p = f"data_quality.bands[{i}]"
            factor = self.number(b.get("discount_factor", 1), f"{p}.discount_factor", lo=0.0, hi=1.0)
            review = self.boolean(b.get("manual_review", False), f"{p}.manual_review")
            limit = self.ratio(b.get("limit_factor", 1), f"{p}.limit_factor")
            if bands and limit > bands[-1].limit_factor:
                self.fail(f"{p}.limit_factor", "must not exceed the previous band's: worse data, lower limit")
            if bands and factor > bands[-1].discount_factor:
                self.fail(
                    f"{p}.discount_factor",
                    "must not exceed the previous band's: worse data may never earn larger discounts",
                )
            if bands and bands[-1].manual_review and not review:
                self.fail(
                    f"{p}.manual_review", "must be true when a better band already asks for manual review"
                )
            bands.append(QualityBand(lo, hi, factor, review, limit))
        flags = [
            self.text(f, f"data_quality.gate_flags[{i}]", code=True)
            for i, f in enumerate(self.sequence(m.get("gate_flags", []), "data_quality.gate_flags"))
        ]
        return tuple(bands), frozenset(flags)

    def products(self, value: object) -> dict[Product, ProductPolicy]:
        if not isinstance(value, dict):
            self.fail("products", f"must be a mapping of product to its rules, got {_kind(value)}")
            return {}
        out: dict[Product, ProductPolicy] = {}
        names = [p.value for p in PRODUCTS]
        for key, item in value.items():
            if key not in names:
                self.fail(_join("products", key), f"unknown product (expected {', '.join(names)})")
                continue
            product = self.product(Product(key), item)
            if product is not None:
                out[Product(key)] = product
        for name in names:
            if name not in value:
                self.fail(_join("products", name), "missing product (every product must be defined)")
        return out

    def product(self, product: Product, value: object) -> ProductPolicy | None:
        path = _join("products", product.value)
        m = self.mapping(
            value,
            path,
            ("tenor_months", "eligible_grades", "rate_bp_by_grade", "limit_multiplier_by_grade"),
            (
                "name_zh",
                "name_en",
                "max_limit_cny",
                "review_above_cny",
                "conditional_grades",
                "carbon_level_rate_bp",
                "improving_trend_bp",
                "covenants",
                "commitment",
                "no_commitment",
                "facility",
                "two_high_excluded_levels",
            ),
        )
        if m is None:
            return None
        name_zh = self.text(m["name_zh"], _join(path, "name_zh")) if "name_zh" in m else product.value
        name_en = self.text(m["name_en"], _join(path, "name_en")) if "name_en" in m else product.value
        tenor = self.mapping(m.get("tenor_months", {}), _join(path, "tenor_months"), ("min", "max")) or {}
        tmin = self.integer(tenor.get("min", 1), _join(path, "tenor_months.min"), lo=1)
        tmax = self.integer(tenor.get("max", tmin), _join(path, "tenor_months.max"), lo=1, fallback=tmin)
        if tmax < tmin:
            self.fail(_join(path, "tenor_months"), f"max {tmax} is below min {tmin}")
        max_limit = self.yuan(m, "max_limit_cny", path, lo=1)
        review_above = self.yuan(m, "review_above_cny", path, lo=0)
        facility = None
        if "facility" in m:
            f = self.mapping(m["facility"], _join(path, "facility"), ("max_spread_bp",)) or {}
            facility = self.number(
                f.get("max_spread_bp", 0), _join(path, "facility.max_spread_bp"), lo=0.0, hi=50.0, bp=True
            )
        excluded: set[CarbonLevel] = set()
        xpath = _join(path, "two_high_excluded_levels")
        for i, item in enumerate(self.sequence(m.get("two_high_excluded_levels", []), xpath)):
            level = self.enum(item, f"{xpath}[{i}]", CarbonLevel)
            if level is not None:
                excluded.add(level)
        for lv in excluded:
            if any(LEVELS.index(o) > LEVELS.index(lv) and o not in excluded for o in LEVELS):
                self.fail(
                    xpath, f"excludes {lv.value} but not a worse level: a greener firm may never lose access"
                )
        eligible, conditional = self.eligibility(m, path)

        def bp(v: object, p: str) -> float:
            return self.number(v, p, bp=True)

        def multiplier(v: object, p: str) -> float:
            return self.ratio(v, p, hi=10.0)

        start = self.mark()
        rates = self.grade_table(m.get("rate_bp_by_grade", {}), _join(path, "rate_bp_by_grade"), read=bp)
        if self.mark() == start:
            self.monotone_grades(rates, _join(path, "rate_bp_by_grade"), increasing=True, what=" bp")
        start = self.mark()
        mults = self.grade_table(
            m.get("limit_multiplier_by_grade", {}), _join(path, "limit_multiplier_by_grade"), read=multiplier
        )
        if self.mark() == start:
            self.monotone_grades(mults, _join(path, "limit_multiplier_by_grade"), increasing=False, what="x")
        levels = (
            self.levels(m["carbon_level_rate_bp"], _join(path, "carbon_level_rate_bp"))
            if "carbon_level_rate_bp" in m
            else None
        )
        improving = self.optional_number(m, "improving_trend_bp", path, hi=0.0, bp=True) or 0.0
        covenants = self.covenants(m["covenants"], _join(path, "covenants")) if "covenants" in m else ()
        commitment = (
            self.commitment(m["commitment"], _join(path, "commitment")) if "commitment" in m else None
        )
        no_commitment = (
            self.no_commitment(m["no_commitment"], _join(path, "no_commitment"))
            if "no_commitment" in m
            else None
        )
        return ProductPolicy(
            product=product,
            name_zh=name_zh,
            name_en=name_en,
            tenor_min_months=tmin,
            tenor_max_months=tmax,
            max_limit_fen=max_limit,
            review_above_fen=review_above,
            eligible_grades=frozenset(eligible),
            conditional_grades=MappingProxyType(conditional),
            rate_bp_by_grade=tuple(rates[g] for g in GRADES),
            limit_multiplier_by_grade=tuple(mults[g] for g in GRADES),
            carbon_level_rate_bp=levels,
            improving_trend_bp=improving,
            covenants=covenants,
            commitment=commitment,
            no_commitment=no_commitment,
            facility_max_spread_bp=facility,
            two_high_excluded_levels=frozenset(excluded),
        )

    def eligibility(self, m: Mapping[str, Any], path: str) -> tuple[set[int], dict[int, GradeCondition]]:
        eligible: set[int] = set()
        epath = _join(path, "eligible_grades")
        for i, item in enumerate(self.sequence(m.get("eligible_grades", []), epath)):
            grade = self.grade_key(item, f"{epath}[{i}]") if not isinstance(item, bool) else None
            if grade is not None:
                if grade in eligible:
                    self.fail(f"{epath}[{i}]", f"duplicate grade {grade}")
                eligible.add(grade)
        conditional: dict[int, GradeCondition] = {}
        cpath = _join(path, "conditional_grades")
        raw = m.get("conditional_grades", {})
        if not isinstance(raw, dict):
            self.fail(cpath, f"must be a mapping of grade to its conditions, got {_kind(raw)}")
            raw = {}
        for key, item in raw.items():
            grade = self.grade_key(key, cpath)
            if grade is None:
                continue
            if grade in eligible:
                self.fail(_join(cpath, key), f"grade {grade} is listed in eligible_grades too")
            condition = self.condition(item, _join(cpath, key))
            if condition is not None:
                conditional[grade] = condition
        # Eligible grades, then conditional ones, then the rest: a better grade never loses eligibility.
        status = [2 if g in eligible else 1 if g in conditional else 0 for g in GRADES]
        labels = {2: "eligible", 1: "conditionally eligible", 0: "not eligible"}
        for i in range(1, len(GRADES)):
            if status[i] > status[i - 1]:
                self.fail(
                    epath,
                    f"non-monotone eligibility: grade {GRADES[i]} is {labels[status[i]]} but better grade "
                    f"{GRADES[i - 1]} is {labels[status[i - 1]]} (a better grade may never lose eligibility)",
                )
        grades = sorted(conditional)
        for better, worse in itertools.pairwise(grades):
            self.conditions_monotone(conditional[better], conditional[worse], _join(cpath, worse), better)
        return eligible, conditional

    def condition(self, value: object, path: str) -> GradeCondition | None:
        m = self.mapping(
            value, path, (), ("max_data_quality_score", "max_trend", "max_carbon_efficiency", "covenants")
        )
        if m is None:
            return None
        trend = None
        if m.get("max_trend") is not None:
            trend = self.enum(m["max_trend"], _join(path, "max_trend"), TrendDirection)
        return GradeCondition(
            max_data_quality_score=self.optional_number(m, "max_data_quality_score", path, lo=1.0, hi=5.0),
            max_trend=trend,
            max_carbon_efficiency=self.optional_number(m, "max_carbon_efficiency", path, lo=0.0),
            covenants=self.covenants(m["covenants"], _join(path, "covenants")) if "covenants" in m else (),
        )

    def conditions_monotone(
        self, better: GradeCondition, worse: GradeCondition, path: str, grade: int
    ) -> None:
        def loose(x: float | None) -> float:
            return _INF if x is None else x

        pairs = (
            (
                "max_data_quality_score",
                loose(better.max_data_quality_score),
                loose(worse.max_data_quality_score),
            ),
            (
                "max_trend",
                float(TRENDS.index(better.max_trend)) if better.max_trend else _INF,
                float(TRENDS.index(worse.max_trend)) if worse.max_trend else _INF,
            ),
            (
                "max_carbon_efficiency",
                loose(better.max_carbon_efficiency),
                loose(worse.max_carbon_efficiency),
            ),
        )
        for key, b, w in pairs:
            if w > b:
                self.fail(
                    _join(path, key),
                    f"looser than the condition of better grade {grade}: "
                    "a better grade may never lose eligibility",
                )

    def levels(self, value: object, path: str) -> tuple[float, ...]:
        m = self.mapping(value, path, [lv.value for lv in LEVELS]) or {}
        start = self.mark()
        table = tuple(self.number(m.get(lv.value, 0), _join(path, lv.value), bp=True) for lv in LEVELS)
        if self.mark() == start:
            for i in range(1, len(LEVELS)):
                if table[i] < table[i - 1]:
                    self.fail(
                        _join(path, LEVELS[i].value),
                        f"non-monotone level table: {LEVELS[i].value} gets less than {LEVELS[i - 1].value}",
                    )
        return table

    def commitment(self, value: object, path: str) -> CommitmentRules | None:
        m = self.mapping(
            value,
            path,
            ("required",),
            (
                "min_target_tco2_per_year",
                "review_statuses",
                "reduction_rate_bp",
                "provisional_share",
                "project_limit",
                "ratchet",
            ),
        )
        if m is None:
            return None
        required = self.boolean(m.get("required", False), _join(path, "required"))
        min_target = self.optional_number(m, "min_target_tco2_per_year", path, lo=0.0) or 0.0
        statuses: set[CommitmentStatus] = set()
        spath = _join(path, "review_statuses")
        for i, item in enumerate(self.sequence(m.get("review_statuses", []), spath)):
            status = self.enum(item, f"{spath}[{i}]", CommitmentStatus)
            if status is not None:
                statuses.add(status)
        bands: list[ReductionBand] = []
        if "reduction_rate_bp" in m:
            bpath = _join(path, "reduction_rate_bp")
            raw = self.bands(m["reduction_rate_bp"], bpath, ("rate_bp",), domain_lo=_INF, open_end_above=_INF)
            for i, (lo, hi, b) in enumerate(raw):
                rate = self.number(b.get("rate_bp", 0), f"{bpath}[{i}].rate_bp", hi=0.0, bp=True)
                if bands and rate > bands[-1].rate_bp:
                    self.fail(
                        f"{bpath}[{i}].rate_bp",
                        f"non-monotone: {_fmt(rate)} bp is a smaller discount than the previous band's "
                        f"{_fmt(bands[-1].rate_bp)} bp (a larger reduction may never earn less)",
                    )
                bands.append(ReductionBand(lo, hi, rate))
        project = None
        if "project_limit" in m:
            ppath = _join(path, "project_limit")
            pl = (
                self.mapping(
                    m["project_limit"], ppath, ("capex_ratio", "yuan_per_tco2_per_year", "min_equity_share")
                )
                or {}
            )
            project = ProjectLimit(
                capex_ratio=self.ratio(pl.get("capex_ratio", 0), _join(ppath, "capex_ratio"), hi=1.0),
                yuan_per_tco2_per_year=self.number(
                    pl.get("yuan_per_tco2_per_year", 0),
                    _join(ppath, "yuan_per_tco2_per_year"),
                    lo=0.0,
                    hi=100_000.0,
                    bp=True,
                ),
                min_equity_share=self.ratio(
                    pl.get("min_equity_share", 0), _join(ppath, "min_equity_share"), hi=0.99
                ),
            )
        ratchet = self.ratchet(m["ratchet"], _join(path, "ratchet")) if "ratchet" in m else None
        share = self.ratio(m.get("provisional_share", 1), _join(path, "provisional_share"))
        return CommitmentRules(
            required, min_target, frozenset(statuses), tuple(bands), project, ratchet, share
        )

    def ratchet(self, value: object, path: str) -> Ratchet | None:
        keys = (
            "milestone_missed_bp",
            "verification_absent_bp",
            "target_exceeded_bp",
            "exceed_ratio",
            "cap_bp",
        )
        m = self.mapping(value, path, keys)
        if m is None:
            return None

        def step(key: str) -> float:
            return self.number(m.get(key, 0), _join(path, key), lo=0.0, bp=True)

        ratio = self.number(m.get("exceed_ratio", 1), _join(path, "exceed_ratio"), lo=1.0, fallback=1.0)
        return Ratchet(step(keys[0]), step(keys[1]), step(keys[2]), ratio, step("cap_bp"))

    def no_commitment(self, value: object, path: str) -> NoCommitmentRules | None:
        m = self.mapping(value, path, (), ("rate_bp_by_grade", "limit_multiplier_by_grade", "covenants"))
        if m is None:
            return None

        def surcharge(v: object, p: str) -> float:
            return self.number(v, p, lo=0.0, bp=True)

        def haircut(v: object, p: str) -> float:
            return self.ratio(v, p)

        start = self.mark()
        rates = self.grade_table(
            m.get("rate_bp_by_grade", {}), _join(path, "rate_bp_by_grade"), read=surcharge, default=0.0
        )
        if self.mark() == start:
            self.monotone_grades(rates, _join(path, "rate_bp_by_grade"), increasing=True, what=" bp")
        start = self.mark()
        mults = self.grade_table(
            m.get("limit_multiplier_by_grade", {}),
            _join(path, "limit_multiplier_by_grade"),
            read=haircut,
            default=1.0,
        )
        if self.mark() == start:
            self.monotone_grades(mults, _join(path, "limit_multiplier_by_grade"), increasing=False, what="x")
        covenants = self.covenants(m["covenants"], _join(path, "covenants")) if "covenants" in m else ()
        return NoCommitmentRules(tuple(rates[g] for g in GRADES), tuple(mults[g] for g in GRADES), covenants)


# -------------------------------------------------------------------------------------------- tables


def _frozen(values: Sequence[Any] | np.ndarray, dtype: type | str) -> np.ndarray:
    array = np.array(values, dtype=dtype)
    array.setflags(write=False)
    return array


def _tables(
    products: Mapping[Product, ProductPolicy],
    trend_rates: Sequence[float],
    bands: Sequence[QualityBand],
) -> PolicyTables:
    grades = range(6)  # index 0 (ungraded) is never read: the evaluator maps it to a grade first
    ordered = [products[p] for p in PRODUCTS]

    def per_grade(fn: Callable[[ProductPolicy, int], float]) -> list[float]:
        return [fn(pp, max(g, 1)) for pp in ordered for g in grades]

    def cond(pp: ProductPolicy, g: int, key: str, none: float) -> float:
        c = pp.conditional_grades.get(g)
        value = getattr(c, key) if c is not None else None
        if key == "max_trend":
            return float(TRENDS.index(value)) if value is not None else none
        return float(value) if value is not None else none

    def nc(pp: ProductPolicy, attr: str, g: int, none: float) -> float:
        rules = pp.no_commitment
        return getattr(rules, attr)[g - 1] if rules is not None else none

    def commitment(pp: ProductPolicy, fn: Callable[[CommitmentRules], float], none: float) -> float:
        return fn(pp.commitment) if pp.commitment is not None else none

    def ratchet(pp: ProductPolicy, attr: str, none: float) -> float:
        r = pp.commitment.ratchet if pp.commitment is not None else None
        return float(getattr(r, attr)) if r is not None else none

    def project(pp: ProductPolicy) -> ProjectLimit | None:
        return pp.commitment.project_limit if pp.commitment is not None else None

    reduction = tuple(
        (
            i,
            _frozen([b.lo for b in pp.commitment.reduction_bands], np.float64),
            _frozen([b.rate_bp for b in pp.commitment.reduction_bands], np.float64),
        )
        for i, pp in enumerate(ordered)
        if pp.commitment is not None and pp.commitment.reduction_bands
    )
    last = len(TRENDS) - 1
    return PolicyTables(
        elig=_frozen(
            per_grade(lambda pp, g: 2 if g in pp.eligible_grades else 1 if g in pp.conditional_grades else 0),
            np.int8,
        ),
        cond_max_dq=_frozen(per_grade(lambda pp, g: cond(pp, g, "max_data_quality_score", _INF)), np.float64),
        cond_max_trend=_frozen(per_grade(lambda pp, g: cond(pp, g, "max_trend", last)), np.int8),
        cond_max_k=_frozen(per_grade(lambda pp, g: cond(pp, g, "max_carbon_efficiency", _INF)), np.float64),
        rate=_frozen(per_grade(lambda pp, g: pp.rate_bp_by_grade[g - 1]), np.float64),
        mult=_frozen(
            [_e4(x) for x in per_grade(lambda pp, g: pp.limit_multiplier_by_grade[g - 1])], np.int64
        ),
        nc_rate=_frozen(per_grade(lambda pp, g: nc(pp, "rate_bp_by_grade", g, 0.0)), np.float64),
        nc_mult=_frozen(
            [_e4(x) for x in per_grade(lambda pp, g: nc(pp, "limit_multiplier_by_grade", g, 1.0))], np.int64
        ),
        level_rate=_frozen(
            [
                (pp.carbon_level_rate_bp or (0.0,) * len(LEVELS))[i]
                for pp in ordered
                for i in range(len(LEVELS))
            ],
            np.float64,
        ),
        improving=_frozen([pp.improving_trend_bp for pp in ordered], np.float64),
        tenor_min=_frozen([pp.tenor_min_months for pp in ordered], np.float64),
        tenor_max=_frozen([pp.tenor_max_months for pp in ordered], np.float64),
        max_limit=_frozen([pp.max_limit_fen or FEN_INF for pp in ordered], np.int64),
        review_above=_frozen(
            [FEN_INF if pp.review_above_fen is None else pp.review_above_fen for pp in ordered], np.int64
        ),
        requires_commitment=_frozen(
            [commitment(pp, lambda c: c.required, False) for pp in ordered], np.bool_
        ),
        min_target=_frozen(
            [commitment(pp, lambda c: c.min_target_tco2_per_year, 0.0) for pp in ordered], np.float64
        ),
        review_status=_frozen(
            [
                pp.commitment is not None and s in pp.commitment.review_statuses
                for pp in ordered
                for s in STATUSES
            ],
            np.bool_,
        ),
        has_project_limit=_frozen([project(pp) is not None for pp in ordered], np.bool_),
        capex_ratio=_frozen([_e4(getattr(project(pp), "capex_ratio", 0.0)) for pp in ordered], np.int64),
        yuan_per_t=_frozen(
            [getattr(project(pp), "yuan_per_tco2_per_year", 0.0) for pp in ordered], np.float64
        ),
        loan_share=_frozen(
            [E4 - _e4(getattr(project(pp), "min_equity_share", 0.0)) for pp in ordered], np.int64
        ),
        provisional=_frozen(
            [commitment(pp, lambda c: c.provisional_share, 1.0) for pp in ordered], np.float64
        ),
        facility=_frozen([pp.facility_max_spread_bp is not None for pp in ordered], np.bool_),
        facility_spread=_frozen([pp.facility_max_spread_bp or 0.0 for pp in ordered], np.float64),
        two_high_excluded=_frozen(
            [lv in pp.two_high_excluded_levels for pp in ordered for lv in LEVELS], np.bool_
        ),
        ratchet_missed=_frozen([ratchet(pp, "milestone_missed_bp", 0.0) for pp in ordered], np.float64),
        ratchet_verification=_frozen(
            [ratchet(pp, "verification_absent_bp", 0.0) for pp in ordered], np.float64
        ),
        ratchet_exceeded=_frozen([ratchet(pp, "target_exceeded_bp", 0.0) for pp in ordered], np.float64),
        exceed_ratio=_frozen([ratchet(pp, "exceed_ratio", 1.0) for pp in ordered], np.float64),
        ratchet_cap=_frozen([ratchet(pp, "cap_bp", 0.0) for pp in ordered], np.float64),
        reduction=reduction,
        trend_rate=_frozen(trend_rates, np.float64),
        dq_starts=_frozen([b.lo for b in bands], np.float64),
        dq_factor=_frozen([b.discount_factor for b in bands], np.float64),
        dq_review=_frozen([b.manual_review for b in bands], np.bool_),
        dq_limit=_frozen([_e4(b.limit_factor) for b in bands], np.int64),
    )


def _e4(ratio: float) -> int:
    return round(ratio * E4)
