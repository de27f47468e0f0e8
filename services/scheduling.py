"""The scheduler's pages' operations on the schedule: which clinics a scheduler sees, which day to
open, and the overbookings they accept; each within their clinics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from data.stores.appointments import AppointmentStore
from data.stores.overbooks import OverbookStore
from services.access.audit import AuditTrail
from services.access.principal import Principal


class Scheduling:
    """Clinics, days and accepted overbookings, for a principal."""

    def __init__(
        self,
        store: AppointmentStore,
        overbooks: OverbookStore,
        audit: AuditTrail,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.store, self.overbooks, self.audit = store, overbooks, audit
        self.clock = clock  # the clinic's wall-clock time (the server's local time)

    def clinics(self, who: Principal) -> list[str]:
        """The clinics with appointments that `who` may see."""
        return [c for c in self.store.clinics() if who.may_see_clinic(c)]

    def next_day_with_visits(self, who: Principal, clinic_id: str, from_day: int) -> int | None:
        """The first day on or after `from_day` with a visit booked at the clinic."""
        who.check_clinics([clinic_id])
        return self.store.next_day_with_visits(clinic_id, from_day)

    def accepted(self, who: Principal, clinic_id: str, day: datetime) -> dict[tuple[str, datetime], int]:
        """Accepted extra bookings by (provider, slot start) for the clinic's day."""
        who.check_clinics([clinic_id])
        return self.overbooks.on_day(clinic_id, day)

    def accept(
        self, who: Principal, clinic_id: str, provider_id: str, starts_at: datetime, count: int
    ) -> None:
        """Accept (or, with 0, withdraw) extra bookings for one slot."""
        who.check_clinics([clinic_id])
        self.overbooks.accept(clinic_id, provider_id, starts_at, count, self.clock())
        self.audit.record(
            who,
            "change",
            "overbook",
            [f"{clinic_id}/{provider_id}/{starts_at.isoformat()}"],
            extra=count,
            door="pages",
        )
