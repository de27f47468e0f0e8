"""Cells that are safe to open in a spreadsheet, by OWASP's rule for CSV injection: text that a
spreadsheet would read as a formula (starting with =, +, -, @, a tab or a carriage return) is written
with a leading apostrophe. Numbers stay numbers: only text is ever changed."""

from __future__ import annotations

import re

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: object) -> object:
    """`value` as a cell no spreadsheet runs: numbers (and text that is just a number, like "-3") as
    they are, formula-like text quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells are safe cells (numeric columns are left as they are)."""
    out = frame.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]) and not pd.api.types.is_datetime64_any_dtype(
            out[column]
        ):
            out[column] = out[column].map(safe_cell)
    return out
