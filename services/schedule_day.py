"""A clinic's day for the scheduler: every booked visit scored, a plan per session, a call list.

A session is one provider's morning (before 13:00) or afternoon. Its slots are the distinct start
times of its visits; the overbooking plan is the recommender's (models/decisions/overbooking.py)
on the show probabilities. The call list ranks visits still to come by P(no-show) x the value of
the slot (the visit value the plan uses), so that the first calls are where a reminder saves most;
patients called within the cooldown are left out of it, and counted.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from data.epoch import epoch_day
from data.schemas import Appointment
from data.stores.calls import Call
from models.decisions.overbooking import Costs, Recommendation, recommend
from models.decisions.risk_bands import RiskBands
from models.scorer import ScoreFactor
from services.access.principal import Principal
from services.calls import Calls
from services.model_set import LoadedModel
from services.noshow import Booking, NoShowService, missing_inputs

AFTERNOON_FROM_HOUR = 13
CALL_LIST_LENGTH = 10


@dataclass(frozen=True)
class ScoredVisit:
    """One visit of the day with its score, in words as well as numbers."""

    appointment: Appointment
    outcome: str | None
    probability: float
    band: str
    factors: list[ScoreFactor]
    missing: list[str]


@dataclass
class ClinicSession:
    """One provider's half-day: its visits by slot, and the overbooking plan for it."""

    provider_id: str
    half: str  # "morning" or "afternoon"
    slots: list[tuple[datetime, list[ScoredVisit]]] = field(default_factory=list)
    plan: Recommendation | None = None
    slot_minutes: int = 15
    accepted: list[int] = field(default_factory=list)  # extra bookings accepted per slot


@dataclass(frozen=True)
class DaySchedule:
    """The day: its visits in start order, its sessions, and whom to call first."""

    clinic_id: str
    day: datetime
    visits: list[ScoredVisit]
    sessions: list[ClinicSession]
    call_list: list[ScoredVisit]
    total: int = 0  # visits the day holds; more than `visits` when the day is shown a page at a time
    first: int = 0  # the page's first visit, counted from 0 in booking id order
    called_lately: int = 0  # visits left out of the call list: their patient was called lately
    last_call: dict[str, Call] = field(default_factory=dict)  # by appointment id, the day's visits
    held_out: set[str] = field(default_factory=set)  # the call list's visits marked "do not call"


def _slot_minutes(starts: list[datetime], durations: list[int]) -> int:
    gaps = sorted({int((b - a).total_seconds() // 60) for a, b in itertools.pairwise(starts)} - {0})
    return gaps[0] if gaps else (min(durations) if durations else 15)


def day_schedule(
    who: Principal,
    noshow: NoShowService,
    bands: RiskBands,
    clinic_id: str,
    day: datetime,
    provider_id: str | None = None,
    top_factors: int = 3,
    costs: Costs | None = None,
    accepted: dict[tuple[str, datetime], int] | None = None,
    model: LoadedModel | None = None,
    page_size: int | None = None,
    first: int = 0,
    calls: Calls | None = None,
) -> DaySchedule:
    """Score every visit the store holds for the clinic that day and plan each session; a day of
    more than `page_size` visits is scored and planned a page at a time, from visit `first` on, so
    that no day costs more than a page.

    `accepted` holds extra bookings already accepted by (provider, slot start): the plan counts them
    as booked (each showing as often as the session's patients on average) and suggests the rest."""
    who.check_clinics([clinic_id])
    accepted = accepted or {}
    costs = costs or Costs()
    day_number = epoch_day(day)
    total = len(noshow.store.clinic_day_ids(clinic_id, day_number))
    first = first if page_size is not None and first < total else 0
    stored = noshow.store.clinic_day(clinic_id, day_number, page_size, first)
    visits_in = [
        (Appointment.model_validate(booking.record), booking.outcome)
        for booking in stored.values()
        if provider_id is None or booking.record.get("provider_id") == provider_id
    ]
    visits_in.sort(key=lambda pair: (pair[0].starts_at, pair[0].appointment_id))
    live = [(a, o) for a, o in visits_in if o != "cancelled"]
    scores = noshow.score(who, [a for a, _ in live], None, Booking.STORED, top_factors, model)
    visits = [
        ScoredVisit(a, o, float(p), bands.band(float(p), a.clinic_id), f, missing_inputs(a))
        for (a, o), p, f in zip(live, scores.probability, scores.factors, strict=True)
    ]
    by_session: dict[tuple[str, str], dict[datetime, list[ScoredVisit]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for visit in visits:
        half = "morning" if visit.appointment.starts_at.hour < AFTERNOON_FROM_HOUR else "afternoon"
        by_session[(visit.appointment.provider_id, half)][visit.appointment.starts_at].append(visit)
    sessions = []
    for (provider, half), slots in sorted(by_session.items(), key=lambda s: (s[0][0], s[0][1] != "morning")):
        ordered = sorted(slots.items())
        minutes = _slot_minutes([t for t, _ in ordered], [v.appointment.duration_minutes for v in visits])
        session = ClinicSession(provider, half, ordered, slot_minutes=minutes)
        session.accepted = [accepted.get((provider, t), 0) for t, _ in ordered]
        shows = [[1 - v.probability for v in group] for _, group in ordered]
        p_new = sum(sum(s) for s in shows) / max(1, sum(len(s) for s in shows))
        slots_in = [s + [p_new] * n for s, n in zip(shows, session.accepted, strict=True)]
        session.plan = recommend(slots_in, minutes, costs, overbook_show_probability=p_new)
        sessions.append(session)
    to_come = [v for v in visits if v.outcome is None]
    called = calls.recently_called(v.appointment.patient_id for v in to_come) if calls else set()
    # A visit held out of an earlier look at this list stays on it, marked; its patient is left out
    # of other lists for the cooldown.
    kept = calls.held_out_among(v.appointment.appointment_id for v in to_come) if calls and called else set()
    callable_ = [
        v for v in to_come if v.appointment.patient_id not in called or v.appointment.appointment_id in kept
    ]
    ranked = sorted(callable_, key=lambda v: -v.probability * costs.visit_value)
    # One call per patient: a patient with two visits that day is listed once, at the riskier one.
    first_of = {v.appointment.patient_id: v for v in reversed(ranked)}
    call_list = [v for v in ranked if first_of[v.appointment.patient_id] is v][:CALL_LIST_LENGTH]
    left_out = len(to_come) - len(callable_)
    last_call = calls.latest(stored) if calls else {}
    held_out = calls.list_visits([(v.appointment, v.probability) for v in call_list]) if calls else set()
    return DaySchedule(
        clinic_id, day, visits, sessions, call_list, total, first, left_out, last_call, held_out
    )
