"""Schedule events applied to the appointment store, the same store the API books into.

A booking event writes the booking and its canonical record; a change is laid over the stored
record, so that an S14 carrying only the new time keeps everything else. The booking time of a
change is the stored one: the message time of an S13 is when it was rescheduled. Cancellations,
no-shows and arrivals are outcomes. What a message lacks and the model needs gets a stated
default (`DEFAULTS`), which docs/integration.md lists.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from data.epoch import epoch_day
from data.feeds.siu import MessageError, ScheduleEvent
from data.schemas import Appointment
from data.stores.appointments import AppointmentStore
from data.stores.bookings import booking_rows
from services.access.audit import AuditTrail
from services.access.principal import Principal

# A practice system says nothing about reminders or, without IN1, the payer: the model sees an
# unknown payer (listed among the score's unseen inputs) and no reminder.
DEFAULTS: dict[str, Any] = {"payer_type": "unknown", "reminder_sent": False, "appointment_type": "unknown"}
OUTCOME_OF = {"cancel": "cancelled", "no_show": "no_show", "attend": "attended"}


BOOKINGS = ("booked", "updated")  # what `apply` returns when it wrote a booking


@dataclass
class FeedReport:
    """Counts by trigger and by what was done, and the reasons for what was not used."""

    messages: Counter = field(default_factory=Counter)
    applied: Counter = field(default_factory=Counter)
    ignored: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)

    def unusable(self, trigger: str, reason: str) -> None:
        """Count a message that could not be read into an event."""
        self.messages[trigger] += 1
        self.errors[reason] += 1

    def lines(self) -> list[str]:
        """The report as lines of text (triggers, counts and reasons: no identifiers)."""
        out = [f"messages: {sum(self.messages.values())} ({_counts(self.messages)})"]
        out.append(f"applied: {_counts(self.applied) or 'none'}")
        out += [f"ignored ({n}): {reason}" for reason, n in sorted(self.ignored.items())]
        out += [f"not used ({n}): {reason}" for reason, n in sorted(self.errors.items())]
        return out


def _counts(counter: Counter) -> str:
    return ", ".join(f"{key} {n}" for key, n in sorted(counter.items()))


def _field_names(error: ValidationError) -> str:
    names = sorted({".".join(str(p) for p in e["loc"]) or "record" for e in error.errors()})
    return ", ".join(names)


class ScheduleFeed:
    """Applies schedule events to an appointment store and keeps the report."""

    def __init__(
        self, store: AppointmentStore, audit: AuditTrail, who: Principal, horizon_days: int = 1
    ) -> None:
        """`who` is the feed the events come from (its source names the door: "hl7", "cli")."""
        self.store = store
        self.audit = audit
        self.who = who
        self.horizon_days = horizon_days
        self.report = FeedReport()

    def apply(self, event: ScheduleEvent, sender: Principal | None = None) -> str:
        """Apply one event from `sender` (the feed itself when not named); returns what was done
        ("booked", "ignored: ..."), raises MessageError."""
        self.report.messages[event.trigger] += 1
        try:
            done = self._apply(event)
        except MessageError as error:
            error.unread = False  # counted here
            self.report.errors[error.reason] += 1
            raise
        if done.startswith("ignored"):
            self.report.ignored[done.removeprefix("ignored: ")] += 1
        else:
            self.report.applied[done] += 1
            if event.appointment_id:
                who = sender or self.who
                self.audit.record(who, "change", "appointment", [event.appointment_id], change=done)
        return done

    def _apply(self, event: ScheduleEvent) -> str:
        if event.kind == "ignore":
            return f"ignored: {event.reason}"
        appointment_id = event.appointment_id or self._arrival_match(event)
        if appointment_id is None:
            return "ignored: an arrival that matches no single booked appointment of the patient that day"
        stored = self.store.bookings_of([appointment_id]).get(appointment_id)
        if event.kind in ("book", "update"):
            self._book(event, appointment_id, stored.record if stored else None)
            return "booked" if event.kind == "book" or stored is None else "updated"
        if stored is None:
            if event.kind == "cancel":
                return "ignored: a cancellation of an appointment never booked here"
            self._book(event, appointment_id, None)  # a no-show or arrival is still a visit to learn from
        outcome = OUTCOME_OF[event.kind]
        # A cancellation was made when the practice system recorded it (EVN-2, else MSH-7).
        when = {appointment_id: event.recorded_at} if event.recorded_at is not None else None
        self.store.record_outcomes({appointment_id: outcome}, when)
        return outcome

    def _arrival_match(self, event: ScheduleEvent) -> str | None:
        arrived: datetime | None = event.fields.get("arrived_at")
        patient = event.fields.get("patient_id")
        if arrived is None or patient is None:
            return None
        return self.store.appointment_on(patient, epoch_day(arrived), event.fields.get("clinic_id"))

    def _book(self, event: ScheduleEvent, appointment_id: str, stored: dict | None) -> None:
        fields = {k: v for k, v in event.fields.items() if k != "arrived_at"}
        # A stored booking keeps its booking time unless the message states one (ZCO-1); a new one
        # was booked when the practice system recorded the event (EVN-2, else MSH-7).
        record = {**DEFAULTS, **(stored or {}), **fields}
        if "booked_at" not in record and event.recorded_at is not None:
            record["booked_at"] = event.recorded_at
        booked, starts = record.get("booked_at"), record.get("starts_at")
        if isinstance(booked, datetime) and isinstance(starts, datetime) and booked > starts:
            record["booked_at"] = starts  # recorded after the start (a walk-in): booked as it began
        record["appointment_id"] = appointment_id
        try:
            appointment = Appointment.model_validate(record)
        except ValidationError as error:
            reason = f"{event.trigger} lacks or has invalid: {_field_names(error)}"
            raise MessageError(reason, control_id=event.control_id) from None
        self.store.upsert_bookings(booking_rows([appointment], self.horizon_days))
