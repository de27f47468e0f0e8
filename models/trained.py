"""A trained model as saved to MLflow: the task, the fitted pipeline and how it reads history."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from features.claim_history import CLAIM_HISTORY_COLUMNS, ClaimHistoryParams, add_claim_history
from features.columns import columns_from_frame
from features.history import HISTORY_FEATURES, HistoryParams, add_history
from features.transformer import CanonicalFeatures
from models.calibration import CalibratedClassifier
from models.estimator import pipeline_steps
from models.line_model import LineModel, frame_lines
from models.reasons import ReasonModel
from models.scorer import CompiledScorer
from models.tasks import Task, get_task


@dataclass
class TrainedModel:
    """Everything needed to score canonical records the way training did."""

    task_name: str
    pipeline: Pipeline
    history: HistoryParams | None = None
    reasons: ReasonModel | None = None
    lines: LineModel | None = None
    claim_history: ClaimHistoryParams | None = None

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
        """Add point-in-time history computed from the table itself, unless it is already there."""
        if self.claim_history is not None and not set(CLAIM_HISTORY_COLUMNS) <= set(frame.columns):
            return add_claim_history(frame, self.claim_history)
        if self.history is None or set(HISTORY_FEATURES) <= set(frame.columns):
            return frame
        return add_history(frame, self.history)

    def predict_reasons(self, frame: pd.DataFrame) -> np.ndarray | None:
        """P(category | denied) per row, columns in `reasons.categories` order (None without reasons)."""
        if self.reasons is None or frame.empty:
            return None
        matrix = self.features.transform(self.prepare(frame))
        return self.reasons.predict(matrix)

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities for a validated canonical table (batch, offline)."""
        if frame.empty:
            return np.empty(0)
        prepared = self.prepare(frame)
        threads = getattr(self.classifier.classifier_, "n_jobs", None)
        scorer = CompiledScorer(self, num_threads=threads if isinstance(threads, int) and threads > 0 else 1)
        return scorer.score_columns(columns_from_frame(prepared, self.features.input_columns)).probability

    def predict_lines(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
        """P(line denied) for every service line, and each line's row in `frame` (None without lines)."""
        if self.lines is None or frame.empty:
            return None
        matrix, index, _ = frame_lines(self.features, self.prepare(frame))
        return self.lines.predict(matrix), index
