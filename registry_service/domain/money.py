"""Money at the registry's edges: integer fen (1 万元 = 1,000,000 fen), never a float.

The accounting pipeline sums economic records in the catalog's canonical unit, 万元 (a measured
quantity like kWh); what the registry stores and serves of those sums (a profile's added value and
revenue) and what firms report directly (annual financials, a commitment's capex) is integer fen.
Conversion goes through the value's shortest decimal text, so 1234.5678 万元 is exactly
1,234,567,800 fen; a half fen rounds away from zero (half-up on the magnitude), as revision 0013 did
to stored values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

FEN_PER_10K_YUAN = 1_000_000  # 1 万元 = 10,000 yuan = 1,000,000 fen


def wan_to_fen(value: float | int | None) -> int | None:
    """万元 -> integer fen, half away from zero; None (or NaN/inf: not a number) -> None."""
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    exact = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(value)
    return int((exact * FEN_PER_10K_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fen_to_wan(fen: int | None) -> float | None:
    """Integer fen -> 万元 as a float, for ratios only (intensity = tCO2 / 万元 of added value)."""
    return None if fen is None else fen / FEN_PER_10K_YUAN


# Below this magnitude (fen) a float's product with 1e6 is within 0.25 fen of the exact decimal
# product of its shortest text (the ulp there is at most 0.125): far enough from a half fen, the
# float's nearest integer is wan_to_fen's answer.
_SAFE_FEN = float(2**50)


def wan_to_fen_many(values: Sequence[float | None]) -> list[int | None]:
    """wan_to_fen of each value (the same integers): rounded in numpy where the product is clearly not
    near a half fen, through the exact decimal path elsewhere (a recompute converts 100,000s)."""
    if not values:
        return []
    floats = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = floats * FEN_PER_10K_YUAN
        nearest = np.round(scaled)
        clear = np.isfinite(scaled) & (np.abs(scaled) < _SAFE_FEN) & (np.abs(scaled - nearest) < 0.4)
    if clear.all():
        return list(nearest.astype(np.int64).tolist())
    whole = np.where(clear, nearest, 0).astype(np.int64).tolist()
    return [w if c else wan_to_fen(v) for w, c, v in zip(whole, clear.tolist(), values, strict=True)]
