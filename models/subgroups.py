"""The groups that fairness and monitoring reports slice by: age bands and yes/no flags."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

AGE_BANDS = (0, 18, 40, 65, 200)
AGE_BAND_LABELS = ("0-17", "18-39", "40-64", "65+")


def age_band(ages: pd.Series) -> pd.Series:
    """Age bands of a column of ages."""
    return pd.cut(ages, bins=AGE_BANDS, right=False, labels=AGE_BAND_LABELS).astype("string")


def record_group(record: Any, name: str) -> str | None:
    """A record's group under attribute `name` ("age_band" is derived from `patient_age`)."""
    if name == "age_band":
        age = getattr(record, "patient_age", None)
        if age is None or age != age:
            return None
        index = int(np.searchsorted(AGE_BANDS, age, side="right")) - 1
        return AGE_BAND_LABELS[index] if 0 <= index < len(AGE_BAND_LABELS) else None
    value = getattr(record, name, None)
    if value is None or value != value:
        return None
    if isinstance(value, bool | float):
        return "yes" if value else "no"
    return str(value)
