"""wan_to_fen_many: the numpy path gives wan_to_fen's integers, and falls back where it must."""

from __future__ import annotations

import math

import numpy as np

from registry_service.domain.money import wan_to_fen, wan_to_fen_many


def test_many_equals_one_by_one_on_random_and_edge_values() -> None:
    rng = np.random.default_rng(17)
    values: list[float | None] = [float(v) for v in rng.uniform(-1e6, 1e6, 20_000)]
    values += [float(v) for v in np.round(rng.uniform(0, 1e4, 5_000), 4)]  # 万元 to 4 decimals
    values += [0.0, -0.0, 1234.5678, 0.0000005, -0.0000005, 0.0000015, 2.5e-7, 1e9, 1.2e10, -3.3e12]
    values += [None, math.nan, math.inf, -math.inf]
    assert wan_to_fen_many(values) == [wan_to_fen(v) for v in values]


def test_half_fen_goes_through_the_exact_path() -> None:
    # 0.0000005 万元 is half a fen: rounded away from zero, as wan_to_fen does (not to even)
    assert wan_to_fen_many([0.0000005, -0.0000005, 0.0000025]) == [1, -1, 3]


def test_all_clear_and_empty() -> None:
    assert wan_to_fen_many([1.0, 2.25]) == [1_000_000, 2_250_000]
    assert wan_to_fen_many([]) == []
