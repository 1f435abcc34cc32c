"""The carbon emission reduction facility (碳减排支持工具) ledger: which loans are eligible, the share the
PBoC refinances, and each loan's attributable verified reduction, loan by loan, for a quarter.

Terms are dated data (``data/facility_terms.csv``, every value marked unconfirmed: see its source line).
A loan is eligible on the terms in force at its start when

* it started on or after the facility's launch,
* its use of proceeds is in an eligible field (green catalogue first-level category 1 节能环保产业 or
  3 清洁能源产业 under the launch terms), and
* its rate is within ``rate_tolerance_bp`` of the LPR in force at its start for its tenor ("about the
  same-tenor LPR"; over five years the 5-year LPR, else the 1-year: :func:`tenor`).

Refinanceable amount = outstanding × refinance share (fen, rounded down). Attributable verified reduction
= the project's verified reduction a year × min(1, the loan's committed amount / the project's total
investment): a loan financing half the project is credited half its verified tonnes; unverified pledges
count 0. Pure (pandas only); money integer fen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal

import pandas as pd

from scoring_service.portfolio.disclosure import suppressed_keys
from tanxiao.locale import pairs
from tanxiao.standards import code_list, lpr_bp

TERMS = "facility_terms"
# Why a loan is not eligible (zh, en), by reason code.
REASONS: Mapping[str, tuple[str, str]] = pairs("facility_reason")  # (zh, en): tanxiao/locale


@dataclass(frozen=True)
class FacilityTerms:
    effective: date
    refinance_share: Decimal
    rate_bp: int
    rate_tolerance_bp: int
    eligible_categories: tuple[str, ...]
    confirmed: str
    source: str
    version: str = ""


def all_terms() -> tuple[FacilityTerms, ...]:
    """Every dated set of terms, oldest first."""
    listed = code_list(TERMS, "scoring_service.portfolio.data")
    out = []
    for code, extra in sorted(listed.extra.items()):
        out.append(
            FacilityTerms(
                date.fromisoformat(code), Decimal(extra["refinance_share"]), int(extra["rate_bp"]),
                int(extra["rate_tolerance_bp"]), tuple(extra["eligible_categories"].split(";")),
                extra["confirmed"], listed.source, listed.version,
            )
        )  # fmt: skip
    return tuple(out)


def terms_on(day: date) -> FacilityTerms | None:
    """The terms in force on ``day`` (None before the launch)."""
    found = None
    for terms in all_terms():
        if terms.effective <= day:
            found = terms
    return found


def tenor(start: date, maturity: date) -> str:
    """The LPR tenor a loan is compared with: "5Y" over five years, else "1Y" (also used by the
    碳效贷 statistics)."""
    return "5Y" if (maturity - start).days > 5 * 365 else "1Y"


@dataclass(frozen=True)
class LedgerLine:
    loan: str
    eligible: bool
    reason: str  # reason code (REASONS), "" when eligible
    lpr_bp: int | None
    refinanceable_fen: int
    attributable_tco2_per_year: float
    lpr_tenor: str = "1Y"
    project_share: float = 0.0
    terms_effective: date | None = None

    def reason_text(self, lang: str = "en") -> str:
        return REASONS[self.reason][0 if lang == "zh" else 1] if self.reason else ""


def project_share(committed_fen: int, investment_fen: int) -> float:
    """min(1, committed / project investment); 0 when the investment is unknown."""
    return min(1.0, committed_fen / investment_fen) if investment_fen > 0 else 0.0


def ledger_line(loan: pd.Series) -> LedgerLine:
    """One loan's line (columns: loan, green_category, start_date, maturity_date, rate_bp, outstanding_fen,
    committed_amount_fen, verified_tco2_per_year, project_investment_fen)."""
    start, maturity = loan["start_date"], loan["maturity_date"]
    terms = terms_on(start)
    term = tenor(start, maturity)
    lpr = lpr_bp(start.isoformat(), term)
    reason = ""
    if terms is None:
        reason = "BEFORE_LAUNCH"
    elif str(loan["green_category"] or "").split(".")[0] not in terms.eligible_categories:
        reason = "CATEGORY"
    elif lpr is None:
        reason = "NO_LPR"
    elif abs(float(loan["rate_bp"]) - lpr) > terms.rate_tolerance_bp:
        reason = "RATE"
    eligible = not reason and terms is not None
    refinance = 0
    if eligible and terms is not None:
        share = Decimal(int(loan["outstanding_fen"])) * terms.refinance_share
        refinance = int(share.to_integral_value(rounding=ROUND_FLOOR))
    investment = int(loan.get("project_investment_fen") or 0)
    verified = float(loan.get("verified_tco2_per_year") or 0.0)
    share_of_project = project_share(int(loan["committed_amount_fen"]), investment)
    return LedgerLine(
        str(loan["loan"]), eligible, reason, lpr, refinance, verified * share_of_project, term,
        share_of_project, terms.effective if terms is not None else None,
    )  # fmt: skip


def ledger(loans: pd.DataFrame, quarter_end: date) -> list[LedgerLine]:
    """The quarterly loan-by-loan ledger of loans open at ``quarter_end`` (one line per loan, eligible or
    not, with the reason), in loan order."""
    open_loans = loans[loans["start_date"] <= quarter_end].sort_values("loan")
    return [ledger_line(row) for _, row in open_loans.iterrows()]


@dataclass(frozen=True)
class LedgerRow:
    """Ledger figures of a set of loans: all of them (key "total") or one first-level category."""

    key: str
    loans: int = 0
    outstanding_fen: int = 0
    eligible_loans: int = 0
    eligible_outstanding_fen: int = 0
    refinanceable_fen: int = 0
    attributable_tco2_per_year: float = 0.0
    suppressed: bool = False


def _row(key: str, part: pd.DataFrame, lines: dict[str, LedgerLine]) -> LedgerRow:
    mine = [lines[loan] for loan in part["loan"]]
    eligible = part[[line.eligible for line in mine]] if mine else part
    return LedgerRow(
        key=key, loans=len(part), outstanding_fen=int(part["outstanding_fen"].sum()),
        eligible_loans=sum(line.eligible for line in mine),
        eligible_outstanding_fen=int(eligible["outstanding_fen"].sum()) if mine else 0,
        refinanceable_fen=sum(line.refinanceable_fen for line in mine),
        attributable_tco2_per_year=sum(line.attributable_tco2_per_year for line in mine),
    )  # fmt: skip


def summary(
    loans: pd.DataFrame, lines: list[LedgerLine], *, min_cell_size: int = 0
) -> tuple[LedgerRow, tuple[LedgerRow, ...]]:
    """Totals and rows by green-catalogue first-level category ("" = unclassified) of the ledger's loans
    (columns: loan, uscc, green_category, outstanding_fen). ``min_cell_size`` > 1 (the regulator view)
    suppresses categories with fewer borrowers, with complementary suppression; totals over fewer
    borrowers are withheld too."""
    by_loan = {line.loan: line for line in lines}
    frame = loans[loans["loan"].isin(by_loan)]
    keys = frame["green_category"].fillna("").astype(str).str.split(".").str[0]
    rows = tuple(_row(k, frame[keys == k], by_loan) for k in sorted(set(keys)))
    totals = _row("total", frame, by_loan)
    if min_cell_size > 1:
        borrowers = {r.key: set(frame.loc[keys == r.key, "uscc"]) for r in rows}
        hidden = suppressed_keys(borrowers, min_cell_size)
        rows = tuple(LedgerRow(r.key, suppressed=True) if r.key in hidden else r for r in rows)
        if frame["uscc"].nunique() < min_cell_size and len(frame):
            totals = LedgerRow("total", suppressed=True)
    return totals, rows


def quarter_bounds(text: str) -> tuple[date, date]:
    """ "2026Q3" -> (2026-07-01, 2026-09-30); ValueError for anything else."""
    value = text.strip().upper()
    if len(value) != 6 or value[4] != "Q" or not value[:4].isdigit() or value[5] not in "1234":
        raise ValueError(f"not a quarter: {text!r} (expected YYYYQn, e.g. 2026Q3)")
    year, q = int(value[:4]), int(value[5])
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)
