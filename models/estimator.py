"""The estimator for both tasks: feature transformer + LightGBM, fitted with early stopping."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from models.tasks import Task


@dataclass(frozen=True)
class BoosterParams:
    """LightGBM hyper-parameters; thread count and seed are set per run, not here."""

    n_estimators: int = 1000
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_child_samples: int = 40
    reg_lambda: float = 5.0
    min_split_gain: float = 0.0
    cat_smooth: float = 20.0
    early_stopping_rounds: int = 50

    def as_params(self) -> dict[str, float | int]:
        """Parameters as logged to MLflow."""
        return asdict(self)


def build_pipeline(task: Task, params: BoosterParams, n_jobs: int, seed: int) -> Pipeline:
    """An unfitted pipeline: the task's feature transformer, then a LightGBM classifier."""
    classifier = lgb.LGBMClassifier(
        n_estimators=params.n_estimators,
        learning_rate=params.learning_rate,
        num_leaves=params.num_leaves,
        min_child_samples=params.min_child_samples,
        reg_lambda=params.reg_lambda,
        min_split_gain=params.min_split_gain,
        cat_smooth=params.cat_smooth,
        n_jobs=n_jobs,
        random_state=seed,
        deterministic=True,
        force_row_wise=True,
        verbosity=-1,
    )
    return Pipeline([("features", task.features()), ("classifier", classifier)])


def fit_pipeline(
    pipeline: Pipeline,
    train: pd.DataFrame,
    train_labels: np.ndarray,
    validation: pd.DataFrame,
    validation_labels: np.ndarray,
    params: BoosterParams,
) -> Pipeline:
    """Fit features on `train`, then the classifier with early stopping on `validation`."""
    features = pipeline.named_steps["features"].fit(train)
    pipeline.named_steps["classifier"].fit(
        features.transform(train),
        train_labels,
        eval_X=(features.transform(validation),),
        eval_y=(validation_labels,),
        categorical_feature=features.categorical_indices(),
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )
    return pipeline
