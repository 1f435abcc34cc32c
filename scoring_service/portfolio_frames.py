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
    """One row per loan (FRAME_COLUMNS), built column by column: the borrowers' registry figures once
    per borrower, the commitments' progress once per commitment, joined to the loans by key."""
    book = repository.book(as_of, lender)
    if book.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FRAME_COLUMNS})
    year = str(as_of.year - 1)
    usccs = sorted(set(book["uscc"]))
    profiles = registry.available_profiles([(u, year) for u in usccs])
    firms = registry.enterprises(usccs)
    frame = loan_frame(book, _borrowers(usccs, profiles, firms, year), _projects(book, registry, as_of))
    if region_prefix:
        frame = frame[frame["region_code"].str.startswith(region_prefix)]
    return frame.reset_index(drop=True)


_BORROWER_COLUMNS = (
    "enterprise_name", "has_profile", "grade", "level", "industry_code", "region_code", "scope1_tco2",
    "scope2_tco2", "scope2_market_tco2", "revenue_10k_cny", "total_equity_10k_cny", "total_debt_10k_cny",
    "evic_10k_cny", "listed", "pcaf_score", "profile",
)  # fmt: skip


def _borrowers(
    usccs: list[str],
    profiles: dict[tuple[str, str], registry_pb2.CarbonProfile],
    firms: dict[str, registry_pb2.Enterprise],
    year: str,
) -> pd.DataFrame:
    """The registry's figures of each borrower (one row per USCC): its profile of ``year`` and its
    enterprise record. One pass over the borrowers' messages, not over the loans."""
    rows = [_borrower(profiles.get((u, year)), firms.get(u)) for u in usccs]
    return pd.DataFrame(rows, columns=list(_BORROWER_COLUMNS), index=pd.Index(usccs, name="uscc"))


def _borrower(
    profile: registry_pb2.CarbonProfile | None, firm: registry_pb2.Enterprise | None
) -> tuple[object, ...]:
    name = firm.display_name if firm is not None else ""
    if profile is None:
        codes = (firm.industry_code, firm.region_code) if firm is not None else ("", "")
        nan = math.nan
        return (name, False, 0, "", *codes, nan, nan, nan, nan, nan, nan, nan, False, 5, "")
    financials = profile.financials if profile.HasField("financials") else None
    scope1 = profile.scope1_tco2
    return (
        name, True, profile.grade.grade, _level(profile), profile.industry_code, profile.region_code,
        # Scope 2 as the profile's graded method counts it (net_tco2 - scope 1; Huzhou: location-based).
        scope1, profile.net_tco2 - scope1, _market_scope2(profile),
        _money(financials, "revenue_fen"), _money(financials, "total_equity_fen"),
        _money(financials, "total_debt_fen"), _money(financials, "evic_fen"),
        bool(financials.listed) if financials is not None else False,
        profile.data_quality.pcaf_score or 5, profile.name,
    )  # fmt: skip


def _projects(book: pd.DataFrame, registry: RegistryClient, as_of: date) -> dict[str, Project]:
    """Each distinct commitment of the book's loans, asked once."""
    names = sorted(set(book["commitment"].fillna("").astype(str)) - {""})
    return {name: _commitment(registry, name, as_of) for name in names}


def loan_frame(book: pd.DataFrame, borrowers: pd.DataFrame, projects: dict[str, Project]) -> pd.DataFrame:
    """The loans (BOOK_COLUMNS) joined with their borrowers' figures and their projects, by key."""
    commitment = book["commitment"].fillna("").astype(str)
    who = borrowers.reindex(book["uscc"]).reset_index(drop=True)
    project = _project_table(projects).reindex(commitment.to_numpy()).reset_index(drop=True)
    co2, tce, factors = _benefits(book, commitment, projects)
    columns = {
        "loan": (book["lender"].astype(str) + "/loans/" + book["loan_id"].astype(str)).to_numpy(dtype=object),
        "lender": book["lender"].to_numpy(),
        "uscc": book["uscc"].to_numpy(),
        **{name: who[name].to_numpy() for name in _BORROWER_COLUMNS},
        "product": book["product"].to_numpy(),
        "outstanding_fen": book["outstanding_fen"].astype(np.int64).to_numpy(),
        "commitment_status": project["commitment_status"].to_numpy(dtype=object),
        "committed_tco2_per_year": project["committed_tco2_per_year"].to_numpy(dtype=float),
        "achieved_tco2_per_year": project["achieved_tco2_per_year"].to_numpy(dtype=float),
        "committed_amount_fen": book["committed_amount_fen"].to_numpy(),
        "start_date": book["start_date"].to_numpy(),
        "green_category": book["green_category"].to_numpy(),
        "co2_reduced_tco2_per_year": co2,
        "energy_saved_tce_per_year": tce,
        "benefit_factors": factors,
        "rate_bp": book["rate_bp"].astype(float).to_numpy(),
        "maturity_date": book["maturity_date"].to_numpy(),
        "commitment": commitment.to_numpy(dtype=object),
        "project_investment_fen": project["project_investment_fen"].to_numpy(dtype=np.int64),
        "verified_tco2_per_year": project["verified_tco2_per_year"].to_numpy(dtype=float),
    }  # fmt: skip
    return pd.DataFrame({name: columns[name] for name in FRAME_COLUMNS})


def _project_table(projects: dict[str, Project]) -> pd.DataFrame:
    """One row per commitment name, and "" for the loans without one (an empty Project)."""
    names = ["", *(n for n in projects if n)]
    found = [Project(), *(projects[n] for n in names[1:])]
    return pd.DataFrame(
        {
            "commitment_status": [p.status for p in found],
            "committed_tco2_per_year": [p.committed_tco2 for p in found],
            "achieved_tco2_per_year": [p.achieved_tco2 for p in found],
            "project_investment_fen": [p.investment_fen for p in found],
            "verified_tco2_per_year": [p.verified_tco2 for p in found],
        },
        index=pd.Index(names, dtype=object),
    )


def _benefits(
    book: pd.DataFrame, commitment: pd.Series, projects: dict[str, Project]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """green.frozen_benefits over the book: the lender's recorded figures, except for the loans of a
    project the registry has measured, which get its savings x min(1, committed / investment)."""
    co2 = book["co2_reduced_tco2_per_year"].astype(float).to_numpy(copy=True)
    tce = book["energy_saved_tce_per_year"].astype(float).to_numpy(copy=True)
    factors = book["benefit_factors"].fillna("").astype(str).to_numpy(dtype=object)
    committed = book["committed_amount_fen"].to_numpy(dtype=np.int64)
    for name, project in projects.items():
        if project.measured_tco2 is None or project.investment_fen <= 0:
            continue
        rows = (commitment == name).to_numpy()
        share = np.minimum(1.0, committed[rows] / project.investment_fen)  # facility.project_share
        co2[rows] = project.measured_tco2 * share
        tce[rows] = (project.measured_tce or 0.0) * share
        factors[rows] = project.basis
    return co2, tce, factors


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
