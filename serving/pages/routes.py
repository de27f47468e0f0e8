"""The pages: sign-in, the scheduler's day, and marking what happened to each visit.

Pages read the same stores and models as the API and write outcomes through the same store
method, so tomorrow's scores learn from what the scheduler marks today. Every page is sent with
Cache-Control: no-store; record ids travel only in signed form fields, never in a URL.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.concurrency import run_in_threadpool

from data.epoch import epoch_day
from data.loaders.canonical import QUARANTINE_REASON, SOURCE_ROW
from data.loaders.uploads import UploadError, appointments_from_upload
from services.model_set import ModelUnavailableError
from services.schedule_day import day_schedule
from serving.dependencies import app_state
from serving.pages.session import COOKIE, PageSession, Sessions

router = APIRouter(prefix="/app", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
MAX_BAD_ROWS_SHOWN = 50
SIGN_IN_COOKIE, SIGN_IN_SECONDS = "careops_sign_in", 15 * 60
SCHEDULING = ("scheduler", "admin")
HOME = {"scheduler": "/app/day", "admin": "/app/day", "biller": "/app/worklist"}
OUTCOMES = {"attended": "Attended", "no_show": "No-show", "cancelled": "Cancelled"}


class SignInRequired(Exception):
    """No valid session: the browser goes to the sign-in page."""


def sessions(request: Request) -> Sessions:
    """The app's session issuer (built from its API keys at start)."""
    return app_state(request).page_sessions


def current(request: Request) -> PageSession:
    """The signed-in session, or SignInRequired."""
    session = sessions(request).read(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired
    return session


SessionDep = Annotated[PageSession, Depends(current)]


def page(request: Request, name: str, context: dict[str, Any], session: PageSession | None, code: int = 200):
    """A rendered page that re-issues the session cookie (idle expiry restarts) and is never cached."""
    response = templates.TemplateResponse(
        request, name, {"session": session, "home": HOME, **context}, status_code=code
    )
    response.headers["Cache-Control"] = "no-store"
    if session is not None:
        set_cookie(request, response, sessions(request).cookie(session))
    return response


def set_cookie(request: Request, response: Response, value: str) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, for /app only; Secure when served over HTTPS."""
    response.set_cookie(
        COOKIE,
        value,
        max_age=sessions(request).idle_seconds,
        path="/app",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def may(session: PageSession, roles: tuple[str, ...], csrf: str | None = None) -> bool:
    """Whether the session's role is one of `roles` and, for a form, its token is the session's."""
    return session.role in roles and (csrf is None or session.csrf_ok(csrf))


def forbidden(request: Request, session: PageSession) -> HTMLResponse:
    """The page a role may not open."""
    return page(request, "forbidden.html", {"title": "Not for your role"}, session, status.HTTP_403_FORBIDDEN)


def handles(request: Request) -> URLSafeSerializer:
    """Signs record ids into form fields, so a posted id is one this service put on a page."""
    return URLSafeSerializer(sessions(request).signer.secret_key, salt="careops-record-handle")


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> HTMLResponse:
    """Where each role starts."""
    return RedirectResponse(HOME[session.role], status.HTTP_303_SEE_OTHER)


def _sign_in_page(request: Request, error: str | None, code: int = 200) -> HTMLResponse:
    """The sign-in form, with a fresh token in the form and in a short-lived cookie (before there
    is a session, the form's CSRF protection is this double submit)."""
    token = secrets.token_urlsafe(24)
    response = page(request, "sign_in.html", {"title": "Sign in", "error": error, "token": token}, None, code)
    response.set_cookie(
        SIGN_IN_COOKIE, token, max_age=SIGN_IN_SECONDS, path="/app", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> HTMLResponse:
    """The sign-in form."""
    return _sign_in_page(request, None)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    key: Annotated[str, Form(max_length=256)] = "",
    token: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Open a session for a known API key; the key itself is never stored or echoed."""
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(token, expected):
        return _sign_in_page(
            request, "The form had expired; please sign in again.", status.HTTP_400_BAD_REQUEST
        )
    session = sessions(request).open(key)
    if session is None:
        return _sign_in_page(request, "That key is not known here.", status.HTTP_401_UNAUTHORIZED)
    response = RedirectResponse(HOME[session.role], status.HTTP_303_SEE_OTHER)
    set_cookie(request, response, sessions(request).cookie(session))
    response.delete_cookie(SIGN_IN_COOKIE, path="/app")
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session."""
    if not session.csrf_ok(csrf):
        return forbidden(request, session)
    response = RedirectResponse("/app/sign-in", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/app", httponly=True, samesite="strict")
    return response


@router.get("/day", response_class=HTMLResponse)
async def day(
    request: Request,
    session: SessionDep,
    clinic: Annotated[str | None, Query(max_length=64)] = None,
    on: Annotated[date | None, Query(alias="date")] = None,
    provider: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """The scheduler's day at one clinic: scores, session plans, the call list, outcomes to mark."""
    if not may(session, SCHEDULING):
        return forbidden(request, session)
    return await _day(request, session, clinic, on, provider)


@router.post("/day/upload", response_class=HTMLResponse)
async def upload_day(
    request: Request,
    session: SessionDep,
    appointments_file: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Book a CSV of appointments (canonical columns); rows that break a rule are listed with why."""
    if not may(session, SCHEDULING, csrf):
        return forbidden(request, session)
    try:
        loaded = await run_in_threadpool(appointments_from_upload, await appointments_file.read())
    except UploadError as error:
        return await _day(request, session, None, None, None, str(error))
    horizon = app_state(request).settings.horizon_days
    booked = await run_in_threadpool(
        app_state(request).services.appointments.book_table, loaded.valid, horizon
    )
    bad = [
        (int(row[SOURCE_ROW]) + 1, str(row[QUARANTINE_REASON]))  # the file's line, after its header
        for _, row in loaded.quarantined.head(MAX_BAD_ROWS_SHOWN).iterrows()
    ]
    notice = f"{booked} appointments booked; {len(loaded.quarantined)} rows not valid"
    first = loaded.valid["starts_at"].min() if booked else None
    clinic = str(loaded.valid["clinic_id"].iloc[0]) if booked else None
    return await _day(
        request, session, clinic, first.date() if first is not None else None, None, notice, bad
    )


async def _day(
    request: Request,
    session: PageSession,
    clinic: str | None,
    on: date | None,
    provider: str | None,
    notice: str = "",
    bad_rows: list[tuple[int, str]] | None = None,
) -> HTMLResponse:
    store = app_state(request).services.appointments
    clinics = await run_in_threadpool(store.clinics)
    clinic = clinic if clinic in clinics else (clinics[0] if clinics else None)
    if on is None:  # today, or the next day with visits booked (a first run books tomorrow)
        today = date.today()
        upcoming = (
            await run_in_threadpool(store.next_day_with_visits, clinic, epoch_day(today)) if clinic else None
        )
        on = today if upcoming is None else date(1970, 1, 1) + timedelta(days=int(upcoming))
    context: dict[str, Any] = {
        "title": "The day",
        "clinics": clinics,
        "clinic": clinic,
        "date": on,
        "provider": provider or "",
        "schedule": None,
        "error": None,
        "outcomes": OUTCOMES,
        "handle": handles(request).dumps,
        "notice": notice,
        "bad_rows": bad_rows,
    }
    if clinic is not None:
        try:
            model = app_state(request).models.get("noshow")
        except ModelUnavailableError as error:
            context["error"] = str(error)
        else:
            when = datetime.combine(on, datetime.min.time())
            accepted = await run_in_threadpool(app_state(request).services.overbooks.on_day, clinic, when)
            context["schedule"] = await run_in_threadpool(
                day_schedule,
                app_state(request).services.noshow,
                app_state(request).risk_bands,
                clinic,
                when,
                provider or None,
                accepted=accepted,
                model=model,
            )
    return page(request, "day.html", context, session)


@router.post("/day/accept")
async def accept_overbook(
    request: Request,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    slot: Annotated[str, Form(max_length=512)] = "",
    count: Annotated[int, Form(ge=0, le=5)] = 1,
) -> Response:
    """Accept (or, with count 0, withdraw) the plan's extra booking for one slot."""
    if not may(session, SCHEDULING, csrf):
        return forbidden(request, session)
    try:
        clinic, provider, starts = handles(request).loads(slot)
    except BadSignature:
        return forbidden(request, session)
    when = datetime.fromisoformat(starts)
    await run_in_threadpool(app_state(request).services.overbooks.accept, clinic, provider, when, count)
    back = f"/app/day?{urlencode({'clinic': clinic, 'date': when.date().isoformat()})}"
    return RedirectResponse(back, status.HTTP_303_SEE_OTHER)


@router.post("/day/outcome")
async def mark_outcome(
    request: Request,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    record: Annotated[str, Form(max_length=512)] = "",
    outcome: Annotated[str, Form(max_length=16)] = "",
    clinic: Annotated[str, Form(max_length=64)] = "",
    on: Annotated[str, Form(alias="date", max_length=10)] = "",
) -> Response:
    """Record attended, no-show or cancelled for one visit of the day, then show the day again."""
    if not may(session, SCHEDULING, csrf):
        return forbidden(request, session)
    try:
        appointment_id = handles(request).loads(record)
    except BadSignature:
        return forbidden(request, session)
    if outcome not in OUTCOMES:
        return page(
            request, "forbidden.html", {"title": "Unknown outcome"}, session, status.HTTP_400_BAD_REQUEST
        )
    await run_in_threadpool(
        app_state(request).services.appointments.record_outcomes, {appointment_id: outcome}
    )
    return RedirectResponse(
        f"/app/day?{urlencode({'clinic': clinic, 'date': on})}", status.HTTP_303_SEE_OTHER
    )
