"""The no-show service: the one way to book, score, explain and log appointments.

Every caller (the score, overbook and FHIR routes, the day page, the HL7 listener) goes through
`NoShowService.score`, which books each appointment in the store before its history is read (as it
is offline), scores it with the champion, explains it on request and hands it to the score log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np
import pandas as pd

from data.epoch import epoch_day
from data.schemas import Appointment
from data.stores.appointments import AppointmentStore, OutcomeResult
from data.stores.booking_queue import BookingQueue
from data.stores.bookings import booking_rows
from features.history import online_history
from models.scorer import ScoreFactor
from services.access.audit import AuditTrail
from services.access.principal import Principal
from services.model_set import LoadedModel, ModelSet
from services.monitoring.score_log import ScoreLog
from services.offload import run_scoring

SCORED_WITHOUT = ("booked_at",)  # optional inputs that every practice system would normally send
BOOK_CHUNK = 2000  # rows of a table validated and booked at a time


class CapacityError(ValueError):
    """A booking that would put more visits in a clinic's day than it can hold; says which and why."""


class Booking(StrEnum):
    """How the appointments scored reach the store before their history is read."""

    QUEUED = "queued"  # through the group-commit queue, awaited without holding a thread (the score route)
    DIRECT = "direct"  # written in the caller's thread (overbook, FHIR)
    STORED = "stored"  # already there: the day page's visits, a booking the HL7 feed just applied


@dataclass(frozen=True)
class AppointmentScores:
    """Per appointment, in request order: P(no-show), the top factors and the unseen inputs."""

    model: LoadedModel | None
    probability: np.ndarray
    factors: list[list[ScoreFactor]]
    unseen: list[list[str]]
    matrix: np.ndarray | None = None  # the feature rows scored (for the prediction log's histograms)


def missing_inputs(appointment: Appointment) -> list[str]:
    """The inputs this appointment lacks and its score was made without."""
    return [name for name in SCORED_WITHOUT if getattr(appointment, name) is None]


class NoShowService:
    """Books, scores, explains and logs appointments with the no-show champion."""

    def __init__(
        self,
        models: ModelSet,
        store: AppointmentStore,
        log: ScoreLog,
        audit: AuditTrail,
        bookings: BookingQueue | None = None,
    ) -> None:
        self.models, self.store, self.log, self.audit, self.bookings = models, store, log, audit, bookings

    def score(
        self,
        who: Principal,
        appointments: Sequence[Appointment],
        source: str | None,
        booking: Booking,
        top_factors: int = 0,
        model: LoadedModel | None = None,
    ) -> AppointmentScores:
        """Book (as `booking` says), score with history, explain (`top_factors` = 0 skips it) and log
        under `source` (None: not logged, as the day page's views are not), for `who`: every
        appointment must be at one of their clinics, and the access is in the audit trail. `model`
        pins the version a request resolved; by default the current champion."""
        who.check_clinics(a.clinic_id for a in appointments)
        model = model or self.models.get("noshow")
        if appointments and booking is not Booking.STORED:
            rows = booking_rows(appointments, model.trained.history.horizon_days)
            if booking is Booking.QUEUED:
                self._queue().submit(rows).result()
            else:
                self.store.upsert_bookings(rows)
        scores = self._score_stored(model, appointments, top_factors)
        if appointments:
            action = "score" if source is not None else "read"  # the day page's views are reads
            self.audit.record(
                who, action, "appointment", (a.appointment_id for a in appointments), door=source
            )
        if source is not None and appointments:
            self.log.record(model, source, appointments, scores.probability, scores.matrix, scores.unseen)
        return scores

    async def score_queued(
        self,
        who: Principal,
        appointments: Sequence[Appointment],
        source: str,
        top_factors: int,
        model: LoadedModel,
    ) -> AppointmentScores:
        """`score` with the booking through the group-commit queue, awaited on the event loop (the
        score route: no thread waits for a commit); a few records are then scored on the loop."""
        who.check_clinics(a.clinic_id for a in appointments)
        if appointments:
            rows = booking_rows(appointments, model.trained.history.horizon_days)
            await asyncio.wrap_future(self._queue().submit(rows))
        return await run_scoring(
            len(appointments), self.score, who, appointments, source, Booking.STORED, top_factors, model
        )

    def book_table(
        self, who: Principal, table: pd.DataFrame, horizon_days: int, door: str, capacity: int | None = None
    ) -> int:
        """Book a validated canonical appointments table (a file or an upload); returns how many. With
        `capacity`, a table that would leave any clinic-day with more visits than that is refused
        whole (CapacityError), before anything is booked."""
        who.check_clinics(table["clinic_id"].astype(str))
        if capacity is not None:
            self._check_capacity(table, capacity)
        booked = 0
        for start in range(0, len(table), BOOK_CHUNK):  # a large table's records are never all held at once
            booked += self.store.book_table(table.iloc[start : start + BOOK_CHUNK], horizon_days)
        self.audit.record(who, "book", "appointment", table["appointment_id"].astype(str), door=door)
        return booked

    def _check_capacity(self, table: pd.DataFrame, capacity: int) -> None:
        days = pd.to_datetime(table["starts_at"]).dt.normalize()
        for (clinic_id, day), group in table.groupby([table["clinic_id"].astype(str), days]):
            ids = set(group["appointment_id"].astype(str))
            if len(ids) <= capacity:  # only then can the stored day tip it over
                ids |= self.store.clinic_day_ids(clinic_id, epoch_day(day.to_pydatetime()))
            if len(ids) > capacity:
                raise CapacityError(
                    f"{clinic_id} on {day.date().isoformat()} would hold {len(ids)} visits; a clinic holds "
                    f"at most {capacity} a day (CAREOPS_CLINIC_DAY_CAPACITY), so nothing was booked"
                )

    def record_outcomes(
        self,
        who: Principal,
        outcomes: dict[str, str],
        door: str,
        cancelled_at: dict[str, datetime] | None = None,
    ) -> OutcomeResult:
        """Record attended / no_show / cancelled for booked appointments (idempotent), a cancellation
        at `cancelled_at[id]` when given (else now); appointments at clinics outside `who`'s scope
        are refused whole."""
        stored = self.store.bookings_of(list(outcomes))
        who.check_clinics(str(b.record.get("clinic_id", "")) for b in stored.values())
        result = self.store.record_outcomes(outcomes, cancelled_at)
        self.audit.record(who, "change", "appointment", result.changed, door=door, change="outcome")
        return result

    def record_cancellations(
        self, who: Principal, cancelled_at: dict[str, datetime | None], door: str
    ) -> OutcomeResult:
        """Record as cancelled those of these appointments that careops has booked, each at its
        time when given (else now); the others are not careops's to record and are left out."""
        booked = self.store.bookings_of(list(cancelled_at))
        if not booked:
            return OutcomeResult()
        times = {a: t for a, t in cancelled_at.items() if a in booked and t is not None}
        return self.record_outcomes(who, dict.fromkeys(booked, "cancelled"), door, times)

    def _queue(self) -> BookingQueue:
        if self.bookings is None:
            raise RuntimeError("this service has no booking queue")
        return self.bookings

    def _score_stored(
        self, model: LoadedModel, appointments: Sequence[Appointment], top_factors: int
    ) -> AppointmentScores:
        if not appointments:
            return AppointmentScores(model, np.empty(0), [], [])
        features = model.scorer.features
        batch = features.batch(appointments, online_history(self.store, appointments, model.trained.history))
        scored = model.scorer.score(batch)
        factors = model.scorer.top_factors(scored.matrix, top_factors)
        unseen = features.unseen_categories(batch.columns)
        return AppointmentScores(model, scored.probability, factors, unseen, scored.matrix)
