"""Temporal splits: the most recent rows are held out, never shuffled into training."""

from __future__ import annotations

import pandas as pd


def temporal_split(
    frame: pd.DataFrame, time_column: str, fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split at the time quantile `1 - fraction`: rows before it, and rows at or after it."""
    if frame.empty:
        raise ValueError("cannot split an empty table")
    cutoff = frame[time_column].quantile(1 - fraction)
    earlier = frame[frame[time_column] < cutoff]
    later = frame[frame[time_column] >= cutoff]
    if earlier.empty or later.empty:
        raise ValueError(f"'{time_column}' has too few distinct values to hold out {fraction:.0%} of rows")
    return earlier, later
