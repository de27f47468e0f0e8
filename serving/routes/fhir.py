"""FHIR R4 operation for scheduling systems: no-show risk for a Bundle of Appointments."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from config import Settings
from models.decisions.risk_bands import RiskBands
from services.access.principal import Principal
from services.model_set import LoadedModel
from services.noshow import Booking, NoShowService
from serving.auth import SchedulerRole
from serving.dependencies import NoShowModelDep, RiskBandsDep, ServicesDep, SettingsDep, app_state
from serving.errors import error_responses
from serving.fhir_mapping import (
    BUNDLE_SCHEMA,
    OUTCOME_SCHEMA,
    RISK_BUNDLE_SCHEMA,
    FhirInputError,
    ParsedBundle,
    operation_outcome,
    parse_bundle,
    risk_assessment_bundle,
)

router = APIRouter(prefix="/fhir", tags=["fhir"])
FHIR_JSON = "application/fhir+json"


def _fhir(schema: dict, description: str) -> dict:
    return {"description": description, "content": {FHIR_JSON: {"schema": schema}}}


@router.post(
    "/Appointment/$no-show-risk",
    response_class=JSONResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {FHIR_JSON: {"schema": BUNDLE_SCHEMA}, "application/json": {"schema": BUNDLE_SCHEMA}},
        }
    },
    responses={
        200: _fhir(RISK_BUNDLE_SCHEMA, "One RiskAssessment per Appointment"),
        400: _fhir(OUTCOME_SCHEMA, "The body is not JSON, or nests too deep"),
        413: _fhir(OUTCOME_SCHEMA, "The body, or its number of Appointments, is over the limit"),
        422: _fhir(OUTCOME_SCHEMA, "An element breaks a rule; the issue's expression names it"),
        **error_responses(401, 403, 503),
    },
)
async def no_show_risk(
    request: Request,
    model: NoShowModelDep,
    services: ServicesDep,
    bands: RiskBandsDep,
    settings: SettingsDep,
    who: SchedulerRole,
) -> JSONResponse:
    """Bundle of Appointment (+ Patient) in; Bundle of RiskAssessment out. Bad input: OperationOutcome.

    Writes: like the score route, each appointment is booked in the appointment store first.
    """
    try:
        payload = json.loads(await request.body())
    except json.JSONDecodeError as error:
        outcome = operation_outcome(
            f"the body is not JSON (line {error.lineno}, column {error.colno})", code="structure"
        )
        return JSONResponse(outcome, status.HTTP_400_BAD_REQUEST, media_type=FHIR_JSON)
    except (UnicodeDecodeError, RecursionError):
        outcome = operation_outcome("the body is not UTF-8 JSON of a sensible depth", code="structure")
        return JSONResponse(outcome, status.HTTP_400_BAD_REQUEST, media_type=FHIR_JSON)
    try:
        parsed = parse_bundle(payload, app_state(request).code_tables)
    except FhirInputError as error:
        return JSONResponse(
            operation_outcome(str(error), error.expression),
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            media_type=FHIR_JSON,
        )
    request.state.records = len(parsed.appointments)
    if len(parsed.appointments) > settings.max_batch:
        text = (
            f"{len(parsed.appointments)} Appointments in one Bundle; the limit is {settings.max_batch} "
            "(CAREOPS_MAX_BATCH)"
        )
        return JSONResponse(
            operation_outcome(text, "Bundle.entry", code="too-long"), 413, media_type=FHIR_JSON
        )
    body = await run_in_threadpool(_assess, who, parsed, model, services.noshow, bands, settings)
    return JSONResponse(body, media_type=FHIR_JSON)


def _assess(
    who: Principal,
    parsed: ParsedBundle,
    model: LoadedModel,
    noshow: NoShowService,
    bands: RiskBands,
    settings: Settings,
) -> dict[str, Any]:
    cancelled = {
        s.appointment_reference.removeprefix("Appointment/"): s.changed_at
        for s in parsed.skipped
        if s.cancelled
    }
    if cancelled:
        noshow.record_cancellations(who, cancelled, "fhir")
    records = [item.record for item in parsed.appointments]
    scores = noshow.score(who, records, "fhir", Booking.DIRECT, settings.top_factors, model)
    risk = [bands.band(float(p), r.clinic_id) for p, r in zip(scores.probability, records, strict=True)]
    return risk_assessment_bundle(
        parsed.appointments,
        list(scores.probability),
        risk,
        scores.factors,
        model.name,
        model.version,
        parsed.skipped,
    )
