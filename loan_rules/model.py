"""The evaluator's own inputs and outputs: frozen dataclasses, no dependency on the registry or gRPC.

Units, everywhere in loan_rules:

* money: integer fen (1 yuan = 100 fen), ``int`` everywhere (requests, bank limits, financials, capex,
  limits, limit effects in the trace). Ratios the policy applies to money (multipliers, shares) have at
  most four decimals and are applied in integer arithmetic, rounded half-to-even to the fen.
* rates: basis points as ``float`` rounded to 0.01 bp (policy values may not have more than two
  decimals, so 2.5 bp steps are exact). 300 bp = 3.00 % a year. A quote is priced as the LPR of its
  tenor + a spread; a lender may send its own base rate instead, and the terms record which it was.
* percentages in the trace (``limit_effect_pct``): percent, rounded to 0.01.

Inputs are validated on construction (``ValueError`` naming the field); strings are accepted for the
enum fields and coerced.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Product(StrEnum):
    LOW_CARBON_EXPANSION = "LOW_CARBON_EXPANSION"
    HIGH_CARBON_RETROFIT = "HIGH_CARBON_RETROFIT"
    GENERAL = "GENERAL"


class CarbonLevel(StrEnum):
    """Huzhou level by intensity L (tCO2 per 10k yuan of added value): <= 0.6, <= 2.0, above."""

    LOW_CARBON = "LOW_CARBON"
    MEDIUM_CARBON = "MEDIUM_CARBON"
    HIGH_CARBON = "HIGH_CARBON"


class TrendDirection(StrEnum):
    """Ordered best to worst; that order is the one policy tables must be monotone in.

    The registry's ``INSUFFICIENT_DATA`` is accepted as ``UNKNOWN``.
    """

    IMPROVING = "IMPROVING"
    STABLE = "STABLE"
    UNKNOWN = "UNKNOWN"
    WORSENING = "WORSENING"

    @classmethod
    def _missing_(cls, value: object) -> TrendDirection | None:
        return cls.UNKNOWN if value == "INSUFFICIENT_DATA" else None


class VerificationState(StrEnum):
    """Where a retrofit's reduction stands with its independent verifier (drives the discount share).

    PENDING: pledged tonnes, no verification due yet (provisional share of the discount);
    PASSED: the latest verification passed (full discount); FAILED: the latest one failed; OVERDUE: the
    project is under way (or due) without a passed verification. FAILED and OVERDUE lose the discount
    and trigger the ratchet's verification step.
    """

    PENDING = "PENDING"
    PASSED = "PASSED"
    FAILED = "FAILED"
    OVERDUE = "OVERDUE"


class CommitmentStatus(StrEnum):
    """The registry's ``ACHIEVED`` is accepted as ``COMPLETED``."""

    NOT_STARTED = "NOT_STARTED"
    ON_TRACK = "ON_TRACK"
    AT_RISK = "AT_RISK"
    MISSED = "MISSED"
    COMPLETED = "COMPLETED"

    @classmethod
    def _missing_(cls, value: object) -> CommitmentStatus | None:
        return cls.COMPLETED if value == "ACHIEVED" else None


PRODUCTS: tuple[Product, ...] = tuple(Product)
LEVELS: tuple[CarbonLevel, ...] = tuple(CarbonLevel)
TRENDS: tuple[TrendDirection, ...] = tuple(TrendDirection)
STATUSES: tuple[CommitmentStatus, ...] = tuple(CommitmentStatus)
VERIFICATIONS: tuple[VerificationState, ...] = tuple(VerificationState)
GRADES: tuple[int, ...] = (1, 2, 3, 4, 5)
MAX_FEN = 10**16  # 1e14 yuan: x a 4-decimal ratio (<= 10 x 10^4) stays inside int64


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _enum(obj: object, name: str, enum: type[StrEnum]) -> None:
    value = getattr(obj, name)
    if type(value) is enum:  # a member already (enum(member) is the member): skip the enum's call
        return
    try:
        _set(obj, name, enum(value))
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ValueError(f"{name}: must be one of {allowed}, got {value!r}") from None


def _number(
    obj: object, name: str, *, lo: float | None = None, hi: float | None = None, nan_ok: bool = False
) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value):
        if nan_ok:
            _set(obj, name, value)
            return
        raise ValueError(f"{name}: must be a number, got NaN")
    if math.isinf(value):
        raise ValueError(f"{name}: must be finite, got {value}")
    if lo is not None and value < lo:
        raise ValueError(f"{name}: must be >= {lo:g}, got {value:g}")
    if hi is not None and value > hi:
        raise ValueError(f"{name}: must be <= {hi:g}, got {value:g}")
    _set(obj, name, value)


def _fen(obj: object, name: str, *, lo: int = 0, optional: bool = False) -> None:
    """Money: an ``int`` of fen (never a float: 0.1 yuan has no exact binary value)."""
    value = getattr(obj, name)
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: must be an integer amount in fen, got {value!r}")
    if value < lo or value > MAX_FEN:
        raise ValueError(f"{name}: must be {lo}..{MAX_FEN} fen, got {value}")


def _integer(obj: object, name: str, *, lo: int, hi: int | None = None) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name}: must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name}: must be {bound}, got {value}")
    _set(obj, name, int(value))


@dataclass(frozen=True, kw_only=True)
class CarbonProfileInput:
    """The registry's carbon profile of one enterprise-period, as far as the rules use it.

    ``grade`` 1 (green) .. 5 (red), 0 = ungraded. ``carbon_efficiency`` is K = intensity / benchmark;
    intensity, K and benchmark may be NaN for an ungraded enterprise. ``data_quality_score`` is the
    PCAF score 1 (verified) .. 5 (asset-based averages), fractions allowed. ``quality_flags`` are the
    registry's flag codes (e.g. ``NO_ADDED_VALUE``).
    """

    uscc: str
    period: str
    grade: int
    level: CarbonLevel
    carbon_intensity: float
    carbon_efficiency: float
    benchmark_intensity: float
    trend_direction: TrendDirection = TrendDirection.UNKNOWN
    trend_confidence: float = 0.0
    data_quality_score: float = 5.0
    quality_flags: tuple[str, ...] = ()
    neutrality_rate: float = 0.0
    industry_code: str = ""  # GB/T 4754-2017, 2-4 digits ("" = unknown)
    two_high_sector: bool | None = None  # None: looked up in the packaged 两高 list by industry_code

    def __post_init__(self) -> None:
        _integer(self, "grade", lo=0, hi=5)
        if not isinstance(self.industry_code, str):
            raise ValueError(f"industry_code: must be a string, got {self.industry_code!r}")
        if self.two_high_sector is None:
            from loan_rules.sectors import is_two_high  # data file; imported late (no cycle)

            _set(self, "two_high_sector", is_two_high(self.industry_code))
        elif not isinstance(self.two_high_sector, bool):
            raise ValueError(f"two_high_sector: must be a bool, got {self.two_high_sector!r}")
        _enum(self, "level", CarbonLevel)
        _enum(self, "trend_direction", TrendDirection)
        for name in ("carbon_intensity", "carbon_efficiency", "benchmark_intensity"):
            _number(self, name, lo=0.0, nan_ok=True)
        _number(self, "trend_confidence", lo=0.0, hi=1.0)
        _number(self, "data_quality_score", lo=1.0, hi=5.0)
        _number(self, "neutrality_rate", nan_ok=True)
        flags = self.quality_flags
        if isinstance(flags, str) or not all(isinstance(f, str) for f in flags):
            raise ValueError(f"quality_flags: must be a sequence of flag codes, got {flags!r}")
        _set(self, "quality_flags", tuple(flags))


@dataclass(frozen=True, kw_only=True)
class CommitmentInput:
    """A registered retrofit commitment and its measured progress.

    ``target_tco2_per_year`` > 0 is the committed reduction; ``achieved_tco2_per_year`` the measured one
    (negative when emissions rose); ``milestones_missed`` the count of milestones measured short of
    their target; ``verification`` where the reduction stands with the verifier; ``capex_fen`` the
    project's capital expenditure in fen.
    """

    commitment_id: str
    project_type: str
    status: CommitmentStatus
    target_tco2_per_year: float
    achieved_tco2_per_year: float = 0.0
    capex_fen: int = 0
    milestones_missed: int = 0
    verification: VerificationState = VerificationState.PENDING

    @property
    def verified(self) -> bool:
        return self.verification is VerificationState.PASSED

    def __post_init__(self) -> None:
        _enum(self, "verification", VerificationState)
        _enum(self, "status", CommitmentStatus)
        _number(self, "target_tco2_per_year", lo=0.0)
        if self.target_tco2_per_year <= 0:
            raise ValueError(f"target_tco2_per_year: must be > 0, got {self.target_tco2_per_year:g}")
        _number(self, "achieved_tco2_per_year")
        _fen(self, "capex_fen")
        _integer(self, "milestones_missed", lo=0)


@dataclass(frozen=True, kw_only=True)
class LoanRequest:
    """What the bank asks to price, money in fen.

    ``lpr_bp`` is the loan prime rate of the tenor (``lpr_term`` "1Y" or "5Y", published
    ``lpr_date``), resolved by the caller from the LPR table (``loan_rules.lpr``) so that a replay
    uses the same value; floors and caps are relative to it. ``base_rate_bp`` is the lender's own base
    rate when it sends one (None: the quote is priced on the LPR). ``bank_limit_fen`` is the credit
    limit from the lender's own credit analysis (None: not given, the request is the base and the
    quote goes to review). ``revenue_fen``, ``total_debt_fen``, ``equity_fen``: the borrower's
    financials where the registry has them (None: unknown; no capacity cap, review).
    """

    product: Product
    requested_amount_fen: int
    tenor_months: int
    lpr_bp: float
    lpr_term: str = "1Y"
    lpr_date: str = ""
    base_rate_bp: float | None = None
    bank_limit_fen: int | None = None
    revenue_fen: int | None = None
    total_debt_fen: int | None = None
    equity_fen: int | None = None

    @property
    def reference_rate_bp(self) -> float:
        """The rate the spread is added to: the lender's base rate if sent, else the LPR."""
        return self.lpr_bp if self.base_rate_bp is None else self.base_rate_bp

    @property
    def has_financials(self) -> bool:
        return None not in (self.revenue_fen, self.total_debt_fen, self.equity_fen)

    def __post_init__(self) -> None:
        if self._plain():
            return
        _enum(self, "product", Product)
        _fen(self, "requested_amount_fen", lo=1)
        _integer(self, "tenor_months", lo=1)
        _number(self, "lpr_bp", lo=0.0)
        if self.lpr_term not in ("1Y", "5Y"):
            raise ValueError(f"lpr_term: must be 1Y or 5Y, got {self.lpr_term!r}")
        if self.base_rate_bp is not None:
            _number(self, "base_rate_bp", lo=0.0)
        _fen(self, "bank_limit_fen", lo=1, optional=True)
        _fen(self, "revenue_fen", optional=True)
        _fen(self, "total_debt_fen", optional=True)
        if self.equity_fen is not None:  # equity may be negative (liabilities above assets)
            if isinstance(self.equity_fen, bool) or not isinstance(self.equity_fen, int):
                raise ValueError(f"equity_fen: must be an integer amount in fen, got {self.equity_fen!r}")
            if abs(self.equity_fen) > MAX_FEN:
                raise ValueError(f"equity_fen: must be within +/-{MAX_FEN} fen, got {self.equity_fen}")

    def _plain(self) -> bool:
        """Whether every field is already what the checks below would leave there: a member, exact
        ``int`` amounts and ``float`` rates inside their bounds (NaN fails every comparison). Then there
        is nothing to refuse or convert, and the ~10 checker calls (about half of a quote's
        construction of the request) are skipped; anything else takes the checks, errors and
        conversions as before (pinned by tests/unit/policy_rules/test_loan_request_checks.py)."""
        b, bank, rev, debt, eq = (
            self.base_rate_bp, self.bank_limit_fen, self.revenue_fen, self.total_debt_fen, self.equity_fen
        )  # fmt: skip
        return (
            type(self.product) is Product
            and type(self.requested_amount_fen) is int
            and 1 <= self.requested_amount_fen <= MAX_FEN
            and type(self.tenor_months) is int
            and self.tenor_months >= 1
            and type(self.lpr_bp) is float
            and 0.0 <= self.lpr_bp < math.inf
            and self.lpr_term in ("1Y", "5Y")
            and (b is None or (type(b) is float and 0.0 <= b < math.inf))
            and (bank is None or (type(bank) is int and 1 <= bank <= MAX_FEN))
            and (rev is None or (type(rev) is int and 0 <= rev <= MAX_FEN))
            and (debt is None or (type(debt) is int and 0 <= debt <= MAX_FEN))
            and (eq is None or (type(eq) is int and -MAX_FEN <= eq <= MAX_FEN))
        )


InputValue = str | int | float | bool | None | tuple[str, ...]


def _json_value(value: InputValue) -> Any:
    """Strict-JSON form: tuples as lists, NaN/inf (an unknown K, an open band) as null."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class TraceStep:
    """One rule the evaluator applied, in the order applied.

    ``rate_effect_bp``: what the step added to the rate (bp, 0.01); ``limit_effect_fen``: how it changed
    the running limit, fen (<= 0: every limit step is a cap); ``limit_effect_pct``: the same as a
    percent of the limit before the step (0.01). ``inputs``: what the step looked at.
    """

    code: str
    rate_effect_bp: float
    limit_effect_pct: float
    inputs: Mapping[str, InputValue]
    text_zh: str
    text_en: str
    limit_effect_fen: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "rate_effect_bp": self.rate_effect_bp,
            "limit_effect_pct": self.limit_effect_pct,
            "limit_effect_fen": self.limit_effect_fen,
            "inputs": {
                k: v if (t := type(v)) is str or t is int or t is bool or v is None else _json_value(v)
                for k, v in self.inputs.items()
            },  # the common leaves need no conversion: checked first, by exact type
            "text_zh": self.text_zh,
            "text_en": self.text_en,
        }


@dataclass(frozen=True)
class Covenant:
    code: str
    text_zh: str
    text_en: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "text_zh": self.text_zh, "text_en": self.text_en}


@dataclass(frozen=True)
class RatchetStep:
    """A sustainability-linked margin step: when ``trigger`` happens, the margin moves by ``step_bp``."""

    trigger: str  # MILESTONE_MISSED / VERIFICATION_ABSENT / TARGET_EXCEEDED
    step_bp: float
    text_zh: str
    text_en: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "step_bp": self.step_bp,
            "text_zh": self.text_zh,
            "text_en": self.text_en,
        }


@dataclass(frozen=True)
class Conditions:
    covenants: tuple[Covenant, ...] = ()
    ratchet: tuple[RatchetStep, ...] = ()
    ratchet_cap_bp: float | None = None  # aggregate cap of the ratchet, either direction

    def to_dict(self) -> dict[str, Any]:
        return {
            "covenants": [c.to_dict() for c in self.covenants],
            "ratchet": [r.to_dict() for r in self.ratchet],
            "ratchet_cap_bp": self.ratchet_cap_bp,
        }


@dataclass(frozen=True)
class Terms:
    """The evaluator's answer. For a declined request the limit is 0 and the rate is indicative."""

    product: Product
    eligible: bool
    decline_reasons: tuple[TraceStep, ...]
    approved_limit_fen: int
    binding_limit: str  # which candidate set the limit: REQUEST, BANK_LIMIT, DATA_QUALITY, CAPACITY, ...
    lpr_bp: float
    lpr_term: str  # "1Y" / "5Y"
    base_rate_bp: float  # the rate the spread is added to (the LPR unless the lender sent its own)
    base_rate_source: str  # "LPR" or "LENDER"
    rate_adjustment_bp: float  # sum of the rate effects after the total cap/floor
    final_rate_bp: float  # base + adjustment, within [LPR + floor, LPR + cap] (and the facility band)
    conditions: Conditions
    manual_review: bool
    review_reasons: tuple[str, ...]  # codes of the steps that ask for manual review
    reasons: tuple[TraceStep, ...]  # steps with an effect, largest |rate effect| first
    trace: tuple[TraceStep, ...]  # every step, in the order applied
    policy_version: str
    policy_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product.value,
            "eligible": self.eligible,
            "decline_reasons": [s.code for s in self.decline_reasons],
            "approved_limit_fen": self.approved_limit_fen,
            "binding_limit": self.binding_limit,
            "lpr_bp": self.lpr_bp,
            "lpr_term": self.lpr_term,
            "base_rate_bp": self.base_rate_bp,
            "base_rate_source": self.base_rate_source,
            "rate_adjustment_bp": self.rate_adjustment_bp,
            "final_rate_bp": self.final_rate_bp,
            "conditions": self.conditions.to_dict(),
            "manual_review": self.manual_review,
            "review_reasons": list(self.review_reasons),
            "reasons": [s.code for s in self.reasons],
            "trace": [s.to_dict() for s in self.trace],
            "policy_version": self.policy_version,
            "policy_hash": self.policy_hash,
        }
