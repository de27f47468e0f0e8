"""The appointment store's tables: bookings with their outcomes, and known outcomes per clinic and day."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    false,
    func,
    select,
)

from data.stores.daily_counts import recount_days

OUTCOMES = ("attended", "no_show", "cancelled")

metadata = MetaData()
appointments = Table(
    "careops_appointments",
    metadata,
    Column("appointment_id", String(64), primary_key=True),
    Column("patient_id", String(64), nullable=False, index=True),
    Column("clinic_id", String(64), nullable=False),
    Column("start_day", Integer, nullable=False),
    Column("booked_at", Float, nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("outcome_recorded_at", DateTime, nullable=True),
    # How many hours before the start a cancelled visit was cancelled (negative: after it began):
    # the practice's definition may count a late one as a no-show (data.no_show_definition).
    Column("cancel_lead_hours", Float, nullable=True),
    # The canonical record as JSON (its inputs, no label), so that a model can be trained again
    # on what the store has seen (`labelled_records`).
    Column("record", Text, nullable=True),
    # The time the visit takes, from its record: the practice's numbers read them without the JSON.
    Column("provider_id", String(64), nullable=True),
    Column("starts", Float, nullable=True),  # epoch seconds of the start (the clinic's wall clock)
    Column("duration_minutes", Integer, nullable=True),
    # Covers the clinic-day load's look-up: a hundred appointments' booking times and outcomes are
    # read from the index, not from a hundred table rows. (Stores made before it also keep
    # `ix_careops_appointments_clinic_day` on the first two columns; it does no harm.)
    Index("ix_careops_appointments_clinic_day_booked", "clinic_id", "start_day", "booked_at", "outcome"),
    # The numbers page's weeks across every clinic: a range of days, whatever the history's size.
    Index("ix_careops_appointments_day", "start_day"),
)
# Known outcomes per clinic and day, kept as outcomes are recorded: a clinic's rate "as of day D"
# is an indexed range sum over its days, whatever the history's size.
clinic_days = Table(
    "careops_clinic_days",
    metadata,
    Column("clinic_id", String(64), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("visits", Float, nullable=False),
    Column("no_shows", Float, nullable=False),
)
KNOWN = ("attended", "no_show")


def late_cancellation(hours: float) -> Any:
    """The SQL condition of a cancellation that counts as a no-show under the practice's definition
    (never, at 0 hours)."""
    c = appointments.c
    if hours <= 0:
        return false()
    return (c.outcome == "cancelled") & (c.cancel_lead_hours < hours)


def recount_clinic_days(connection: Connection, keys: Iterable[tuple[str, int]]) -> None:
    """Count the known outcomes of these (clinic, day) pairs again from the appointments themselves."""
    c = appointments.c
    counted = select(
        c.clinic_id, c.start_day, func.count(), func.sum(case((c.outcome == "no_show", 1.0), else_=0.0))
    ).where(c.outcome.in_(KNOWN))
    recount_days(connection, clinic_days, keys, counted, (c.clinic_id, c.start_day))


def last_known_day(connection: Connection) -> int | None:
    """The latest day with a known outcome, from the daily counts (a few rows a day, whatever the
    history's size)."""
    d = clinic_days.c
    return connection.execute(select(func.max(d.day)).where(d.visits > 0)).scalar()
