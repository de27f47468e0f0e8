"""The request path's side of the prediction log: one hand-over per scored batch, never a wait."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from starlette.requests import Request

from config import Settings
from data.stores.predictions import PredictionLog
from models.monitoring.log_rows import Scored
from models.monitoring.recorder import PredictionRecorder
from models.tasks import TASKS
from serving.model_loader import LoadedModel

log = logging.getLogger(__name__)


def start_recorder(settings: Settings) -> PredictionRecorder | None:
    """The recorder for this service, or None when the log is off or has no pseudonym key."""
    if not settings.prediction_log:
        return None
    if settings.pseudonym_key is None:
        log.warning("prediction log off: set CAREOPS_PSEUDONYM_KEY to log scores for monitoring")
        return None
    fields = {name: (t.id_column, t.time_column, t.subgroup_columns) for name, t in TASKS.items()}
    return PredictionRecorder(
        PredictionLog(settings.database_url),
        settings.pseudonym_key.get_secret_value().encode("utf-8"),
        fields,
        retention_days=settings.prediction_retention_days,
    )


def record_scores(
    request: Request,
    model: LoadedModel,
    source: str,
    records: Sequence[Any],
    probability: np.ndarray,
    matrix: np.ndarray | None,
    unseen: Sequence[Sequence[str]] | None = None,
    top_reasons: Sequence[str | None] | None = None,
    line_probabilities: Sequence[Sequence[float]] | None = None,
) -> None:
    """Count the scores in the app's metrics and hand the batch to its recorder, if it has one."""
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.observe_scores(model.task.name, source, np.asarray(probability, dtype=float))
    recorder: PredictionRecorder | None = getattr(request.app.state, "recorder", None)
    if recorder is None or not len(records):
        return
    recorder.record(
        Scored(
            task=model.task.name,
            version=model.version,
            source=source,
            records=records,
            probability=probability,
            matrix=matrix,
            unseen=unseen,
            profile=model.profile,
            top_reasons=top_reasons,
            line_probabilities=line_probabilities,
        )
    )
