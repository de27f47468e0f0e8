"""After a denial: the appeal draft of a denied claim as a printable page and as a PDF.

The PDF is rendered by WeasyPrint from the same template, with no access to any file or address
beyond its own stylesheet (every fetch is refused), in a worker thread.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from services.appeals import AppealDraft
from serving.dependencies import app_state
from serving.pages.rendering import BillerPage, page, templates
from serving.pages.worklist import Handle

router = APIRouter(prefix="/app", include_in_schema=False)
STYLESHEET = Path(__file__).parent / "static" / "letter.css"


@router.get("/claim/{handle}/appeal", response_class=HTMLResponse)
async def appeal_page(request: Request, session: BillerPage, handle: Handle) -> Response:
    """The appeal (or corrected-claim) draft of a denied claim, to read and print."""
    draft = await run_in_threadpool(app_state(request).services.appeals.draft, session.who, handle, "page")
    if draft is None:
        return _none(request, session)
    return page(request, "appeal.html", {"title": "Appeal", "draft": draft}, session)


@router.get("/claim/{handle}/appeal.pdf")
async def appeal_pdf(request: Request, session: BillerPage, handle: Handle) -> Response:
    """The same draft as a PDF, downloaded."""
    draft = await run_in_threadpool(app_state(request).services.appeals.draft, session.who, handle, "pdf")
    if draft is None:
        return _none(request, session)
    pdf = await run_in_threadpool(appeal_as_pdf, draft)
    headers = {"Content-Disposition": 'attachment; filename="appeal.pdf"', "Cache-Control": "no-store"}
    return Response(pdf, media_type="application/pdf", headers=headers)


def appeal_as_pdf(draft: AppealDraft) -> bytes:
    """The draft's letter as PDF bytes."""
    from weasyprint import CSS, HTML  # loads Pango: only when a PDF is asked for

    html = templates.get_template("appeal_document.html").render(draft=draft, title="Appeal")
    return HTML(string=html, url_fetcher=_refuse).write_pdf(stylesheets=[CSS(string=_stylesheet())])


@cache
def _stylesheet() -> str:
    return STYLESHEET.read_text(encoding="utf-8")


def _refuse(url: str, *_: object, **__: object) -> dict:
    raise ValueError("an appeal letter fetches nothing")


def _none(request: Request, session) -> Response:
    context = {"title": "No appeal for this claim"}
    return page(request, "forbidden.html", context, session, status.HTTP_404_NOT_FOUND)
