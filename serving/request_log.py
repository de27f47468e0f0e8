"""One JSON log line per request, free of identifiers; a request id on every response; no crash leaks.

The line holds the time, the request id (also sent back as X-Request-ID), the method, the route
template (never the raw path or query), the status, the latency, how many records the request held,
which model version answered, the principal (a user or client name, never a patient's) and which
worker process. An exception that escapes a route is logged
by its type alone and answered with a plain 500, so no submitted value or statement parameter
reaches a log or a client.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import error_response

log = logging.getLogger("careops.requests")
REQUEST_ID_HEADER = b"x-request-id"


class RequestLog:
    """ASGI middleware: the outermost layer, so that every answer, 413s included, gets its line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = {"code": 500, "sent": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        error = None
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as raised:  # logged by type only; the client gets a plain 500
            error = type(raised).__name__
            if not status["sent"]:
                response = error_response(500, f"internal error (request {request_id})")
                await response(scope, receive, send_with_id)
        route = scope.get("route")
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request_id": request_id,
            "method": scope["method"],
            "route": getattr(route, "path", None) or "unmatched",
            "status": status["code"] if error is None or status["sent"] else 500,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "records": state.get("records"),
            "model": state.get("model"),
            "principal": state.get("principal"),
            "worker": os.getpid(),
        }
        if error is not None:
            line["error"] = error
        state = getattr(getattr(scope.get("app"), "state", None), "careops", None)
        metrics = getattr(state, "metrics", None)
        if metrics is not None:
            metrics.observe_request(
                line["route"], line["method"], line["status"], time.perf_counter() - started
            )
        log.log(logging.ERROR if line["status"] >= 500 else logging.INFO, json.dumps(line))


# uvicorn's logging, applied in every worker process: request lines as bare JSON on stdout,
# everything else as plain text on stderr. uvicorn's own access log is off: it would repeat each
# request with its raw path.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json_line": {"format": "%(message)s"},
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"},
        "requests": {
            "class": "logging.StreamHandler",
            "formatter": "json_line",
            "stream": "ext://sys.stdout",
        },
    },
    "loggers": {
        "careops.requests": {"handlers": ["requests"], "level": "INFO", "propagate": False},
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "mlflow": {"level": "WARNING"},
    },
    "root": {"handlers": ["stderr"], "level": "INFO"},
}
