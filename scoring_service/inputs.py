"""The edge between the scoring contract, the registry's messages and loan_rules' inputs.

Requests are validated here (every bad field named at once); registry profiles and commitments become
loan_rules dataclasses; and both directions are kept as plain JSON in the decision so that a replay
rebuilds exactly the inputs the evaluator saw.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from google.protobuf import json_format

from loan_rules import CarbonProfileInput, CommitmentInput, LoanRequest, Product
from registry_service.domain.grading import load_grading_method
from registry_service.domain.uscc import InvalidUSCC, normalize_uscc
from tanxiao.common.v1 import common_pb2
from tanxiao.errors import FailedPrecondition, FieldViolation, ValidationError
from tanxiao.registry.v1 import registry_pb2
from tanxiao.scoring.v1 import scoring_pb2

LENDER = re.compile(r"^lenders/[a-z0-9][a-z0-9-]{0,62}\Z")
PERIOD = re.compile(r"(20\d\d|R12-20\d\d-(0[1-9]|1[0-2]))", re.ASCII)  # fullmatch: no trailing newline
MAX_AMOUNT_CNY = 1e12
MAX_TENOR_MONTHS = 360
MAX_BASE_RATE_BP = 5_000


@dataclass(frozen=True)
class QuoteRequest:
    request_id: str
    lender: str
    uscc: str
    product: Product
    requested_amount_cny: float
    tenor_months: int
    base_rate_bp: float
    commitment: str
    profile_period: str
    fingerprint: str  # of the request without its request_id: a reused request_id must match

    @property
    def enterprise(self) -> str:
        return f"enterprises/{self.uscc}"

    def loan_request(self) -> LoanRequest:
        return LoanRequest(
            product=self.product,
            requested_amount_cny=self.requested_amount_cny,
            tenor_months=self.tenor_months,
            base_rate_bp=self.base_rate_bp,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "product": self.product.value,
            "requested_amount_cny": self.requested_amount_cny,
            "tenor_months": self.tenor_months,
            "base_rate_bp": self.base_rate_bp,
            "commitment": self.commitment,
            "profile_period": self.profile_period,
        }


def parse_quote(
    request: scoring_pb2.QuoteLoanTermsRequest, prefix: str = "", today: date | None = None
) -> QuoteRequest:
    """A validated request; INVALID_ARGUMENT naming every bad field (``prefix`` for batch items)."""
    problems: list[FieldViolation] = []

    def bad(field: str, description: str) -> None:
        problems.append(FieldViolation(prefix + field, description))

    request_id = request.request_id.strip()
    if not request_id:
        bad("request_id", "required (AIP-155): a retry with the same request_id returns the same decision")
    elif len(request_id) > 128:
        bad("request_id", "at most 128 characters")
    if not LENDER.match(request.lender):
        bad("lender", "must be lenders/{id}: lower-case letters, digits and '-', at most 63")
    uscc = _uscc(request.enterprise, bad)
    product = _product(request.product, bad)
    amount = request.requested_amount_cny
    if not (math.isfinite(amount) and 0 < amount <= MAX_AMOUNT_CNY):
        bad("requested_amount_cny", f"must be a finite amount in yuan, > 0 and <= {MAX_AMOUNT_CNY:.0e}")
    if not 1 <= request.tenor_months <= MAX_TENOR_MONTHS:
        bad("tenor_months", f"must be 1 to {MAX_TENOR_MONTHS}")
    if not (math.isfinite(request.base_rate_bp) and 0 <= request.base_rate_bp <= MAX_BASE_RATE_BP):
        bad("base_rate_bp", f"must be 0 to {MAX_BASE_RATE_BP} basis points (310 = 3.10 %)")
    commitment = request.commitment.strip()
    if product is Product.HIGH_CARBON_RETROFIT and not commitment:
        bad("commitment", "required for HIGH_CARBON_RETROFIT: the registered retrofit commitment")
    elif commitment and uscc and not commitment.startswith(f"enterprises/{uscc}/commitments/"):
        bad("commitment", "must be a commitment of the same enterprise: enterprises/{uscc}/commitments/{id}")
    period = request.profile_period.strip() or str((today or date.today()).year - 1)
    if not PERIOD.fullmatch(period):
        bad("profile_period", "must be YYYY or R12-YYYY-MM, year 2000-2099")
    if problems:
        raise ValidationError.from_violations(problems)
    assert uscc is not None and product is not None
    return QuoteRequest(
        request_id=request_id,
        lender=request.lender,
        uscc=uscc,
        product=product,
        requested_amount_cny=amount,
        tenor_months=request.tenor_months,
        base_rate_bp=request.base_rate_bp,
        commitment=commitment,
        profile_period=period,
        fingerprint=_fingerprint(request),
    )


def _uscc(name: str, bad: Any) -> str | None:
    if not name.startswith("enterprises/") or name.count("/") != 1:
        bad("enterprise", "must be enterprises/{uscc}")
        return None
    try:
        return normalize_uscc(name.split("/", 1)[1])
    except InvalidUSCC as exc:
        bad("enterprise", f"invalid USCC: {exc}")
        return None


def _product(value: int, bad: Any) -> Product | None:
    name = scoring_pb2.Product.Name(value) if value in scoring_pb2.Product.values() else ""
    if name in Product.__members__:
        return Product(name)
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
    )


def registry_level(profile: registry_pb2.CarbonProfile) -> str:
    name = common_pb2.CarbonLevel.Name(profile.grade.level)
    if name == "CARBON_LEVEL_UNSPECIFIED":  # graded profiles carry it; else L's level by the grading file
        return load_grading_method().level(profile.carbon_intensity)
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
        capex_cny=commitment.capex_10k_cny * 10_000,
        milestones_missed=progress.milestones_missed,
        verified=progress.verified,
    )


# --- JSON round trips (the decision's stored inputs) ----------------------------------------------


def to_json(value: Any) -> Any:
    """Dataclass/enum/NaN-free JSON form: NaN and infinities become None (canonical JSON has no NaN)."""
    if hasattr(value, "__dataclass_fields__"):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


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
