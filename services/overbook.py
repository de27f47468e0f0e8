"""A clinic session's overbooking plan: its appointments booked and scored, then the recommender's
placements on their show probabilities (models/decisions/overbooking.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from data.schemas import Appointment
from models.decisions.overbooking import Costs, Limits, Recommendation, recommend
from services.access.principal import Principal
from services.model_set import LoadedModel
from services.noshow import Booking, NoShowService


@dataclass(frozen=True)
class SessionRequest:
    """A session to plan: its slots' appointments with their patient groups, and the plan's terms."""

    slots: Sequence[Sequence[Appointment]]
    groups: Sequence[Sequence[str]]
    slot_minutes: int
    costs: Costs
    limits: Limits
    overbook_show_probability: float | None
    fairness: str
    wait_gap_tolerance_minutes: float


@dataclass(frozen=True)
class SessionPlan:
    """Show probabilities by appointment id (finite scores only), the ids left unscored, the plan."""

    model: LoadedModel
    show: dict[str, float]
    unscored: list[str]
    plan: Recommendation

    def expected_arrivals(self, slot: Sequence[Appointment]) -> float:
        """The expected number of a slot's booked patients who come."""
        return sum(self.show[a.appointment_id] for a in slot if a.appointment_id in self.show)


def plan_session(
    who: Principal, noshow: NoShowService, session: SessionRequest, model: LoadedModel
) -> SessionPlan:
    """Book and score the session's appointments (logged as `overbook`), then plan the overbooks."""
    appointments = [a for slot in session.slots for a in slot]
    scores = noshow.score(who, appointments, "overbook", Booking.DIRECT, 0, model)
    show: dict[str, float] = {}
    unscored = []
    for appointment, probability in zip(appointments, scores.probability, strict=True):
        if math.isfinite(probability):
            show[appointment.appointment_id] = 1.0 - float(probability)
        else:
            unscored.append(appointment.appointment_id)
    slots = [[show[a.appointment_id] for a in slot if a.appointment_id in show] for slot in session.slots]
    groups = [
        [g for a, g in zip(slot, slot_groups, strict=True) if a.appointment_id in show]
        for slot, slot_groups in zip(session.slots, session.groups, strict=True)
    ]
    plan = recommend(
        slots,
        session.slot_minutes,
        session.costs,
        session.limits,
        overbook_show_probability=session.overbook_show_probability,
        groups=groups,
        fairness=session.fairness,
        wait_gap_tolerance_minutes=session.wait_gap_tolerance_minutes,
    )
    return SessionPlan(model, show, unscored, plan)
