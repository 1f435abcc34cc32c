"""碳效贷 statistics: cumulative disbursements since inception and per quarter, outstanding, the
weighted-average rate and its spread to the LPR, by dimension, and the headline panel in the form the
Huzhou programme publishes ("累计发放碳效贷 x 笔、y 亿元").

碳效贷 are the loans of the carbon-efficiency products (LOW_CARBON_EXPANSION, HIGH_CARBON_RETROFIT).
A disbursement is a loan's START amount (what was drawn at the start date) or a DRAWDOWN; a loan counts
from its first disbursement. Rates are weighted by disbursed amount; a loan's spread is its rate minus
the LPR in force on its start date for its tenor (over five years: the 5-year LPR, else the 1-year;
tanxiao.standards.lpr_bp, the tenor rule of facility.tenor). Pure (pandas only); money is integer fen,
亿元 as Decimal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd

from scoring_service.portfolio.facility import tenor
from scoring_service.portfolio.metrics import weighted_mean
from tanxiao.locale import text
from tanxiao.standards import lpr_bp

CARBON_PRODUCTS = ("LOW_CARBON_EXPANSION", "HIGH_CARBON_RETROFIT")
FEN_PER_YI = 10**10  # 1 亿元 = 10^8 yuan = 10^10 fen


@dataclass(frozen=True)
class Figures:
    loans: int = 0
    disbursed_fen: int = 0
    outstanding_fen: int = 0
    # disbursement-weighted; 0 over nothing; spread over loans whose LPR is known
    weighted_rate_bp: float = 0.0
    spread_to_lpr_bp: float = 0.0


@dataclass(frozen=True)
class QuarterRow:
    quarter: str  # "2025Q1"
    new_loans: int
    disbursed_fen: int
    cumulative_loans: int
    cumulative_disbursed_fen: int
    weighted_rate_bp: float  # of the quarter's new loans


@dataclass(frozen=True)
class GroupFigures:
    key: str
    figures: Figures


@dataclass(frozen=True)
class CarbonLoanStatistics:
    as_of: date
    totals: Figures
    quarters: tuple[QuarterRow, ...]
    groups: tuple[GroupFigures, ...]

    def headline(self, lang: str = "zh") -> str:
        yi = (Decimal(self.totals.disbursed_fen) / FEN_PER_YI).quantize(Decimal("0.01"))
        return text("report_label.cumulative_headline", lang).format(loans=f"{self.totals.loans:,}", yi=yi)


def disbursements(events: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The 碳效贷 disbursement events up to ``as_of`` (START and DRAWDOWN, amount > 0)."""
    carbon = events[events["product"].isin(CARBON_PRODUCTS) & (events["as_of_date"] <= as_of)]
    return carbon[carbon["kind"].isin(["START", "DRAWDOWN"]) & (carbon["amount_fen"] > 0)]


def per_loan(events: pd.DataFrame, outstanding: pd.Series, as_of: date) -> pd.DataFrame:
    """One row per 碳效贷 disbursed by ``as_of``: first disbursement date, disbursed fen, outstanding fen,
    rate, LPR at start and the loan's other columns (events: loan, product, rate_bp, start_date,
    maturity_date, kind, as_of_date, amount_fen, + dimension columns; outstanding: fen by loan)."""
    carbon = disbursements(events, as_of)
    if carbon.empty:
        return pd.DataFrame(
            columns=["loan", "first", "disbursed_fen", "outstanding_fen", "rate_bp", "lpr_bp"]
        )
    extra = [c for c in carbon.columns if c not in ("kind", "as_of_date", "amount_fen")]
    loans = (
        carbon.groupby("loan", sort=True)
        .agg(first=("as_of_date", "min"), disbursed_fen=("amount_fen", "sum"))
        .join(carbon.drop_duplicates("loan").set_index("loan")[[c for c in extra if c != "loan"]])
    )
    loans["outstanding_fen"] = outstanding.reindex(loans.index).fillna(0).astype("int64")
    loans["lpr_bp"] = [
        lpr_bp(start.isoformat(), tenor(start, maturity))
        for start, maturity in zip(loans["start_date"], loans["maturity_date"], strict=True)
    ]
    return loans.reset_index()


def figures(loans: pd.DataFrame) -> Figures:
    disbursed = int(loans["disbursed_fen"].sum()) if not loans.empty else 0
    if disbursed <= 0:
        return Figures(loans=len(loans))
    weights = loans["disbursed_fen"].astype(float)
    rate = weighted_mean(loans["rate_bp"], weights)
    spread = weighted_mean(loans["rate_bp"] - loans["lpr_bp"].astype(float), weights)  # LPR known only
    return Figures(len(loans), disbursed, int(loans["outstanding_fen"].sum()), rate, spread)


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def statistics(
    events: pd.DataFrame,
    outstanding: pd.Series,
    as_of: date,
    *,
    group_by: str | None = None,
    key: Callable[[pd.DataFrame], pd.Series] | None = None,
) -> CarbonLoanStatistics:
    """Totals, the quarterly trend (every quarter from the first disbursement to ``as_of``: new loans,
    the amount disbursed in the quarter - drawdowns in the quarter they happened - and running totals)
    and, with ``group_by``, figures per group (``key`` gives each loan's group; default the column)."""
    loans = per_loan(events, outstanding, as_of)
    paid = disbursements(events, as_of)
    quarters: list[QuarterRow] = []
    if not loans.empty:
        loans = loans.assign(quarter=[quarter_of(d) for d in loans["first"]])
        paid_quarter = pd.Series([quarter_of(d) for d in paid["as_of_date"]], index=paid.index)
        count = disbursed = 0
        year, q = loans["first"].min().year, (loans["first"].min().month - 1) // 3
        while (year, q) <= (as_of.year, (as_of.month - 1) // 3):
            label = f"{year}Q{q + 1}"
            part = figures(loans[loans["quarter"] == label])
            in_quarter = int(paid.loc[paid_quarter == label, "amount_fen"].sum())
            count, disbursed = count + part.loans, disbursed + in_quarter
            quarters.append(
                QuarterRow(label, part.loans, in_quarter, count, disbursed, part.weighted_rate_bp)
            )
            year, q = (year + 1, 0) if q == 3 else (year, q + 1)
    groups: tuple[GroupFigures, ...] = ()
    if group_by and not loans.empty:
        keys = (key(loans) if key else loans[group_by]).astype(str)
        groups = tuple(GroupFigures(k, figures(loans[keys == k])) for k in sorted(set(keys)))
    return CarbonLoanStatistics(as_of, figures(loans), tuple(quarters), groups)
