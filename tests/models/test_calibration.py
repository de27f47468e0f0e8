"""Calibrators map raw scores to observed rates; the chooser keeps the better method."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibration import Calibrator, choose_calibrator, fit_calibrator, logit
from models.evaluation import expected_calibration_error


def overconfident(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores twice as extreme (on log-odds) as the truth."""
    rng = np.random.default_rng(seed)
    truth = 1 / (1 + np.exp(-rng.normal(-1.2, 0.8, rows)))
    labels = (rng.random(rows) < truth).astype(float)
    raw = 1 / (1 + np.exp(-2 * logit(truth)))
    return raw, labels


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_repairs_overconfident_scores(method: str) -> None:
    raw, labels = overconfident(40_000, seed=1)
    test_raw, test_labels = overconfident(40_000, seed=2)
    calibrator = fit_calibrator(raw, labels, method)
    before = expected_calibration_error(test_labels, test_raw)
    after = expected_calibration_error(test_labels, calibrator.transform(test_raw))
    assert before > 0.05 and after < 0.01


def test_sigmoid_recovers_the_log_odds_map() -> None:
    raw, labels = overconfident(100_000, seed=3)
    calibrator = fit_calibrator(raw, labels, "sigmoid")
    assert calibrator.slope == pytest.approx(0.5, abs=0.03)


def test_chooser_reports_both_methods_and_uses_the_lower_loss() -> None:
    raw, labels = overconfident(20_000, seed=4)
    calibrator, scores = choose_calibrator(raw, labels)
    assert set(scores) == {"isotonic", "sigmoid"}
    assert calibrator.method == min(scores, key=scores.__getitem__)


def test_isotonic_output_stays_inside_its_range_and_none_is_identity() -> None:
    raw, labels = overconfident(5_000, seed=5)
    calibrator = fit_calibrator(raw, labels, "isotonic")
    out = calibrator.transform(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]))
    assert np.all((out > 0) & (out < 1))
    assert np.array_equal(Calibrator("none").transform(np.array([0.2, 0.7])), np.array([0.2, 0.7]))
    with pytest.raises(ValueError, match="unknown calibration method"):
        fit_calibrator(raw, labels, "beta")


def test_calibrated_classifier_keeps_its_parameters_and_fits_into_trailing_attributes() -> None:
    from sklearn.base import clone

    from models.booster_params import BoosterParams
    from models.estimator import make_classifier

    rng = np.random.default_rng(6)
    X = rng.normal(size=(3_000, 3))
    y = (rng.random(3_000) < 1 / (1 + np.exp(-2 * X[:, 0]))).astype(int)
    model = make_classifier(BoosterParams(n_estimators=40, early_stopping_rounds=5), n_jobs=1, seed=1)
    template = model.classifier
    before = template.get_params()
    model.fit(X[:2_000], y[:2_000], calibration_X=X[2_000:], calibration_y=y[2_000:], refit=True)
    assert model.classifier is template and template.get_params() == before
    assert not hasattr(template, "booster_")  # the template stays unfitted
    assert model.classifier_ is not template and model.calibrator_ is not None
    assert model.calibration_method_ in ("isotonic", "sigmoid")
    assert set(model.calibration_scores_) == {"isotonic", "sigmoid"}
    copy = clone(model)
    assert not hasattr(copy, "classifier_") and copy.get_params()["classifier"] is not template
    probability = model.predict_proba(X[2_000:])[:, 1]
    assert np.all((probability > 0) & (probability < 1))
