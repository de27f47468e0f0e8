"""The time visits take: each visit of a span of days as its provider's interval, for refill counts."""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import Engine, select

from data.stores.appointment_tables import appointments


def visit_slots(
    engine: Engine, first_day: int, last_day: int, clinics: frozenset[str] | None = None
) -> pd.DataFrame:
    """The visits of days `first_day` to `last_day` (at `clinics` only, when given) as the time they
    take: id, clinic, provider, start and end, booking time (epoch seconds), outcome and
    cancellation lead (hours)."""
    c = appointments.c
    query = select(
        c.appointment_id, c.clinic_id, c.booked_at, c.outcome, c.cancel_lead_hours, c.record
    ).where(c.start_day >= first_day, c.start_day <= last_day, c.record.is_not(None))
    if clinics is not None:
        query = query.where(c.clinic_id.in_(sorted(clinics)))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    names = ["appointment_id", "clinic_id", "booked_at", "outcome", "cancel_lead_hours"]
    frame = pd.DataFrame([row[:5] for row in rows], columns=names)
    records = [json.loads(row[5]) for row in rows]
    frame["provider_id"] = [r["provider_id"] for r in records]
    frame["starts_at"] = pd.to_datetime([r["starts_at"] for r in records])
    frame["ends_at"] = frame["starts_at"] + pd.to_timedelta(
        [r["duration_minutes"] for r in records], unit="min"
    )
    return frame
