"""What every page shares: templates, the signed-in session, the role a page needs, and responses
that are never cached. A page that the session's role may not open answers with the forbidden page.

Every page is sent with Cache-Control: no-store; record ids travel only in signed form fields, never
in a URL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, Request, status
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import URLSafeSerializer

from serving.auth import request_id_of, source_of
from serving.dependencies import app_state
from serving.pages.page_sessions import COOKIE, PageSession

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
SCHEDULING = ("scheduler", "admin")
BILLING = ("biller", "admin")
ADMINISTRATION = ("admin",)
HOME = {"scheduler": "/app/day", "admin": "/app/day", "biller": "/app/worklist"}


class SignInRequired(Exception):
    """No valid session: the browser goes to the sign-in page."""


class PageForbidden(Exception):
    """The session's role may not open the page, or a form's token is not the session's."""

    def __init__(self, session: PageSession) -> None:
        super().__init__("forbidden")
        self.session = session


def current(request: Request) -> PageSession:
    """The signed-in session (held by the server), or SignInRequired."""
    session_id = request.cookies.get(COOKIE)
    found = app_state(request).services.authenticator.session(
        session_id, source_of(request), request_id_of(request)
    )
    if found is None:
        raise SignInRequired
    who, csrf = found
    request.state.principal = who.id  # for the request's log line
    return PageSession(who, session_id or "", csrf)


SessionDep = Annotated[PageSession, Depends(current)]


def page(request: Request, name: str, context: dict[str, Any], session: PageSession | None, code: int = 200):
    """A rendered page, never cached."""
    response = templates.TemplateResponse(
        request, name, {"session": session, "home": HOME, **context}, status_code=code
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def set_cookie(request: Request, response: Response, value: str) -> None:
    """The session cookie: the session's random id only; HttpOnly, SameSite=Strict, for /app only,
    Secure when served over HTTPS; it lasts as long as the browser (the server ends the session)."""
    response.set_cookie(
        COOKIE, value, path="/app", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


def forbidden(request: Request, session: PageSession) -> HTMLResponse:
    """The page a role may not open."""
    return page(request, "forbidden.html", {"title": "Not for your role"}, session, status.HTTP_403_FORBIDDEN)


ERROR_TITLES = {
    400: "Not understood", 403: "Not for your role", 404: "Not found", 405: "Not allowed here",
    413: "Too large", 422: "Not understood", 429: "Too many requests",
}  # fmt: skip


def sentence(text: str) -> str:
    """A service's message ("the file holds ...") as a sentence for a page."""
    return f"{text[:1].upper()}{text[1:]}."


def error_page(request: Request, code: int, message: str) -> HTMLResponse:
    """A page for a page request that failed (never JSON), with the reason and a way back; the
    message names fields and limits only, never what was sent."""
    title = ERROR_TITLES.get(code, "Something went wrong")
    return page(request, "error.html", {"title": title, "message": message}, None, code)


def handles(request: Request) -> URLSafeSerializer:
    """Signs record ids into form fields, so a posted id is one this service put on a page."""
    return URLSafeSerializer(app_state(request).handle_secret, salt="careops-record-handle")


def _role(roles: tuple[str, ...]) -> Callable[..., PageSession]:
    def check(session: SessionDep) -> PageSession:
        if session.role not in roles:
            raise PageForbidden(session)
        return session

    return check


def _role_and_token(roles: tuple[str, ...]) -> Callable[..., PageSession]:
    def check(session: SessionDep, csrf: Annotated[str, Form()] = "") -> PageSession:
        if session.role not in roles or not session.csrf_ok(csrf):
            raise PageForbidden(session)
        return session

    return check


async def to_forbidden(request: Request, error: Exception) -> HTMLResponse:
    """The forbidden page, for a PageForbidden raised by a page's role dependency."""
    assert isinstance(error, PageForbidden)
    return forbidden(request, error.session)


# A page's role, as a dependency (`...Form`: a posted form, whose CSRF token must be the session's).
SchedulerPage = Annotated[PageSession, Depends(_role(SCHEDULING))]
SchedulerForm = Annotated[PageSession, Depends(_role_and_token(SCHEDULING))]
BillerPage = Annotated[PageSession, Depends(_role(BILLING))]
BillerForm = Annotated[PageSession, Depends(_role_and_token(BILLING))]
AdminPage = Annotated[PageSession, Depends(_role(ADMINISTRATION))]
AdminForm = Annotated[PageSession, Depends(_role_and_token(ADMINISTRATION))]
