"""Line-level denial risk: a calibrated booster over each service line beside its claim's features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.claim import ClaimFeatures
from features.claim_lines import line_categorical_indices, line_labels, line_matrix
from features.columns import columns_from_frame
from models.booster_params import BoosterParams
from models.calibration import CalibratedClassifier
from models.estimator import fit_calibrated, make_classifier

MIN_LINES_PER_CLASS = 20


@dataclass
class LineModel:
    """P(line denied) for each service line; the claim features come from the claim pipeline."""

    model: CalibratedClassifier

    def predict(self, matrix: np.ndarray, num_threads: int = 1) -> np.ndarray:
        """Calibrated probabilities for a line matrix (see `features.claim_lines.line_matrix`)."""
        if len(matrix) == 0:
            return np.empty(0)
        raw = self.model.booster_.predict(
            matrix, num_iteration=self.model.num_iteration_, num_threads=num_threads
        )
        return self.model.calibrate(raw)


def cap_by_lines(
    claim_probability: np.ndarray, line_probability: np.ndarray, claim_index: np.ndarray
) -> np.ndarray:
    """A claim is denied only when all its lines are, so P(claim) is at most its least likely line's P.

    The two models are fitted apart; capping makes their answers agree. On synthetic holdouts it
    ranks better and scores about as well (README, "Denial reasons and fixes").
    """
    lowest = np.full(len(claim_probability), np.inf)
    np.minimum.at(lowest, claim_index, line_probability)
    return np.minimum(claim_probability, lowest)


def frame_lines(features: ClaimFeatures, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A claim table's line matrix, each line's claim index, and the line labels (NaN if unknown)."""
    columns = columns_from_frame(frame, [*features.input_columns])
    matrix, index = line_matrix(features, columns, features.transform(frame))
    return matrix, index, line_labels(columns)


def fit_line_model(
    features: ClaimFeatures,
    train: pd.DataFrame,
    calibration: pd.DataFrame,
    params: BoosterParams,
    n_jobs: int,
    seed: int,
) -> LineModel | None:
    """Fit on the labelled lines of `train`, stopping early and calibrating on those of `calibration`.

    None when either slice has too few denied or paid lines to learn from.
    """
    slices = []
    for frame in (train, calibration):
        matrix, _, labels = frame_lines(features, frame)
        known = ~np.isnan(labels)
        slices.append((matrix[known], labels[known].astype(np.int64)))
    for _, labels in slices:
        if min(labels.sum(), len(labels) - labels.sum()) < MIN_LINES_PER_CLASS:
            return None
    model = make_classifier(params, n_jobs, seed)
    fit_calibrated(model, slices[0], slices[1], line_categorical_indices(features), params)
    return LineModel(model)
