"""Signing in and out of the pages, and where each role starts."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.access.accounts import AccountError
from services.access.authentication import AuthenticationError, PasswordChangeRequired, ThrottledError
from services.access.principal import Principal
from serving.auth import request_id_of, source_of
from serving.dependencies import app_state
from serving.pages.page_sessions import COOKIE
from serving.pages.rendering import HOME, SessionDep, forbidden, page, set_cookie

router = APIRouter(prefix="/app", include_in_schema=False)
SIGN_IN_COOKIE, SIGN_IN_SECONDS = "careops_sign_in", 15 * 60


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> HTMLResponse:
    """Where each role starts."""
    return RedirectResponse(HOME[session.role], status.HTTP_303_SEE_OTHER)


def sign_in_page(request: Request, error: str | None, code: int = 200, change: bool = False) -> HTMLResponse:
    """The sign-in form, with a fresh token in the form and in a short-lived cookie (before there
    is a session, the form's CSRF protection is this double submit)."""
    token = secrets.token_urlsafe(24)
    sign_on = app_state(request).services.sign_on
    sso_name = sign_on.name if sign_on is not None else None
    context = {"title": "Sign in", "error": error, "token": token, "change": change, "sso_name": sso_name}
    response = page(request, "sign_in.html", context, None, code)
    response.set_cookie(
        SIGN_IN_COOKIE, token, max_age=SIGN_IN_SECONDS, path="/app", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.get("/sign-in", name="sign_in_form", response_class=HTMLResponse)
def sign_in_form(request: Request) -> HTMLResponse:
    """The sign-in form."""
    return sign_in_page(request, None)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    username: Annotated[str, Form(max_length=128)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    code: Annotated[str, Form(max_length=12)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
    token: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Open a session for a user whose password (and TOTP code, where they have one) is right; a
    first-time password must be changed here first. Nothing typed is ever echoed or logged."""
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        return sign_in_page(
            request, "The form had expired; please sign in again.", status.HTTP_400_BAD_REQUEST
        )
    services = app_state(request).services
    source, request_id = source_of(request), request_id_of(request)
    try:
        try:
            opened = services.authenticator.sign_in(username, password, code, source, request_id)
        except PasswordChangeRequired:
            if not new_password:
                return sign_in_page(
                    request, "Choose a new password (12 characters or more).", 200, change=True
                )
            who = Principal("user", username, "none", source=source, request_id=request_id)
            services.accounts.set_password(who, username, new_password)
            opened = services.authenticator.sign_in(username, new_password, code, source, request_id)
    except ThrottledError as error:
        response = sign_in_page(request, "Too many failed attempts; try again later.", 429)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except AccountError as error:
        return sign_in_page(request, str(error), status.HTTP_400_BAD_REQUEST, change=True)
    except AuthenticationError:
        return sign_in_page(request, "The user name, password or code is not right.", 401)
    response = RedirectResponse(HOME[opened.principal.role], status.HTTP_303_SEE_OTHER)
    set_cookie(request, response, opened.session_id)
    response.delete_cookie(SIGN_IN_COOKIE, path="/app")
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session: the server forgets it, so the old cookie opens nothing."""
    if not session.csrf_ok(csrf):
        return forbidden(request, session)
    services = app_state(request).services
    services.authenticator.sign_out(session.session_id, source_of(request), request_id_of(request))
    after, sign_on = str(request.url_for("sign_in_form")), services.sign_on
    # A user of the identity provider signs out there too, so the next person at a shared desk
    # is not signed straight back in as them.
    # The provider's page is reached from a page of ours, not by a redirect: a form's redirect to
    # another origin is what the pages' CSP (form-action 'self') stops.
    provider_url = sign_on.sign_out_url(after) if sign_on and sign_on.is_own(session.username) else None
    if provider_url:
        context = {"title": "Signed out", "next": provider_url, "link": f"Sign out of {sign_on.name} too"}
        response: Response = page(request, "moving_on.html", context, None)
    else:
        response = RedirectResponse("/app/sign-in", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/app", httponly=True, samesite="strict")
    return response
