"""Overbookings a scheduler accepted from a plan: one extra booking for a clinic's provider at a time.

An accepted overbooking has no patient yet (the practice system books one); careops keeps it so
that the day's plan counts the slot as double-booked from then on.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, select
from sqlalchemy.engine import Engine

from data.stores.engine import create_tables, store_engine, with_retries, write_transaction
from data.stores.upsert import upsert

metadata = MetaData()
overbooks = Table(
    "careops_overbooks",
    metadata,
    Column("clinic_id", String(64), primary_key=True),
    Column("provider_id", String(64), primary_key=True),
    Column("starts_at", String(19), primary_key=True),  # ISO wall-clock time of the slot
    Column("count", Integer, nullable=False),
    Column("accepted_at", DateTime, nullable=False),
)


class OverbookStore:
    """Accepted overbookings; creating one creates its table if missing."""

    def __init__(self, url: str | Engine) -> None:
        self.engine = store_engine(url)
        create_tables(self.engine, metadata)

    def accept(
        self,
        clinic_id: str,
        provider_id: str,
        starts_at: datetime,
        count: int = 1,
        accepted_at: datetime | None = None,
    ) -> None:
        """Record `count` extra bookings accepted for the slot (replacing what was accepted there), at
        `accepted_at` (the clinic's wall-clock time; default now)."""
        slot = starts_at.isoformat(timespec="seconds")
        row = {"clinic_id": clinic_id, "provider_id": provider_id, "starts_at": slot}
        row |= {"count": count, "accepted_at": accepted_at or datetime.now()}

        def write() -> None:
            with write_transaction(self.engine) as connection:
                upsert(
                    connection,
                    overbooks,
                    [row],
                    ["clinic_id", "provider_id", "starts_at"],
                    ["count", "accepted_at"],
                )

        with_retries(write)

    def on_day(self, clinic_id: str, day: datetime) -> dict[tuple[str, datetime], int]:
        """Accepted extra bookings by (provider, slot start) for the clinic's day."""
        c = overbooks.c
        prefix = day.date().isoformat()
        query = select(c.provider_id, c.starts_at, c["count"]).where(
            c.clinic_id == clinic_id, c.starts_at.like(f"{prefix}%")
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return {(provider, datetime.fromisoformat(starts)): count for provider, starts, count in rows}

    def between(self, first: datetime, end: datetime, clinics: frozenset[str] | None = None) -> pd.DataFrame:
        """The accepted extra bookings (count above 0) of slots from `first` up to `end`, at `clinics`
        only when given: clinic_id, provider_id, starts_at, count, accepted_at."""
        c = overbooks.c
        query = select(c.clinic_id, c.provider_id, c.starts_at, c["count"], c.accepted_at).where(
            c.starts_at >= first.isoformat(timespec="seconds"),
            c.starts_at < end.isoformat(timespec="seconds"),
            c["count"] > 0,
        )
        if clinics is not None:
            query = query.where(c.clinic_id.in_(sorted(clinics)))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame(rows, columns=["clinic_id", "provider_id", "starts_at", "count", "accepted_at"])
        frame["starts_at"] = pd.to_datetime(frame["starts_at"])
        return frame
