"""GB/T 4754-2017 industry codes: division (2 digits), group (3) or class (4); sections A-T by division.

Codes are stored without the section letter ("2825"); the section is derived. Benchmarks compare an
enterprise with its industry at a configurable depth (2, 3 or 4 digits).
"""

from __future__ import annotations

from typing import NamedTuple


class Section(NamedTuple):
    letter: str
    first_division: int
    last_division: int
    name_zh: str
    name_en: str


SECTIONS = (
    Section("A", 1, 5, "农、林、牧、渔业", "Agriculture, forestry, animal husbandry and fishery"),
    Section("B", 6, 12, "采矿业", "Mining"),
    Section("C", 13, 43, "制造业", "Manufacturing"),
    Section("D", 44, 46, "电力、热力、燃气及水生产和供应业", "Electricity, heat, gas and water supply"),
    Section("E", 47, 50, "建筑业", "Construction"),
    Section("F", 51, 52, "批发和零售业", "Wholesale and retail trade"),
    Section("G", 53, 60, "交通运输、仓储和邮政业", "Transport, storage and post"),
    Section("H", 61, 62, "住宿和餐饮业", "Accommodation and catering"),
    Section(
        "I", 63, 65, "信息传输、软件和信息技术服务业", "Information transmission, software and IT services"
    ),
    Section("J", 66, 69, "金融业", "Finance"),
    Section("K", 70, 70, "房地产业", "Real estate"),
    Section("L", 71, 72, "租赁和商务服务业", "Leasing and business services"),
    Section("M", 73, 75, "科学研究和技术服务业", "Scientific research and technical services"),
    Section("N", 76, 79, "水利、环境和公共设施管理业", "Water, environment and public facilities management"),
    Section("O", 80, 82, "居民服务、修理和其他服务业", "Resident, repair and other services"),
    Section("P", 83, 83, "教育", "Education"),
    Section("Q", 84, 85, "卫生和社会工作", "Health and social work"),
    Section("R", 86, 90, "文化、体育和娱乐业", "Culture, sports and entertainment"),
    Section("S", 91, 96, "公共管理、社会保障和社会组织", "Public administration and social organisations"),
    Section("T", 97, 97, "国际组织", "International organisations"),
)
DEPTHS = (2, 3, 4)


def section(code: str) -> Section | None:
    """The section of a code (by its division), or None when the division does not exist."""
    if len(code) < 2 or not code[:2].isdigit():
        return None
    division = int(code[:2])
    return next((s for s in SECTIONS if s.first_division <= division <= s.last_division), None)


def section_of(code: str) -> str | None:
    found = section(code)
    return found.letter if found else None


def validate_industry_code(code: str) -> str:
    """The code if it is a GB/T 4754-2017 division, group or class code, else ValueError."""
    if not (2 <= len(code) <= 4 and code.isdigit()):
        raise ValueError(f"industry code {code!r} must be 2 to 4 digits (GB/T 4754-2017, no section letter)")
    if section(code) is None:
        raise ValueError(f"industry code {code!r}: division {code[:2]} does not exist")
    return code


def industry_at(code: str, depth: int) -> str:
    """The code cut to ``depth`` digits (a 4-digit class's 2-digit division, ...)."""
    return code[:depth]
