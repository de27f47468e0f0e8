"""Column batches: the one representation features are computed from, offline and online."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from data.epoch import SECONDS_PER_DAY, is_missing

Columns = Mapping[str, np.ndarray]


def columns_from_frame(frame: pd.DataFrame, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Take the named columns of a canonical DataFrame as numpy arrays."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise KeyError(f"missing columns: {', '.join(missing)}")
    return {name: frame[name].to_numpy() for name in names}


def columns_from_records(records: Sequence[Any], names: Iterable[str]) -> dict[str, np.ndarray]:
    """Take the named attributes of canonical records (pydantic models) as object arrays."""
    columns: dict[str, np.ndarray] = {}
    for name in names:
        values = np.empty(len(records), dtype=object)
        values[:] = [getattr(record, name) for record in records]
        columns[name] = values
    return columns


def weekday(seconds: np.ndarray) -> np.ndarray:
    """Monday=0 .. Sunday=6 from epoch seconds (1970-01-01 was a Thursday)."""
    return (np.floor(seconds / SECONDS_PER_DAY) + 3) % 7


def hour_of_day(seconds: np.ndarray) -> np.ndarray:
    """Fractional hour of the day from epoch seconds."""
    return np.mod(seconds, SECONDS_PER_DAY) / 3600.0


def as_float(values: np.ndarray) -> np.ndarray:
    """Numbers or booleans (None for missing) as float64 with NaN for missing."""
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    return np.array([np.nan if is_missing(v) else v for v in array], dtype=np.float64)


def _distinct_text(values: np.ndarray, at_least: int = 1024) -> tuple[np.ndarray, list[str]] | None:
    """For a long column whose present values are all text: each row's index into the distinct
    values (missing rows point one past them), and those values; None otherwise.

    Hashing groups 1, 1.0 and True together although their text differs, so only text qualifies.
    """
    if len(values) < at_least:
        return None
    index, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    if not all(isinstance(u, str) for u in uniques):
        return None
    return np.where(index < 0, len(uniques), index), list(uniques)


class Vocabulary:
    """Maps the categories seen in training to integer codes; unseen ones map to NaN."""

    def __init__(self, values: Iterable[Any], min_count: int = 1) -> None:
        counts = pd.Series(list(values), dtype=object).dropna().astype(str).value_counts()
        kept = sorted(counts[counts >= min_count].index)
        self.codes: dict[str, int] = {value: code for code, value in enumerate(kept)}

    @classmethod
    def from_codes(cls, codes: dict[str, int]) -> Vocabulary:
        """A vocabulary restored from its saved codes."""
        vocabulary = cls([])
        vocabulary.codes = {str(value): int(code) for value, code in codes.items()}
        return vocabulary

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Integer codes as float64, NaN for missing or unseen values."""
        codes = self.codes
        distinct = _distinct_text(values)
        if distinct is not None:  # a large column of text: each distinct value looked up once
            index, uniques = distinct
            mapped = np.array([codes.get(u, np.nan) for u in uniques] + [np.nan], dtype=np.float64)
            return mapped[index]
        return np.fromiter(
            (np.nan if is_missing(v) else codes.get(str(v), np.nan) for v in values),
            dtype=np.float64,
            count=len(values),
        )

    def unseen(self, values: np.ndarray) -> np.ndarray:
        """True where a present value was not seen in training."""
        codes = self.codes
        distinct = _distinct_text(values)
        if distinct is not None:
            index, uniques = distinct
            return np.array([u not in codes for u in uniques] + [False], dtype=bool)[index]
        return np.fromiter(
            (not is_missing(v) and str(v) not in codes for v in values),
            dtype=bool,
            count=len(values),
        )
