"""The compiled scorer: a fitted pipeline reduced to column arrays and a raw LightGBM booster."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.pipeline import Pipeline

from data.schemas import CanonicalRecord
from features.columns import Columns, columns_from_records
from features.transformer import CanonicalFeatures


class CompiledScorer:
    """Scores canonical records without pandas or a per-row pipeline walk.

    Built once at load time from the fitted pipeline; gives the same probabilities as
    `pipeline.predict_proba` (a test holds it to 1e-9).
    """

    def __init__(self, pipeline: Pipeline, num_threads: int = 1) -> None:
        self.features: CanonicalFeatures = pipeline.named_steps["features"]
        classifier = pipeline.named_steps["classifier"]
        self.booster = classifier.booster_
        self.num_iteration = classifier.best_iteration_ or None
        self.num_threads = num_threads

    def matrix(self, records: Sequence[CanonicalRecord]) -> np.ndarray:
        """The feature matrix for records."""
        return self.features.transform_columns(self.columns(records))

    def columns(self, records: Sequence[CanonicalRecord]) -> Columns:
        """The column batch the features are computed from."""
        return columns_from_records(records, self.features.input_columns)

    def score_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Probabilities for a prepared feature matrix."""
        if len(matrix) == 0:
            return np.empty(0)
        return self.booster.predict(matrix, num_iteration=self.num_iteration, num_threads=self.num_threads)

    def score_records(self, records: Sequence[CanonicalRecord]) -> np.ndarray:
        """Probabilities for validated canonical records."""
        if not records:
            return np.empty(0)
        return self.score_matrix(self.matrix(records))
