"""Adapter for the public "Medical Appointment No Shows" CSV (Vitória, Brazil, 2016).

Quirks handled (docs/domain.md):
- `No-show` = "Yes" means the patient was absent.
- AppointmentDay has no time of day, so same-day bookings look booked after the visit. A visit
  is taken to start at midnight of its day, or at its booking time when it was booked that day
  (lead time 0). The booking keeps its full time.
- An age of -1 and bookings after the visit date stay in the table; the loader quarantines them.
- PatientId is kept as the exact text in the file (some are non-integer floats).
- Several appointments of one patient on one day are distinct appointments and are kept.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

KAGGLE_COLUMNS = (
    "PatientId",
    "AppointmentID",
    "Gender",
    "ScheduledDay",
    "AppointmentDay",
    "Age",
    "Neighbourhood",
    "Scholarship",
    "Hipertension",
    "Diabetes",
    "Alcoholism",
    "Handcap",
    "SMS_received",
    "No-show",
)
# Constants for what the public file does not record.
UNRECORDED_DURATION_MINUTES = 15
UNRECORDED_TYPE = "unspecified"
UNRECORDED_PROVIDER = "unspecified"
PUBLIC_PAYER = "public"  # every visit in the data is in Brazil's public system (SUS)


def _local(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce", utc=True).dt.tz_localize(None)


def _flag(values: pd.Series) -> pd.Series:
    return values.map({"1": True, "0": False, "Yes": True, "No": False})


def kaggle_to_canonical(raw: pd.DataFrame) -> pd.DataFrame:
    """Map the public file's columns onto the canonical Appointment columns (not yet validated)."""
    missing = [c for c in KAGGLE_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"not a kaggle-noshow file: missing columns {', '.join(missing)}")
    text = raw.astype("string")
    booked = _local(text["ScheduledDay"])
    day = _local(text["AppointmentDay"]).dt.normalize()
    same_day = booked.dt.normalize() == day
    return pd.DataFrame(
        {
            "appointment_id": text["AppointmentID"].str.strip(),
            "patient_id": text["PatientId"].str.strip(),
            "clinic_id": text["Neighbourhood"].str.strip(),
            "provider_id": UNRECORDED_PROVIDER,
            "booked_at": booked,
            "starts_at": day.where(~same_day, booked),
            "duration_minutes": UNRECORDED_DURATION_MINUTES,
            "appointment_type": UNRECORDED_TYPE,
            "patient_age": text["Age"].str.strip(),
            "patient_sex": text["Gender"].str.strip(),
            "payer_type": PUBLIC_PAYER,
            "reminder_sent": _flag(text["SMS_received"].str.strip()),
            "welfare_enrolled": _flag(text["Scholarship"].str.strip()),
            "hypertension": _flag(text["Hipertension"].str.strip()),
            "diabetes": _flag(text["Diabetes"].str.strip()),
            "alcoholism": _flag(text["Alcoholism"].str.strip()),
            "handicap_count": text["Handcap"].str.strip(),
            "no_show": _flag(text["No-show"].str.strip()),
        }
    )


def read_kaggle_noshow(path: str | Path) -> pd.DataFrame:
    """Read the public CSV (plain or gzipped) as canonical appointment columns."""
    return kaggle_to_canonical(pd.read_csv(path, dtype=str, keep_default_na=False))
