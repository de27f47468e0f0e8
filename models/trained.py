"""What a trained model of either task is: the fitted pipeline (features, calibrated booster) and how
it scores a table offline. `NoShowModel` and `DenialModel` add what their task reads and predicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from features.columns import Columns, columns_from_frame
from features.transformer import CanonicalFeatures
from models.calibration import CalibratedClassifier
from models.estimator import pipeline_steps
from models.scorer import CompiledScorer, Scored
from models.tasks import Task, get_task


@dataclass
class TrainedModel:
    """Everything needed to score canonical records the way training did (the shared core)."""

    task_name: ClassVar[str]
    pipeline: Pipeline

    @property
    def features(self) -> CanonicalFeatures:
        """The fitted feature transformer."""
        return pipeline_steps(self.pipeline)[0]

    @property
    def classifier(self) -> CalibratedClassifier:
        """The fitted, calibrated classifier."""
        return pipeline_steps(self.pipeline)[1]

    @property
    def task(self) -> Task:
        """The task this model predicts."""
        return get_task(self.task_name)

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The table with the point-in-time history the model reads, computed from the table itself
        unless it is already there."""
        return frame

    def finish(self, columns: Columns, scored: Scored, num_threads: int) -> Scored:
        """What the task adds to a scored batch (a denial model: its lines, and the claim capped)."""
        return scored

    def scorer(self, num_threads: int | None = None) -> CompiledScorer:
        """The compiled scorer (the classifier's own thread count by default)."""
        if num_threads is None:
            threads = getattr(self.classifier.classifier_, "n_jobs", None)
            num_threads = threads if isinstance(threads, int) and threads > 0 else 1
        return CompiledScorer(self.features, self.classifier, self.finish, num_threads)

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities for a validated canonical table (batch, offline)."""
        if frame.empty:
            return np.empty(0)
        prepared = self.prepare(frame)
        return (
            self.scorer().score_columns(columns_from_frame(prepared, self.features.input_columns)).probability
        )
