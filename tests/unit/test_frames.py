"""frames.isin answers what Series.isin answers, on arrow-backed strings, objects and missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from registry_service.domain.frames import isin


def test_isin_equals_pandas_isin() -> None:
    values = pd.Series(["a", "b", None, "c", "a", "d"], dtype="str")
    for wanted in (["a", "c"], {"d"}, pd.Series(["b", "zz"]), [], ["a", "b", "c", "d"]):
        expected = values.isin(list(wanted)).to_numpy(dtype=bool)
        assert np.array_equal(isin(values, wanted), expected), wanted
    numbers = pd.Series([3, 1, 2, 3], dtype=object)
    assert isin(numbers, [3]).tolist() == [True, False, False, True]
    assert isin(pd.Series([], dtype="str"), ["a"]).tolist() == []
