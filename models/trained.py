"""What a trained model of either task is: the fitted pipeline (features, calibrated booster) and how
it scores a table offline. `NoShowModel` and `DenialModel` add what their task reads and predicts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from features.transformer import CanonicalFeatures
from models.calibration import CalibratedClassifier
from models.estimator import pipeline_steps
from models.scorer import CompiledScorer, Scored
from models.tasks import Task, get_task


@dataclass
class TrainedModel:
    """Everything needed to score canonical records the way training did (the shared core)."""

    task_name: ClassVar[str]
    # What the task adds to a scored batch, as `finish(columns, scored, num_threads)`: a denial
    # model's lines, and the claim capped by them; none for a no-show model.
    finish: ClassVar[Callable[..., Scored] | None] = None
    pipeline: Pipeline

    def __post_init__(self) -> None:
        # The pipeline's two steps, named once (the request path reads them on every score).
        self.features: CanonicalFeatures
        self.classifier: CalibratedClassifier
        self.features, self.classifier = pipeline_steps(self.pipeline)

    @property
    def task(self) -> Task:
        """The task this model predicts."""
        return get_task(self.task_name)

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The table with the point-in-time history the model reads, computed from the table itself
        unless it is already there."""
        return frame

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
        return self.scorer().score(self.features.frame_batch(self.prepare(frame))).probability
