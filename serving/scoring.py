"""The request path shared by the scoring routes: batch limit, compiled scoring, unseen inputs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from fastapi import HTTPException, status

from data.schemas import CanonicalRecord
from serving.model_loader import LoadedModel
from serving.schemas import ModelRef


def check_batch_size(count: int, limit: int) -> None:
    """413 when a request holds more records than the configured limit."""
    if count > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{count} records in one request; the limit is {limit} (CAREOPS_MAX_BATCH)",
        )


def score(model: LoadedModel, records: Sequence[CanonicalRecord]) -> tuple[np.ndarray, list[list[str]]]:
    """Probabilities and, per record, the categorical inputs never seen in training."""
    if not records:
        return np.empty(0), []
    scorer = model.scorer
    columns = scorer.columns(records)
    probabilities = scorer.score_matrix(scorer.features.transform_columns(columns))
    return probabilities, scorer.features.unseen_categories(columns)


def model_ref(model: LoadedModel) -> ModelRef:
    """The response's account of which model version answered."""
    return ModelRef(name=model.name, version=model.version, alias=model.alias)
