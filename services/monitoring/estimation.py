"""Performance expected from calibrated probabilities alone, before any label arrives (CBPE).

If the probabilities are calibrated, each row is a positive with its probability p and a negative
with 1 - p. Summing those over the rows above a threshold gives the expected true and false
positives there, so the expected ROC curve, and its area, follow from the scores alone.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from models.calibration import logit

MIN_RECALIBRATION_ROWS = 200


def expected_roc_auc(probabilities: np.ndarray) -> float:
    """The ROC-AUC expected if the labels were drawn from the (calibrated) probabilities."""
    p = np.sort(np.asarray(probabilities, dtype=float))[::-1]
    positives, negatives = p.sum(), (1 - p).sum()
    if positives <= 0 or negatives <= 0:
        return float("nan")
    # Rows with equal probabilities form one threshold step, as ties do in the realized curve.
    last = np.r_[p[1:] != p[:-1], True]
    tpr = np.r_[0.0, np.cumsum(p)[last] / positives]
    fpr = np.r_[0.0, np.cumsum(1 - p)[last] / negatives]
    return float(np.trapezoid(tpr, fpr))


def expected_figures(probabilities: np.ndarray) -> dict[str, float]:
    """Expected ROC-AUC, rate and Brier score of a batch of calibrated probabilities."""
    p = np.asarray(probabilities, dtype=float)
    return {
        "expected_roc_auc": expected_roc_auc(p),
        "expected_rate": float(p.mean()) if len(p) else float("nan"),
        "expected_brier": float(np.mean(p * (1 - p))) if len(p) else float("nan"),
    }


def recent_calibration(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float] | None:
    """Intercept and slope on the log-odds that map recent scores to their recent outcomes, or None
    when there are too few of them (fewer than MIN_RECALIBRATION_ROWS, or one class only)."""
    labels = np.asarray(labels, dtype=float)
    if len(labels) < MIN_RECALIBRATION_ROWS or not 0 < labels.sum() < len(labels):
        return None
    model = LogisticRegression(C=np.inf).fit(
        logit(np.asarray(probabilities, dtype=float)).reshape(-1, 1), labels
    )
    return float(model.intercept_[0]), float(model.coef_[0, 0])


def recalibrated(probabilities: np.ndarray, calibration: tuple[float, float]) -> np.ndarray:
    """Scores moved by a `recent_calibration`."""
    intercept, slope = calibration
    return expit(intercept + slope * logit(np.asarray(probabilities, dtype=float)))
