"""Training on a Dask cluster with lightgbm.dask, for tables that outgrow one machine.

The same steps as in-process training, distributed: validation per partition, point-in-time
history by patient and by clinic, a day-aligned temporal split, a DaskLGBMClassifier with early
stopping on the most recent slice of the training window, then calibration on that slice.
The holdout (for the run's report), the calibration scores and the rows the reason and line
models fit on are collected locally; those sub-models are fitted by the same step as in-process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dask.dataframe as dd
import lightgbm as lgb
import numpy as np
import pandas as pd
from lightgbm.dask import DaskLGBMClassifier
from sklearn.pipeline import Pipeline

from config import Settings
from data.loaders.canonical import QUARANTINE_RULE
from features.transformer import CanonicalFeatures
from models.booster_params import BoosterParams
from models.calibration import CalibratedClassifier, choose_calibrator
from models.estimator import build_pipeline, pipeline_steps
from models.task_models import build_trained
from models.tasks import Task
from training.batch import (
    gather_claim_events,
    gather_lead_band_counts,
    read_files,
    validated,
    with_claim_history,
    with_history,
)
from training.fit import (
    FitResult,
    TrainingDataError,
    evaluate_holdout,
    fit_submodels,
    history_params,
    known_by_cutoff,
    with_definition,
)


@dataclass
class DistributedLoad:
    """Row counts and quarantine reasons of a distributed load."""

    rows_read: int
    rows_valid: int
    rows_quarantined: int
    reason_counts: dict[str, int]


def day_quantile(times: dd.Series, share: float) -> pd.Timestamp:
    """The first day at which at least `share` of the rows have started (a day-aligned quantile)."""
    counts = times.dt.normalize().value_counts().compute().sort_index()
    if counts.empty:
        raise TrainingDataError("no labelled rows")
    cumulative = counts.cumsum() / counts.sum()
    later = cumulative.index[cumulative.to_numpy() >= share]
    return later[0] if len(later) else counts.index[-1]


def _matrix(frame: dd.DataFrame, features, names: list[str]):
    meta = pd.DataFrame({name: pd.Series(dtype=float) for name in names})
    transformed = frame.map_partitions(
        lambda part: pd.DataFrame(features.transform(part), columns=names, index=part.index), meta=meta
    )
    return transformed.to_dask_array(lengths=True)


def _load(task: Task, files: Sequence[Path], file_format: str) -> tuple[dd.DataFrame, DistributedLoad]:
    """The files' valid rows (persisted on the cluster) and the load's counts."""
    raw = read_files(files, file_format)
    valid, quarantined = validated(raw, task)
    valid = valid.persist()
    reasons = quarantined[QUARANTINE_RULE].value_counts().compute()
    rows_valid = int(valid.shape[0].compute())
    load = DistributedLoad(
        rows_valid + int(reasons.sum()),
        rows_valid,
        int(reasons.sum()),
        {str(k): int(v) for k, v in reasons.items()},
    )
    return valid, load


def _fit_booster(
    task: Task,
    params: BoosterParams,
    settings: Settings,
    client: object,
    train_rows: dd.DataFrame,
    calibration_rows: dd.DataFrame,
) -> tuple[CanonicalFeatures, lgb.LGBMClassifier]:
    """The features fitted on the training rows' categories, and the booster fitted on the cluster
    (early stopping on the calibration rows), as a local classifier."""
    label = task.label_column
    local_pipeline = build_pipeline(task, params, n_jobs=settings.train_threads, seed=settings.seed)
    features, local_classifier = pipeline_steps(local_pipeline)
    watched = dict.fromkeys((*features.categorical, *features.watched))
    categories = {name: pd.Series(train_rows[name].dropna().unique().compute()) for name in watched}
    features.fit(pd.DataFrame(categories))
    names = list(features.get_feature_names_out())
    x_train, x_calibration = _matrix(train_rows, features, names), _matrix(calibration_rows, features, names)
    y_train = train_rows[label].astype("int64").to_dask_array(lengths=True)
    y_calibration = calibration_rows[label].astype("int64").to_dask_array(lengths=True)
    local_params = local_classifier.classifier.get_params()
    # Each Dask worker brings its own threads; LightGBM ignores n_jobs here.
    dropped = ("importance_type", "n_jobs")
    model = DaskLGBMClassifier(client=client, **{k: v for k, v in local_params.items() if k not in dropped})
    model.fit(
        x_train,
        y_train,
        eval_X=(x_calibration,),
        eval_y=(y_calibration,),
        categorical_feature=features.categorical_indices(),
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )
    classifier = model.to_local()
    return features, classifier


def fit_and_evaluate_distributed(
    task: Task,
    files: Sequence[Path],
    settings: Settings,
    client: object,
    params: BoosterParams | None = None,
    file_format: str = "careops",
) -> tuple[FitResult, DistributedLoad, dd.DataFrame]:
    """Fit on the cluster; returns the result, the load counts and the (persisted) valid rows."""
    params = params or task.booster
    valid, load = _load(task, files, file_format)

    time, label = task.time_column, task.label_column
    labelled = valid[valid[label].notnull()]
    holdout_start = day_quantile(labelled[time], 1 - settings.holdout_fraction)

    fit_rows = known_by_cutoff(labelled, task, holdout_start)
    positive_rate = float(fit_rows[label].mean().compute())
    history, claim_history = history_params(
        task,
        settings,
        positive_rate,
        lambda: gather_claim_events(fit_rows),
        band_counts=lambda: gather_lead_band_counts(fit_rows),
    )
    if history is not None:
        valid = with_history(valid, history).persist()
    if claim_history is not None:
        valid = with_claim_history(valid, claim_history).persist()
    if task.counts_late_cancellations:
        hours = settings.late_cancel_hours
        valid = valid.map_partitions(with_definition, task, hours, meta=valid._meta).persist()
    labelled = valid[valid[label].notnull()]
    fit_rows = known_by_cutoff(labelled, task, holdout_start)
    calibration_start = day_quantile(fit_rows[time], 1 - settings.validation_fraction)
    train_rows = fit_rows[fit_rows[time] < calibration_start]
    calibration_rows = fit_rows[fit_rows[time] >= calibration_start]

    features, classifier = _fit_booster(task, params, settings, client, train_rows, calibration_rows)

    scored = calibration_rows[[time]].assign(label=calibration_rows[label]).compute()
    raw_probability = classifier.predict_proba(features.transform(calibration_rows.compute()))[:, 1]
    order = np.argsort(scored[time].to_numpy(), kind="stable")
    calibrator, scores = choose_calibrator(raw_probability[order], scored["label"].to_numpy(int)[order])
    calibrated = CalibratedClassifier.from_fitted(classifier, calibrator, scores)
    pipeline = Pipeline([("features", features), ("classifier", calibrated)])

    def local(rows: dd.DataFrame) -> pd.DataFrame:
        return rows.compute().sort_values([time, task.id_column], kind="stable")

    # The reason and line models fit in this process, on the rows they need, as in-process training.
    reasons = lines = None
    if task.reason_column is not None or task.line_oracle_column is not None:
        has_lines = task.line_oracle_column is not None
        reasons, lines = fit_submodels(
            task,
            features,
            local(fit_rows[fit_rows[label] == 1]),
            local(train_rows) if has_lines else None,
            local(calibration_rows) if has_lines else None,
            params,
            settings,
        )

    holdout_rows = local(labelled[labelled[time] >= holdout_start])
    before = labelled[labelled[time] < holdout_start]
    rows = {
        "rows_train": int(train_rows.shape[0].compute()),
        "rows_calibration": len(scored),
        "rows_holdout": len(holdout_rows),
        "rows_unlabelled": load.rows_valid - int(labelled.shape[0].compute()),
        "rows_label_after_cutoff": int(before.shape[0].compute()) - int(fit_rows.shape[0].compute()),
    }
    trained = build_trained(task.name, pipeline, history, claim_history, reasons, lines)
    result = evaluate_holdout(task, trained, holdout_rows, positive_rate, rows, scores, holdout_start)
    result.late_cancel_hours = settings.late_cancel_hours if task.counts_late_cancellations else None
    return result, load, valid
