"""The admin's pages: the access audit trail, listed and filtered; the open sessions, each of which
the admin can end; and the users, where a locked-out account is unlocked or a user disabled. Viewing
the trail is itself recorded, and so is every change."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.access.accounts import AccountError
from serving.dependencies import app_state
from serving.pages.rendering import AdminForm, AdminPage, error_page, page

router = APIRouter(prefix="/app/admin", include_in_schema=False)
SHOWN = 200


@router.get("/audit", response_class=HTMLResponse)
async def audit(
    request: Request,
    session: AdminPage,
    since: Annotated[date | None, Query()] = None,
    principal: Annotated[str | None, Query(max_length=160)] = None,
    record: Annotated[str | None, Query(max_length=128)] = None,
) -> HTMLResponse:
    """The latest entries of the audit trail, filtered by day, principal and record id, and whether
    the chain verifies."""
    services = app_state(request).services
    store = services.audit.store  # None when the trail is off
    services.audit.flush()
    day = datetime.combine(since, datetime.min.time()) if since else None
    entries = await run_in_threadpool(store.entries, day, principal or None, record or None) if store else []
    verified = await run_in_threadpool(store.verify) if store else None
    services.audit.record(
        session.who, "read", "audit", [], count=len(entries), principal=principal, record=record
    )
    context: dict[str, Any] = {
        "title": "Audit trail",
        "entries": entries[-SHOWN:][::-1],
        "total": len(entries),
        "verified": verified,
        "since": since.isoformat() if since else "",
        "principal": principal or "",
        "record": record or "",
    }
    return page(request, "audit.html", context, session)


@router.get("/sessions", response_class=HTMLResponse)
async def sessions(request: Request, session: AdminPage) -> HTMLResponse:
    """Users with open sessions, the most recently seen first, each with a button that ends them."""
    rows = await run_in_threadpool(app_state(request).services.authenticator.open_sessions, session.who)
    return page(request, "sessions.html", {"title": "Sessions", "rows": rows}, session)


@router.post("/sessions/end")
async def end_sessions(
    request: Request, session: AdminForm, username: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    """End every open session of a user (their next request lands on sign-in)."""
    await run_in_threadpool(app_state(request).services.authenticator.revoke_sessions, session.who, username)
    return RedirectResponse("/app/admin/sessions", status.HTTP_303_SEE_OTHER)


@router.get("/users", response_class=HTMLResponse)
async def users(request: Request, session: AdminPage) -> HTMLResponse:
    """Every user, with their role, scope, where they sign in, and whether they are locked out."""
    rows = await run_in_threadpool(app_state(request).services.accounts.users)
    now = datetime.now(UTC).replace(tzinfo=None)
    context = {"title": "Users", "rows": rows, "now": now}
    return page(request, "users.html", context, session)


@router.post("/users/change")
async def change_user(
    request: Request,
    session: AdminForm,
    username: Annotated[str, Form(max_length=128)] = "",
    change: Annotated[str, Form(pattern="^(unlock|disable|enable)$")] = "unlock",
) -> Response:
    """Unlock a user, or disable (their sessions end at once) or enable them again."""
    accounts = app_state(request).services.accounts
    try:
        if change == "unlock":
            await run_in_threadpool(accounts.unlock_user, session.who, username)
        else:
            await run_in_threadpool(accounts.disable_user, session.who, username, change == "disable")
    except AccountError:
        return error_page(request, status.HTTP_404_NOT_FOUND, "There is no such user.")
    return RedirectResponse("/app/admin/users", status.HTTP_303_SEE_OTHER)
