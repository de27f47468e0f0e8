"""A realistic "tomorrow" for a fresh install: the latest day of a schedule, moved to a new date.

The same patients, clinics, providers, times and lead times as the file's most recent business
day, with new ids and no outcomes, so that the scheduler's day view has a full, plausible day to
show on first run, with the patients' history behind it.
"""

from __future__ import annotations

import json
from datetime import date

import pandas as pd

LABEL_COLUMNS = (
    "no_show",
    "cancelled_at",
    "true_no_show_probability",
    "true_cancel_probability",
    "true_cancel_mean_hours",
)


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


CLAIM_LABELS = ("denied", "denial_category", "adjudicated_at")


def claims_to_submit(table: pd.DataFrame, day: date, rows: int = 300) -> pd.DataFrame:
    """The table's latest `rows` claims (file form), unlabelled, with new ids, submitted on `day`.

    Their service dates keep their distance to submission; line labels are dropped too."""
    latest = table.sort_values("submitted_at", kind="stable").tail(rows).copy()
    delta = pd.Timestamp(day) - pd.to_datetime(latest["submitted_at"])
    for column in ("service_date", "submitted_at", "eligibility_verified_at"):
        if column in latest.columns:
            moved = pd.to_datetime(latest[column]) + delta
            latest[column] = moved.dt.strftime("%Y-%m-%d").where(moved.notna(), None)
    latest["claim_id"] = "S" + latest["claim_id"].astype(str)
    latest["service_lines"] = [
        json.dumps(
            [
                {k: v for k, v in line.items() if k not in ("denied", "denial_category")}
                for line in json.loads(s)
            ]
        )
        for s in latest["service_lines"]
    ]
    drop = [
        c
        for c in (*CLAIM_LABELS, *(c for c in latest.columns if c.startswith("true_")))
        if c in latest.columns
    ]
    return latest.drop(columns=drop).reset_index(drop=True)
