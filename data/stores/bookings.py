"""The store rows that book appointments: the request path's write, built once per booking."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from pydantic import TypeAdapter

from data.epoch import SECONDS_PER_DAY, as_seconds, day_number
from data.schemas import Appointment
from data.visits import assumed_booking

OUTCOME = frozenset({"no_show", "cancelled_at"})
# The columns a booking writes (an outcome is written apart).
BOOKING = (
    "patient_id",
    "clinic_id",
    "start_day",
    "booked_at",
    "record",
    "provider_id",
    "starts",
    "duration_minutes",
)


def booking_row(
    appointment_id: str,
    patient_id: str,
    clinic_id: str,
    starts: float,
    booked: float,
    record: str | None = None,
    provider_id: str | None = None,
    duration_minutes: int | None = None,
) -> dict:
    """A store row from epoch seconds of the start and of the booking, the record's JSON, and the
    provider and length of the visit (the time it takes, for the practice's numbers)."""
    return {
        "appointment_id": appointment_id,
        "patient_id": patient_id,
        "clinic_id": clinic_id,
        "start_day": math.floor(starts / SECONDS_PER_DAY),  # day_number's rule, for one number
        "booked_at": float(booked),
        "record": record,
        "provider_id": provider_id,
        "starts": float(starts),
        "duration_minutes": None if duration_minutes is None else int(duration_minutes),
    }


@functools.cache
def _stored_record() -> TypeAdapter[Appointment]:
    """Writes an appointment (or a subclass, such as a session's) as the Appointment fields alone:
    half what `model_dump_json(include=...)` costs."""
    return TypeAdapter(Appointment)


def booking_rows(records: Sequence[Appointment], horizon_days: int = 1) -> list[dict]:
    """The store rows that book these appointments (an unknown booking time is stored as history
    reads it: just before the prediction time of a model with this horizon)."""
    starts = as_seconds([a.starts_at for a in records])
    booked = assumed_booking(as_seconds([a.booked_at for a in records]), day_number(starts), horizon_days)
    stored = _stored_record()
    return [
        booking_row(
            a.appointment_id,
            a.patient_id,
            a.clinic_id,
            starts[i],
            booked[i],
            stored.dump_json(a, exclude=OUTCOME).decode(),
            a.provider_id,
            a.duration_minutes,
        )
        for i, a in enumerate(records)
    ]
