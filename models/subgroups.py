"""The groups that fairness and monitoring reports slice by: age bands and yes/no flags."""

from __future__ import annotations

import bisect
from typing import Any

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
        index = bisect.bisect_right(AGE_BANDS, age) - 1  # one number: numpy's call costs 10x more
        return AGE_BAND_LABELS[index] if 0 <= index < len(AGE_BAND_LABELS) else None
    value = getattr(record, name, None)
    if value is None or value != value:
        return None
    if isinstance(value, bool | float):
        return "yes" if value else "no"
    return str(value)


def frame_groups(frame: pd.DataFrame, names: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """Each row's group under each attribute in `names`, as text (None where unknown)."""
    out = pd.DataFrame(index=frame.index)
    for name in names:
        if name == "age_band":
            out[name] = age_band(frame["patient_age"]) if "patient_age" in frame else None
        elif name not in frame:
            out[name] = None
        elif frame[name].dtype.kind in "bf":
            out[name] = frame[name].map(lambda v: None if v != v or v is None else ("yes" if v else "no"))
        else:
            out[name] = frame[name].astype("string")
    return out.astype(object).where(out.notna(), None)
