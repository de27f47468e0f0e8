"""The time visits take: each visit of a span of days as its provider's interval, for the practice's
numbers (refilled time, sessions), read from plain columns rather than each record's JSON."""

from __future__ import annotations

import functools
import json

import pandas as pd
from sqlalchemy import Engine, bindparam, select, update

from data.epoch import as_seconds
from data.stores.appointment_tables import appointments
from data.stores.engine import with_retries, write_transaction
from data.stores.prepared import Prepared, reading

FILL_CHUNK = 5000


def fill_visit_times(engine: Engine) -> int:
    """Give the visits stored by a careops from before these columns their provider, start and
    length, from their records (once, when a store is opened); returns how many were filled."""
    c = appointments.c
    missing = select(c.appointment_id, c.record).where(c.provider_id.is_(None), c.record.is_not(None))
    with engine.connect() as connection:
        if connection.execute(missing.limit(1)).first() is None:
            return 0
    statement = (
        update(appointments)
        .where(c.appointment_id == bindparam("key"))
        .values(
            provider_id=bindparam("provider"),
            starts=bindparam("start"),
            duration_minutes=bindparam("minutes"),
        )
    )
    filled = 0
    while True:

        def write() -> int:
            with write_transaction(engine) as connection:
                # In key order: processes filling at once lock rows in the same order.
                rows = connection.execute(missing.order_by(c.appointment_id).limit(FILL_CHUNK)).all()
                records = [json.loads(record) for _, record in rows]
                starts = as_seconds(pd.to_datetime([r["starts_at"] for r in records]).to_numpy())
                values = [
                    {
                        "key": key,
                        # Every canonical record has both; "" and 0 would still end the fill.
                        "provider": r.get("provider_id") or "",
                        "start": float(s),
                        "minutes": int(r.get("duration_minutes") or 0),
                    }
                    for (key, _), r, s in zip(rows, records, starts, strict=True)
                ]
                if values:
                    connection.execute(statement, values)
                return len(values)

        done = with_retries(write)
        filled += done
        if done < FILL_CHUNK:
            return filled


@functools.cache
def _window(engine: Engine) -> Prepared:
    c = appointments.c
    columns = [c[name] for name in COLUMNS]
    days = c.start_day.between(bindparam("first"), bindparam("last"))
    return Prepared(engine, select(*columns).where(days, c.provider_id.is_not(None)))


COLUMNS = [
    "appointment_id",
    "clinic_id",
    "start_day",
    "booked_at",
    "outcome",
    "cancel_lead_hours",
    "provider_id",
    "starts",
    "duration_minutes",
]


def visit_slots(
    engine: Engine, first_day: int, last_day: int, clinics: frozenset[str] | None = None
) -> pd.DataFrame:
    """The visits of days `first_day` to `last_day` (at `clinics` only, when given) as the time they
    take: id, clinic, day, provider, start and end, booking time (epoch seconds), outcome and
    cancellation lead (hours). Read on a DBAPI cursor: a few weeks of a busy practice's visits in a
    tenth of the time rows through the ORM layer take."""
    with reading(engine) as cursor:
        rows = cursor.rows(_window(engine), first=first_day, last=last_day)
    frame = pd.DataFrame.from_records(rows, columns=COLUMNS)
    if clinics is not None:
        frame = frame[frame["clinic_id"].isin(clinics)].reset_index(drop=True)
    frame = frame.rename(columns={"start_day": "day"})
    frame["starts_at"] = pd.to_datetime(frame.pop("starts").astype("float64"), unit="s")
    frame["ends_at"] = frame["starts_at"] + pd.to_timedelta(
        frame.pop("duration_minutes").astype("float64"), unit="min"
    )
    return frame
