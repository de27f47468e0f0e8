"""The appointment store: bookings and their outcomes, in any SQLAlchemy database.

Training seeds it; the API adds the bookings it scores and the outcomes it is told. Patient
history and clinic load are read from it at scoring time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import (
    Engine,
    func,
    or_,
    select,
    update,
)

from data.epoch import as_seconds, day_number
from data.no_show_definition import SECONDS_PER_HOUR, hours_before_start
from data.schemas import Appointment, wall_clock
from data.stores.appointment_statements import AppointmentStatements
from data.stores.appointment_tables import (
    KNOWN,
    appointments,
    clinic_days,
    late_cancellation,
    metadata,
    recount_clinic_days,
)
from data.stores.bookings import BOOKING, OUTCOME, booking_row, booking_rows
from data.stores.daily_counts import IN_CHUNK
from data.stores.engine import create_tables, once, store_engine, with_retries, write_transaction
from data.stores.prepared import reading, writing
from data.stores.records import record_json
from data.stores.slots import fill_visit_times
from data.stores.upsert import upsert
from data.visits import PatientRows, StoredHistory, assumed_booking

INPUTS = frozenset(name for name in Appointment.model_fields if name not in OUTCOME)


def _starts_at(record: str | None) -> datetime | None:
    """The visit's start from its stored record (None without one)."""
    if not record:
        return None
    return datetime.fromisoformat(json.loads(record)["starts_at"])


class _MovesAnOutcome(Exception):
    """A booking would move a recorded outcome to another clinic or day."""


@dataclass
class OutcomeResult:
    """What recording a batch of outcomes did."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def _records(frame: pd.DataFrame) -> list[dict]:
    cleaned = frame.drop(columns=[c for c in OUTCOME if c in frame.columns])
    return cleaned.astype(object).where(cleaned.notna(), None).to_dict("records")


@dataclass(frozen=True)
class StoredBooking:
    """One stored appointment: its canonical record (fields it lacks are absent) and its outcome."""

    record: dict
    outcome: str | None


class AppointmentStore:
    """Bookings and outcomes; creating one creates its table if missing."""

    def __init__(self, url: str | Engine) -> None:
        self.engine: Engine = store_engine(url)
        create_tables(self.engine, metadata)
        self._statements = AppointmentStatements(self.engine)
        once(self.engine, "appointments: visit times", lambda: fill_visit_times(self.engine))
        c = appointments.c
        with self.engine.connect() as connection:
            known = connection.execute(select(c.appointment_id).where(c.outcome.in_(KNOWN)).limit(1)).first()
            counted = connection.execute(select(clinic_days.c.day).limit(1)).first()
        if known is not None and counted is None:  # a store from before the daily counts: build them once
            with_retries(self._recount_all)

    def _recount_all(self) -> None:
        c = appointments.c
        with write_transaction(self.engine) as connection:
            keys = connection.execute(select(c.clinic_id, c.start_day).where(c.outcome.in_(KNOWN)).distinct())
            recount_clinic_days(connection, [tuple(k) for k in keys])

    def _upsert(self, rows: Sequence[dict], columns: Iterable[str]) -> None:
        ids = [row["appointment_id"] for row in rows]
        c = appointments.c

        def write() -> None:
            with write_transaction(self.engine) as connection:
                # Appointments whose known outcome may move to another clinic or day.
                before: dict[str, tuple[str, int]] = {}
                for start in range(0, len(ids), IN_CHUNK):
                    query = select(c.appointment_id, c.clinic_id, c.start_day).where(
                        c.appointment_id.in_(ids[start : start + IN_CHUNK]), c.outcome.in_(KNOWN)
                    )
                    before |= {a: (clinic, day) for a, clinic, day in connection.execute(query)}
                upsert(connection, appointments, rows, ["appointment_id"], columns)
                # Counts change where an outcome is written, and where a known one moves.
                touched: set[tuple[str, int]] = set()
                for row in rows:
                    place, old = (row["clinic_id"], row["start_day"]), before.get(row["appointment_id"])
                    if "outcome" in row or (old is not None and old != place):
                        touched.add(place)
                        if old is not None:
                            touched.add(old)
                if touched:
                    recount_clinic_days(connection, touched)

        with_retries(write)

    def upsert_bookings(self, rows: Sequence[dict]) -> None:
        """Add or update bookings; outcomes already recorded are kept."""
        try:
            with_retries(lambda: self._book_in_place(rows))
        except _MovesAnOutcome:  # rare: the daily counts of two places must be counted again
            self._upsert(rows, BOOKING)

    def _book_in_place(self, rows: Sequence[dict]) -> None:
        """The request path's write: bookings that leave every recorded outcome where it was. New
        and changed bookings take one statement (on PostgreSQL, one round trip, committed by
        itself); bookings it left are looked up, and if one would move a recorded outcome, the
        whole batch is written again with the daily counts recounted."""
        statements = self._statements
        latest = {row["appointment_id"]: row for row in rows}  # a batch may book one id twice: the last wins
        ordered = [latest[key] for key in sorted(latest)]  # in key order: concurrent writers cannot deadlock
        with writing(self.engine, autocommit=True) as cursor:
            written, known = statements.book(cursor, ordered)
        for key, clinic, day in known:
            if key not in written and (clinic, day) != (latest[key]["clinic_id"], latest[key]["start_day"]):
                raise _MovesAnOutcome

    def seed(self, frame: pd.DataFrame, horizon_days: int = 1) -> int:
        """Store a canonical appointments table with its known outcomes; returns rows written."""
        starts = as_seconds(frame["starts_at"].to_numpy())
        booked = assumed_booking(as_seconds(frame["booked_at"].to_numpy()), day_number(starts), horizon_days)
        now = datetime.now()
        records = record_json(frame, sorted(INPUTS))
        cancelled = (
            hours_before_start(frame["starts_at"], frame["cancelled_at"])
            if "cancelled_at" in frame.columns
            else np.full(len(frame), np.nan)
        )
        rows = []
        for i, (appointment_id, patient_id, clinic_id, no_show, provider_id, minutes) in enumerate(
            zip(
                frame["appointment_id"],
                frame["patient_id"],
                frame["clinic_id"],
                frame["no_show"],
                frame["provider_id"],
                frame["duration_minutes"],
                strict=True,
            )
        ):
            row = booking_row(
                appointment_id, patient_id, clinic_id, starts[i], booked[i], records[i], provider_id, minutes
            )
            known = no_show == no_show and no_show is not None
            row["outcome"] = ("no_show" if no_show else "attended") if known else None
            row["cancel_lead_hours"] = None
            if not np.isnan(cancelled[i]):
                row["outcome"], row["cancel_lead_hours"] = "cancelled", float(cancelled[i])
            row["outcome_recorded_at"] = now if row["outcome"] else None
            rows.append(row)
        self._upsert(rows, (*BOOKING, "outcome", "outcome_recorded_at", "cancel_lead_hours"))
        return len(rows)

    def book_table(self, frame: pd.DataFrame, horizon_days: int = 1) -> int:
        """Book a validated canonical table (no outcomes are written); returns the bookings made."""
        records = [Appointment.model_validate(r) for r in _records(frame)]
        if records:
            self.upsert_bookings(booking_rows(records, horizon_days))
        return len(records)

    def labelled_records(self) -> pd.DataFrame:
        """Every stored appointment with a known outcome and its record, as a canonical table with
        its `no_show` label, and the cancelled ones with their `cancelled_at` (and no `no_show`):
        training applies the practice's definition to them. Bookings without a record, and
        cancellations of unknown time, are left out."""
        c = appointments.c
        cancelled_in_time = (c.outcome == "cancelled") & c.cancel_lead_hours.is_not(None)
        query = select(c.record, c.outcome, c.cancel_lead_hours).where(
            c.outcome.in_(KNOWN) | cancelled_in_time, c.record.is_not(None)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        if not rows:
            return pd.DataFrame(columns=[*sorted(INPUTS), *sorted(OUTCOME)])
        frame = pd.DataFrame([json.loads(record) for record, _, _ in rows])
        frame["no_show"] = [{"no_show": True, "attended": False}.get(outcome) for _, outcome, _ in rows]
        before = pd.to_timedelta([np.nan if h is None else h for _, _, h in rows], unit="h")
        frame["cancelled_at"] = pd.to_datetime(frame["starts_at"]) - before
        return frame

    def bookings_of(self, appointment_ids: Iterable[str]) -> dict[str, StoredBooking]:
        """The stored record and outcome of each of these appointments that the store holds."""
        c = appointments.c
        ids = sorted(set(appointment_ids))
        found: dict[str, StoredBooking] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(ids), IN_CHUNK):
                query = select(c.appointment_id, c.record, c.outcome).where(
                    c.appointment_id.in_(ids[start : start + IN_CHUNK])
                )
                for appointment_id, record, outcome in connection.execute(query):
                    found[appointment_id] = StoredBooking(json.loads(record) if record else {}, outcome)
        return found

    def clinic_day(
        self, clinic_id: str, day: int, limit: int | None = None, offset: int = 0
    ) -> dict[str, StoredBooking]:
        """The appointments stored for the clinic on the day (cancelled ones too), by id, in id order:
        all of them, or `limit` from `offset` on."""
        c = appointments.c
        query = select(c.appointment_id, c.record, c.outcome).where(
            c.clinic_id == clinic_id, c.start_day == day, c.record.is_not(None)
        )
        query = query.order_by(c.appointment_id).offset(offset).limit(limit)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return {a: StoredBooking(json.loads(record), outcome) for a, record, outcome in rows}

    def clinic_day_ids(self, clinic_id: str, day: int) -> set[str]:
        """The ids of the appointments the clinic's day holds."""
        c = appointments.c
        query = select(c.appointment_id).where(c.clinic_id == clinic_id, c.start_day == day)
        with self.engine.connect() as connection:
            return set(connection.execute(query).scalars())

    def next_day_with_visits(self, clinic_id: str, from_day: int) -> int | None:
        """The first day on or after `from_day` with a visit booked at the clinic."""
        c = appointments.c
        query = select(func.min(c.start_day)).where(c.clinic_id == clinic_id, c.start_day >= from_day)
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()

    def clinics(self) -> list[str]:
        """The clinics the store holds appointments for."""
        c = appointments.c
        with self.engine.connect() as connection:
            return list(connection.execute(select(c.clinic_id).distinct().order_by(c.clinic_id)).scalars())

    def appointment_on(self, patient_id: str, day: int, clinic_id: str | None = None) -> str | None:
        """The patient's appointment on that day (at that clinic, when given) that is not cancelled,
        if there is exactly one; an arrival that names no appointment is matched this way."""
        c = appointments.c
        query = select(c.appointment_id).where(
            c.patient_id == patient_id,
            c.start_day == day,
            or_(c.outcome.is_(None), c.outcome != "cancelled"),
        )
        if clinic_id is not None:
            query = query.where(c.clinic_id == clinic_id)
        with self.engine.connect() as connection:
            found = connection.execute(query.limit(2)).scalars().all()
        return found[0] if len(found) == 1 else None

    def known_outcomes(self, late_cancel_hours: float = 0) -> list[tuple[str, int]]:
        """(appointment id, 1 no-show or 0 attended) of every appointment whose outcome is known,
        late cancellations counted as no-shows under the practice's definition."""
        c = appointments.c
        query = select(c.appointment_id, c.outcome).where(
            c.outcome.in_(KNOWN) | late_cancellation(late_cancel_hours)
        )
        with self.engine.connect() as connection:
            return [(a, int(outcome != "attended")) for a, outcome in connection.execute(query)]

    def record_outcomes(
        self, outcomes: dict[str, str], cancelled_at: dict[str, datetime] | None = None
    ) -> OutcomeResult:
        """Record outcomes for known appointments, all or nothing: any unknown id changes nothing.

        A cancellation is kept with how long before the start it was made: at `cancelled_at[id]`
        when given (the clinic's wall-clock time, as the visit's start), else now."""
        return with_retries(lambda: self._record_outcomes(outcomes, cancelled_at or {}))

    def _record_outcomes(self, outcomes: dict[str, str], cancelled_at: dict[str, datetime]) -> OutcomeResult:
        result = OutcomeResult()
        c = appointments.c
        with write_transaction(self.engine) as connection:
            rows = connection.execute(
                select(c.appointment_id, c.outcome, c.clinic_id, c.start_day, c.record).where(
                    c.appointment_id.in_(list(outcomes))
                )
            ).all()
            stored = {row[0]: row[1] for row in rows}
            place = {row[0]: (row[2], row[3]) for row in rows}
            starts = {row[0]: _starts_at(row[4]) for row in rows}
            result.unknown = [a for a in outcomes if a not in stored]
            if result.unknown:
                return result
            now = datetime.now()
            for appointment_id, outcome in sorted(outcomes.items()):
                if stored[appointment_id] == outcome:
                    result.unchanged.append(appointment_id)
                    continue
                lead = None
                start = starts[appointment_id]
                if outcome == "cancelled" and start is not None:
                    when = wall_clock(cancelled_at.get(appointment_id, now))
                    lead = (start - when).total_seconds() / SECONDS_PER_HOUR
                connection.execute(
                    update(appointments)
                    .where(c.appointment_id == appointment_id)
                    .values(outcome=outcome, outcome_recorded_at=now, cancel_lead_hours=lead)
                )
                result.changed.append(appointment_id)
            recount_clinic_days(connection, [place[a] for a in result.changed])
        return result

    def history(
        self,
        patient_ids: Iterable[str],
        clinic_days: Iterable[tuple[str, int]] = (),
        clinic_outcomes: Iterable[tuple[str, int]] = (),
    ) -> StoredHistory:
        """One snapshot of: each patient's appointments that were not cancelled; the booking times of
        each (clinic, day)'s appointments that were not cancelled; and each clinic's (no-shows,
        visits with a known outcome) on days up to the day given. Each is an indexed point look-up."""
        statements = self._statements
        days, places = sorted(set(clinic_days)), sorted(set(clinic_outcomes))
        calls = statements.patients.calls(sorted(set(patient_ids)))
        first_day = len(calls)
        calls += [(statements.clinic_day, {"clinic_id": clinic, "day": day}) for clinic, day in days]
        calls += [(statements.clinic_outcomes, {"clinic_id": clinic, "day": day}) for clinic, day in places]
        with reading(self.engine) as cursor:
            found = cursor.batch(calls)
        by_patient: dict[str, list[tuple]] = {}
        for rows in found[:first_day]:
            for patient_id, *row in rows:
                by_patient.setdefault(patient_id, []).append(row)
        answers = iter(found[first_day:])
        bookings = {place: np.asarray([b for (b,) in next(answers)], dtype=np.float64) for place in days}
        outcomes = {}
        for place in places:
            rows = next(answers)
            no_shows, visits = rows[0] if rows else (0, 0)
            outcomes[place] = (float(no_shows or 0), float(visits or 0))
        patients = {p: PatientRows.found(rows) for p, rows in by_patient.items()}
        return StoredHistory(patients, bookings, outcomes)
