"""The estimator for both tasks: feature transformer + LightGBM, fitted with early stopping."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from features.transformer import CanonicalFeatures
from models.booster_params import BoosterParams
from models.calibration import CalibratedClassifier
from models.tasks import Task


def make_classifier(params: BoosterParams, n_jobs: int, seed: int) -> CalibratedClassifier:
    """An unfitted LightGBM classifier with these parameters, wrapped for calibration."""
    classifier = lgb.LGBMClassifier(
        n_estimators=params.n_estimators,
        learning_rate=params.learning_rate,
        num_leaves=params.num_leaves,
        min_child_samples=params.min_child_samples,
        reg_lambda=params.reg_lambda,
        min_split_gain=params.min_split_gain,
        cat_smooth=params.cat_smooth,
        subsample=params.subsample,
        subsample_freq=1 if params.subsample < 1 else 0,
        colsample_bytree=params.colsample_bytree,
        n_jobs=n_jobs,
        random_state=seed,
        deterministic=True,
        force_row_wise=True,
        verbosity=-1,
    )
    return CalibratedClassifier(classifier)


def pipeline_steps(pipeline: Pipeline) -> tuple[CanonicalFeatures, CalibratedClassifier]:
    """The feature transformer and the calibrated classifier of a careops pipeline."""
    return pipeline.named_steps["features"], pipeline.named_steps["classifier"]


def build_pipeline(task: Task, params: BoosterParams, n_jobs: int, seed: int) -> Pipeline:
    """An unfitted pipeline: the task's feature transformer, then a calibrated LightGBM classifier."""
    return Pipeline([("features", task.features()), ("classifier", make_classifier(params, n_jobs, seed))])


def fit_calibrated(
    model: CalibratedClassifier,
    train: tuple[np.ndarray, np.ndarray],
    calibration: tuple[np.ndarray, np.ndarray],
    categorical: list[int],
    params: BoosterParams,
) -> dict[str, float]:
    """Fit the booster with early stopping on the calibration rows, the calibrator, then maybe refit."""
    model.fit(
        *train,
        calibration_X=calibration[0],
        calibration_y=calibration[1],
        refit=params.refit_on_calibration_rows,
        eval_X=(calibration[0],),
        eval_y=(calibration[1],),
        categorical_feature=categorical,
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )
    return model.calibration_scores_


def fit_pipeline(
    pipeline: Pipeline,
    train: pd.DataFrame,
    train_labels: np.ndarray,
    calibration: pd.DataFrame,
    calibration_labels: np.ndarray,
    params: BoosterParams,
) -> dict[str, float]:
    """Fit features on `train`, the booster with early stopping on `calibration`, then the calibrator.

    `calibration` is the most recent slice of the training window, in time order. With
    `refit_on_calibration_rows` the booster is then refitted on both slices. Returns the log loss
    of each calibration method on the later half of `calibration` (the lower one is used).
    """
    features, classifier = pipeline_steps(pipeline)
    features.fit(train)
    return fit_calibrated(
        classifier,
        (features.transform(train), train_labels),
        (features.transform(calibration), calibration_labels),
        features.categorical_indices(),
        params,
    )


class BoosterClassifier:
    """A fitted binary LightGBM booster with the classifier interface the pipeline needs.

    This is what a model loaded from its saved LightGBM text becomes: it predicts exactly as the
    LGBMClassifier that was trained (the same trees and the same best iteration).
    """

    classes_ = np.array([0, 1])

    def __init__(self, booster: lgb.Booster, best_iteration: int, n_jobs: int = 1) -> None:
        self.booster_ = booster
        self.best_iteration_ = best_iteration
        self.n_jobs = n_jobs

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities of class 0 and class 1."""
        p = self.booster_.predict(X, num_iteration=self.best_iteration_ or None, num_threads=self.n_jobs)
        return np.column_stack([1 - p, p])
