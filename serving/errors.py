"""Error responses: one shape everywhere, naming each bad field without echoing what was sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.access.authentication import AuthenticationError, ThrottledError
from services.access.principal import OutOfScopeError
from services.model_set import ModelUnavailableError

MAX_DETAILS = 20
SUMMARISED = 5


class ErrorItem(BaseModel):
    """One problem: the field's path, the rule it broke, and pydantic's error type."""

    field: str
    message: str
    type: str


class ErrorBody(BaseModel):
    """Every error the API returns: a one-line message, and the problems field by field (422)."""

    message: str
    detail: list[ErrorItem] = []


class InvalidRequest(Exception):
    """A request that is well-formed but breaks a rule across records (e.g. a duplicate id): 422."""

    def __init__(self, field: str, message: str, kind: str = "value_error") -> None:
        super().__init__(f"{field}: {message}")
        self.item = ErrorItem(field=field, message=message, type=kind)


def error_response(status_code: int, message: str, detail: list[ErrorItem] | None = None) -> JSONResponse:
    """The JSON response for an error."""
    body = ErrorBody(message=message, detail=detail or [])
    return JSONResponse(status_code=status_code, content=body.model_dump())


def field_path(location: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "appointments", 0, "starts_at")` -> `appointments[0].starts_at`."""
    path = ""
    for part in location:
        if part == "body" and not path:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _items(error: RequestValidationError) -> list[ErrorItem]:
    items = []
    for item in error.errors()[:MAX_DETAILS]:
        kind = str(item.get("type", ""))
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        location = item.get("loc", ())
        if kind == "json_invalid":
            position = location[-1] if location else "?"
            field, message = "body", f"invalid JSON near character {position}"
        else:
            # Tagged unions put the tag in the path; it is not a field the caller sent.
            field = field_path([p for p in location if not (isinstance(p, str) and "[" in p)])
            if item.get("input", ...) is None and kind.endswith("_type"):
                message = "is required and may not be null"
        items.append(ErrorItem(field=field, message=message[:200], type=kind))
    return items


def summary(items: list[ErrorItem], total: int) -> str:
    """`invalid request: a: rule; b: rule` for the first few problems, with how many there were."""
    text = "; ".join(f"{item.field}: {item.message}" for item in items[:SUMMARISED])
    more = f" (and {total - SUMMARISED} more)" if total > SUMMARISED else ""
    return f"invalid request: {text}{more}"


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    items = _items(error)
    return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, summary(items, len(error.errors())), items)


def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidRequest)
    return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, summary([error.item], 1), [error.item])


def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    response = error_response(error.status_code, str(error.detail))
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


def _model_unavailable(request: Request, error: Exception) -> JSONResponse:
    return error_response(status.HTTP_503_SERVICE_UNAVAILABLE, str(error))


def _out_of_scope(request: Request, error: Exception) -> JSONResponse:
    return error_response(status.HTTP_403_FORBIDDEN, str(error))


def _unauthenticated(request: Request, error: Exception) -> JSONResponse:
    return error_response(status.HTTP_401_UNAUTHORIZED, str(error))


def _throttled(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ThrottledError)
    response = error_response(status.HTTP_429_TOO_MANY_REQUESTS, str(error))
    response.headers["Retry-After"] = str(error.retry_after)
    return response


PageError = Callable[[Request, int, str], Response]
Handler = Callable[[Request, Exception], Response]
PAGES = "/app/"


def install_error_handlers(app: FastAPI, page_error: PageError | None = None) -> None:
    """Register our handlers on `app`; under /app/, `page_error` answers with a page instead of JSON."""

    def for_pages(
        handler: Callable[[Request, Exception], Response],
    ) -> Callable[[Request, Exception], Response]:
        def handle(request: Request, error: Exception) -> Response:
            answer = handler(request, error)
            if page_error is None or not request.url.path.startswith(PAGES):
                return answer
            message = json.loads(answer.body)["message"]
            page = page_error(request, answer.status_code, message)
            for name in ("Retry-After", "Allow"):
                if name in answer.headers:
                    page.headers[name] = answer.headers[name]
            return page

        return handle

    app.add_exception_handler(OutOfScopeError, for_pages(_out_of_scope))
    app.add_exception_handler(AuthenticationError, _unauthenticated)
    app.add_exception_handler(ThrottledError, _throttled)
    app.add_exception_handler(RequestValidationError, for_pages(_validation_error))
    app.add_exception_handler(InvalidRequest, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, for_pages(_http_error))
    app.add_exception_handler(ModelUnavailableError, for_pages(_model_unavailable))


ERROR_STATUSES = {
    400: "The body is not JSON, or nests deeper than the limit",
    401: "A missing or unknown X-API-Key",
    403: "The key's role may not call this route, or a record is outside its clinics or payers",
    404: "A record the request refers to is unknown",
    409: "The service is not set up for this (the message says what to set)",
    413: "The body or a list in it is larger than the limits",
    422: "A field breaks a rule; `detail` names each one",
    429: "Too many failed keys from this address; Retry-After says when to try again",
    503: "No model is loaded for this task (the message says why)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, all with the ErrorBody shape."""
    return {code: {"model": ErrorBody, "description": ERROR_STATUSES[code]} for code in codes}
