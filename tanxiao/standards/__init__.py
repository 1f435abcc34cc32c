"""Code lists with names, as data files with their sources: GB/T 2260 regions, GB/T 4754-2017 industry
divisions and classes, lender display names (zh and en).

Reports show names, not codes ("湖州市吴兴区", not "330502"). Each list is a CSV under ``data/`` whose
``#`` header lines say its source, version and coverage; :func:`code_list` reads one, and the helpers
below turn a code into a (zh, en) pair, falling back to the code itself when a list does not cover it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from loan_rules.lpr import LprTableError, default_lpr_table

REGIONS = "gbt2260_regions"
DIVISIONS = "gbt4754_divisions"
CLASSES = "gbt4754_classes"
LENDERS = "lenders"


@dataclass(frozen=True)
class CodeList:
    name: str
    source: str
    version: str
    coverage: str
    # code -> (name_zh, name_en)
    names: Mapping[str, tuple[str, str]]
    # code -> the other columns (e.g. a region's level)
    extra: Mapping[str, Mapping[str, str]]


@cache
def code_list(name: str, package: str = "tanxiao.standards.data") -> CodeList:
    """The code list ``{package}/{name}.csv`` with its metadata (``# key: value`` lines)."""
    text = resources.files(package).joinpath(f"{name}.csv").read_text("utf-8")
    meta: dict[str, str] = {}
    body = []
    for line in text.splitlines():
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep and key.strip() in ("source", "version", "coverage"):
                meta[key.strip()] = value.strip()
        elif line.strip():
            body.append(line)
    rows = list(csv.DictReader(io.StringIO("\n".join(body))))
    names = {r["code"]: (r["name_zh"], r["name_en"]) for r in rows}
    extra = {r["code"]: {k: v for k, v in r.items() if k not in ("code", "name_zh", "name_en")} for r in rows}
    return CodeList(
        name, meta.get("source", ""), meta.get("version", ""), meta.get("coverage", ""), names, extra
    )


def region_name(code: str) -> tuple[str, str]:
    """(zh, en) of a GB/T 2260 code; a county is named with its city ("湖州市吴兴区", "Wuxing District,
    Huzhou"); an unknown code is returned as is."""
    names = code_list(REGIONS).names
    if code not in names:
        return code, code
    zh, en = names[code]
    city = code[:4] + "00"
    if code != city and city in names and not code.endswith("0000"):
        city_zh, city_en = names[city]
        return city_zh + zh, f"{en}, {city_en}"
    return zh, en


def division_name(code: str) -> tuple[str, str] | None:
    """(zh, en) of a GB/T 4754-2017 division (the first two digits of ``code``), or None."""
    return code_list(DIVISIONS).names.get(code[:2]) if len(code) >= 2 else None


def industry_name(code: str) -> tuple[str, str]:
    """(zh, en) of an industry code: the class when listed, else its division, else the code."""
    found = code_list(CLASSES).names.get(code) or division_name(code)
    return found if found is not None else (code, code)


def lender_name(lender: str) -> tuple[str, str]:
    """(zh, en) display name of "lenders/{id}"; the id when the lender is not listed."""
    found = code_list(LENDERS).names.get(lender)
    if found is not None:
        return found
    short = lender.removeprefix("lenders/")
    return short, short


def sources() -> list[dict[str, str]]:
    """Every code list's name, source, version and coverage (for report footers and docs)."""
    return [
        {"list": c.name, "source": c.source, "version": c.version, "coverage": c.coverage}
        for c in (code_list(n) for n in (REGIONS, DIVISIONS, CLASSES, LENDERS))
    ]


def lpr_bp(on: str, tenor: str = "1Y") -> int | None:
    """The LPR in force on ``on`` (ISO date) for tenor "1Y" or "5Y" (over five years), basis points; None
    before the table starts. The table is loan pricing's own (loan_rules/data/lpr.yaml, each fixing
    with its source and a confirmed mark): reports and quotes see the same LPR."""
    try:
        return round(default_lpr_table().lpr_for_term(tenor, dt.date.fromisoformat(on)).rate_bp)
    except LprTableError:
        return None


def lpr_source() -> str:
    """The LPR table's source and version, for report footers."""
    table = default_lpr_table()
    return f"{table.source} ({table.version})"
