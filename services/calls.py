"""Reminder calls, recorded: what came of each, the visit's risk when it was made, and whom not to
call again yet. A call reached in which the patient cancels also records the visit as cancelled.

Calls are not a model input: no feature reads this store.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from data.schemas import Appointment
from data.stores.calls import Call, CallStore
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
        self, noshow: NoShowService, store: CallStore, audit: AuditTrail, cooldown_days: int
    ) -> None:
        self.noshow, self.store, self.audit, self.cooldown_days = noshow, store, audit, cooldown_days

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
        call = self.store.add(
            Call(appointment_id, appointment.patient_id, appointment.clinic_id, datetime.now(), outcome, risk)
        )
        self.audit.record(who, "change", "call", [appointment_id], door=door, change=outcome)
        if outcome == "cancelled":
            self.noshow.record_outcomes(who, {appointment_id: "cancelled"}, door)
        return call

    def recently_called(self, patient_ids: Iterable[str]) -> set[str]:
        """Of these patients, those called within the cooldown (at any clinic: a patient is called
        by the practice, not by a clinic)."""
        if self.cooldown_days == 0:
            return set()
        return self.store.called_since(patient_ids, datetime.now() - timedelta(days=self.cooldown_days))
