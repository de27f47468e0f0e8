"""Single sign-on from the pages: off to the identity provider, and back with a session.

The flow's cookie is SameSite=Lax (the provider's redirect back is a cross-site navigation, which
would not carry a Strict cookie) and lives only under /app/sso. The session cookie stays Strict, so
the callback does not redirect straight on: it answers a small page that moves to the user's home
from this site, where the browser sends the new cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.access.authentication import AuthenticationError
from services.access.group_roles import NoRoleError
from services.access.single_sign_on import FLOW_MINUTES, SignOnError, SingleSignOn
from serving.auth import request_id_of, source_of
from serving.dependencies import app_state
from serving.pages.rendering import HOME, page, sentence, set_cookie
from serving.pages.sign_in import sign_in_page

router = APIRouter(prefix="/app/sso", include_in_schema=False)
FLOW_COOKIE = "careops_sso"


def _sign_on(request: Request) -> SingleSignOn | None:
    return app_state(request).services.sign_on


def _redirect_uri(request: Request, sign_on: SingleSignOn) -> str:
    return sign_on.settings.oidc_redirect_url or str(request.url_for("sso_callback"))


@router.get("/start")
def start(request: Request) -> Response:
    """Send the browser to the identity provider, with a new flow bound to it by a cookie."""
    sign_on = _sign_on(request)
    if sign_on is None:
        return sign_in_page(request, "Single sign-on is not set up here.", status.HTTP_404_NOT_FOUND)
    try:
        cookie, url = sign_on.start(_redirect_uri(request, sign_on))
    except SignOnError as error:
        return sign_in_page(request, f"{error}.", status.HTTP_502_BAD_GATEWAY)
    response = RedirectResponse(url, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        FLOW_COOKIE, cookie, max_age=FLOW_MINUTES * 60, path="/app/sso", httponly=True, samesite="lax",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.get("/callback", name="sso_callback", response_class=HTMLResponse)
def callback(request: Request) -> Response:
    """The provider's reply: a session for a user whose groups give a role, else the reason."""
    sign_on = _sign_on(request)
    if sign_on is None:
        return sign_in_page(request, "Single sign-on is not set up here.", status.HTTP_404_NOT_FOUND)
    reply = {k: v[:2048] for k, v in request.query_params.items() if k in ("code", "state", "iss", "error")}
    try:
        opened = sign_on.finish(
            request.cookies.get(FLOW_COOKIE), reply, _redirect_uri(request, sign_on),
            source_of(request), request_id_of(request),
        )  # fmt: skip
    except NoRoleError as error:
        response = sign_in_page(request, f"You may not use careops: {error}.", status.HTTP_403_FORBIDDEN)
    except AuthenticationError:
        response = sign_in_page(request, "The identity provider's answer could not be verified.", 401)
    except SignOnError as error:
        response = sign_in_page(request, sentence(str(error)), 400)
    else:
        context = {"title": "Signed in", "next": HOME[opened.principal.role], "link": "Continue"}
        response = page(request, "moving_on.html", context, None)
        set_cookie(request, response, opened.session_id)
    response.delete_cookie(FLOW_COOKIE, path="/app/sso")
    return response
