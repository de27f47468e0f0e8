"""Request limits: body size and JSON nesting checked before anything parses, and records per list.

`BodyLimits` answers 413 from the Content-Length header alone when it is too large, and otherwise
reads at most the limit before giving up, so an oversized body costs milliseconds and no memory.
A JSON body nested deeper than the limit gets 400 before a parser can recurse into it.
"""

from __future__ import annotations

import re

import numpy as np
from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import PAGES, InvalidRequest, PageError, error_response
from serving.fhir_mapping import operation_outcome

ESCAPE = re.compile(rb"\\.", re.DOTALL)
# +1 for a byte that opens an array or object, -1 for one that closes it, 0 for every other byte.
NESTING = np.zeros(256, dtype=np.int8)
NESTING[list(b"[{")] = 1
NESTING[list(b"]}")] = -1
QUOTE = ord('"')
MARKS = NESTING != 0
MARKS[QUOTE] = True
FHIR_PREFIX = "/fhir/"
FHIR_JSON = "application/fhir+json"


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings are skipped, not parsed)."""
    codes = np.frombuffer(ESCAPE.sub(b"", body) if b"\\" in body else body, dtype=np.uint8)
    codes = codes[MARKS[codes]]  # quotes and brackets only: a few bytes in ten
    # A bracket is inside a string when an odd number of quotes come before it.
    outside = (np.cumsum(codes == QUOTE, dtype=np.int32) & 1) == 0
    return int(np.cumsum(np.where(outside, NESTING[codes], 0), dtype=np.int32).max(initial=0))


def _deeper_than(body: bytes, depth: int) -> bool:
    # A text with no more openers than the limit cannot nest deeper: most requests stop here.
    if body.count(b"[") + body.count(b"{") <= depth:
        return False
    return json_depth(body) > depth


def check_batch_size(request: Request, count: int, limit: int) -> None:
    """413 when a list holds more records than the configured limit; notes the count for the log."""
    request.state.records = count
    if count > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{count} records in one request; the limit is {limit} (CAREOPS_MAX_BATCH)",
        )


class BodyLimits:
    """ASGI middleware enforcing the body size and JSON depth limits on every request with a body."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, max_depth: int, page_error: PageError | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.page_error = page_error  # answers a page (not JSON) under /app/

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"").decode("latin-1").strip()
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, 413, self._too_large())
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, 413, self._too_large())
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"json" in headers.get(b"content-type", b"") and _deeper_than(body, self.max_depth):
            text = f"the JSON body nests deeper than {self.max_depth} levels"
            await self._refuse(scope, receive, send, 400, text)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"the body is larger than {self.max_bytes} bytes (CAREOPS_MAX_BODY_BYTES)"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, code: int, text: str) -> None:
        if self.page_error is not None and scope["path"].startswith(PAGES):
            response = self.page_error(Request(scope), code, f"{text[:1].upper()}{text[1:]}.")
        elif scope["path"].startswith(FHIR_PREFIX):
            issue = "too-long" if code == 413 else "structure"
            response = JSONResponse(operation_outcome(text, code=issue), code, media_type=FHIR_JSON)
        else:
            response = error_response(code, text)
        await response(scope, receive, send)


def check_unique(ids: list[tuple[str, str]]) -> None:
    """422 naming the first record whose id repeats an earlier one; `ids` holds (field path, id) pairs."""
    first: dict[str, str] = {}
    for path, value in ids:
        earlier = first.setdefault(value, path)
        if earlier != path:
            raise InvalidRequest(
                path, f"repeats {earlier}; each record may appear once per request", "duplicate_id"
            )


def ids_of(records: list, list_name: str, id_field: str) -> list[tuple[str, str]]:
    """(field path, id) of each record of a list in the body."""
    return [(f"{list_name}[{i}].{id_field}", getattr(r, id_field)) for i, r in enumerate(records)]
