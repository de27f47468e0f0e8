"""Headers on every response, and a check of where a page's form came from.

- The pages get a strict Content-Security-Policy: no inline script or style, nothing from another
  origin, no framing, forms only to this site. Everything else (JSON, CSV, the metrics) gets one
  stricter still: it loads nothing and is framed nowhere. The API's interactive docs (`/docs`,
  `/redoc`), which load their script from a CDN, get only `frame-ancestors 'none'`.
- `X-Content-Type-Options`, `Referrer-Policy`, `Permissions-Policy` and `X-Frame-Options` on every
  response; `Strict-Transport-Security` when the request came over HTTPS (directly, or through a
  proxy whose `X-Forwarded-Proto` uvicorn trusts).
- `Cache-Control: no-store` on every response but the pages' static files, so no answer that holds
  a patient's or a claim's data is kept by a browser or a proxy.
- A state-changing request to the pages that comes from another origin (by `Sec-Fetch-Site`, else
  `Origin` or `Referer`) gets 403 before the route runs, beside the forms' CSRF tokens.

This is plain ASGI (no BaseHTTPMiddleware): it adds headers to the start message and nothing else,
so the scoring path pays a few microseconds.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'"
)
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = "frame-ancestors 'none'"
DOCS = ("/docs", "/redoc")
STATIC = "/app/static/"
COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"permissions-policy",
        b"camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), "
        b"hid=(), midi=(), display-capture=(), fullscreen=(self)",
    ),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
NO_STORE = (b"cache-control", b"no-store")
CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _policy(path: str) -> bytes:
    if path.startswith("/app/") or path == "/app":
        return PAGE_CSP.encode()
    if path.startswith(DOCS):
        return DOCS_CSP.encode()
    return DATA_CSP.encode()


def cross_site(headers: dict[bytes, bytes]) -> bool:
    """Whether a page request says it comes from another origin. Browsers say so in Sec-Fetch-Site
    (another port of the same host is "same-site", and refused too). Under Referrer-Policy
    no-referrer they send `Origin: null` on every form post, so Origin (or Referer) is compared only
    where Sec-Fetch-Site is missing and it names a host. A request that says nothing is let through:
    the form's CSRF token still guards it."""
    fetch_site = headers.get(b"sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in (b"same-origin", b"none")
    sent_from = headers.get(b"origin") or headers.get(b"referer")
    if not sent_from or sent_from == b"null":
        return False
    netloc = urlsplit(sent_from.decode("latin-1").lower()).netloc
    return netloc != headers.get(b"host", b"").decode("latin-1").lower()


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response, and cross-site page changes refused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if scope["method"] in CHANGES and path.startswith("/app/") and cross_site(dict(scope["headers"])):
            await _refuse_cross_site(self._send(scope, path, send))
            return
        await self.app(scope, receive, self._send(scope, path, send))

    def _send(self, scope: Scope, path: str, send: Send) -> Send:
        added = [*COMMON, (b"content-security-policy", _policy(path))]
        if scope.get("scheme") == "https":
            added.append(HSTS)
        store = not path.startswith(STATIC)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if not (store and k == b"cache-control")
                ]
                headers.extend(added)
                if store:
                    headers.append(NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        return send_with_headers


async def _refuse_cross_site(send: Send) -> None:
    body = (
        b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Refused</title></head>'
        b"<body><main><h1>Refused</h1><p>This form was sent from another site, so careops did not act "
        b'on it.</p><p><a href="/app/">Back to careops</a></p></main></body></html>'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
