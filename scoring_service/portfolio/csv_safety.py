"""CSV formula-injection neutralisation (OWASP "CSV Injection").

A spreadsheet opening a CSV runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a leading tab or carriage return) as a formula: an enterprise named ``=HYPERLINK(...)`` would
become a link in a regulator's spreadsheet. Text cells that start so are prefixed with an apostrophe,
which spreadsheets show as text and never evaluate. Numbers are not text: a negative number stays a
number (only string values are touched).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is text a spreadsheet would evaluate; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text columns (object / string dtype) are neutralised cell by cell."""
    copy = frame.copy()
    for column in copy.columns:
        if copy[column].dtype == object or pd.api.types.is_string_dtype(copy[column].dtype):
            copy[column] = copy[column].map(neutralise, na_action="ignore")
    return copy
