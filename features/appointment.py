"""Appointment features for no-show risk: lead time, calendar, patient and visit attributes."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from features.columns import SECONDS_PER_DAY, Columns, as_float, as_seconds, hour_of_day, weekday
from features.transformer import CanonicalFeatures


class AppointmentFeatures(CanonicalFeatures):
    """Canonical appointments to features known when the appointment is booked."""

    input_columns: ClassVar[tuple[str, ...]] = (
        "clinic_id",
        "booked_at",
        "starts_at",
        "duration_minutes",
        "appointment_type",
        "patient_age",
        "patient_sex",
        "payer_type",
        "reminder_sent",
    )
    categorical: ClassVar[tuple[str, ...]] = (
        "clinic_id",
        "appointment_type",
        "patient_sex",
        "payer_type",
    )
    numeric: ClassVar[tuple[str, ...]] = (
        "lead_time_days",
        "start_weekday",
        "start_hour",
        "duration_minutes",
        "patient_age",
        "reminder_sent",
    )

    def numeric_features(self, columns: Columns) -> list[np.ndarray]:
        """Lead time, weekday and hour of the start, duration, age and reminder."""
        booked = as_seconds(columns["booked_at"])
        starts = as_seconds(columns["starts_at"])
        return [
            (starts - booked) / SECONDS_PER_DAY,
            weekday(starts),
            hour_of_day(starts),
            as_float(columns["duration_minutes"]),
            as_float(columns["patient_age"]),
            as_float(columns["reminder_sent"]),
        ]
