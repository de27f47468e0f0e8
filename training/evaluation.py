"""Holdout metrics for probabilities: discrimination, accuracy, calibration, and the oracle gap."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> float:
    """ECE over `bins` equal-frequency bins: the count-weighted |observed - predicted| per bin."""
    order = np.argsort(probabilities, kind="stable")
    error = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            error += len(chunk) * abs(labels[chunk].mean() - probabilities[chunk].mean())
    return float(error / len(labels))


def binary_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier, log loss, ECE, and the observed and predicted rates."""
    labels = np.asarray(labels, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    if len(np.unique(labels)) < 2:
        raise ValueError("the holdout has only one class; ROC-AUC is undefined")
    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "brier": float(brier_score_loss(labels, probabilities)),
        "log_loss": float(log_loss(labels, np.clip(probabilities, 1e-15, 1 - 1e-15))),
        "ece": expected_calibration_error(labels, probabilities),
        "observed_rate": float(labels.mean()),
        "mean_probability": float(probabilities.mean()),
    }


def oracle_comparison(labels: np.ndarray, probabilities: np.ndarray, oracle: np.ndarray) -> dict[str, float]:
    """How close the model comes to the generator's true probabilities on the same rows."""
    model = binary_metrics(labels, probabilities)
    best = binary_metrics(labels, oracle)
    return {
        "oracle_roc_auc": best["roc_auc"],
        "oracle_brier": best["brier"],
        "roc_auc_ratio_to_oracle": model["roc_auc"] / best["roc_auc"],
        "roc_auc_gap_to_oracle": best["roc_auc"] - model["roc_auc"],
        "brier_ratio_to_oracle": model["brier"] / best["brier"],
    }
