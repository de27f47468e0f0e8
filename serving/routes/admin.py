"""Admin routes: reload the champion models without downtime."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from serving.auth import AdminRole
from serving.dependencies import SettingsDep, app_state
from serving.errors import error_responses
from serving.schemas import ReloadOutcome

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post("/reload", response_model=dict[str, ReloadOutcome], responses=error_responses(401, 403))
async def reload_models(request: Request, settings: SettingsDep, who: AdminRole) -> dict[str, ReloadOutcome]:
    """Follow the champion alias now: load, check and swap each task's new version, or refuse it."""
    outcome = await run_in_threadpool(app_state(request).models.refresh, settings)
    return {task: ReloadOutcome(**result) for task, result in outcome.items()}
