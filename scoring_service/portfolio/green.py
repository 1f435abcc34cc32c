"""Green-loan statistics by use of proceeds (PBoC green-loan special statistics style).

A loan is green when the lender classified its use of proceeds under a category of the green catalogue
(``data/green_catalogue.csv``: 《绿色产业指导目录（2019年版）》, with source and version); a loan without a
category is *unclassified*, never green by default (the old "expansion loans to grades 1-2" proxy is
gone: a retrofit loan is usually green, an expansion loan may not be).

Environmental benefits per year (tCO2 reduced, tce saved), :func:`frozen_benefits`: a loan financing a
registered project (a retrofit commitment) whose savings the registry has measured is credited the
measured savings on frozen factors (the baseline year's grid factor and prices, the carbon-data issue's
CommitmentProgress.achieved_*) times its share of the project, min(1, committed / project investment);
otherwise the lender's figures as assessed at origination on the named factor set (``benefit_factors``),
frozen with the loan, so later factor revisions do not move past figures.

Statistics per group (catalogue first-level category, industry division, county or lender): balances and
counts at the report date, new loans in the period (start date within it: count and committed amount),
and the benefits of the loans outstanding. Groups add up to the green totals; unclassified loans are
reported beside them so the book reconciles. Pure (pandas only). Money is integer fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from scoring_service.portfolio.disclosure import suppressed_keys
from scoring_service.portfolio.facility import project_share
from scoring_service.portfolio.metrics import group_label
from tanxiao.locale import pair
from tanxiao.standards import CodeList, code_list, lender_name

CATALOGUE = "green_catalogue"
GREEN_DIMENSIONS = ("CATEGORY", "INDUSTRY_DIVISION", "COUNTY", "LENDER")


@dataclass(frozen=True)
class Benefits:
    co2_tco2_per_year: float
    tce_per_year: float
    factors: str  # what they were computed on


def frozen_benefits(
    committed_fen: int,
    investment_fen: int,
    measured_tco2: float | None,
    measured_tce: float | None,
    basis: str,
    *,
    lender_figures: tuple[float, float, str],
) -> Benefits:
    """A loan's benefits a year (module docstring): the project's measured frozen-factor savings x the
    loan's share of the project when the registry has measured them and the investment is known, else
    ``lender_figures`` (tCO2, tce, factor set) as recorded at origination. Measured savings are taken as
    measured, a negative figure (emissions rose) included."""
    if measured_tco2 is not None and investment_fen > 0:
        share = project_share(committed_fen, investment_fen)
        return Benefits(measured_tco2 * share, (measured_tce or 0.0) * share, basis)
    return Benefits(*lender_figures)


def catalogue() -> CodeList:
    return code_list(CATALOGUE, "scoring_service.portfolio.data")


def is_category(code: str) -> bool:
    return code in catalogue().names


@dataclass(frozen=True)
class GreenRow:
    key: str
    label_zh: str
    label_en: str
    loans: int = 0
    borrowers: int = 0
    outstanding_fen: int = 0
    new_loans: int = 0
    new_amount_fen: int = 0
    co2_reduced_tco2_per_year: float = 0.0
    energy_saved_tce_per_year: float = 0.0
    suppressed: bool = False


@dataclass(frozen=True)
class GreenStatistics:
    dimension: str
    period_start: date
    as_of: date
    totals: GreenRow  # green loans only
    unclassified: GreenRow  # loans without a category (not green)
    rows: tuple[GreenRow, ...]
    catalogue_version: str
    catalogue_source: str


def _key(frame: pd.DataFrame, dimension: str) -> pd.Series:
    if dimension == "CATEGORY":
        return frame["green_category"].str.split(".").str[0]
    if dimension == "INDUSTRY_DIVISION":
        return frame["industry_code"].str[:2]
    if dimension == "COUNTY":
        return frame["region_code"]
    if dimension == "LENDER":
        return frame["lender"]
    raise ValueError(f"unknown dimension {dimension!r}; expected one of {', '.join(GREEN_DIMENSIONS)}")


def _label(dimension: str, key: str) -> tuple[str, str]:
    if dimension == "CATEGORY":
        return catalogue().names.get(key, (key, key))
    if dimension == "LENDER":
        return lender_name(key)
    return group_label(dimension, key)


def _hidden(row: GreenRow) -> GreenRow:
    return GreenRow(row.key, row.label_zh, row.label_en, suppressed=True)


def _row(key: str, zh: str, en: str, part: pd.DataFrame, period_start: date, as_of: date) -> GreenRow:
    new = part[(part["start_date"] >= period_start) & (part["start_date"] <= as_of)]
    return GreenRow(
        key=key, label_zh=zh, label_en=en, loans=len(part), borrowers=int(part["uscc"].nunique()),
        outstanding_fen=int(part["outstanding_fen"].sum()), new_loans=len(new),
        new_amount_fen=int(new["committed_amount_fen"].sum()),
        co2_reduced_tco2_per_year=float(part["co2_reduced_tco2_per_year"].sum()),
        energy_saved_tce_per_year=float(part["energy_saved_tce_per_year"].sum()),
    )  # fmt: skip


def green_statistics(
    loans: pd.DataFrame, *, dimension: str, period_start: date, as_of: date, min_cell_size: int = 0
) -> GreenStatistics:
    """Statistics of the loans open on ``as_of`` (columns: loan, lender, uscc, green_category,
    outstanding_fen, committed_amount_fen, start_date, co2_reduced_tco2_per_year,
    energy_saved_tce_per_year, industry_code, region_code). ``min_cell_size`` > 1 (the regulator view)
    suppresses rows with fewer borrowers, with complementary suppression (scoring_service.portfolio.
    disclosure); totals covering fewer borrowers are withheld too."""
    if period_start > as_of:
        raise ValueError("period_start must not be after as_of")
    frame = loans.copy()
    for column in ("green_category", "industry_code", "region_code", "lender", "uscc"):
        frame[column] = frame.get(column, pd.Series("", index=frame.index)).fillna("").astype(str)
    for column in ("co2_reduced_tco2_per_year", "energy_saved_tce_per_year"):
        frame[column] = pd.to_numeric(frame.get(column, 0.0), errors="coerce").fillna(0.0)
    for column in ("outstanding_fen", "committed_amount_fen"):
        frame[column] = pd.to_numeric(frame.get(column, 0), errors="coerce").fillna(0).astype("int64")
    frame["start_date"] = pd.to_datetime(frame.get("start_date")).dt.date
    green = frame[frame["green_category"] != ""]
    keys = _key(green, dimension)
    rows = tuple(
        _row(str(key), *_label(dimension, str(key)), green[keys == key], period_start, as_of)
        for key in sorted(set(keys))
    )
    listed = catalogue()
    if min_cell_size > 1:
        borrowers = {r.key: set(green.loc[keys == r.key, "uscc"]) for r in rows}
        hidden = suppressed_keys(borrowers, min_cell_size)
        rows = tuple(_hidden(r) if r.key in hidden else r for r in rows)
    totals = _row("green", *pair("report_label.green_total"), green, period_start, as_of)
    unclassified = _row("", *pair("report_label.green_unclassified"),
                        frame[frame["green_category"] == ""], period_start, as_of)  # fmt: skip
    if min_cell_size > 1:
        totals, unclassified = (r if r.borrowers >= min_cell_size or not r.loans else _hidden(r)
                                for r in (totals, unclassified))  # fmt: skip
    return GreenStatistics(
        dimension=dimension, period_start=period_start, as_of=as_of,
        totals=totals,
        unclassified=unclassified,
        rows=rows, catalogue_version=listed.version, catalogue_source=listed.source,
    )  # fmt: skip
