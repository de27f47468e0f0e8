"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from models.tasks import TASKS
from serving.dependencies import app_state
from serving.schemas import ModelStatus, Readiness

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
async def live() -> dict[str, str]:
    """The process is up (answered on the event loop: no thread is needed, or waited for)."""
    return {"status": "live"}


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A task has no model"}},
)
async def ready(request: Request, response: Response) -> Readiness:
    """200 with the loaded model versions when every task has a model; 503 otherwise."""
    models = app_state(request).models
    alias = app_state(request).settings.champion_alias
    statuses: dict[str, ModelStatus] = {}
    for name in TASKS:
        loaded = models.models.get(name)
        refusal = models.refusals.get(name)
        statuses[name] = ModelStatus(
            refused_version=refusal.version if refusal else None,
            refused_reason=refusal.reason if refusal else None,
            loaded=loaded is not None,
            name=name,
            version=loaded.version if loaded else None,
            alias=loaded.alias if loaded else alias,
            error=None if loaded else models.errors.get(name, "not loaded"),
        )
    all_loaded = all(s.loaded for s in statuses.values())
    if not all_loaded:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(status="ready" if all_loaded else "not_ready", models=statuses)
