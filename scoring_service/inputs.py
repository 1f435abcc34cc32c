"""The edge between the scoring contract, the registry's messages and loan_rules' inputs.

Requests are validated here (every bad field named at once); registry profiles and commitments become
loan_rules dataclasses; and both directions are kept as plain JSON in the decision so that a replay
rebuilds exactly the inputs the evaluator saw.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from google.protobuf import json_format

from loan_rules import CarbonProfileInput, CommitmentInput, LoanRequest, LprQuote, Product
from loan_rules.model import MAX_FEN
from tanxiao.common.v1 import common_pb2
from tanxiao.errors import FailedPrecondition, FieldViolation, ValidationError
from tanxiao.registry.v1 import registry_pb2
from tanxiao.scoring.v1 import scoring_pb2
from tanxiao.standards.grading import carbon_level
from tanxiao.standards.uscc import InvalidUSCC, normalize_uscc

LENDER = re.compile(r"^lenders/[a-z0-9][a-z0-9-]{0,62}\Z")
PERIOD = re.compile(r"(20\d\d|R12-20\d\d-(0[1-9]|1[0-2]))", re.ASCII)  # fullmatch: no trailing newline
MAX_AMOUNT_FEN = 10**14  # 1e12 yuan
MAX_TENOR_MONTHS = 360
MAX_BASE_RATE_BP = 5_000


def _in_future(period: str, today: date) -> bool:
    """A year after this one, or a rolling window ending after this month: no profile can exist yet,
    so the caller's period is wrong (not the registry's answer)."""
    if period.startswith("R12-"):
        year, month = int(period[4:8]), int(period[9:11])
        return (year, month) > (today.year, today.month)
    return int(period) > today.year


@dataclass(frozen=True)
class QuoteRequest:
    request_id: str
    lender: str
    uscc: str
    product: Product
    requested_amount_fen: int
    tenor_months: int
    base_rate_bp: float | None  # the lender's own base rate; None = the LPR of the tenor
    bank_limit_fen: int | None
    commitment: str
    profile_period: str
    fingerprint: str  # of the request without its request_id: a reused request_id must match
    # False when the borrower has not consented to the lender using its financials (FINANCIALS scope):
    # the quote is then made without them (no capacity test, FINANCIALS_MISSING review)
    use_financials: bool = True

    @property
    def enterprise(self) -> str:
        return f"enterprises/{self.uscc}"

    def loan_request(self, lpr: LprQuote, financials: Financials) -> LoanRequest:
        return LoanRequest(
            product=self.product,
            requested_amount_fen=self.requested_amount_fen,
            tenor_months=self.tenor_months,
            lpr_bp=lpr.rate_bp,
            lpr_term=lpr.term,
            lpr_date=lpr.effective_date.isoformat(),
            base_rate_bp=self.base_rate_bp,
            bank_limit_fen=self.bank_limit_fen,
            revenue_fen=financials.revenue_fen,
            total_debt_fen=financials.total_debt_fen,
            equity_fen=financials.equity_fen,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "product": self.product.value,
            "requested_amount_fen": self.requested_amount_fen,
            "tenor_months": self.tenor_months,
            "base_rate_bp": self.base_rate_bp,
            "bank_limit_fen": self.bank_limit_fen,
            "commitment": self.commitment,
            "profile_period": self.profile_period,
        }


def parse_quote(
    request: scoring_pb2.QuoteLoanTermsRequest, prefix: str = "", today: date | None = None
) -> QuoteRequest:
    """A validated request; INVALID_ARGUMENT naming every bad field (``prefix`` for batch items)."""
    problems: list[FieldViolation] = []

    def bad(field: str, description: str, reason: str = "") -> None:
        problems.append(FieldViolation(prefix + field, description, reason))

    request_id = request.request_id.strip()
    if not request_id:
        bad("request_id", "required (AIP-155): a retry with the same request_id returns the same decision")
    elif len(request_id) > 128:
        bad("request_id", "at most 128 characters")
    if not LENDER.match(request.lender):
        bad("lender", "must be lenders/{id}: lower-case letters, digits and '-', at most 63")
    uscc = _uscc(request.enterprise, bad)
    product = _product(request.product, bad)
    amount = request.requested_amount_fen
    if not 0 < amount <= MAX_AMOUNT_FEN:
        bad(
            "requested_amount_fen",
            f"must be an amount in fen (1 yuan = 100 fen), > 0 and <= {MAX_AMOUNT_FEN}",
        )
    bank_limit = request.bank_limit_fen
    if not 0 <= bank_limit <= MAX_AMOUNT_FEN:
        bad("bank_limit_fen", f"must be an amount in fen, 0 (not given) to {MAX_AMOUNT_FEN}")
    if not 1 <= request.tenor_months <= MAX_TENOR_MONTHS:
        bad("tenor_months", f"must be 1 to {MAX_TENOR_MONTHS}")
    base_rate = request.base_rate_bp if request.HasField("base_rate_bp") else None
    if base_rate is not None and not (math.isfinite(base_rate) and 0 <= base_rate <= MAX_BASE_RATE_BP):
        bad(
            "base_rate_bp",
            f"must be 0 to {MAX_BASE_RATE_BP} basis points (300 = 3.00 %), or unset to price on the LPR",
        )
    commitment = request.commitment.strip()
    if product is Product.HIGH_CARBON_RETROFIT and not commitment:
        bad("commitment", "required for HIGH_CARBON_RETROFIT: the registered retrofit commitment")
    elif commitment and uscc and not commitment.startswith(f"enterprises/{uscc}/commitments/"):
        bad("commitment", "must be a commitment of the same enterprise: enterprises/{uscc}/commitments/{id}")
    current = today or date.today()
    period = request.profile_period.strip() or str(current.year - 1)
    if not PERIOD.fullmatch(period):
        bad("profile_period", "must be YYYY or R12-YYYY-MM, year 2000-2099")
    elif _in_future(period, current):
        bad("profile_period", f"must not lie in the future (today is {current.isoformat()})")
    if problems:
        raise ValidationError.from_violations(problems)
    assert uscc is not None and product is not None
    return QuoteRequest(
        request_id=request_id,
        lender=request.lender,
        uscc=uscc,
        product=product,
        requested_amount_fen=amount,
        tenor_months=request.tenor_months,
        base_rate_bp=base_rate,
        bank_limit_fen=bank_limit or None,
        commitment=commitment,
        profile_period=period,
        fingerprint=_fingerprint(request),
    )


@dataclass(frozen=True)
class Financials:
    """The borrower's financials in fen (None: the registry does not have them)."""

    revenue_fen: int | None = None
    total_debt_fen: int | None = None
    equity_fen: int | None = None
    year: int = 0


def financials_from_profile(profile: registry_pb2.CarbonProfile) -> Financials:
    """Revenue, total debt and equity of the profile's year, where the registry has all three."""
    if not profile.HasField("financials"):
        return Financials()
    f = profile.financials
    names = ("revenue_fen", "total_debt_fen", "total_equity_fen")
    if not all(f.HasField(n) for n in names):
        return Financials(year=f.year)
    return Financials(
        revenue_fen=_clamp(f.revenue_fen, 0),
        total_debt_fen=_clamp(f.total_debt_fen, 0),
        equity_fen=_clamp(f.total_equity_fen, -MAX_FEN),
        year=f.year,
    )


def _clamp(fen: int, low: int) -> int:
    """The registry's int64 fen within [low, MAX_FEN] (the evaluator's int64 arithmetic bound)."""
    return max(low, min(MAX_FEN, int(fen)))


def _uscc(name: str, bad: Any) -> str | None:
    if not name.startswith("enterprises/") or name.count("/") != 1:
        bad("enterprise", "must be enterprises/{uscc}")
        return None
    uscc, error = _normalized_uscc(name.split("/", 1)[1])
    if error is not None:
        bad("enterprise", f"invalid USCC: {error}", "INVALID_USCC")
    return uscc


@functools.lru_cache(maxsize=65_536)
def _normalized_uscc(text: str) -> tuple[str | None, str | None]:
    """(the normalized USCC, None) or (None, why it is invalid); per distinct text (a book's BatchQuote
    names each borrower many times; the check digit is a pure function)."""
    try:
        return normalize_uscc(text), None
    except InvalidUSCC as exc:
        return None, str(exc)


# the wire enum's values that name a loan_rules Product (PRODUCT_UNSPECIFIED and unknown numbers do
# not): one dict lookup per request instead of the enum wrapper's values(), Name() and Product(name)
_PRODUCTS = {
    number: Product(name) for name, number in scoring_pb2.Product.items() if name in Product.__members__
}


def _product(value: int, bad: Any) -> Product | None:
    product = _PRODUCTS.get(value)
    if product is not None:
        return product
    bad("product", "must be LOW_CARBON_EXPANSION, HIGH_CARBON_RETROFIT or GENERAL")
    return None


def _fingerprint(request: scoring_pb2.QuoteLoanTermsRequest) -> str:
    copy = scoring_pb2.QuoteLoanTermsRequest()
    copy.CopyFrom(request)
    copy.request_id = ""
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


# --- registry messages -> loan_rules inputs -------------------------------------------------------


def profile_input(profile: registry_pb2.CarbonProfile) -> CarbonProfileInput:
    """The rules' view of a profile. A profile without a carbon intensity (no added value) cannot be
    priced: FAILED_PRECONDITION, never a guess."""
    if not profile.HasField("carbon_intensity"):
        raise FailedPrecondition(
            f"profile {profile.name} has no carbon intensity (no industrial added value reported); "
            "it cannot be priced",
            reason="PROFILE_NOT_PRICEABLE",
            metadata={"profile": profile.name},
        )
    level = registry_level(profile)
    return CarbonProfileInput(
        uscc=profile.uscc,
        period=profile.period,
        grade=profile.grade.grade,
        level=level,
        carbon_intensity=profile.carbon_intensity,
        carbon_efficiency=profile.k_value if profile.HasField("k_value") else math.nan,
        benchmark_intensity=profile.benchmark.average_intensity
        if profile.HasField("benchmark")
        else math.nan,
        trend_direction=_trend(profile.trend.direction),
        trend_confidence=min(max(profile.trend.confidence, 0.0), 1.0),
        data_quality_score=float(profile.data_quality.pcaf_score or 5),
        quality_flags=tuple(f.code for f in profile.data_quality.flags),
        neutrality_rate=profile.carbon_neutrality_rate,
        industry_code=profile.industry_code,
    )


def registry_level(profile: registry_pb2.CarbonProfile) -> str:
    name = common_pb2.CarbonLevel.Name(profile.grade.level)
    if name == "CARBON_LEVEL_UNSPECIFIED":  # graded profiles carry it; else L's level by the grading file
        return carbon_level(profile.carbon_intensity)
    return name


def _trend(direction: int) -> str:
    name = common_pb2.TrendDirection.Name(direction)
    return name if name in ("IMPROVING", "STABLE", "WORSENING") else "UNKNOWN"


def commitment_input(
    commitment: registry_pb2.Commitment, progress: registry_pb2.CommitmentProgress
) -> CommitmentInput:
    status = registry_pb2.CommitmentStatus.Name(progress.status)
    if status == "COMMITMENT_STATUS_UNSPECIFIED":
        status = "NOT_STARTED"
    return CommitmentInput(
        commitment_id=commitment.name,
        project_type=registry_pb2.ProjectType.Name(commitment.project_type),
        status=status,
        target_tco2_per_year=commitment.target_savings_tco2_per_year,
        achieved_tco2_per_year=progress.achieved_tco2_per_year,
        capex_fen=_clamp(commitment.capex_fen, 0),
        milestones_missed=progress.milestones_missed,
        verification=verification_state(status, progress),
    )


def verification_state(status: str, progress: registry_pb2.CommitmentProgress) -> str:
    """PASSED when the latest verification passed; FAILED when the latest one failed; OVERDUE when
    the project is behind (AT_RISK / MISSED) or done (COMPLETED) without a passed verification;
    PENDING otherwise (pledged tonnes, nothing due yet)."""
    if progress.verified:
        return "PASSED"
    last = progress.last_verification
    if last.verification_date and not last.passed:
        return "FAILED"
    if status in ("AT_RISK", "MISSED", "COMPLETED"):
        return "OVERDUE"
    return "PENDING"


# --- JSON round trips (the decision's stored inputs) ----------------------------------------------


def to_json(value: Any) -> Any:
    """Dataclass/enum/NaN-free JSON form: NaN and infinities become None (canonical JSON has no NaN)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # the common leaves, checked first
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict:
        return {k if type(k) is str else str(k): to_json(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [to_json(v) for v in value]
    return _to_json_other(value)


def _to_json_other(value: Any) -> Any:
    """to_json for anything but exact str/int/bool/float/dict/list/tuple (subclasses included)."""
    if hasattr(value, "__dataclass_fields__"):
        # fields one level deep; nested dataclasses are converted by the recursion (as asdict would)
        value = {name: _copied(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


def _copied(value: Any) -> Any:
    """What ``dataclasses.asdict`` does to a field value that to_json would not rebuild anyway: a deep
    copy of anything that is no container or dataclass (to_json copies those)."""
    if type(value) in (str, int, float, bool) or value is None or isinstance(value, list | tuple | dict):
        return value
    if hasattr(value, "__dataclass_fields__"):
        return value
    return copy.deepcopy(value)


def loan_request_from_json(raw: dict[str, Any]) -> LoanRequest:
    return LoanRequest(**raw)


def profile_input_from_json(raw: dict[str, Any]) -> CarbonProfileInput:
    fields = dict(raw)
    for name in ("carbon_intensity", "carbon_efficiency", "benchmark_intensity", "neutrality_rate"):
        if fields.get(name) is None:
            fields[name] = math.nan
    fields["quality_flags"] = tuple(fields.get("quality_flags") or ())
    return CarbonProfileInput(**fields)


def commitment_input_from_json(raw: dict[str, Any] | None) -> CommitmentInput | None:
    return None if raw is None else CommitmentInput(**raw)


def message_json(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
