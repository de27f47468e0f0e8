"""A realistic "tomorrow" for a fresh install: the latest day of a schedule, moved to a new date.

The same patients, clinics, providers, times and lead times as the file's most recent business
day, with new ids and no outcomes, so that the scheduler's day view has a full, plausible day to
show on first run, with the patients' history behind it.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

LABEL_COLUMNS = ("no_show", "true_no_show_probability")


def tomorrow_schedule(table: pd.DataFrame, day: date) -> pd.DataFrame:
    """The table's latest day of appointments, moved to `day`, unlabelled, with ids prefixed 'T'."""
    if table.empty:
        raise ValueError("the table holds no appointments")
    starts = pd.to_datetime(table["starts_at"])
    latest = starts.dt.normalize().max()
    out = table[starts.dt.normalize() == latest].copy()
    delta = pd.Timestamp(day) - latest
    out["starts_at"] = pd.to_datetime(out["starts_at"]) + delta
    out["booked_at"] = pd.to_datetime(out["booked_at"]) + delta
    out["appointment_id"] = "T" + out["appointment_id"].astype(str)
    return out.drop(columns=[c for c in LABEL_COLUMNS if c in out.columns]).reset_index(drop=True)
