"""The scheduler's day: every visit of a clinic's day scored, a plan per session, the call list with
how each call went, and marking what happened to each visit. Outcomes are written through the same
service as the API's, so tomorrow's scores learn from what the scheduler marks today."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature
from starlette.concurrency import run_in_threadpool

from data.epoch import epoch_day
from data.loaders.uploads import UploadError
from services.calls import CALL_OUTCOMES, UnknownAppointmentError
from services.model_set import ModelUnavailableError
from services.noshow import CapacityError
from services.schedule_day import day_schedule
from services.upload_reader import read_appointments
from serving.dependencies import app_state
from serving.memory import return_freed_memory
from serving.pages.page_sessions import PageSession
from serving.pages.rendering import SchedulerForm, SchedulerPage, forbidden, handles, page, sentence

router = APIRouter(prefix="/app", include_in_schema=False)
MAX_BAD_ROWS_SHOWN = 50
OUTCOMES = {"attended": "Attended", "no_show": "No-show", "cancelled": "Cancelled"}
LAST_CLINIC = "careops_clinic"


@router.get("/day", response_class=HTMLResponse)
async def day(
    request: Request,
    session: SchedulerPage,
    clinic: Annotated[str | None, Query(max_length=64)] = None,
    on: Annotated[date | None, Query(alias="date")] = None,
    provider: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[int, Query(alias="from", ge=0, lt=10_000_000)] = 0,
) -> HTMLResponse:
    """The scheduler's day at one clinic: scores, session plans, the call list, outcomes to mark."""
    response = await _day(request, session, clinic, on, provider, start=start)
    if clinic is not None and getattr(response, "context", {}).get("clinic") == clinic:
        # The clinic last viewed (one the user may see) is where this browser lands next time.
        response.set_cookie(
            LAST_CLINIC, quote(clinic, safe=""), path="/app", httponly=True, samesite="strict",
            secure=request.url.scheme == "https", max_age=90 * 86400,
        )  # fmt: skip
    return response


@router.post("/day/upload", response_class=HTMLResponse)
async def upload_day(
    request: Request,
    session: SchedulerForm,
    appointments_file: Annotated[UploadFile, File()],
) -> HTMLResponse:
    """Book a CSV of appointments (canonical columns); rows that break a rule are listed with why. A
    file of more rows than allowed, or one that would overfill a clinic's day, books nothing."""
    state = app_state(request)
    settings = state.settings
    async with state.uploads.slot():
        try:  # read in a process of its own, so that the memory a large file costs goes with it
            content = await appointments_file.read()
            read = await run_in_threadpool(
                read_appointments, content, settings.upload_max_rows, MAX_BAD_ROWS_SHOWN
            )
            booked = await run_in_threadpool(
                state.services.noshow.book_table, session.who, read.valid, settings.horizon_days, "pages",
                settings.clinic_day_capacity,
            )  # fmt: skip
        except (UploadError, CapacityError) as error:
            return await _day(request, session, None, None, None, sentence(str(error)))
    notice = f"{booked} appointments booked; {read.quarantined} rows not valid"
    first = read.valid["starts_at"].min() if booked else None
    clinic = str(read.valid["clinic_id"].iloc[0]) if booked else None
    bad_rows = read.bad_rows
    del read
    await run_in_threadpool(return_freed_memory)
    return await _day(
        request, session, clinic, first.date() if first is not None else None, None, notice, bad_rows
    )


async def _day(
    request: Request,
    session: PageSession,
    clinic: str | None,
    on: date | None,
    provider: str | None,
    notice: str = "",
    bad_rows: list[tuple[int, str]] | None = None,
    start: int = 0,
) -> HTMLResponse:
    scheduling = app_state(request).services.scheduling
    clinics = await run_in_threadpool(scheduling.clinics, session.who)
    clinic = clinic if clinic in clinics else _landing(request, session, clinics)
    page_size = app_state(request).settings.day_page_visits
    if on is None:  # today, or the next day with visits booked (a first run books tomorrow)
        today = date.today()
        upcoming = (
            await run_in_threadpool(scheduling.next_day_with_visits, session.who, clinic, epoch_day(today))
            if clinic
            else None
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
        "call_outcomes": CALL_OUTCOMES,
        "cooldown_days": app_state(request).settings.call_cooldown_days,
        "handle": handles(request).dumps,
        "notice": notice,
        "bad_rows": bad_rows,
        "page_size": page_size,
        "page_link": lambda first: _day_link(clinic, on, provider, first),
    }
    if clinic is not None:
        try:
            model = app_state(request).models.get("noshow")
        except ModelUnavailableError as error:
            context["error"] = str(error)
        else:
            when = datetime.combine(on, datetime.min.time())
            accepted = await run_in_threadpool(scheduling.accepted, session.who, clinic, when)
            context["schedule"] = await run_in_threadpool(
                day_schedule,
                session.who,
                app_state(request).services.noshow,
                app_state(request).risk_bands,
                clinic,
                when,
                provider or None,
                accepted=accepted,
                model=model,
                page_size=page_size,
                first=start,
                calls=app_state(request).services.calls,
            )
    return await run_in_threadpool(page, request, "day.html", context, session)


@router.post("/day/accept")
async def accept_overbook(
    request: Request,
    session: SchedulerForm,
    slot: Annotated[str, Form(max_length=512)] = "",
    count: Annotated[int, Form(ge=0, le=5)] = 1,
) -> Response:
    """Accept (or, with count 0, withdraw) the plan's extra booking for one slot."""
    try:
        clinic, provider, starts = handles(request).loads(slot)
    except BadSignature:
        return forbidden(request, session)
    when = datetime.fromisoformat(starts)
    await run_in_threadpool(
        app_state(request).services.scheduling.accept, session.who, clinic, provider, when, count
    )
    back = f"/app/day?{urlencode({'clinic': clinic, 'date': when.date().isoformat()})}"
    return RedirectResponse(back, status.HTTP_303_SEE_OTHER)


class VisitForm:
    """A form about one visit of the day: its signed handle, the choice made, and the day to show
    again."""

    def __init__(
        self,
        record: Annotated[str, Form(max_length=512)] = "",
        outcome: Annotated[str, Form(max_length=16)] = "",
        clinic: Annotated[str, Form(max_length=64)] = "",
        on: Annotated[str, Form(alias="date", max_length=10)] = "",
    ) -> None:
        self.record, self.outcome, self.clinic, self.on = record, outcome, clinic, on

    def appointment_id(self, request: Request) -> str | None:
        """The visit the handle names; None for a handle this server did not sign."""
        try:
            return handles(request).loads(self.record)
        except BadSignature:
            return None

    def back(self) -> RedirectResponse:
        """To the day the form was on."""
        query = urlencode({"clinic": self.clinic, "date": self.on})
        return RedirectResponse(f"/app/day?{query}", status.HTTP_303_SEE_OTHER)


VisitFormDep = Annotated[VisitForm, Depends()]


def _refused(request: Request, session: PageSession, title: str, code: int) -> HTMLResponse:
    return page(request, "forbidden.html", {"title": title}, session, code)


@router.post("/day/outcome")
async def mark_outcome(request: Request, session: SchedulerForm, form: VisitFormDep) -> Response:
    """Record attended, no-show or cancelled for one visit of the day, then show the day again."""
    appointment_id = form.appointment_id(request)
    if appointment_id is None:
        return forbidden(request, session)
    if form.outcome not in OUTCOMES:
        return _refused(request, session, "Unknown outcome", status.HTTP_400_BAD_REQUEST)
    noshow = app_state(request).services.noshow
    await run_in_threadpool(noshow.record_outcomes, session.who, {appointment_id: form.outcome}, "pages")
    return form.back()


@router.post("/day/call")
async def record_call(request: Request, session: SchedulerForm, form: VisitFormDep) -> Response:
    """Record how a reminder call went, then show the day again (the patient leaves the call list)."""
    appointment_id = form.appointment_id(request)
    if appointment_id is None:
        return forbidden(request, session)
    if form.outcome not in CALL_OUTCOMES:
        return _refused(request, session, "Unknown call outcome", status.HTTP_400_BAD_REQUEST)
    calls = app_state(request).services.calls
    try:
        await run_in_threadpool(calls.record, session.who, appointment_id, form.outcome, "pages")
    except UnknownAppointmentError:
        return _refused(request, session, "No such visit", status.HTTP_404_NOT_FOUND)
    return form.back()


def _landing(request: Request, session: PageSession, clinics: list[str]) -> str | None:
    """Where a day opens without a clinic named: the clinic this browser last viewed, else the
    first of the user's own clinics that has visits, else the first one with visits."""
    last = unquote(request.cookies.get(LAST_CLINIC, ""))
    if last in clinics:
        return last
    own = sorted(c for c in (session.who.clinics or ()) if c in clinics)
    return own[0] if own else (clinics[0] if clinics else None)


def _day_link(clinic: str | None, on: date, provider: str | None, first: int) -> str:
    query = {"clinic": clinic or "", "date": on.isoformat(), "from": first}
    return "/app/day?" + urlencode({**query, "provider": provider} if provider else query)
