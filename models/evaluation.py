"""Holdout metrics for probabilities: discrimination, accuracy, calibration, and the oracle gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from models.calibration import logit

MIN_SUBGROUP_ROWS = 50


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> float:
    """ECE over `bins` equal-frequency bins: the count-weighted |observed - predicted| per bin."""
    order = np.argsort(probabilities, kind="stable")
    error = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            error += len(chunk) * abs(labels[chunk].mean() - probabilities[chunk].mean())
    return float(error / len(labels))


def calibration_intercept_slope(labels: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """Calibration intercept (in the large, slope fixed at 1) and slope, on the log-odds scale.

    A perfectly calibrated model has intercept 0 and slope 1; a slope below 1 means too extreme.
    """
    z = logit(np.asarray(probabilities, dtype=float))
    y = np.asarray(labels, dtype=float)
    slope = float(LogisticRegression(C=np.inf).fit(z.reshape(-1, 1), y).coef_[0, 0])
    intercept = 0.0
    for _ in range(50):  # Newton's method for the intercept with logit(p) as an offset
        q = expit(intercept + z)
        step = float(np.clip((y - q).sum() / max((q * (1 - q)).sum(), 1e-12), -5.0, 5.0))
        intercept += step
        if abs(step) < 1e-10:
            break
    return float(intercept), slope


def binary_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier, log loss, ECE, calibration intercept and slope, and the rates."""
    labels = np.asarray(labels, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    if len(np.unique(labels)) < 2:
        raise ValueError("the holdout has only one class; ROC-AUC is undefined")
    intercept, slope = calibration_intercept_slope(labels, probabilities)
    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "brier": float(brier_score_loss(labels, probabilities)),
        "log_loss": float(log_loss(labels, np.clip(probabilities, 1e-15, 1 - 1e-15))),
        "ece": expected_calibration_error(labels, probabilities),
        "calibration_intercept": intercept,
        "calibration_slope": slope,
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


def subgroup_report(
    labels: np.ndarray, probabilities: np.ndarray, groups: dict[str, pd.Series]
) -> list[dict[str, object]]:
    """Per group value: count, observed vs mean predicted rate, ROC-AUC, calibration intercept/slope.

    Discrimination and calibration figures are left out (None) for groups under MIN_SUBGROUP_ROWS
    rows or with one class only.
    """
    labels = np.asarray(labels, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    rows: list[dict[str, object]] = []
    for attribute, values in groups.items():
        keys = values.astype("string").fillna("unknown").to_numpy()
        for value in sorted(set(keys)):
            mask = keys == value
            y, p = labels[mask], probabilities[mask]
            row: dict[str, object] = {
                "attribute": attribute,
                "group": str(value),
                "count": int(mask.sum()),
                "observed_rate": float(y.mean()),
                "mean_predicted": float(p.mean()),
                "roc_auc": None,
                "calibration_intercept": None,
                "calibration_slope": None,
            }
            if mask.sum() >= MIN_SUBGROUP_ROWS and 0 < y.sum() < len(y):
                row["roc_auc"] = float(roc_auc_score(y, p))
                row["calibration_intercept"], row["calibration_slope"] = calibration_intercept_slope(y, p)
            rows.append(row)
    return rows
