"""The loan prime rate (LPR) table: dated fixings by term, as data a lender can update.

A loan of up to five years is priced on the 1-year LPR, a longer one on the over-5-year LPR (the
market's convention: two published terms). ``lpr_for`` picks the newest fixing effective on or
before the quote's date. The evaluator never reads this table itself: the caller resolves the LPR
and passes it in ``LoanRequest`` (``lpr_bp``, ``lpr_term``, ``lpr_date``) so that a replay prices on
the same value even after the table changed.

``loan_rules/data/lpr.yaml`` is the suite's one LPR table: the reports read it too, through
``tanxiao.standards.lpr_bp`` (which imports this module; loan_rules imports no service).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

FIVE_YEARS_MONTHS = 60
TERMS = ("1Y", "5Y")


@dataclass(frozen=True)
class LprFixing:
    effective_date: dt.date
    rates_bp: dict[str, float]  # term -> bp
    confirmed: bool
    source: str


@dataclass(frozen=True)
class LprQuote:
    """The LPR a quote used: its term, value, fixing date and whether that value is confirmed."""

    term: str
    rate_bp: float
    effective_date: dt.date
    confirmed: bool
    source: str


class LprTableError(ValueError):
    pass


@dataclass(frozen=True)
class LprTable:
    fixings: tuple[LprFixing, ...]  # oldest first
    # The table's own provenance (the file's top-level source, version and coverage lines).
    source: str = ""
    version: str = ""
    coverage: str = ""

    def lpr_for(self, tenor_months: int, on: dt.date) -> LprQuote:
        return self.lpr_for_term(term_for(tenor_months), on)

    def lpr_for_term(self, term: str, on: dt.date) -> LprQuote:
        """The ``term`` ("1Y" or "5Y") LPR of the newest fixing effective on or before ``on``."""
        if term not in TERMS:
            raise LprTableError(f"term must be one of {', '.join(TERMS)}, got {term!r}")
        usable = [f for f in self.fixings if f.effective_date <= on]
        if not usable:
            raise LprTableError(f"no LPR fixing effective on or before {on.isoformat()}")
        fixing = usable[-1]
        return LprQuote(term, fixing.rates_bp[term], fixing.effective_date, fixing.confirmed, fixing.source)


def term_for(tenor_months: int) -> str:
    return "1Y" if tenor_months <= FIVE_YEARS_MONTHS else "5Y"


def parse_lpr_table(text: str) -> LprTable:
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict) or not isinstance(raw.get("entries"), list) or not raw["entries"]:
        raise LprTableError("entries: must be a non-empty list of fixings")
    fixings = []
    for i, entry in enumerate(raw["entries"]):
        where = f"entries[{i}]"
        date = entry.get("effective_date")
        if not isinstance(date, dt.date):
            raise LprTableError(f"{where}.effective_date: must be a date YYYY-MM-DD")
        rates = entry.get("rates_bp") or {}
        if set(rates) != set(TERMS):
            raise LprTableError(f"{where}.rates_bp: must give exactly the terms {', '.join(TERMS)}")
        for term, value in rates.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 5000:
                raise LprTableError(f"{where}.rates_bp.{term}: must be a rate in bp, 0 < x < 5000")
        if not isinstance(entry.get("confirmed"), bool) or not str(entry.get("source") or "").strip():
            raise LprTableError(f"{where}: needs confirmed (true/false) and a source")
        fixings.append(
            LprFixing(date, {t: float(v) for t, v in rates.items()}, entry["confirmed"], entry["source"])
        )
    dates = [f.effective_date for f in fixings]
    if dates != sorted(set(dates)):
        raise LprTableError("entries: effective dates must be unique and in ascending order")
    meta = {key: " ".join(str(raw.get(key) or "").split()) for key in ("source", "version", "coverage")}
    return LprTable(tuple(fixings), **meta)


def load_lpr_table(path: str | Path | None = None) -> LprTable:
    if path is None:
        return default_lpr_table()
    return parse_lpr_table(Path(path).read_text("utf-8"))


@functools.cache
def default_lpr_table() -> LprTable:
    return parse_lpr_table(resources.files("loan_rules").joinpath("data", "lpr.yaml").read_text("utf-8"))
