"""Where every scored batch goes: the service's score metrics and the prediction log.

`ScoreLog.record` is the one hand-over of request-path scores (to the recorder, which never makes
the caller wait); `ScoreLog.record_table` logs a batch run's scores through the same writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from config import Settings
from models.registry import uri_version
from models.tasks import TASKS, get_task
from services.model_set import LoadedModel
from services.monitoring.log_rows import ScoredBatch
from services.monitoring.log_store import PredictionLog
from services.monitoring.log_writer import LogWriter
from services.monitoring.recorder import PredictionRecorder

log = logging.getLogger(__name__)
TABLE_CHUNK_ROWS = 100_000
Observer = Callable[[str, str, np.ndarray], None]  # (task, source, probabilities)


def log_fields() -> dict[str, tuple[str, str, Sequence[str]]]:
    """Per task: its id field, time field and segment names, as the log keeps them."""
    return {name: (t.id_column, t.time_column, t.subgroup_columns) for name, t in TASKS.items()}


def pseudonym_key(settings: Settings) -> bytes | None:
    """The log's pseudonym key, or None when the log is off or has no key."""
    if not settings.prediction_log or settings.pseudonym_key is None:
        return None
    return settings.pseudonym_key.get_secret_value().encode("utf-8")


def start_recorder(settings: Settings) -> PredictionRecorder | None:
    """The recorder for this process, or None when the log is off or has no pseudonym key."""
    if not settings.prediction_log:
        return None
    key = pseudonym_key(settings)
    if key is None:
        log.warning("prediction log off: set CAREOPS_PSEUDONYM_KEY to log scores for monitoring")
        return None
    return PredictionRecorder(
        PredictionLog(settings.database_url),
        key,
        log_fields(),
        retention_days=settings.prediction_retention_days,
    )


class ScoreLog:
    """Counts scores in the service's metrics and hands them to the prediction log's recorder."""

    def __init__(self, recorder: PredictionRecorder | None = None, observe: Observer | None = None) -> None:
        self.recorder = recorder
        self.observe = observe

    def record(
        self,
        model: LoadedModel,
        source: str,
        records: Sequence[Any],
        probability: np.ndarray,
        matrix: np.ndarray | None,
        unseen: Sequence[Sequence[str]] | None = None,
        top_reasons: Sequence[str | None] | None = None,
        line_probabilities: Sequence[Sequence[float]] | None = None,
    ) -> None:
        """Count the batch, then hand it to the recorder (if the log is on); never waits on a write."""
        if self.observe is not None:
            self.observe(model.task.name, source, np.asarray(probability, dtype=float))
        if self.recorder is None or not len(records):
            return
        self.recorder.record(
            ScoredBatch(
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


def record_table(settings: Settings, task_name: str, uri: str, scored: pd.DataFrame | None) -> int | None:
    """Log a batch run's scores (id and probability per row) with the model `uri` names, written here
    and now; None when the log is off or has no pseudonym key."""
    key = pseudonym_key(settings)
    if scored is None or key is None:
        return None
    version = uri_version(MlflowClient(settings.tracking_uri), uri) or "unregistered"
    writer = LogWriter(PredictionLog(settings.database_url), key, log_fields())
    try:
        for start in range(0, len(scored), TABLE_CHUNK_ROWS):
            writer.write_table(
                task_name,
                version,
                scored.iloc[start : start + TABLE_CHUNK_ROWS],
                get_task(task_name).probability_field,
            )
    finally:
        writer.log.engine.dispose()
    return len(scored)
