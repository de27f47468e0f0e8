"""The biller's pages: the worklist ranked by dollars at risk, one claim's risks and fixes, export.

Claims come in by upload (a canonical CSV or an 837) and are scored once as they arrive; the list
reads those scores. A claim's page scores it afresh with its factors, lines, reasons and fixes.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from data.loaders.uploads import UploadError
from data.spreadsheet import safe_cell
from data.worklist_items import (
    DEADLINES,
    MARKABLE,
    NEXT,
    NOT_YET_ADJUDICATED,
    SORTS,
    STATUS_LABELS,
    STATUSES,
    WorklistView,
)
from services.model_set import ModelUnavailableError
from serving.dependencies import app_state
from serving.errors import InvalidRequest
from serving.memory import return_freed_memory
from serving.pages.rendering import BillerForm, BillerPage, forbidden, page, sentence

router = APIRouter(prefix="/app", include_in_schema=False)
SHOWN = 300  # rows the page lists, the largest first; the export holds every row of the view
Handle = Annotated[int, Path(ge=0, lt=2**63)]  # a row id the store can hold: anything else is a 422 page
DATE_OR_EMPTY = r"^(\d{4}-\d{2}-\d{2})?$"


def filters(
    payer: Annotated[str, Query(max_length=64)] = "",
    category: Annotated[str, Query(max_length=32)] = "",
    min_probability: Annotated[float, Query(ge=0, le=1)] = 0.0,
    since: Annotated[str, Query(pattern=DATE_OR_EMPTY)] = "",
    until: Annotated[str, Query(pattern=DATE_OR_EMPTY)] = "",
    status: Annotated[str, Query(pattern=f"^({'|'.join((*STATUSES, 'all'))})$")] = "open",
    sort: Annotated[str, Query(pattern=f"^({'|'.join(SORTS)})$")] = "priority",
    deadline: Annotated[str, Query(pattern=f"^({'|'.join(DEADLINES)})$")] = "",
) -> WorklistView:
    """The filters from the query string (a form sends an empty date when none is picked)."""
    try:
        first, last = (date.fromisoformat(d) if d else None for d in (since, until))
    except ValueError:
        raise InvalidRequest("since", "must be a date (YYYY-MM-DD)", "date_from_datetime_parsing") from None
    return WorklistView(payer, category, min_probability, first, last, status, sort, deadline)


FiltersDep = Annotated[WorklistView, Depends(filters)]


@router.get("/worklist", response_class=HTMLResponse)
async def worklist(request: Request, session: BillerPage, chosen: FiltersDep) -> Response:
    """The worklist, filtered and ranked, with the upload form."""
    return await _render(request, session, chosen, "")


async def _render(
    request: Request, session, chosen: WorklistView, notice: str, found: list | None = None
) -> Response:
    listed = await run_in_threadpool(app_state(request).services.worklist.view, session.who, chosen, SHOWN)
    context: dict[str, Any] = {
        "title": "Worklist",
        "items": listed.items,
        "matching": listed.matching,
        "listed": listed.listed,
        "filters": chosen,
        "payers": listed.payers,
        "categories": listed.categories,
        "sorts": SORTS,
        "deadlines": DEADLINES,
        "ranking": app_state(request).services.worklist.policy.describe(),
        "statuses": (*STATUSES, "all"),
        "status_labels": STATUS_LABELS,
        "at_risk": listed.at_risk,
        "query": request.url.query,
        "notice": notice,
        "left_out": listed.left_out,
        "found": found,
    }
    return await run_in_threadpool(page, request, "worklist.html", context, session)


@router.get("/worklist.csv")
async def export(request: Request, session: BillerPage, chosen: FiltersDep) -> Response:
    """The current view as CSV, in the order shown."""
    listed = await run_in_threadpool(
        app_state(request).services.worklist.view, session.who, chosen, None, "export"
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rank", "claim_id", "payer_id", "service_date", "total_charge", "denial_probability",
                     "expected_payment", "dollars_at_risk", "top_reason", "status", "filing_deadline",
                     "days_left", "deadline_flag"])  # fmt: skip
    for rank, item in enumerate(listed.items, start=1):  # text a spreadsheet would run is written quoted
        writer.writerow(
            [
                rank,
                safe_cell(item.claim_id),
                safe_cell(item.payer_id),
                item.service_date.isoformat(),
                f"{item.total_charge:.2f}",
                f"{item.probability:.6f}",
                f"{item.expected_payment:.2f}",
                f"{item.dollars_at_risk:.2f}",
                safe_cell(item.top_reason or ""),
                item.status,
                item.deadline.day.isoformat() if item.deadline.day else "",
                "" if item.deadline.days_left is None else item.deadline.days_left,
                item.deadline.flag,
            ]
        )
    headers = {"Content-Disposition": 'attachment; filename="worklist.csv"', "Cache-Control": "no-store"}
    return Response(out.getvalue(), media_type="text/csv", headers=headers)


@router.post("/worklist/upload", response_class=HTMLResponse)
async def upload(
    request: Request,
    session: BillerForm,
    claims_file: Annotated[UploadFile, File()],
) -> Response:
    """Claims from a CSV or an 837, validated, scored and added to the list; bad rows listed with why."""
    state = app_state(request)
    async with state.uploads.slot():
        content = await claims_file.read()
        try:
            done = await run_in_threadpool(
                state.services.worklist.upload,
                session.who, claims_file.filename or "", content, state.settings.upload_max_rows,
            )  # fmt: skip
        except UploadError as error:
            return await _render(request, session, WorklistView(), sentence(str(error)))
        except ModelUnavailableError as error:
            return await _render(request, session, WorklistView(), str(error))
        finally:
            del content
            await run_in_threadpool(return_freed_memory)
    reasons = "; ".join(f"{n} {reason}" for reason, n in sorted(done.reason_counts.items()))
    notice = f"{done.added} claims added, {done.updated} updated; {done.quarantined} rows not valid"
    return await _render(request, session, WorklistView(), notice + (f" ({reasons})" if reasons else ""))


@router.post("/worklist/search", response_class=HTMLResponse)
async def search(
    request: Request, session: BillerForm, term: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    """Claims found by claim id, patient id or payer claim number, posted (an id never goes in a URL)."""
    found = await run_in_threadpool(app_state(request).services.worklist.search, session.who, term)
    notice = (
        f"{len(found)} claim{'s' if len(found) != 1 else ''} found"
        if term.strip()
        else "Type an id to search"
    )
    return await _render(request, session, WorklistView(), notice, found)


@router.post("/worklist/from-store", response_class=HTMLResponse)
async def from_store(request: Request, session: BillerForm) -> Response:
    """Put the claim store's claims that await a remittance on the list, scored."""
    worklist = app_state(request).services.worklist
    claims = await run_in_threadpool(worklist.awaiting, session.who, app_state(request).settings.max_batch)
    try:
        added, updated = await run_in_threadpool(worklist.add, session.who, claims, "pages")
    except ModelUnavailableError as error:
        return await _render(request, session, WorklistView(), str(error))
    notice = (
        f"from the claim store, {len(claims)} claims awaiting a remittance: {added} added, {updated} updated"
    )
    return await _render(request, session, WorklistView(), notice)


@router.get("/claim/{handle}", response_class=HTMLResponse)
async def claim_page(request: Request, session: BillerPage, handle: Handle) -> Response:
    """One claim scored afresh: per-line risk, rules broken, the likely reasons with CARCs, the fixes."""
    item = await run_in_threadpool(app_state(request).services.worklist.item, session.who, handle)
    if item is None:
        return page(request, "forbidden.html", {"title": "No such claim"}, session, status.HTTP_404_NOT_FOUND)
    state = app_state(request)
    scores = await run_in_threadpool(
        state.services.denial.score, session.who, [item.claim], None, state.settings.top_factors
    )
    context = {
        "title": "Claim",
        "item": item,
        "probability": float(scores.probability[0]),
        "at_risk": float(scores.dollars_at_risk[0]),
        "lines": scores.lines[0],
        "reasons": scores.reasons[0],
        "factors": scores.factors[0],
        "next_statuses": [s for s in NEXT.get(item.status, NOT_YET_ADJUDICATED) if s != item.status],
        "status_labels": STATUS_LABELS,
    }
    return page(request, "claim.html", context, session)


@router.post("/claim/{handle}/status")
async def mark(
    request: Request, session: BillerForm, handle: Handle,
    status_to: Annotated[str, Form(alias="status")] = "",
) -> Response:  # fmt: skip
    """Mark a claim fixed, submitted or open again."""
    if status_to not in MARKABLE:
        return forbidden(request, session)
    if not await run_in_threadpool(app_state(request).services.worklist.mark, session.who, handle, status_to):
        return page(request, "forbidden.html", {"title": "No such claim"}, session, status.HTTP_404_NOT_FOUND)
    return RedirectResponse(f"/app/claim/{handle}", status.HTTP_303_SEE_OTHER)
