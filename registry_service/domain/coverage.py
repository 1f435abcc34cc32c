"""Coverage before a grade: is an enterprise-period's energy data complete enough to grade? (pure: pandas).

A period is *covered* when every one of its months has a record of every category the enterprise is
expected to report, from a source admissible for that category (docs/accounting.md, "Coverage"):

* the categories the grading method requires of everyone (metered grid electricity);
* the categories its industry requires (the method's ``industry_required``, by code prefix);
* every ENERGY category the enterprise itself reported in the 12 months before the period (a firm that
  burned coal last year and reports none this year has not stopped burning coal on our word).

Anything less leaves the profile UNGRADED with a reason, never a grade computed on part of a year: a
firm with 6 of 12 months of electricity would otherwise show half its emissions on a full year's added
value and be graded (and benchmarked) as twice as efficient as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from registry_service.domain.frames import isin
from registry_service.domain.trend import ordinal_period

# Why a profile has grade 0, most fundamental first (the first that applies is reported).
NO_ENERGY_DATA = "NO_ENERGY_DATA"
INCOMPLETE_ENERGY_DATA = "INCOMPLETE_ENERGY_DATA"
NO_ADDED_VALUE = "NO_ADDED_VALUE"
NO_BENCHMARK = "NO_BENCHMARK"
PERIOD_NOT_GRADED = "PERIOD_NOT_GRADED"  # months and quarters are never graded
INCOMPLETE_REASONS = (NO_ENERGY_DATA, INCOMPLETE_ENERGY_DATA, NO_ADDED_VALUE)  # the data, not the method
UNGRADED_REASONS = (NO_ENERGY_DATA, INCOMPLETE_ENERGY_DATA, NO_ADDED_VALUE, NO_BENCHMARK, PERIOD_NOT_GRADED)
COVERAGE_COLUMNS = (
    "months_complete",
    "required_categories",  # "ELECTRICITY,RAW_COAL" (sorted)
    "coverage_gaps",  # "RAW_COAL:2024-03|2024-04;..." per category with months missing
    "ungraded_reason",  # "" when the period's data is complete (a benchmark may still be missing)
)
ANY_SOURCE = "*"


@dataclass(frozen=True)
class CoverageRule:
    """What a graded period must contain (the grading method's ``coverage`` section)."""

    required: tuple[str, ...] = ("ELECTRICITY",)
    # category -> sources admissible for coverage; "*" -> the default for every other category.
    admissible_sources: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {"ELECTRICITY": ("THIRD_PARTY_VERIFIED", "GRID_UTILITY"), ANY_SOURCE: ()}
    )
    industry_required: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # code prefix -> cats
    previous_year_energy: bool = True

    def admissible(self, category: str, source: str) -> bool:
        allowed = self.admissible_sources.get(category, self.admissible_sources.get(ANY_SOURCE, ()))
        return not allowed or source in allowed

    def industry_categories(self, industry_code: str) -> tuple[str, ...]:
        found: set[str] = set()
        for prefix, categories in self.industry_required.items():
            if str(industry_code).startswith(prefix):
                found.update(categories)
        return tuple(sorted(found))


def assess_coverage(
    rows: pd.DataFrame, effective: pd.DataFrame, energy_categories: frozenset[str], rule: CoverageRule
) -> pd.DataFrame:
    """COVERAGE_COLUMNS for ``rows`` (uscc, industry_code, first_ordinal, last_ordinal, granularity,
    months_covered, added_value_10k_cny), index kept. ``effective``: the records the profile uses
    (uscc, category, source, month_ordinal)."""
    out = pd.DataFrame(index=rows.index, columns=list(COVERAGE_COLUMNS), dtype=object)
    out["months_complete"] = 0
    records = _admissible(effective, rule)
    energy = effective[effective["category"].isin(energy_categories)]
    for (first, last), window in rows.groupby(["first_ordinal", "last_ordinal"], sort=False):
        complete, required, gaps = _window(window, records, energy, int(first), int(last), rule)
        out.loc[window.index, "months_complete"] = complete.to_numpy()
        out.loc[window.index, "required_categories"] = required.to_numpy()
        out.loc[window.index, "coverage_gaps"] = gaps.to_numpy()
    out["months_complete"] = out["months_complete"].astype(np.int64)
    out["ungraded_reason"] = _reasons(rows, out)
    return out


def _admissible(effective: pd.DataFrame, rule: CoverageRule) -> pd.DataFrame:
    # The rule is decided once per distinct (category, source) pair, then spread by a join: a Python
    # test per record costs seconds at provincial scale.
    pairs = effective[["category", "source"]].drop_duplicates()
    ok = [rule.admissible(str(c), str(s)) for c, s in zip(pairs["category"], pairs["source"], strict=True)]
    allowed = pd.MultiIndex.from_frame(pairs[np.asarray(ok, dtype=bool)])
    mask = pd.MultiIndex.from_frame(effective[["category", "source"]]).isin(allowed)
    return effective.loc[mask, ["uscc", "category", "month_ordinal"]]


def _window(
    window: pd.DataFrame,
    records: pd.DataFrame,
    energy: pd.DataFrame,
    first: int,
    last: int,
    rule: CoverageRule,
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per row of one period window: months complete, required categories, gaps."""
    usccs = window["uscc"].astype(str)
    expected = _expected(window, energy, first, rule)
    inside = records[isin(records["uscc"], usccs) & records["month_ordinal"].between(first, last)]
    seen = _seen(expected, inside, first, last)
    # firms' months in which every expected category has a record
    firm, firms = pd.factorize(expected["uscc"])
    per_month = np.zeros((len(firms), last - first + 1), dtype=np.int64)
    np.add.at(per_month, firm, seen.astype(np.int64))
    needed = np.bincount(firm, minlength=len(firms))
    full = (per_month == needed[:, None]).sum(axis=1)
    complete = pd.Series(full, index=pd.Index(firms)).reindex(usccs, fill_value=0)
    required = _joined_categories(expected).reindex(usccs)
    gaps = _gaps(expected, seen, first).reindex(usccs, fill_value="")
    return complete, required.fillna(""), gaps


def _seen(expected: pd.DataFrame, inside: pd.DataFrame, first: int, last: int) -> npt.NDArray[np.bool_]:
    """Per expected (uscc, category) pair and month of the window: whether a record covers it. The
    pairs are matched by integer codes: a merge on the text keys converted every arrow-backed value
    of a million records to a Python string (most of coverage's time)."""
    seen = np.zeros((len(expected), last - first + 1), dtype=bool)
    if inside.empty or expected.empty:
        return seen
    firm, firms = pd.factorize(inside["uscc"])
    category, categories = pd.factorize(inside["category"])
    pair_of = np.full((len(firms), len(categories)), -1, dtype=np.int64)
    at_firm = pd.Index(firms).get_indexer(expected["uscc"])
    at_category = pd.Index(categories).get_indexer(expected["category"])
    known = (at_firm >= 0) & (at_category >= 0)  # a pair with no record at all stays unseen
    pair_of[at_firm[known], at_category[known]] = np.flatnonzero(known)
    pair = pair_of[firm, category]
    hit = pair >= 0
    seen[pair[hit], inside["month_ordinal"].to_numpy(dtype=np.int64)[hit] - first] = True
    return seen


def _expected(window: pd.DataFrame, energy: pd.DataFrame, first: int, rule: CoverageRule) -> pd.DataFrame:
    """(uscc, category) pairs the period must cover."""
    usccs = window["uscc"].astype(str).to_numpy(dtype=object)
    parts = [pd.DataFrame({"uscc": usccs, "category": c}) for c in rule.required]
    if rule.industry_required:  # the extra categories are decided once per distinct industry code
        codes = window["industry_code"].map(lambda i: i if isinstance(i, str) else "")
        extra = pd.DataFrame(
            [(code, c) for code in codes.unique() for c in rule.industry_categories(str(code))],
            columns=["industry_code", "category"],
        )
        by_firm = pd.DataFrame({"uscc": usccs, "industry_code": codes.to_numpy(dtype=object)})
        parts.append(by_firm.merge(extra, on="industry_code")[["uscc", "category"]])
    if rule.previous_year_energy:
        before = energy[energy["month_ordinal"].between(first - 12, first - 1)]
        parts.append(before[isin(before["uscc"], window["uscc"])][["uscc", "category"]].astype(str))
    return pd.concat(parts, ignore_index=True).drop_duplicates().reset_index(drop=True)


def _joined_categories(expected: pd.DataFrame) -> pd.Series:
    """uscc -> its expected categories, sorted and comma-joined. Firms share a handful of category
    sets: each set is spelled once (a bit per category) instead of a Python join per firm."""
    categories = sorted(expected["category"].unique())
    if len(categories) > 62:  # more than a bit mask holds: the plain way
        return expected.groupby("uscc")["category"].agg(lambda c: ",".join(sorted(c)))
    firm, firms = pd.factorize(expected["uscc"])
    bit = pd.Categorical(expected["category"], categories=categories).codes.astype(np.int64)
    masks = np.zeros(len(firms), dtype=np.int64)
    np.bitwise_or.at(masks, firm, np.left_shift(1, bit))
    sets, which = np.unique(masks, return_inverse=True)
    text = [",".join(c for k, c in enumerate(categories) if int(m) >> k & 1) for m in sets]
    spelled = np.asarray(text, dtype=object)[which]
    return pd.Series(spelled, index=pd.Index(firms, name="uscc"), name="category")


def _gaps(expected: pd.DataFrame, seen: npt.NDArray[np.bool_], first: int) -> pd.Series:
    """ "CAT:YYYY-MM|YYYY-MM;CAT2:..." per uscc: each expected category's months without a record."""
    pair, month = np.nonzero(~seen)
    if not len(pair):
        return pd.Series(dtype=object)
    missing = pd.DataFrame(
        {
            "uscc": expected["uscc"].to_numpy(dtype=object)[pair],
            "category": expected["category"].to_numpy(dtype=object)[pair],
            "month_ordinal": month + first,
        }
    ).sort_values(["uscc", "category", "month_ordinal"])
    missing = missing.assign(month=[ordinal_period(int(o)) for o in missing["month_ordinal"]])
    per_category = missing.groupby(["uscc", "category"])["month"].agg("|".join).reset_index()
    per_category["text"] = per_category["category"] + ":" + per_category["month"]
    return per_category.groupby("uscc")["text"].agg(";".join)


def _reasons(rows: pd.DataFrame, coverage: pd.DataFrame) -> npt.NDArray[np.object_]:
    expected = (rows["last_ordinal"] - rows["first_ordinal"] + 1).to_numpy()
    energy_months = rows["months_covered"].to_numpy()
    if "energy_tce" in rows:  # every month metered at zero is no energy data either: an industrial
        # firm does not run on nothing, and a zero intensity would make a zero benchmark (K = 0/0)
        used = pd.to_numeric(rows["energy_tce"], errors="coerce").to_numpy(dtype=float)
        energy_months = np.where(used > 0, energy_months, 0)
    added = pd.to_numeric(rows["added_value_10k_cny"], errors="coerce").to_numpy(dtype=float)
    graded_period = rows["granularity"].isin(["year", "rolling12"]).to_numpy()
    return np.select(
        [
            energy_months == 0,
            coverage["months_complete"].to_numpy() < expected,
            ~(added > 0),
            ~graded_period,
        ],
        [NO_ENERGY_DATA, INCOMPLETE_ENERGY_DATA, NO_ADDED_VALUE, PERIOD_NOT_GRADED],
        default="",
    ).astype(object)
