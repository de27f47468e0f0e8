"""Time as numbers: epoch seconds and day numbers, the one conversion every package uses."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SECONDS_PER_DAY = 86400.0
NANOSECONDS_PER_DAY = 86_400_000_000_000


def is_missing(value: Any) -> bool:
    """None, NaN or NaT: a value that is not there (pandas turns None into NaN in text columns)."""
    return value is None or value != value


def as_seconds(values: Any) -> np.ndarray:
    """Datetimes (numpy or Python objects; None for missing) as float epoch seconds, NaN if missing."""
    stamps = np.asarray(values)
    if stamps.dtype.kind != "M":
        stamps = np.array([None if is_missing(v) else v for v in stamps], dtype="datetime64[s]")
    stamps = stamps.astype("datetime64[s]")
    seconds = stamps.astype(np.int64).astype(np.float64)
    seconds[np.isnat(stamps)] = np.nan
    return seconds


def day_number(seconds: np.ndarray | float) -> np.ndarray:
    """Whole days since the epoch for epoch seconds."""
    return np.floor(np.asarray(seconds) / SECONDS_PER_DAY)


def as_days(values: Any) -> np.ndarray:
    """Datetimes as whole days since the epoch (NaN if missing)."""
    return day_number(as_seconds(values))


def epoch_day(value: Any) -> int | None:
    """One date or datetime as its day number, or None when missing."""
    if is_missing(value):
        return None
    return int(pd.Timestamp(value).value // NANOSECONDS_PER_DAY)
