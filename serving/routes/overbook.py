"""Overbooking for schedulers: which slots of a clinic session to double-book, and what it costs."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from config import Settings
from models.decisions.overbooking import Costs, Limits
from models.decisions.session import SessionFigures
from services.overbook import SessionPlan, SessionRequest, plan_session
from serving.auth import SchedulerRole
from serving.dependencies import NoShowModelDep, ServicesDep, SettingsDep
from serving.errors import InvalidRequest, error_responses
from serving.limits import check_batch_size, check_unique
from serving.schemas import (
    ModelRef,
    OverbookRequest,
    OverbookResponse,
    PlannedAppointment,
    SessionFiguresOut,
    SlotPlan,
    Unscored,
)

router = APIRouter(prefix="/v1/noshow", tags=["no-show"])

SERVICE_MODEL = (
    "Each booked patient arrives at the start of their slot with their show probability (1 - no-show "
    "probability), independently; one patient is seen per slot, first come first served, in random order "
    "among patients arriving together; the backlog carries over and is seen in overtime. Expectations are "
    "exact (dynamic programming over the backlog distribution)."
)


def _figures(figures: SessionFigures, costs: Costs) -> SessionFiguresOut:
    return SessionFiguresOut(
        net_value=costs.net_value(figures),
        patients_seen=figures.patients_seen,
        seen_in_session=figures.seen_in_session,
        waiting_minutes=figures.waiting_minutes,
        idle_minutes=figures.idle_minutes,
        overtime_minutes=figures.overtime_minutes,
        overtime_probability=figures.overtime_probability,
        mean_wait_by_group=figures.mean_wait_by_group(),
    )


@router.post(
    "/overbook", response_model=OverbookResponse, responses=error_responses(400, 401, 403, 413, 422, 503)
)
async def plan_overbooking(
    request: Request,
    body: OverbookRequest,
    model: NoShowModelDep,
    services: ServicesDep,
    settings: SettingsDep,
    who: SchedulerRole,
) -> Response:
    """Score the session's appointments and recommend where to add bookings.

    Writes: like the score route, each appointment is booked in the appointment store first.

    Overbooks go where the marginal expected net value is largest while it stays positive and the
    limits hold. Expected wait per patient group is reported either way; with `fairness:
    "equal_wait"` a placement may not widen the gap between groups beyond the tolerance.
    """
    session = _session(request, body, settings)
    # One trip to the thread pool for the whole plan. The response is built from validated parts
    # and written here: FastAPI would validate it again, on a second trip for a plain `def` route.
    planned = await run_in_threadpool(plan_session, who, services.noshow, session, model)
    return Response(_response(body, planned).model_dump_json(), media_type="application/json")


def _session(request: Request, body: OverbookRequest, settings: Settings) -> SessionRequest:
    if len(body.slots) > settings.max_session_slots:
        raise InvalidRequest(
            "slots", f"the most slots one request may plan is {settings.max_session_slots}", "too_long"
        )
    check_batch_size(request, sum(len(slot.appointments) for slot in body.slots), settings.max_batch)
    check_unique(
        [
            (f"slots[{s}].appointments[{i}].appointment_id", a.appointment_id)
            for s, slot in enumerate(body.slots)
            for i, a in enumerate(slot.appointments)
        ]
    )
    return SessionRequest(
        slots=[slot.appointments for slot in body.slots],
        groups=[[a.group for a in slot.appointments] for slot in body.slots],
        slot_minutes=body.slot_minutes,
        costs=Costs(**body.costs.model_dump()),
        limits=Limits(
            max_per_slot=body.limits.max_overbooks_per_slot,
            max_per_session=body.limits.max_overbooks_per_session,
            overtime_bound_minutes=body.limits.overtime_bound_minutes,
            max_overtime_probability=body.limits.max_overtime_probability,
        ),
        overbook_show_probability=body.overbook_show_probability,
        fairness=body.fairness,
        wait_gap_tolerance_minutes=body.wait_gap_tolerance_minutes,
    )


def _response(body: OverbookRequest, planned: SessionPlan) -> OverbookResponse:
    plan, show, costs = planned.plan, planned.show, Costs(**body.costs.model_dump())
    return OverbookResponse(
        model=ModelRef.of(planned.model),
        clinic_id=body.clinic_id,
        provider_id=body.provider_id,
        session_date=body.session_date,
        slots=[
            SlotPlan(
                index=index,
                starts_at=slot.starts_at,
                appointments=[
                    PlannedAppointment(
                        appointment_id=a.appointment_id,
                        show_probability=show[a.appointment_id],
                        group=a.group,
                    )
                    for a in slot.appointments
                    if a.appointment_id in show
                ],
                expected_arrivals=planned.expected_arrivals(slot.appointments),
                recommended_overbooks=plan.overbooks[index],
            )
            for index, slot in enumerate(body.slots)
        ],
        overbooks_total=sum(plan.overbooks),
        before=_figures(plan.before, costs),
        after=_figures(plan.after, costs),
        assumptions={
            "service_model": SERVICE_MODEL,
            "slot_minutes": body.slot_minutes,
            "overbook_show_probability": plan.overbook_show_probability,
            "costs": body.costs.model_dump(),
            "limits": body.limits.model_dump(),
            "fairness": body.fairness,
            "wait_gap_tolerance_minutes": body.wait_gap_tolerance_minutes,
        },
        unscored=[
            Unscored(appointment_id=i, reason="the model gave no finite score") for i in planned.unscored
        ],
    )
