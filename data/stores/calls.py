"""Reminder calls a scheduler made: when, about which visit, the visit's risk then, and what came of it.

Times are aware datetimes in and out, kept in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Float, Index, Integer, MetaData, String, Table, insert, select
from sqlalchemy.engine import Engine

from data.stores.engine import create_tables, store_engine, with_retries, write_transaction

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
QUERY_CHUNK = 500  # ids per IN (...) list


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
