"""The request path shared by the scoring routes: the batch limit and the model reference."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from fastapi import HTTPException, status

from data.appointment_store import AppointmentStore, booking_row
from data.schemas import Appointment
from features.columns import Columns, as_seconds
from features.history import online_history
from serving.model_loader import LoadedModel
from serving.schemas import ModelRef


def check_batch_size(count: int, limit: int) -> None:
    """413 when a request holds more records than the configured limit."""
    if count > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{count} records in one request; the limit is {limit} (CAREOPS_MAX_BATCH)",
        )


def model_ref(model: LoadedModel) -> ModelRef:
    """The response's account of which model version answered."""
    return ModelRef(name=model.name, version=model.version, alias=model.alias)


def score_with_history(
    model: LoadedModel, store: AppointmentStore, appointments: Sequence[Appointment]
) -> tuple[np.ndarray, np.ndarray, Columns]:
    """Store the appointments as bookings, read their history, and score them.

    Returns the probabilities, the feature matrix (for explanations) and the column batch.
    """
    starts = as_seconds([a.starts_at for a in appointments])
    booked = as_seconds([a.booked_at for a in appointments])
    store.upsert_bookings([
        booking_row(a.appointment_id, a.patient_id, a.clinic_id, starts[i], booked[i])
        for i, a in enumerate(appointments)
    ])  # fmt: skip
    scorer = model.scorer
    columns = scorer.columns(appointments, online_history(store, appointments, scorer.trained.history))
    matrix = scorer.matrix(columns)
    return scorer.score_matrix(matrix), matrix, columns
