"""API-key authentication and role checks for the /v1 routes."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader

from serving.dependencies import app_state

API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="A key from CAREOPS_API_KEYS.")


def role_for(key: str, keys: dict[str, str]) -> str | None:
    role = None
    for known, known_role in keys.items():
        if hmac.compare_digest(known.encode(), key.encode()):
            role = known_role
    return role


def require_role(*roles: str) -> Callable[..., str]:
    """A dependency that admits keys whose role is one of `roles` (admin is always admitted)."""
    allowed = {*roles, "admin"}

    async def check(request: Request, key: Annotated[str | None, Depends(API_KEY_HEADER)]) -> str:
        if not key:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing X-API-Key header")
        role = role_for(key, app_state(request).api_keys)
        if role is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown API key")
        if role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role '{role}' may not call this route; it needs {sorted(allowed)}",
            )
        return role

    return check


SchedulerRole = Annotated[str, Depends(require_role("scheduler"))]
BillerRole = Annotated[str, Depends(require_role("biller"))]
