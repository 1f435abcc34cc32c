"""A realistic synthetic registry: Huzhou-like enterprises over several industries and counties.

Deterministic for a seed. Each enterprise has an industry-typical carbon intensity times its own
efficiency, an energy mix of its industry, monthly seasonality (Spring Festival dip, summer peak),
growth, and a few retrofits (own PV from some month on, a lower intensity after a process change).
Data arrive as the providers would send them: electricity from the grid utility, gas from the gas
company, added value from the statistics bureau, revenue and tax from the tax bureau, coal self-reported,
some enterprises self-reporting electricity too (slightly off: a reconciliation case) and a few bad rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from registry_service.domain.enterprise import AnnualFinancials, Enterprise
from registry_service.domain.money import wan_to_fen
from registry_service.domain.uscc import CHARSET, make_uscc

# county code -> name (湖州市 330500)
COUNTIES = {
    "330502": "吴兴区",
    "330503": "南浔区",
    "330521": "德清县",
    "330522": "长兴县",
    "330523": "安吉县",
}


@dataclass(frozen=True)
class IndustryProfile:
    code: str
    name: str
    intensity: float  # typical tCO2 per 万元 of added value
    mix: dict[str, float]  # share of CO2 by category (electricity, gas, coal, steam)
    suffix: str


INDUSTRIES = (
    IndustryProfile(
        "2822", "涤纶纤维制造", 2.6, {"ELECTRICITY": 0.55, "NATURAL_GAS": 0.15, "STEAM": 0.30}, "化纤"
    ),
    IndustryProfile(
        "1713", "棉印染精加工", 1.6, {"ELECTRICITY": 0.40, "NATURAL_GAS": 0.20, "STEAM": 0.40}, "印染"
    ),
    IndustryProfile("3011", "水泥制造", 7.5, {"ELECTRICITY": 0.25, "RAW_COAL": 0.75}, "建材"),
    IndustryProfile(
        "2221", "机制纸及纸板制造", 2.0, {"ELECTRICITY": 0.45, "RAW_COAL": 0.25, "STEAM": 0.30}, "纸业"
    ),
    IndustryProfile("3484", "机械零部件加工", 0.45, {"ELECTRICITY": 0.90, "NATURAL_GAS": 0.10}, "机械"),
    IndustryProfile("3841", "锂离子电池制造", 0.35, {"ELECTRICITY": 0.95, "NATURAL_GAS": 0.05}, "新能源"),
    IndustryProfile("2110", "木质家具制造", 0.5, {"ELECTRICITY": 0.80, "NATURAL_GAS": 0.20}, "家居"),
)
# Monthly activity relative to the year's average (Spring Festival in Feb, summer peak).
SEASONALITY = np.array([0.95, 0.70, 1.02, 1.03, 1.04, 1.06, 1.10, 1.10, 1.04, 1.00, 0.99, 0.97])
# Carbon content of one canonical unit, tCO2 (for turning CO2 shares back into quantities).
_TCO2_PER_UNIT = {
    "ELECTRICITY": 0.5153 / 1000,
    "NATURAL_GAS": 2.1622 / 1000,
    "RAW_COAL": 1.9003 / 1000,
    "STEAM": 0.11 / 1000,
}
_SOURCE = {
    "ELECTRICITY": "GRID_UTILITY",
    "NATURAL_GAS": "GAS_UTILITY",
    "RAW_COAL": "SELF_REPORTED",
    "STEAM": "SELF_REPORTED",
    "PV_SELF_GENERATION": "SELF_REPORTED",
    "GREEN_POWER_PURCHASE": "GRID_UTILITY",  # the grid company settles green-power contracts
    "CEMENT_CLINKER": "SELF_REPORTED",
    "INDUSTRIAL_ADDED_VALUE": "STATISTICS",
    "OUTPUT_VALUE": "STATISTICS",
    "REVENUE": "TAX",
    "TAX": "TAX",
}


@dataclass(frozen=True)
class DemoData:
    enterprises: list[Enterprise]
    records: pd.DataFrame  # RECORD_COLUMNS, bad rows included
    retrofits: pd.DataFrame  # uscc, kind, start_period, reduction_share: for commitments and docs
    bad_rows: int


def generate(
    enterprises: int = 60,
    *,
    first_month: str = "2023-01",
    last_month: str | None = None,
    seed: int = 2026,
    bad_row_share: float = 0.003,
) -> DemoData:
    rng = np.random.default_rng(seed)
    months = _months(first_month, last_month or _last_complete_month())
    firms = _enterprises(enterprises, rng)
    retrofits = _retrofits(firms, months, rng)
    good = pd.concat([_firm_records(f, months, retrofits, rng) for f in firms], ignore_index=True)
    bad = _bad_rows(good, max(1, int(len(good) * bad_row_share)), rng)
    records = pd.concat([good, bad], ignore_index=True)
    return DemoData(
        enterprises=[f.enterprise for f in firms],
        records=records.sample(frac=1.0, random_state=seed).reset_index(drop=True),
        retrofits=retrofits,
        bad_rows=len(bad),
    )


@dataclass(frozen=True)
class _Firm:
    enterprise: Enterprise
    industry: IndustryProfile
    annual_added_value: float  # 万元, first year
    efficiency: float  # multiplier on the industry intensity
    growth: float  # yearly growth of activity
    self_reports_electricity: bool


def _enterprises(count: int, rng: np.random.Generator) -> list[_Firm]:
    firms = []
    counties = list(COUNTIES)
    for serial in range(count):
        industry = INDUSTRIES[serial % len(INDUSTRIES)]
        county = counties[int(rng.integers(len(counties)))]
        above = bool(rng.random() < 0.8)
        added_value = float(rng.lognormal(np.log(3000 if above else 600), 0.6))
        financials = _financials(added_value, serial, rng)
        enterprise = Enterprise(
            uscc=make_uscc(county, _organisation(serial)),
            display_name=f"湖州{COUNTIES[county]}{_trade_name(serial)}{industry.suffix}有限公司",
            industry_code=industry.code,
            region_code=county,
            size_class="ABOVE_DESIGNATED_SIZE" if above else "BELOW_DESIGNATED_SIZE",
            financials=financials,
        )
        firms.append(
            _Firm(
                enterprise=enterprise,
                industry=industry,
                annual_added_value=added_value,
                efficiency=float(rng.lognormal(0.0, 0.35)),
                growth=float(rng.normal(0.04, 0.05)),
                self_reports_electricity=bool(rng.random() < 0.25),
            )
        )
    return firms


def _financials(added_value: float, serial: int, rng: np.random.Generator) -> tuple[AnnualFinancials, ...]:
    listed = serial % 17 == 0
    revenue = added_value * float(rng.uniform(3.0, 5.0))
    equity = revenue * float(rng.uniform(0.2, 0.6)) * (-0.1 if serial % 41 == 40 else 1.0)
    debt = revenue * float(rng.uniform(0.2, 0.8))
    return tuple(
        AnnualFinancials(
            year=year,
            # Generated in 万元 to one decimal (a statistics-bureau figure), stored as integer fen.
            industrial_added_value_fen=wan_to_fen(round(added_value * 1.04**i, 1)),
            revenue_fen=wan_to_fen(round(revenue * 1.04**i, 1)),
            total_equity_fen=wan_to_fen(round(equity * 1.03**i, 1)),
            total_debt_fen=wan_to_fen(round(debt, 1)),
            listed=listed,
            evic_fen=wan_to_fen(round((abs(equity) * 2.5 + debt) * 1.03**i, 1)) if listed else None,
        )
        for i, year in enumerate((2023, 2024, 2025))
    )


def _retrofits(firms: list[_Firm], months: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """~1 in 6 enterprises retrofits: own PV (kind PV) or a process change (kind PROCESS)."""
    rows = []
    for firm in firms:
        if rng.random() >= 1 / 6 or len(months) < 13:
            continue
        start = months[int(rng.integers(6, len(months) - 6))]
        kind = "PV" if firm.industry.mix.get("ELECTRICITY", 0) >= 0.5 else "PROCESS"
        rows.append((firm.enterprise.uscc, kind, start, round(float(rng.uniform(0.08, 0.25)), 3)))
    return pd.DataFrame(rows, columns=["uscc", "kind", "start_period", "reduction_share"])


def _firm_records(
    firm: _Firm, months: list[str], retrofits: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    month_numbers = np.array([int(m[5:]) for m in months])
    years = np.array([int(m[:4]) for m in months])
    activity = SEASONALITY[month_numbers - 1] * (1 + firm.growth) ** (years - years[0])
    activity = activity * rng.normal(1.0, 0.04, len(months))
    added_value = firm.annual_added_value / 12 * activity
    tco2 = added_value * firm.industry.intensity * firm.efficiency
    retrofit = retrofits[retrofits["uscc"] == firm.enterprise.uscc]
    pv_share = np.zeros(len(months))
    if len(retrofit):
        first = retrofit.iloc[0]
        kind, start, share = str(first["kind"]), str(first["start_period"]), float(first["reduction_share"])
        after = np.array(months) >= start
        if kind == "PROCESS":
            tco2 = np.where(after, tco2 * (1 - share), tco2)
        else:
            pv_share = np.where(after, share, 0.0)
    columns: dict[str, np.ndarray] = {}
    for category, share in firm.industry.mix.items():
        columns[category] = tco2 * share / _TCO2_PER_UNIT[category]
    if pv_share.any():
        electricity = columns["ELECTRICITY"]
        columns["PV_SELF_GENERATION"] = electricity * pv_share  # own PV replaces grid purchases
        columns["ELECTRICITY"] = electricity * (1 - pv_share)
    columns |= _green_power_and_process(firm, columns)
    columns["INDUSTRIAL_ADDED_VALUE"] = added_value
    columns["OUTPUT_VALUE"] = added_value * 4.2
    columns["REVENUE"] = added_value * 4.0
    columns["TAX"] = added_value * 0.35
    frames = [_category_frame(firm, months, c, q) for c, q in columns.items()]
    if firm.self_reports_electricity:
        off = columns["ELECTRICITY"] * rng.normal(1.0, 0.03, len(months))
        frames.append(_category_frame(firm, months, "ELECTRICITY", off, source="SELF_REPORTED"))
    return pd.concat(frames, ignore_index=True)


# Demo firms of these industries buy this share of their grid electricity as green power (绿电交易,
# one contract id per month); clinker kilns report clinker at 0.16 t of raw coal per t of clinker
# (~0.11 tce/t, a typical Chinese kiln's fuel use) so both scope 2 methods and process CO2 show.
_GREEN_POWER_SHARE = {"3841": 0.30}
_COAL_T_PER_T_CLINKER = 0.16


def _green_power_and_process(firm: _Firm, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    extra: dict[str, np.ndarray] = {}
    share = _GREEN_POWER_SHARE.get(firm.industry.code)
    if share is not None and "ELECTRICITY" in columns:
        extra["GREEN_POWER_PURCHASE"] = columns["ELECTRICITY"] * share  # part of the grid purchases
    if firm.industry.code == "3011" and "RAW_COAL" in columns:
        extra["CEMENT_CLINKER"] = columns["RAW_COAL"] / 1000 / _COAL_T_PER_T_CLINKER  # kg coal -> t clinker
    return extra


def _category_frame(
    firm: _Firm, months: list[str], category: str, quantity: np.ndarray, source: str | None = None
) -> pd.DataFrame:
    source = source or _SOURCE[category]
    uscc = firm.enterprise.uscc
    big_unit = category in ("ELECTRICITY", "PV_SELF_GENERATION") and firm.annual_added_value > 5000
    unit, divisor = ("MWh", 1000.0) if big_unit else ("", 1.0)  # large users' meters report MWh
    if category == "RAW_COAL":
        unit, divisor = "t", 1000.0
    return pd.DataFrame(
        {
            "uscc": uscc,
            "period": months,
            "category": category,
            "quantity": np.round(quantity / divisor, 3),
            "unit": unit,
            "source": source,
            "external_id": [f"{source}-{uscc}-{category}-{m}" for m in months],
            # A green-power contract id per month (绿电交易); every other record carries none.
            "instrument_id": [f"GP-{uscc}-{m}" for m in months] if category == "GREEN_POWER_PURCHASE" else "",
        }
    )


def _bad_rows(good: pd.DataFrame, count: int, rng: np.random.Generator) -> pd.DataFrame:
    """Rows a provider gets wrong: negative, unknown category, future period, a unit that does not fit,
    an unknown enterprise. Each is rejected by the ingest, never stored."""
    picked = good.iloc[rng.integers(0, len(good), count)].reset_index(drop=True).copy()
    kinds = np.arange(count) % 5
    picked.loc[kinds == 0, "quantity"] = -picked.loc[kinds == 0, "quantity"] - 1
    picked.loc[kinds == 1, "category"] = "ELECTRICTY"  # the typo providers make
    picked.loc[kinds == 2, "period"] = f"{date.today().year + 1}-01"
    picked.loc[kinds == 3, "unit"] = "barrel"
    picked.loc[kinds == 4, "uscc"] = make_uscc("330502", "YYYYYYYY0")
    picked["external_id"] = [f"BAD-{i}-{e}" for i, e in enumerate(picked["external_id"])]
    return picked


def _organisation(serial: int) -> str:
    return "".join(CHARSET[(serial * 7919 + 104729) // 31**i % 31] for i in range(9))[::-1]


_TRADE_NAMES = [
    "恒信",
    "华美",
    "永盛",
    "天成",
    "宏达",
    "金诚",
    "瑞丰",
    "鼎盛",
    "长盈",
    "锦华",
    "汇通",
    "新远",
    "凯达",
    "正泰",
    "同创",
    "佳源",
    "万隆",
    "中恒",
    "德润",
    "安泰",
]


def _trade_name(serial: int) -> str:
    base = _TRADE_NAMES[serial % len(_TRADE_NAMES)]
    return base if serial < len(_TRADE_NAMES) else f"{base}{serial // len(_TRADE_NAMES) + 1}"


def _months(first: str, last: str) -> list[str]:
    return [p.strftime("%Y-%m") for p in pd.period_range(first, last, freq="M")]


def _last_complete_month(today: date | None = None) -> str:
    today = today or date.today()
    return (pd.Period(today, freq="M") - 1).strftime("%Y-%m")
