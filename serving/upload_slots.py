"""How many page uploads one worker parses at once: past the limit, an upload gets a page that says
to try again in a moment (429), so that a burst of large files cannot hold the worker's memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

RETRY_SECONDS = 5


class UploadsBusy(Exception):
    """Every upload slot of this worker is taken."""


class UploadSlots:
    """A count of uploads in progress; the pages' routes run on one event loop, so a plain count is
    enough (no lock: nothing awaits between the check and the increment)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for the upload's parsing and scoring, or raise UploadsBusy."""
        if self.busy >= self.limit:
            raise UploadsBusy
        self.busy += 1
        try:
            yield
        finally:
            self.busy -= 1
