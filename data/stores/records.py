"""Canonical records kept as JSON text in the stores, so that models can be trained on them again."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def record_json(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Each row's `columns` (those the frame has) as one JSON object: ISO times, null for missing."""
    present = [c for c in columns if c in frame.columns]
    if frame.empty:
        return []
    text = frame[present].to_json(orient="records", lines=True, date_format="iso", date_unit="s")
    return text.rstrip("\n").split("\n")
