"""Cells that are safe to open in a spreadsheet: a value that a spreadsheet would read as a formula
(starting with =, +, -, @, a tab or a carriage return) is written with a leading apostrophe."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """`value` as a cell no spreadsheet runs: numbers as they are, formula-like text quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
