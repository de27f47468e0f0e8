"""Appointment features for no-show risk: lead time, calendar, patient, visit and history."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from data.epoch import SECONDS_PER_DAY, as_seconds
from features.columns import Columns, as_float, hour_of_day, weekday
from features.history import HISTORY_FEATURES
from features.transformer import CanonicalFeatures

OPTIONAL_ATTRIBUTES = ("welfare_enrolled", "hypertension", "diabetes", "alcoholism", "handicap_count")


class AppointmentFeatures(CanonicalFeatures):
    """Canonical appointments (with their point-in-time history columns) to model inputs."""

    record_columns: ClassVar[tuple[str, ...]] = (
        "clinic_id",
        "booked_at",
        "starts_at",
        "duration_minutes",
        "appointment_type",
        "patient_age",
        "patient_sex",
        "payer_type",
        "reminder_sent",
        *OPTIONAL_ATTRIBUTES,
    )
    input_columns: ClassVar[tuple[str, ...]] = (*record_columns, *HISTORY_FEATURES)
    # The clinic enters as its point-in-time no-show rate and load (history), not as a category:
    # with many small clinics a category overfits. It is still watched for unseen values.
    categorical: ClassVar[tuple[str, ...]] = ("appointment_type", "patient_sex", "payer_type")
    watched: ClassVar[tuple[str, ...]] = ("clinic_id", *categorical)
    numeric: ClassVar[tuple[str, ...]] = (
        "lead_time_days",
        "start_weekday",
        "start_hour",
        "booked_weekday",
        "booked_hour",
        "duration_minutes",
        "patient_age",
        "reminder_sent",
        *OPTIONAL_ATTRIBUTES,
        *HISTORY_FEATURES,
    )

    def numeric_features(self, columns: Columns) -> dict[str, np.ndarray]:
        """Lead time, weekday and hour of the start, visit and patient attributes, then history."""
        booked = as_seconds(columns["booked_at"])
        starts = as_seconds(columns["starts_at"])
        named = {
            "lead_time_days": (starts - booked) / SECONDS_PER_DAY,
            "start_weekday": weekday(starts),
            "start_hour": hour_of_day(starts),
            "booked_weekday": weekday(booked),
            "booked_hour": hour_of_day(booked),
        }
        named |= {
            name: as_float(columns[name])
            for name in (
                "duration_minutes",
                "patient_age",
                "reminder_sent",
                *OPTIONAL_ATTRIBUTES,
                *HISTORY_FEATURES,
            )
        }
        return named
