"""Request limits the scoring routes share: how many records one request may hold."""

from __future__ import annotations

from fastapi import HTTPException, status


def check_batch_size(count: int, limit: int) -> None:
    """413 when a request holds more records than the configured limit."""
    if count > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{count} records in one request; the limit is {limit} (CAREOPS_MAX_BATCH)",
        )
