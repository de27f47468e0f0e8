"""Error responses: 422 naming each bad field, without echoing the submitted values back."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving.model_loader import ModelUnavailableError


def field_path(location: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "appointments", 0, "starts_at")` -> `appointments[0].starts_at`."""
    path = ""
    for part in location:
        if part == "body" and not path:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = []
    for item in error.errors():
        kind = str(item.get("type", ""))
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        location = item.get("loc", ())
        if kind == "json_invalid":
            position = location[-1] if location else "?"
            field, message = "body", f"invalid JSON near character {position}"
        else:
            field = field_path(location)
            if item.get("input", ...) is None and kind.endswith("_type"):
                message = "is required and may not be null"
        details.append({"field": field, "message": message, "type": kind})
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"message": f"invalid request: {summary}", "detail": details},
    )


def _model_unavailable(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse(status_code=status.HTTP_503_SERVICE_UNAVAILABLE, content={"message": str(error)})


def install_error_handlers(app: FastAPI) -> None:
    """Register our handlers on `app`."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ModelUnavailableError, _model_unavailable)
