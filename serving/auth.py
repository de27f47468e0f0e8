"""Who calls the /v1 routes: a named client's X-API-Key, proven by the access service, and the roles
each route admits (admin always)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader

from services.access.principal import Principal
from serving.dependencies import app_state

API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="A named client's key.")


def source_of(request: Request) -> str:
    """The caller's address, as the audit trail and the throttle know it."""
    return request.client.host if request.client is not None else "unknown"


def request_id_of(request: Request) -> str:
    """The request's id (the request log's, sent back as X-Request-ID)."""
    return getattr(request.state, "request_id", "")


def require_role(*roles: str) -> Callable[..., Principal]:
    """A dependency that admits clients whose role is one of `roles` (admin is always admitted)."""
    allowed = {*roles, "admin"}

    async def check(request: Request, key: Annotated[str | None, Depends(API_KEY_HEADER)]) -> Principal:
        if not key:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing X-API-Key header")
        services = app_state(request).services
        who = services.authenticator.client(key, source_of(request), request_id_of(request))
        request.state.principal = who.id  # for the request's log line
        if who.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role '{who.role}' may not call this route; it needs {sorted(allowed)}",
            )
        return who

    return check


SchedulerRole = Annotated[Principal, Depends(require_role("scheduler"))]
BillerRole = Annotated[Principal, Depends(require_role("biller"))]
AdminRole = Annotated[Principal, Depends(require_role())]
