"""No-show routes for schedulers: score appointments, record what happened and how calls went."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from services.calls import UnknownAppointmentError
from services.noshow import missing_inputs
from serving.auth import SchedulerRole
from serving.dependencies import NoShowScoringDep, ServicesDep, SettingsDep
from serving.errors import error_responses
from serving.limits import check_batch_size, check_unique, ids_of
from serving.schemas import (
    CallRequest,
    CallResponse,
    CallsResponse,
    Factor,
    KeptCall,
    ModelRef,
    NoShowScore,
    NoShowScoreRequest,
    NoShowScoreResponse,
    OutcomesRequest,
    OutcomesResponse,
)

router = APIRouter(prefix="/v1/noshow", tags=["no-show"])


@router.post(
    "/score", response_model=NoShowScoreResponse, responses=error_responses(400, 401, 403, 413, 422, 503)
)
async def score_appointments(
    request: Request, body: NoShowScoreRequest, scoring: NoShowScoringDep, who: SchedulerRole
) -> NoShowScoreResponse:
    """No-show probability, risk band and top factors per appointment, in request order.

    Writes: each appointment is also booked in the appointment store (or its booking updated), so
    that later scores see it in the patient's upcoming visits and the clinic's load.
    """
    model, bands, settings = scoring.model, scoring.bands, scoring.settings
    appointments = body.appointments
    check_batch_size(request, len(appointments), settings.max_batch)
    check_unique(ids_of(appointments, "appointments", "appointment_id"))
    scores = await scoring.service.score_queued(
        who, appointments, "api", settings.top_factors if body.explain else 0, model
    )
    return NoShowScoreResponse(
        model=ModelRef.of(model),
        predictions=[
            NoShowScore(
                appointment_id=appointment.appointment_id,
                no_show_probability=float(scores.probability[i]),
                risk_band=bands.band(float(scores.probability[i]), appointment.clinic_id),
                model_version=model.version,
                top_factors=[Factor(**vars(f)) for f in scores.factors[i]],
                unseen_inputs=scores.unseen[i],
                missing_inputs=missing_inputs(appointment),
            )
            for i, appointment in enumerate(appointments)
        ],
    )


@router.post(
    "/outcomes", response_model=OutcomesResponse, responses=error_responses(400, 401, 403, 404, 413, 422)
)
def record_outcomes(
    request: Request, body: OutcomesRequest, services: ServicesDep, settings: SettingsDep, who: SchedulerRole
) -> OutcomesResponse:
    """Record attended / no_show / cancelled for booked appointments; idempotent.

    Unknown appointment ids get a 404 that names them (they are the caller's own references), and
    nothing in the request is recorded.
    """
    check_batch_size(request, len(body.outcomes), settings.max_batch)
    check_unique(ids_of(body.outcomes, "outcomes", "appointment_id"))
    result = services.noshow.record_outcomes(
        who,
        {item.appointment_id: item.outcome for item in body.outcomes},
        "api",
        {item.appointment_id: item.cancelled_at for item in body.outcomes if item.cancelled_at is not None},
    )
    if result.unknown:
        shown = ", ".join(result.unknown[:20]) + (" ..." if len(result.unknown) > 20 else "")
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"unknown appointment_id(s), never booked or scored here: {shown}; nothing was recorded",
        )
    return OutcomesResponse(recorded=len(result.changed), unchanged=len(result.unchanged))


@router.post(
    "/calls",
    response_model=CallResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 404, 422),
)
def record_call(body: CallRequest, services: ServicesDep, who: SchedulerRole) -> CallResponse:
    """Record how a reminder call about a booked visit went; the patient leaves the day page's call
    list for `CAREOPS_CALL_COOLDOWN_DAYS`. Kept with the visit's risk at the time of the call."""
    try:
        call = services.calls.record(who, body.appointment_id, body.outcome, "api")
    except UnknownAppointmentError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    return CallResponse(
        call_id=call.call_id or 0,
        appointment_id=call.appointment_id,
        outcome=call.outcome,
        called_at=call.called_at,
        no_show_probability=call.risk,
    )


@router.get("/calls", response_model=CallsResponse, responses=error_responses(401, 403, 413, 422))
def list_calls(
    request: Request,
    services: ServicesDep,
    settings: SettingsDep,
    who: SchedulerRole,
    appointment_id: Annotated[list[str], Query(min_length=1, description="One or more visits.")],
) -> CallsResponse:
    """The calls about these visits, oldest first: when, how each went, the visit's risk then, and
    the visit's outcome as it stands."""
    check_batch_size(request, len(appointment_id), settings.max_batch)
    return CallsResponse(
        calls=[
            KeptCall(
                call_id=call.call_id or 0,
                appointment_id=call.appointment_id,
                outcome=call.outcome,
                called_at=call.called_at,
                no_show_probability=call.risk,
                visit_outcome=outcome,
            )
            for call, outcome in services.calls.about(who, appointment_id, "api")
        ]
    )
