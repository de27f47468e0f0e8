"""Where a route's scoring runs: a few records on the event loop, more on a worker thread.

A record costs well under a millisecond (TreeSHAP the most of it), less than handing it to a thread and
back. A large batch would hold the loop, and every other request with it, for its whole length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

INLINE_RECORDS = 4
P = ParamSpec("P")
T = TypeVar("T")


async def run_scoring(records: int, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)`, inline for up to INLINE_RECORDS records, else in the thread pool."""
    if records <= INLINE_RECORDS:
        return function(*args, **kwargs)
    return await run_in_threadpool(function, *args, **kwargs)
