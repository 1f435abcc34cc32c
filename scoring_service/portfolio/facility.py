"""The carbon emission reduction facility (碳减排支持工具) ledger: which loans are eligible, the share the
PBoC refinances, and each loan's attributable verified reduction, loan by loan, for a quarter.

Terms are dated data (``data/facility_terms.csv``, every value marked unconfirmed: see its source line).
A loan is eligible on the terms in force at its start when

* its use of proceeds is in an eligible field (green catalogue first-level category 1 节能环保产业 or
  3 清洁能源产业 under the launch terms),
* it started on or after the facility's launch, and
* its rate is within ``rate_tolerance_bp`` of the LPR in force at its start for its tenor ("about the
  same-tenor LPR").

Refinanceable amount = outstanding × refinance share (fen, rounded down). Attributable verified reduction
= the project's verified reduction a year × min(1, the loan's committed amount / the project's total
investment): a loan financing half the project is credited half its verified tonnes; unverified pledges
count 0. Pure (pandas only); money integer fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal

import pandas as pd

from tanxiao.standards import code_list, lpr_bp

TERMS = "facility_terms"


@dataclass(frozen=True)
class FacilityTerms:
    effective: date
    refinance_share: Decimal
    rate_bp: int
    rate_tolerance_bp: int
    eligible_categories: tuple[str, ...]
    confirmed: str
    source: str


def terms_on(day: date) -> FacilityTerms | None:
    """The terms in force on ``day`` (None before the launch)."""
    listed = code_list(TERMS, "scoring_service.portfolio.data")
    found = None
    for code in sorted(listed.extra):
        if date.fromisoformat(code) <= day:
            extra = listed.extra[code]
            found = FacilityTerms(
                date.fromisoformat(code), Decimal(extra["refinance_share"]), int(extra["rate_bp"]),
                int(extra["rate_tolerance_bp"]), tuple(extra["eligible_categories"].split(";")),
                extra["confirmed"], listed.source,
            )  # fmt: skip
    return found


@dataclass(frozen=True)
class LedgerLine:
    loan: str
    eligible: bool
    reason: str  # why not, "" when eligible
    lpr_bp: int | None
    refinanceable_fen: int
    attributable_tco2_per_year: float


def _tenor(start: date, maturity: date) -> str:
    return "5Y" if (maturity - start).days > 5 * 365 else "1Y"


def ledger_line(loan: pd.Series) -> LedgerLine:
    """One loan's line (columns: loan, green_category, start_date, maturity_date, rate_bp, outstanding_fen,
    committed_amount_fen, verified_tco2_per_year, project_investment_fen)."""
    start, maturity = loan["start_date"], loan["maturity_date"]
    terms = terms_on(start)
    lpr = lpr_bp(start.isoformat(), _tenor(start, maturity))
    reason = ""
    if terms is None:
        reason = "started before the facility's launch"
    elif str(loan["green_category"]).split(".")[0] not in terms.eligible_categories:
        reason = "use of proceeds not in an eligible field"
    elif lpr is None or abs(float(loan["rate_bp"]) - lpr) > terms.rate_tolerance_bp:
        reason = (
            f"rate {float(loan['rate_bp']):g} bp not within {terms.rate_tolerance_bp} bp of the LPR {lpr} bp"
        )
    eligible = not reason and terms is not None
    refinance = 0
    if eligible and terms is not None:
        share = Decimal(int(loan["outstanding_fen"])) * terms.refinance_share
        refinance = int(share.to_integral_value(rounding=ROUND_FLOOR))
    investment = int(loan.get("project_investment_fen") or 0)
    verified = float(loan.get("verified_tco2_per_year") or 0.0)
    share_of_project = min(1.0, int(loan["committed_amount_fen"]) / investment) if investment > 0 else 0.0
    return LedgerLine(str(loan["loan"]), eligible, reason, lpr, refinance, verified * share_of_project)


def ledger(loans: pd.DataFrame, quarter_end: date) -> list[LedgerLine]:
    """The quarterly loan-by-loan ledger of loans open at ``quarter_end`` (one line per loan, eligible or
    not, with the reason), in loan order."""
    open_loans = loans[loans["start_date"] <= quarter_end].sort_values("loan")
    return [ledger_line(row) for _, row in open_loans.iterrows()]
