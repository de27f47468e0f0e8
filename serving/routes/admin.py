"""Admin routes: reload the champion models without downtime."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from serving.auth import require_role
from serving.dependencies import SettingsDep

router = APIRouter(prefix="/admin", tags=["admin"])
AdminRole = Annotated[str, Depends(require_role("admin"))]


@router.post("/reload")
async def reload_models(request: Request, settings: SettingsDep, role: AdminRole) -> dict[str, dict]:
    """Follow the champion alias now: load, check and swap each task's new version, or refuse it."""
    return await run_in_threadpool(request.app.state.models.refresh, settings)
