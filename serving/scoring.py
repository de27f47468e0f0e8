"""The request path shared by the scoring routes: the batch limit and the model reference."""

from __future__ import annotations

from fastapi import HTTPException, status

from serving.model_loader import LoadedModel
from serving.schemas import ModelRef


def check_batch_size(count: int, limit: int) -> None:
    """413 when a request holds more records than the configured limit."""
    if count > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{count} records in one request; the limit is {limit} (CAREOPS_MAX_BATCH)",
        )


def model_ref(model: LoadedModel) -> ModelRef:
    """The response's account of which model version answered."""
    return ModelRef(name=model.name, version=model.version, alias=model.alias)
