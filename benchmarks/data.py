"""Synthetic, deterministic data sets built set-based (numpy/pandas, no per-row Python where it counts).

Values follow registry_service.demo: Huzhou counties, the demo industries, monthly energy and added
value in canonical units (empty unit = the category's canonical unit), the providers' sources and
external ids of the form ``{source}-{uscc}-{category}-{period}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from registry_service.demo import COUNTIES, INDUSTRIES, SEASONALITY
from registry_service.domain.enterprise import AnnualFinancials, Enterprise
from registry_service.domain.records import RECORD_COLUMNS
from registry_service.domain.uscc import make_uscc

_COUNTIES = list(COUNTIES)
# category -> (source, typical monthly quantity in the canonical unit)
CATEGORIES = {
    "ELECTRICITY": ("GRID_UTILITY", 180_000.0),  # kWh
    "NATURAL_GAS": ("GAS_UTILITY", 15_000.0),  # m3
    "INDUSTRIAL_ADDED_VALUE": ("STATISTICS", 250.0),  # 10k CNY
    "REVENUE": ("TAX", 1_000.0),  # 10k CNY
}


def months(first_year: int, last_year: int) -> list[str]:
    return [f"{y:04d}-{m:02d}" for y in range(first_year, last_year + 1) for m in range(1, 13)]


def usccs(count: int, start: int = 0) -> list[str]:
    """Valid, distinct USCCs for serials start..start+count (county by serial)."""
    return [make_uscc(_COUNTIES[s % len(_COUNTIES)], f"B{s:08d}") for s in range(start, start + count)]


def enterprises(count: int, start: int = 0, *, financial_year: int | None = 2024) -> list[Enterprise]:
    out = []
    for serial, uscc in enumerate(usccs(count, start), start):
        industry = INDUSTRIES[serial % len(INDUSTRIES)]
        financials: tuple[AnnualFinancials, ...] = ()
        if financial_year is not None:
            av = (1000 + (serial * 7919) % 5000) * 1_000_000  # fen (1,000 .. 5,999 万元)
            financials = (AnnualFinancials(financial_year, av, av * 4, av * 3, av * 2),)
        out.append(
            Enterprise(
                uscc=uscc,
                display_name=f"湖州基准{serial:06d}{industry.suffix}有限公司",
                industry_code=industry.code,
                region_code=uscc[2:8],
                size_class="ABOVE_DESIGNATED_SIZE" if serial % 5 else "BELOW_DESIGNATED_SIZE",
                financials=financials,
            )
        )
    return out


def records_frame(
    ids: list[str], periods: list[str], categories: list[str], *, seed: int = 7, limit: int | None = None
) -> pd.DataFrame:
    """Every (enterprise, category, period) once, in that order, as a RECORD_COLUMNS frame."""
    rng = np.random.default_rng(seed)
    e, c, p = len(ids), len(categories), len(periods)
    n = e * c * p if limit is None else min(limit, e * c * p)
    flat = np.arange(n)
    ei, ci, pi = flat // (c * p), (flat // p) % c, flat % p
    uscc = np.asarray(ids, dtype=object)[ei]
    cat = np.asarray(categories, dtype=object)[ci]
    per = np.asarray(periods, dtype=object)[pi]
    source = np.asarray([CATEGORIES[k][0] for k in categories], dtype=object)[ci]
    typical = np.asarray([CATEGORIES[k][1] for k in categories])[ci]
    firm = rng.lognormal(0.0, 0.6, e)[ei]
    season = SEASONALITY[np.asarray([int(x[5:]) - 1 for x in periods])[pi]]
    quantity = np.round(typical * firm * season * rng.normal(1.0, 0.04, n), 3)
    external_id = pd.Series(source) + "-" + uscc + "-" + cat + "-" + per
    frame = pd.DataFrame(
        {
            "uscc": uscc,
            "period": per,
            "category": cat,
            "quantity": quantity,
            "unit": "",
            "source": source,
            "external_id": external_id.to_numpy(dtype=object),
        }
    )
    return frame[list(RECORD_COLUMNS)]


# Ingest over gRPC: 5 years x 4 categories = 240 records per enterprise.
INGEST_PERIODS = months(2020, 2024)
INGEST_CATEGORIES = list(CATEGORIES)


def ingest_enterprise_count(size: int) -> int:
    per = len(INGEST_PERIODS) * len(INGEST_CATEGORIES)
    return -(-size // per)


def ingest_frame(size: int) -> pd.DataFrame:
    ids = usccs(ingest_enterprise_count(size))
    return records_frame(ids, INGEST_PERIODS, INGEST_CATEGORIES, limit=size)


def ingest_requests(size: int, chunk: int) -> list[Any]:
    """IngestRecordsRequest messages of ``chunk`` records each (size records in total)."""
    from tanxiao.common.v1 import common_pb2
    from tanxiao.registry.v1 import registry_pb2

    frame = ingest_frame(size)
    sources = {name: common_pb2.DataSource.Value(name) for name in frame["source"].unique()}
    source = frame["source"].map(sources).to_numpy().tolist()
    columns = [frame[c].tolist() for c in ("uscc", "period", "category", "quantity", "unit", "external_id")]
    Record = registry_pb2.Record
    rows = [
        Record(uscc=u, period=p, category=c, quantity=q, unit=un, source=s, external_id=x)
        for u, p, c, q, un, x, s in zip(*columns, source, strict=True)
    ]
    return [
        registry_pb2.IngestRecordsRequest(records=rows[i : i + chunk]) for i in range(0, len(rows), chunk)
    ]


# ----------------------------------------------------------------------------------- loan frames


def loan_frame(n: int, *, seed: int = 11, categorical: bool = True) -> pd.DataFrame:
    """An evaluate_batch frame (FRAME_COLUMNS) of ``n`` plausible requests; 20 % with a commitment."""
    from loan_rules.model import LEVELS, PRODUCTS, STATUSES, TRENDS

    rng = np.random.default_rng(seed)

    def pick(values: list[str], p: list[float] | None = None) -> Any:
        codes = rng.choice(len(values), n, p=p)
        if categorical:
            return pd.Categorical.from_codes(codes, categories=values)
        return np.asarray(values, dtype=object)[codes]

    has_c = rng.random(n) < 0.2
    status_codes = rng.integers(0, len(STATUSES), n)
    status = np.where(has_c, np.asarray([s.value for s in STATUSES], dtype=object)[status_codes], None)
    flags = np.asarray(["", "", "", "STALE_DATA", "MOM_SPIKE", "SOURCE_DISAGREEMENT"], dtype=object)
    target = rng.uniform(100, 10_000, n)
    return pd.DataFrame(
        {
            "product": pick([p.value for p in PRODUCTS]),
            "grade": rng.integers(1, 6, n),
            "level": pick([x.value for x in LEVELS]),
            "trend_direction": pick([t.value for t in TRENDS]),
            "trend_confidence": rng.random(n),
            "data_quality_score": rng.uniform(1.0, 5.0, n),
            "carbon_efficiency": rng.lognormal(0.0, 0.4, n),
            "quality_flags": flags[rng.integers(0, len(flags), n)],
            "commitment_status": pd.Categorical(status) if categorical else status,
            "target_tco2_per_year": np.where(has_c, target, np.nan),
            "achieved_tco2_per_year": np.where(has_c, target * rng.random(n), np.nan),
            "capex_fen": pd.array(np.where(has_c, rng.integers(10**8, 5 * 10**9, n), 0), dtype="Int64"),
            "milestones_missed": np.where(has_c, rng.integers(0, 3, n), 0),
            "verification": np.where(has_c, np.where(rng.random(n) < 0.5, "PASSED", "PENDING"), None),
            "requested_amount_fen": np.round(rng.lognormal(np.log(5e6), 0.8, n), -3).astype(np.int64) * 100,
            "tenor_months": rng.choice([12, 24, 36, 60], n),
            "lpr_bp": np.full(n, 300.0),
        }
    )


def stored_usccs(url: str) -> list[str]:
    """The USCCs of the enterprises in the database at ``url`` (after a demo load)."""
    import sqlalchemy as sa

    from registry_service.storage.tables import enterprises as table
    from tanxiao.platform.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [str(u) for u in conn.execute(sa.select(table.c.uscc).order_by(table.c.uscc)).scalars()]
    finally:
        engine.dispose()


def portfolio_frame(n: int, *, seed: int = 5) -> pd.DataFrame:
    """A loan book of ``n`` loans joined with borrower profiles (portfolio_frames.FRAME_COLUMNS)."""
    rng = np.random.default_rng(seed)
    borrowers = max(n // 2, 1)
    who = rng.integers(0, borrowers, n)
    grade = rng.integers(0, 6, borrowers)[who]
    has = grade > 0
    scope1 = rng.lognormal(7, 1, borrowers)[who]
    counties = np.asarray(list(COUNTIES), dtype=object)
    industries = np.asarray([i.code for i in INDUSTRIES], dtype=object)
    return pd.DataFrame(
        {
            "loan": [f"lenders/l{i % 3}/loans/{i}" for i in range(n)],
            "lender": np.asarray(["lenders/l0", "lenders/l1", "lenders/l2"], dtype=object)[np.arange(n) % 3],
            "uscc": np.asarray(usccs(borrowers), dtype=object)[who],
            "enterprise_name": "demo",
            "product": np.asarray(["GENERAL", "LOW_CARBON_EXPANSION", "HIGH_CARBON_RETROFIT"], dtype=object)[
                rng.integers(0, 3, n)
            ],
            "outstanding_fen": (rng.uniform(1e6, 5e7, n).round() * 100).astype(np.int64),
            "has_profile": has,
            "grade": grade,
            "level": np.asarray(["", "LOW_CARBON", "MEDIUM_CARBON", "HIGH_CARBON"], dtype=object)[
                np.minimum(grade, 3)
            ],
            "industry_code": industries[rng.integers(0, len(industries), borrowers)][who],
            "region_code": counties[rng.integers(0, len(counties), borrowers)][who],
            "scope1_tco2": np.where(has, scope1, np.nan),
            "scope2_tco2": np.where(has, scope1 * 1.5, np.nan),
            "revenue_10k_cny": rng.uniform(1e3, 1e5, n),
            "total_equity_10k_cny": rng.uniform(-1e3, 5e4, n),
            "total_debt_10k_cny": rng.uniform(1e3, 5e4, n),
            "evic_10k_cny": np.nan,
            "listed": False,
            "pcaf_score": np.where(has, rng.integers(1, 4, n), 5),
            "commitment_status": "",
            "committed_tco2_per_year": np.nan,
            "achieved_tco2_per_year": np.nan,
            "profile": "",
        }
    )
