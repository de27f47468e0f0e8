"""No-show routes for schedulers: score appointments, record what happened."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from serving.auth import SchedulerRole
from serving.dependencies import NoShowModelDep, RiskBandsDep, SettingsDep, StoreDep
from serving.schemas import (
    Factor,
    NoShowScore,
    NoShowScoreRequest,
    NoShowScoreResponse,
    OutcomesRequest,
    OutcomesResponse,
)
from serving.scoring import check_batch_size, model_ref, score_with_history

router = APIRouter(prefix="/v1/noshow", tags=["no-show"])


@router.post("/score", response_model=NoShowScoreResponse)
def score_appointments(
    body: NoShowScoreRequest,
    model: NoShowModelDep,
    store: StoreDep,
    bands: RiskBandsDep,
    settings: SettingsDep,
    role: SchedulerRole,
) -> NoShowScoreResponse:
    """No-show probability, risk band and top factors per appointment, in request order.

    Each appointment is also stored as a booking, so that later scores see it in the patient's
    upcoming visits and the clinic's load.
    """
    appointments = body.appointments
    check_batch_size(len(appointments), settings.max_batch)
    if not appointments:
        return NoShowScoreResponse(model=model_ref(model), predictions=[])
    scorer = model.scorer
    probabilities, matrix, columns = score_with_history(model, store, appointments)
    factors = scorer.top_factors(matrix, settings.top_factors)
    unseen = scorer.features.unseen_categories(columns)
    return NoShowScoreResponse(
        model=model_ref(model),
        predictions=[
            NoShowScore(
                appointment_id=appointment.appointment_id,
                no_show_probability=float(probabilities[i]),
                risk_band=bands.band(float(probabilities[i]), appointment.clinic_id),
                model_version=model.version,
                top_factors=[Factor(**vars(f)) for f in factors[i]],
                unseen_inputs=unseen[i],
            )
            for i, appointment in enumerate(appointments)
        ],
    )


@router.post("/outcomes", response_model=OutcomesResponse)
def record_outcomes(body: OutcomesRequest, store: StoreDep, role: SchedulerRole) -> OutcomesResponse:
    """Record attended / no_show / cancelled for booked appointments; idempotent.

    Unknown appointment ids get a 404 that names them, and nothing in the request is recorded.
    """
    result = store.record_outcomes({item.appointment_id: item.outcome for item in body.outcomes})
    if result.unknown:
        shown = ", ".join(result.unknown[:20]) + (" ..." if len(result.unknown) > 20 else "")
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"unknown appointment_id(s), never booked or scored here: {shown}; nothing was recorded",
        )
    return OutcomesResponse(recorded=len(result.changed), unchanged=len(result.unchanged))
