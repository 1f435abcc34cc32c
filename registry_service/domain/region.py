"""GB/T 2260 administrative division codes: six digits, province (PP0000), city (PPCC00), county."""

from __future__ import annotations

from enum import StrEnum

# Province-level prefixes in GB/T 2260 (incl. 71 Taiwan, 81 Hong Kong, 82 Macao).
PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


class RegionLevel(StrEnum):
    PROVINCE = "PROVINCE"
    CITY = "CITY"
    COUNTY = "COUNTY"


def validate_region_code(code: str) -> str:
    """The code if it is a six-digit GB/T 2260 code of a known province, else ValueError."""
    if len(code) != 6 or not code.isdigit():
        raise ValueError(f"region code {code!r} must be six digits (GB/T 2260)")
    if code[:2] not in PROVINCES:
        raise ValueError(f"region code {code!r}: {code[:2]!r} is not a province code")
    if code[2:4] == "00" and code[4:] != "00":
        raise ValueError(f"region code {code!r}: a county code needs its city digits")
    return code


def level_of(code: str) -> RegionLevel:
    if code[2:] == "0000":
        return RegionLevel.PROVINCE
    if code[4:] == "00":
        return RegionLevel.CITY
    return RegionLevel.COUNTY


def region_at(code: str, level: RegionLevel) -> str:
    """The enclosing code of ``code`` at ``level`` (a county's city is PPCC00, its province PP0000)."""
    if level is RegionLevel.PROVINCE:
        return code[:2] + "0000"
    if level is RegionLevel.CITY:
        return code[:4] + "00"
    return code


def validate_region_prefix(prefix: str) -> str:
    """A filter prefix: up to six digits."""
    if len(prefix) > 6 or not prefix.isdigit():
        raise ValueError("must be up to six digits of a GB/T 2260 code")
    return prefix
