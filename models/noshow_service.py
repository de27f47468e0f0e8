"""The no-show scoring service: validated appointments in, probabilities with their factors out.

Every request-path caller (the score, overbook and FHIR routes) books each appointment in the store
before its history is read, as it is offline: through `book_and_score`, or, where the booking goes
through the group-commit queue, `booking_rows` and then `score_booked`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from data.schemas import Appointment
from data.stores.appointments import AppointmentStore, booking_rows
from features.history import online_history
from models.scorer import CompiledScorer, Factor


@dataclass(frozen=True)
class AppointmentScores:
    """Per appointment, in request order: P(no-show), the top factors and the unseen inputs."""

    probability: np.ndarray
    factors: list[list[Factor]]
    unseen: list[list[str]]
    matrix: np.ndarray | None = None  # the feature rows scored (for the prediction log's histograms)


SCORED_WITHOUT = ("booked_at",)  # optional inputs that every practice system would normally send


def missing_inputs(appointment: Appointment) -> list[str]:
    """The inputs this appointment lacks and its score was made without."""
    return [name for name in SCORED_WITHOUT if getattr(appointment, name) is None]


def book_and_score(
    scorer: CompiledScorer,
    store: AppointmentStore,
    appointments: Sequence[Appointment],
    top_factors: int = 0,
) -> AppointmentScores:
    """Write the appointments to the store as bookings, then score them with their history.

    The write is deliberate: a scored appointment is a booking, and later scores must see it in the
    patient's upcoming visits and the clinic's load. `top_factors` = 0 skips the explanations.
    """
    if appointments:
        store.upsert_bookings(booking_rows(appointments, scorer.trained.history.horizon_days))
    return score_booked(scorer, store, appointments, top_factors)


def score_booked(
    scorer: CompiledScorer,
    store: AppointmentStore,
    appointments: Sequence[Appointment],
    top_factors: int = 0,
) -> AppointmentScores:
    """Score appointments whose bookings are already in the store (see `book_and_score`)."""
    if not appointments:
        return AppointmentScores(np.empty(0), [], [])
    columns = scorer.columns(appointments, online_history(store, appointments, scorer.trained.history))
    scored = scorer.score_columns(columns)
    factors = scorer.top_factors(scored.matrix, top_factors)
    unseen = scorer.features.unseen_categories(columns)
    return AppointmentScores(scored.probability, factors, unseen, scored.matrix)
