"""Direct counts from a store's own rows, written apart from the services they check: minute by
minute, row by row."""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import create_engine, text


def store_slots(url: object, first_day: int, last_day: int) -> pd.DataFrame:
    """The store's visits of days `first_day` to `last_day`, read with plain SQL: id, clinic,
    provider, start, end, booking time (epoch seconds), outcome and cancellation lead (hours)."""
    engine = create_engine(url)
    query = text(
        "SELECT appointment_id, clinic_id, booked_at, outcome, cancel_lead_hours, record "
        "FROM careops_appointments WHERE start_day BETWEEN :first AND :last AND record IS NOT NULL"
    )
    with engine.connect() as connection:
        rows = connection.execute(query, {"first": first_day, "last": last_day}).all()
    engine.dispose()
    out = []
    for appointment_id, clinic, booked, outcome, lead, record in rows:
        fields = json.loads(record)
        starts = pd.Timestamp(fields["starts_at"])
        out.append(
            {
                "appointment_id": appointment_id,
                "clinic_id": clinic,
                "provider_id": fields["provider_id"],
                "starts_at": starts,
                "ends_at": starts + pd.Timedelta(minutes=fields["duration_minutes"]),
                "booked_at": booked,
                "outcome": outcome,
                "cancel_lead_hours": lead,
            }
        )
    return pd.DataFrame(out)


def direct_refills(slots: pd.DataFrame) -> dict[str, int]:
    """Refilled minutes of each freed visit, minute by minute."""
    minutes = {
        row.appointment_id: set(pd.date_range(row.starts_at, row.ends_at, freq="min", inclusive="left"))
        for row in slots.itertuples()
    }
    out = {}
    for freed in slots[slots["outcome"].isin(["cancelled", "no_show"])].itertuples():
        free_from = freed.booked_at
        if freed.outcome == "cancelled" and freed.cancel_lead_hours == freed.cancel_lead_hours:
            moment = freed.starts_at - pd.Timedelta(hours=freed.cancel_lead_hours)
            free_from = (moment - pd.Timestamp("1970-01-01")).total_seconds()
        same = slots[(slots["provider_id"] == freed.provider_id) & (slots["clinic_id"] == freed.clinic_id)]
        used: set = set()
        for other in same.itertuples():
            if other.outcome == "attended" and other.booked_at >= free_from:
                used |= minutes[other.appointment_id]
        out[freed.appointment_id] = len(minutes[freed.appointment_id] & used)
    return out
