"""Monitoring surfaces: the report of a task (admin) and Prometheus metrics."""

from __future__ import annotations

import hmac
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from services.monitoring.weekly import MonitoringError, monitor
from serving.auth import AdminRole, source_of
from serving.dependencies import SettingsDep, app_state
from serving.errors import error_responses

router = APIRouter(tags=["monitoring"])


@router.get("/v1/monitoring/{task}", responses=error_responses(401, 403, 409, 422))
async def monitoring_report(
    request: Request,
    task: Literal["noshow", "denial"],
    settings: SettingsDep,
    who: AdminRole,
    since: Annotated[date | None, Query(description="Only predictions scored on or after this day.")] = None,
) -> dict[str, Any]:
    """Realized and estimated performance by week, subgroups, drift, and whether to retrain.

    The same report as `careops monitor TASK --json`."""
    services = app_state(request).services
    recorder = services.recorder
    outcomes = services.appointments if task == "noshow" else services.claims
    log = recorder.log if recorder is not None else None
    try:
        return await run_in_threadpool(monitor, task, settings, since, log, outcomes)
    except MonitoringError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, settings: SettingsDep) -> Response:
    """Prometheus text format; for an admin API key (X-API-Key) or `Authorization: Bearer <token>`."""
    state = app_state(request)
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    bearer = request.headers.get("authorization", "")
    key = request.headers.get("x-api-key")
    allowed = bool(
        token and bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:].encode(), token.encode())
    )
    if not allowed and key is not None:
        allowed = state.services.authenticator.client(key, source_of(request)).role == "admin"
    if not allowed:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "metrics need an admin X-API-Key or the metrics token"
        )
    recorder = state.services.recorder
    if recorder is not None:
        state.metrics.log_dropped.labels(state.metrics.worker).set(recorder.dropped)
    body = await run_in_threadpool(state.metrics.text)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
