"""Evaluation figures on cases whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluation import (
    binary_metrics,
    calibration_intercept_slope,
    expected_calibration_error,
    subgroup_report,
)


def test_ece_on_a_hand_computed_case() -> None:
    probabilities = np.repeat([0.1, 0.2, 0.6, 0.9], 5).astype(float)
    labels = np.array([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1], dtype=float)
    # Two equal-frequency bins of ten: mean p 0.15 vs rate 0.1, and mean p 0.75 vs rate 0.9.
    assert expected_calibration_error(labels, probabilities, bins=2) == pytest.approx((0.05 + 0.15) / 2)


def test_intercept_and_slope_of_calibrated_and_overconfident_scores() -> None:
    rng = np.random.default_rng(0)
    truth = 1 / (1 + np.exp(-rng.normal(-1, 1, 200_000)))
    labels = (rng.random(len(truth)) < truth).astype(float)
    intercept, slope = calibration_intercept_slope(labels, truth)
    assert abs(intercept) < 0.02 and slope == pytest.approx(1, abs=0.03)
    too_extreme = 1 / (1 + np.exp(-2 * np.log(truth / (1 - truth))))
    assert calibration_intercept_slope(labels, too_extreme)[1] == pytest.approx(0.5, abs=0.03)


def test_binary_metrics_refuse_a_single_class() -> None:
    with pytest.raises(ValueError, match="only one class"):
        binary_metrics(np.zeros(10), np.full(10, 0.1))


def test_subgroup_report_counts_rates_and_skips_small_groups() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(1_000)
    labels = (rng.random(1_000) < p).astype(float)
    group = pd.Series(np.where(np.arange(1_000) < 980, "big", "small"))
    rows = {row["group"]: row for row in subgroup_report(labels, p, {"site": group})}
    assert rows["big"]["count"] == 980 and rows["small"]["count"] == 20
    assert rows["big"]["observed_rate"] == pytest.approx(labels[:980].mean())
    assert rows["big"]["mean_predicted"] == pytest.approx(p[:980].mean())
    assert rows["big"]["roc_auc"] > 0.6 and rows["small"]["roc_auc"] is None
