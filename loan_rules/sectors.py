"""The 两高 (high energy consumption, high emission) industry list: data with its source, prefix match on
GB/T 4754-2017 codes. The list lives in ``data/two_high_sectors.yaml`` (see its header for the source
and why the code mapping is marked unconfirmed)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import yaml


@dataclass(frozen=True)
class TwoHighList:
    codes: tuple[str, ...]
    source: str
    status: str

    def matches(self, industry_code: str) -> bool:
        code = industry_code.strip()
        return bool(code) and any(code.startswith(prefix) for prefix in self.codes)


@functools.cache
def two_high_list() -> TwoHighList:
    text = resources.files("loan_rules").joinpath("data", "two_high_sectors.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    codes = tuple(str(s["code"]) for s in raw["sectors"])
    if not all(c.isdigit() and 2 <= len(c) <= 4 for c in codes):
        raise ValueError("two_high_sectors.yaml: codes must be 2-4 digit GB/T 4754 codes")
    return TwoHighList(codes, str(raw["source"]), str(raw["status"]))


def is_two_high(industry_code: str) -> bool:
    return two_high_list().matches(industry_code)
