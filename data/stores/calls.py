"""Reminder calls a scheduler made: when, about which visit, the visit's risk then, and what came of it;
and the call list: each visit the day page listed to call, when it was first listed, its risk
then, and whether it was held out (marked "do not call" at random, to measure what calling does).

Times are aware datetimes in and out, kept in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
)
from sqlalchemy.engine import Engine

from data.stores.appointment_tables import appointments
from data.stores.engine import create_tables, store_engine, with_retries, write_transaction
from data.stores.upsert import insert_new

metadata = MetaData()
calls = Table(
    "careops_calls",
    metadata,
    Column("call_id", Integer, primary_key=True, autoincrement=True),
    Column("appointment_id", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("called_at", DateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("risk", Float, nullable=False),  # P(no-show) of the visit when the call was made
    Index("careops_calls_patient", "patient_id", "called_at"),
    Index("careops_calls_appointment", "appointment_id"),
)
listed = Table(
    "careops_call_list",
    metadata,
    Column("appointment_id", String(64), primary_key=True),
    Column("patient_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("start_day", Integer, nullable=False),
    Column("listed_at", DateTime, nullable=False),
    Column("risk", Float, nullable=False),  # P(no-show) of the visit when first listed
    Column("held_out", Boolean, nullable=False),
    Index("careops_call_list_patient", "patient_id", "listed_at"),
    Index("careops_call_list_clinic_day", "clinic_id", "start_day"),
)
QUERY_CHUNK = 500  # ids per IN (...) list
# What came of a call in which the patient was reached (the others: voicemail, no answer, wrong number).
REACHED = ("confirmed", "cancelled", "rescheduled")


@dataclass(frozen=True)
class Listing:
    """A visit the call list listed: its patient, clinic, day number, when and at what risk it was
    first listed, and whether it was held out."""

    appointment_id: str
    patient_id: str
    clinic_id: str
    start_day: int
    listed_at: datetime
    risk: float
    held_out: bool


@dataclass(frozen=True)
class Call:
    """One reminder call."""

    appointment_id: str
    patient_id: str
    clinic_id: str
    called_at: datetime
    outcome: str
    risk: float
    call_id: int | None = None


class CallStore:
    """The calls; creating one creates its table if missing."""

    def __init__(self, url: str | Engine) -> None:
        self.engine = store_engine(url)
        create_tables(self.engine, metadata)

    def add(self, call: Call) -> Call:
        """Keep a call; returns it with its id."""
        row = {k: v for k, v in vars(call).items() if k != "call_id"}
        row["called_at"] = _utc(call.called_at)

        def write() -> int:
            with write_transaction(self.engine) as connection:
                return int(connection.execute(insert(calls).values(row)).inserted_primary_key[0])

        return Call(**(row | {"called_at": call.called_at.astimezone(UTC)}), call_id=with_retries(write))

    def called_since(self, patient_ids: Iterable[str], since: datetime) -> set[str]:
        """Of these patients, those with a call made at `since` or later."""
        ids, found = sorted(set(patient_ids)), set()
        with self.engine.connect() as connection:
            for start in range(0, len(ids), QUERY_CHUNK):
                query = select(calls.c.patient_id).where(
                    calls.c.patient_id.in_(ids[start : start + QUERY_CHUNK]), calls.c.called_at >= _utc(since)
                )
                found.update(connection.execute(query).scalars())
        return found

    def list_visits(self, listings: Iterable[Listing]) -> dict[str, bool]:
        """Keep the visits a call list listed, each once: a visit listed before keeps its first
        listing, arm included. Returns each visit's arm (held out or not) as stored."""
        rows = [vars(item) | {"listed_at": _utc(item.listed_at)} for item in listings]
        if not rows:
            return {}
        ids = [row["appointment_id"] for row in rows]
        with self.engine.connect() as connection:  # a list looked at again writes nothing
            query = select(listed.c.appointment_id, listed.c.held_out).where(listed.c.appointment_id.in_(ids))
            known = {a: bool(h) for a, h in connection.execute(query)}
        if len(known) == len(set(ids)):
            return known

        def write() -> dict[str, bool]:
            with write_transaction(self.engine) as connection:
                insert_new(connection, listed, rows, ["appointment_id"])
                query = select(listed.c.appointment_id, listed.c.held_out).where(
                    listed.c.appointment_id.in_(ids)
                )
                return {a: bool(h) for a, h in connection.execute(query)}

        return with_retries(write)

    def held_out_since(self, patient_ids: Iterable[str], since: datetime) -> set[str]:
        """Of these patients, those with a visit held out of a call list at `since` or later."""
        ids, found = sorted(set(patient_ids)), set()
        c = listed.c
        with self.engine.connect() as connection:
            for start in range(0, len(ids), QUERY_CHUNK):
                query = select(c.patient_id).where(
                    c.patient_id.in_(ids[start : start + QUERY_CHUNK]), c.listed_at >= _utc(since), c.held_out
                )
                found.update(connection.execute(query).scalars())
        return found

    def held_out_among(self, appointment_ids: Iterable[str]) -> set[str]:
        """Of these visits, those a call list held out."""
        ids, found = sorted(set(appointment_ids)), set()
        c = listed.c
        with self.engine.connect() as connection:
            for start in range(0, len(ids), QUERY_CHUNK):
                query = select(c.appointment_id).where(
                    c.appointment_id.in_(ids[start : start + QUERY_CHUNK]), c.held_out
                )
                found.update(connection.execute(query).scalars())
        return found

    def listings(self, first_day: int, clinics: frozenset[str] | None = None) -> pd.DataFrame:
        """Every visit listed to call from day number `first_day` on (at `clinics` only, when given),
        with its first listing's risk and arm, whether it was called and whether the patient was
        reached, and the visit's outcome and cancellation lead (hours) as they stand."""
        c, a, k = listed.c, appointments.c, calls.c
        query = (
            select(
                c.appointment_id,
                c.clinic_id,
                c.start_day,
                c.risk,
                c.held_out,
                a.outcome,
                a.cancel_lead_hours,
            )
            .join(appointments, a.appointment_id == c.appointment_id)
            .where(c.start_day >= first_day)
        )
        if clinics is not None:
            query = query.where(c.clinic_id.in_(sorted(clinics)))
        columns = [
            "appointment_id",
            "clinic_id",
            "start_day",
            "risk",
            "held_out",
            "outcome",
            "cancel_lead_hours",
        ]
        made = select(k.appointment_id, k.outcome).join(listed, listed.c.appointment_id == k.appointment_id)
        made = made.where(c.start_day >= first_day)
        with self.engine.connect() as connection:
            frame = pd.DataFrame(connection.execute(query).all(), columns=columns)
            made_calls = pd.DataFrame(connection.execute(made).all(), columns=["appointment_id", "outcome"])
        frame["held_out"] = frame["held_out"].astype(bool)
        frame["called"] = frame["appointment_id"].isin(made_calls["appointment_id"])
        reached = made_calls.loc[made_calls["outcome"].isin(REACHED), "appointment_id"]
        frame["reached"] = frame["appointment_id"].isin(reached)
        return frame

    def of_appointments(self, appointment_ids: Iterable[str]) -> list[Call]:
        """The calls about these visits, oldest first."""
        ids, found = sorted(set(appointment_ids)), []
        with self.engine.connect() as connection:
            for start in range(0, len(ids), QUERY_CHUNK):
                query = select(calls).where(calls.c.appointment_id.in_(ids[start : start + QUERY_CHUNK]))
                for row in connection.execute(query):
                    kept = dict(row._mapping)
                    found.append(Call(**(kept | {"called_at": kept["called_at"].replace(tzinfo=UTC)})))
        return sorted(found, key=lambda c: (c.called_at, c.call_id or 0))


def _utc(moment: datetime) -> datetime:
    """An aware time as the naive UTC time the column holds."""
    if moment.tzinfo is None:
        raise ValueError("call times must be aware")
    return moment.astimezone(UTC).replace(tzinfo=None)
