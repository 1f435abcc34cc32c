"""The report's input: the loan book as of a date joined with the registry's view of each borrower.

Profiles are those of the calendar year before the report date (the year the 碳效码 grades), fetched
from the registry in batches; a borrower without one stays in the book (outstanding counts) with no
financed emissions and PCAF score 5. Retrofit loans carry their commitment's progress on that date, the
project's investment (the commitment's capex) and its last passed verification; their environmental
benefits are the registry's measured savings on frozen factors, attributed to the loan
(scoring_service.portfolio.green.frozen_benefits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from scoring_service.portfolio.green import frozen_benefits
from scoring_service.portfolio.metrics import FEN_PER_10K_YUAN
from scoring_service.registry_client import RegistryClient
from scoring_service.storage.loans import LoanRepository
from tanxiao.common.v1 import common_pb2
from tanxiao.errors import NotFound
from tanxiao.registry.v1 import registry_pb2

FRAME_COLUMNS = (
    "loan", "lender", "uscc", "enterprise_name", "product", "outstanding_fen", "has_profile", "grade",
    "level", "industry_code", "region_code", "scope1_tco2", "scope2_tco2", "scope2_market_tco2",
    "revenue_10k_cny",
    "total_equity_10k_cny", "total_debt_10k_cny", "evic_10k_cny", "listed", "pcaf_score",
    "commitment_status", "committed_tco2_per_year", "achieved_tco2_per_year", "profile",
    "committed_amount_fen", "start_date", "green_category", "co2_reduced_tco2_per_year",
    "energy_saved_tce_per_year", "benefit_factors", "rate_bp", "maturity_date", "commitment",
    "project_investment_fen", "verified_tco2_per_year",
)  # fmt: skip


def book_frame(
    repository: LoanRepository,
    registry: RegistryClient,
    as_of: date,
    *,
    lender: str | None,
    region_prefix: str = "",
) -> pd.DataFrame:
    book = repository.book(as_of, lender)
    if book.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FRAME_COLUMNS})
    year = str(as_of.year - 1)
    usccs = sorted(set(book["uscc"]))
    profiles = registry.available_profiles([(u, year) for u in usccs])
    firms = registry.enterprises(usccs)
    rows = []
    for loan in book.to_dict("records"):
        profile = profiles.get((loan["uscc"], year))
        firm = firms.get(loan["uscc"])
        rows.append(_row(loan, profile, firm, registry, as_of))
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    if region_prefix:
        frame = frame[frame["region_code"].str.startswith(region_prefix)]
    return frame.reset_index(drop=True)


def _row(
    loan: dict[str, object],
    profile: registry_pb2.CarbonProfile | None,
    firm: registry_pb2.Enterprise | None,
    registry: RegistryClient,
    as_of: date,
) -> dict[str, object]:
    financials = profile.financials if profile is not None and profile.HasField("financials") else None
    commitment = str(loan["commitment"] or "")
    project = _commitment(registry, commitment, as_of) if commitment else Project()
    status, committed, achieved = project.status, project.committed_tco2, project.achieved_tco2
    benefits = frozen_benefits(
        int(loan["committed_amount_fen"]),  # type: ignore[call-overload]
        project.investment_fen, project.measured_tco2, project.measured_tce, project.basis,
        lender_figures=(float(loan["co2_reduced_tco2_per_year"]),  # type: ignore[arg-type]
                        float(loan["energy_saved_tce_per_year"]), str(loan["benefit_factors"] or "")),
    )  # fmt: skip
    scope1 = profile.scope1_tco2 if profile is not None else math.nan
    return {
        "loan": f"{loan['lender']}/loans/{loan['loan_id']}",
        "lender": loan["lender"],
        "uscc": loan["uscc"],
        "enterprise_name": firm.display_name if firm is not None else "",
        "product": loan["product"],
        "outstanding_fen": int(loan["outstanding_fen"]),  # type: ignore[call-overload]
        "has_profile": profile is not None,
        "grade": profile.grade.grade if profile is not None else 0,
        "level": _level(profile),
        "industry_code": profile.industry_code
        if profile is not None
        else (firm.industry_code if firm else ""),
        "region_code": profile.region_code if profile is not None else (firm.region_code if firm else ""),
        "scope1_tco2": scope1,
        # Scope 2 as the profile's graded method counts it (net_tco2 - scope 1; Huzhou: location-based).
        "scope2_tco2": profile.net_tco2 - scope1 if profile is not None else math.nan,
        "scope2_market_tco2": _market_scope2(profile),
        "revenue_10k_cny": _money(financials, "revenue_fen"),
        "total_equity_10k_cny": _money(financials, "total_equity_fen"),
        "total_debt_10k_cny": _money(financials, "total_debt_fen"),
        "evic_10k_cny": _money(financials, "evic_fen"),
        "listed": bool(financials.listed) if financials is not None else False,
        "pcaf_score": (profile.data_quality.pcaf_score or 5) if profile is not None else 5,
        "commitment_status": status,
        "committed_tco2_per_year": committed,
        "achieved_tco2_per_year": achieved,
        "profile": profile.name if profile is not None else "",
        "committed_amount_fen": loan["committed_amount_fen"],
        "start_date": loan["start_date"],
        "green_category": loan["green_category"],
        "co2_reduced_tco2_per_year": benefits.co2_tco2_per_year,
        "energy_saved_tce_per_year": benefits.tce_per_year,
        "benefit_factors": benefits.factors,
        "rate_bp": float(loan["rate_bp"]),  # type: ignore[arg-type]
        "maturity_date": loan["maturity_date"],
        "commitment": commitment,
        "project_investment_fen": project.investment_fen,
        "verified_tco2_per_year": project.verified_tco2,
    }


@dataclass(frozen=True)
class Project:
    """What a loan's commitment tells the reports (nothing for a loan without one)."""

    status: str = ""
    committed_tco2: float = math.nan
    achieved_tco2: float = math.nan
    investment_fen: int = 0
    verified_tco2: float = 0.0  # last passed verification by the date, tCO2/yr
    measured_tco2: float | None = None  # the registry's measured savings on frozen factors, once measured
    measured_tce: float | None = None
    basis: str = ""  # what the measurement was made comparable with (frozen factor year)


def _commitment(registry: RegistryClient, name: str, as_of: date) -> Project:
    try:
        commitment, _ = registry.commitment(name)
        progress = registry.stub.GetCommitmentProgress(
            registry_pb2.GetCommitmentProgressRequest(name=name, as_of_date=as_of.isoformat()),
            timeout=registry.deadline,
            metadata=registry.metadata,
        )
    except NotFound:
        return Project()
    status = registry_pb2.CommitmentStatus.Name(progress.status)
    verified = (
        progress.last_verification.verified_savings_tco2
        if progress.verified and progress.HasField("last_verification")
        else 0.0
    )
    measured = progress.HasField("savings")
    return Project(
        status, commitment.target_savings_tco2_per_year, progress.achieved_tco2_per_year,
        capex_fen(commitment), verified,
        progress.achieved_tco2_per_year if measured else None,
        progress.achieved_tce_per_year if measured else None,
        f"registry: {progress.savings.year} vs baseline {commitment.baseline_year}, grid factor frozen at "
        f"{commitment.baseline_year}" if measured else "",
    )  # fmt: skip


def capex_fen(commitment: registry_pb2.Commitment) -> int:
    """The commitment's capital expenditure, integer fen (the project's total investment)."""
    return max(int(commitment.capex_fen), 0)


def _level(profile: registry_pb2.CarbonProfile | None) -> str:
    if profile is None or profile.grade.level == common_pb2.CARBON_LEVEL_UNSPECIFIED:
        return ""
    return common_pb2.CarbonLevel.Name(profile.grade.level)


def _money(financials: registry_pb2.AnnualFinancials | None, name: str) -> float:
    """The registry's integer fen as the frame's 万元 (a column of the attribution arithmetic, NaN when
    unknown; the metrics multiply back to fen before any amount is reported)."""
    if financials is None or not financials.HasField(name):
        return np.nan
    return int(getattr(financials, name)) / FEN_PER_10K_YUAN


def _market_scope2(profile: registry_pb2.CarbonProfile | None) -> float:
    """The profile's market-based scope 2 (Scope2Methods.market_tco2); NaN when it carries none."""
    if profile is None or not profile.HasField("scope2"):
        return math.nan
    return float(profile.scope2.market_tco2)
