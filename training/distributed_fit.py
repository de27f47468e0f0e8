"""Training on a Dask cluster with lightgbm.dask, for tables that outgrow one machine.

The same steps as in-process training, distributed: validation per partition, point-in-time
history by patient and by clinic, a day-aligned temporal split, a DaskLGBMClassifier with early
stopping on the most recent slice of the training window, then calibration on that slice.
Only the holdout (for the run's report) and the calibration scores are collected locally.
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

from data.loaders import QUARANTINE_RULE
from features.claim_history import ClaimHistoryParams
from features.history import HistoryParams
from models.calibration import CalibratedClassifier, choose_calibrator
from models.estimator import BoosterParams, build_pipeline
from models.tasks import Task
from models.trained import TrainedModel
from training.batch import gather_claim_events, read_files, validated, with_claim_history, with_history
from training.fit import FitResult, TrainingDataError, evaluate_holdout
from training.settings import Settings


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


def fit_and_evaluate_distributed(
    task: Task,
    files: Sequence[Path],
    settings: Settings,
    client: object,
    params: BoosterParams | None = None,
    file_format: str = "careops",
) -> tuple[FitResult, DistributedLoad, dd.DataFrame]:
    """Fit on the cluster; returns the result, the load counts and the (persisted) valid rows."""
    params = params or BoosterParams()
    raw = read_files(files, file_format)
    valid, quarantined = validated(raw, task)
    valid = valid.persist()
    reasons = quarantined[QUARANTINE_RULE].value_counts().compute()
    rows_valid = int(valid.shape[0].compute())
    load = DistributedLoad(rows_valid + int(reasons.sum()), rows_valid, int(reasons.sum()),
                           {str(k): int(v) for k, v in reasons.items()})  # fmt: skip

    time, label = task.time_column, task.label_column
    labelled = valid[valid[label].notnull()]
    holdout_start = day_quantile(labelled[time], 1 - settings.holdout_fraction)

    def known_before_cutoff(rows: dd.DataFrame) -> dd.DataFrame:
        rows = rows[rows[time] < holdout_start]
        if task.label_known_column in rows.columns:  # labels the payer sent after the cut-off cannot train
            known = rows[task.label_known_column]
            rows = rows[known.isnull() | (known < holdout_start)]
        return rows

    fit_rows = known_before_cutoff(labelled)
    positive_rate = float(fit_rows[label].mean().compute())
    history = claim_history = None
    if task.uses_patient_history:
        history = HistoryParams(horizon_days=settings.horizon_days, prior_rate=positive_rate)
        valid = with_history(valid, history).persist()
    if task.uses_claim_history:
        claim_history = ClaimHistoryParams.from_events(gather_claim_events(fit_rows))
        valid = with_claim_history(valid, claim_history).persist()
    labelled = valid[valid[label].notnull()]
    fit_rows = known_before_cutoff(labelled)
    calibration_start = day_quantile(fit_rows[time], 1 - settings.validation_fraction)
    train_rows = fit_rows[fit_rows[time] < calibration_start]
    calibration_rows = fit_rows[fit_rows[time] >= calibration_start]

    local_pipeline = build_pipeline(task, params, n_jobs=settings.train_threads, seed=settings.seed)
    features = local_pipeline.named_steps["features"]
    watched = dict.fromkeys((*features.categorical, *features.watched))
    categories = {name: pd.Series(train_rows[name].dropna().unique().compute()) for name in watched}
    features.fit(pd.DataFrame(categories))
    names = list(features.get_feature_names_out())
    x_train, x_calibration = _matrix(train_rows, features, names), _matrix(calibration_rows, features, names)
    y_train = train_rows[label].astype("int64").to_dask_array(lengths=True)
    y_calibration = calibration_rows[label].astype("int64").to_dask_array(lengths=True)
    local_params = local_pipeline.named_steps["classifier"].classifier.get_params()
    # Each Dask worker brings its own threads; LightGBM ignores n_jobs here.
    dropped = ("importance_type", "n_jobs")
    model = DaskLGBMClassifier(client=client, **{k: v for k, v in local_params.items() if k not in dropped})
    model.fit(
        x_train, y_train, eval_X=(x_calibration,), eval_y=(y_calibration,),
        categorical_feature=features.categorical_indices(),
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )  # fmt: skip
    classifier = model.to_local()

    scored = calibration_rows[[time]].assign(label=calibration_rows[label]).compute()
    raw_probability = classifier.predict_proba(features.transform(calibration_rows.compute()))[:, 1]
    order = np.argsort(scored[time].to_numpy(), kind="stable")
    calibrator, scores = choose_calibrator(raw_probability[order], scored["label"].to_numpy(int)[order])
    calibrated = CalibratedClassifier(classifier, calibrator)
    calibrated.calibration_scores_ = scores
    pipeline = Pipeline([("features", features), ("classifier", calibrated)])

    holdout_rows = labelled[labelled[time] >= holdout_start].compute().sort_values([time, task.id_column])
    rows = {
        "rows_train": int(train_rows.shape[0].compute()),
        "rows_calibration": len(scored),
        "rows_holdout": len(holdout_rows),
        "rows_unlabelled": rows_valid - int(labelled.shape[0].compute()),
    }
    trained = TrainedModel(task.name, pipeline, history, claim_history=claim_history)
    result = evaluate_holdout(task, trained, holdout_rows, positive_rate, rows, scores, holdout_start)
    return result, load, valid
