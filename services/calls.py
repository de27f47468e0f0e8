"""Reminder calls, recorded: what came of each, the visit's risk when it was made, and whom not to
call again yet. A call reached in which the patient cancels also records the visit as cancelled.

The call list is recorded too: each visit it lists, at its first listing, with its risk then. With
a hold-out share, that share of the listed visits is marked "do not call" at random, so that the
numbers page can say what calling does (services/call_effect.py). The draw is a keyed hash of the
visit's id: the same visit always falls on the same side, and nobody without the key can tell
which side a visit will fall on before it is listed.

Calls are not a model input: no feature reads this store.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from data.epoch import epoch_day
from data.schemas import Appointment
from data.stores.calls import Call, CallStore, Listing
from services.access.audit import AuditTrail
from services.access.principal import Principal
from services.noshow import Booking, NoShowService

# What came of a call, and how the pages word it.
CALL_OUTCOMES = {
    "confirmed": "reached, confirmed",
    "cancelled": "reached, cancelled",
    "rescheduled": "rescheduled",
    "voicemail": "voicemail",
    "no_answer": "no answer",
    "wrong_number": "wrong number",
}


class UnknownAppointmentError(LookupError):
    """A call about a visit the store does not hold."""


class Calls:
    """Records calls for a principal, within their clinics, and says who was called lately."""

    def __init__(
        self,
        noshow: NoShowService,
        store: CallStore,
        audit: AuditTrail,
        cooldown_days: int,
        holdout_share: float = 0.0,
        holdout_key: bytes | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.noshow, self.store, self.audit, self.cooldown_days = noshow, store, audit, cooldown_days
        self.holdout_share, self.clock = holdout_share, clock
        self._holdout_key = holdout_key or os.urandom(32)

    def _held_out(self, appointment_id: str) -> bool:
        digest = hmac.new(
            self._holdout_key, f"call-holdout:{appointment_id}".encode(), hashlib.sha256
        ).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.holdout_share

    def list_visits(self, visits: Sequence[tuple[Appointment, float]]) -> set[str]:
        """Record the visits (with their risk now) a call list shows, each at its first listing,
        and return those held out: marked "do not call" at random (`holdout_share` of them)."""
        now = self.clock()
        listings = [
            Listing(
                a.appointment_id,
                a.patient_id,
                a.clinic_id,
                epoch_day(a.starts_at),
                now,
                risk,
                self._held_out(a.appointment_id),
            )
            for a, risk in visits
        ]
        arms = self.store.list_visits(listings)
        return {appointment_id for appointment_id, held_out in arms.items() if held_out}

    def record(self, who: Principal, appointment_id: str, outcome: str, door: str) -> Call:
        """Keep a call about a booked visit, with the visit's risk now; a cancellation is also the
        visit's outcome."""
        if outcome not in CALL_OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(CALL_OUTCOMES)}")
        booking = self.noshow.store.bookings_of([appointment_id]).get(appointment_id)
        if booking is None:
            raise UnknownAppointmentError("appointment_id: no visit with this id is booked here")
        appointment = Appointment.model_validate(booking.record)
        who.check_clinics([appointment.clinic_id])
        risk = float(self.noshow.score(who, [appointment], None, Booking.STORED).probability[0])
        where = (appointment.patient_id, appointment.clinic_id)
        call = self.store.add(Call(appointment_id, *where, self.clock(), outcome, risk))
        self.audit.record(who, "change", "call", [appointment_id], door=door, change=outcome)
        if outcome == "cancelled":  # cancelled at the call, in the clinic's (the server's) wall-clock time
            when = call.called_at.astimezone().replace(tzinfo=None)
            self.noshow.record_outcomes(who, {appointment_id: "cancelled"}, door, {appointment_id: when})
        return call

    def about(
        self, who: Principal, appointment_ids: Iterable[str], door: str
    ) -> list[tuple[Call, str | None]]:
        """The calls about these visits, oldest first, each with the visit's outcome as it stands;
        visits outside `who`'s clinics are refused whole, unknown ones have no calls."""
        ids = list(dict.fromkeys(appointment_ids))
        stored = self.noshow.store.bookings_of(ids)
        who.check_clinics(str(b.record.get("clinic_id", "")) for b in stored.values())
        found = self.store.of_appointments(stored)
        if found:
            read = list(dict.fromkeys(c.appointment_id for c in found))
            self.audit.record(who, "read", "call", read, door=door)
        return [(call, stored[call.appointment_id].outcome) for call in found]

    def latest(self, appointment_ids: Iterable[str]) -> dict[str, Call]:
        """The latest call about each of these visits that had one; for a view (the day page) whose
        visits were checked and recorded in the trail as it read them."""
        return {call.appointment_id: call for call in self.store.of_appointments(appointment_ids)}

    def held_out_among(self, appointment_ids: Iterable[str]) -> set[str]:
        """Of these visits, those a call list held out (they stay on it, marked, as first listed)."""
        return self.store.held_out_among(appointment_ids)

    def recently_called(self, patient_ids: Iterable[str]) -> set[str]:
        """Of these patients, those called within the cooldown (at any clinic: a patient is called
        by the practice, not by a clinic), or held out of a call list in that time: they are not to
        be called, and listing them again would call them after all."""
        if self.cooldown_days == 0:
            return set()
        since = self.clock() - timedelta(days=self.cooldown_days)
        patients = list(patient_ids)
        return self.store.called_since(patients, since) | self.store.held_out_since(patients, since)
