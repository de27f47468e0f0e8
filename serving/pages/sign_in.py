"""Signing in and out of the pages, and where each role starts."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serving.pages.page_sessions import COOKIE
from serving.pages.rendering import HOME, SessionDep, forbidden, page, sessions, set_cookie

router = APIRouter(prefix="/app", include_in_schema=False)
SIGN_IN_COOKIE, SIGN_IN_SECONDS = "careops_sign_in", 15 * 60


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
