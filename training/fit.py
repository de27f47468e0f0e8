"""Fit and evaluate one task on a table split in time: the path shared by `train` and `backtest`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from config import Settings
from data import no_show_definition
from data.claim_events import ClaimEvents
from features.claim_history import ClaimHistoryParams, add_claim_history, claim_events
from features.columns import columns_from_frame
from features.history import HistoryParams, add_history, lead_band_counts, lead_band_rates
from features.transformer import CanonicalFeatures
from models.booster_params import BoosterParams
from models.denial_model import DenialModel
from models.estimator import build_pipeline, fit_pipeline, pipeline_steps
from models.evaluation import binary_metrics, oracle_comparison, subgroup_report
from models.reasons import ReasonModel, fit_reason_model
from models.service_lines import LineModel, fit_line_model, line_labels
from models.subgroups import age_band
from models.task_models import build_trained
from models.tasks import Task
from models.trained import TrainedModel
from training.split import temporal_split


class TrainingDataError(ValueError):
    """The data cannot train or evaluate a model (no labelled rows, one class only, ...)."""


@dataclass
class FitResult:
    """A fitted model and what it scored on its holdout."""

    trained: TrainedModel
    holdout: pd.DataFrame
    holdout_probability: np.ndarray
    metrics: dict[str, float]
    rows: dict[str, int]
    calibration_scores: dict[str, float]
    subgroups: list[dict[str, object]] = field(default_factory=list)
    # The no-show definition the labels were made with (None: a task it does not apply to).
    late_cancel_hours: float | None = None


def labels(frame: pd.DataFrame, task: Task) -> np.ndarray:
    """The task's label column as integers."""
    return frame[task.label_column].to_numpy(dtype=np.int64)


def with_definition(frame: pd.DataFrame, task: Task, hours: float) -> pd.DataFrame:
    """The table with its labels (and, for a synthetic table, its truth) under the practice's no-show
    definition (`data.no_show_definition`); other tasks' tables are returned as they are.

    Applied after history features are computed: they read the outcomes of visits, not the
    definition (a cancelled visit is no-one's history, in training as at scoring time)."""
    if not task.counts_late_cancellations:
        return frame
    out = frame.assign(**{task.label_column: no_show_definition.labels(frame, hours)})
    truth = no_show_definition.true_probability(frame, hours)
    if truth is not None:
        out[task.oracle_column] = truth
    return out


def subgroup_columns(task: Task, frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The attributes a fairness report slices by, for this task (those the table records)."""
    groups: dict[str, pd.Series] = {}
    for name in task.subgroup_columns:
        if name == "age_band":
            groups[name] = age_band(frame["patient_age"])
        elif frame[name].notna().any():
            column = frame[name]
            groups[name] = column.map({1.0: "yes", 0.0: "no"}) if column.dtype.kind == "f" else column
    return groups


def known_by_cutoff(rows: Any, task: Task, cutoff: datetime | pd.Timestamp) -> Any:
    """Rows before the cut-off whose label was known by then (pandas or Dask frames alike).

    Labels not yet known at the cut-off (claims still with the payer) cannot train the model.
    """
    before = rows[task.time_column] < cutoff
    if task.label_known_column in rows.columns:
        known_at = rows[task.label_known_column]
        before = before & (known_at.isnull() | (known_at < cutoff))
    return rows[before]


def hide_booking_times(table: pd.DataFrame, rows: np.ndarray, share: float, seed: int) -> pd.DataFrame:
    """The table with the booking time of a random `share` of `rows` made unknown (NaT).

    Many EHRs send no booking time. A model that has seen such rows, with their history read as
    production reads it (features.history), scores them sensibly and the calibration covers them.
    """
    if share <= 0 or "booked_at" not in table.columns:
        return table
    hidden = rows & (np.random.default_rng(seed).random(len(table)) < share)
    out = table.copy()
    out.loc[hidden, "booked_at"] = pd.NaT
    return out


def history_params(
    task: Task,
    settings: Settings,
    positive_rate: float,
    events: Callable[[], ClaimEvents],
    horizon_days: int | None = None,
    band_counts: Callable[[], pd.DataFrame] | None = None,
) -> tuple[HistoryParams | None, ClaimHistoryParams | None]:
    """How the task reads point-in-time history, learned from its training rows.

    `positive_rate` is the training rows' label rate; `events` gathers their claim events and
    `band_counts` their no-shows per lead band (`lead_band_counts`).
    """
    history = claim_history = None
    if task.uses_patient_history:
        history = HistoryParams(
            horizon_days=horizon_days or settings.horizon_days,
            prior_rate=positive_rate,
            lead_band_rates=lead_band_rates(band_counts(), positive_rate) if band_counts else (),
        )
    if task.uses_claim_history:
        claim_history = ClaimHistoryParams.from_events(events())
    return history, claim_history


def fit_submodels(
    task: Task,
    features: CanonicalFeatures,
    fit_rows: pd.DataFrame,
    train_rows: pd.DataFrame | None,
    calibration_rows: pd.DataFrame | None,
    params: BoosterParams,
    settings: Settings,
) -> tuple[ReasonModel | None, LineModel | None]:
    """The models beside the main one, for tasks that have them: denial reasons and service lines.

    `fit_rows` needs only its denied rows; `train_rows` and `calibration_rows` are read only by a
    line model. In-process and Dask training both fit their sub-models here.
    """
    reasons = lines = None
    if task.reason_column is not None:
        denied = fit_rows[fit_rows[task.label_column] == 1]
        reasons = fit_reason_model(
            features.transform(denied),
            denied[task.reason_column].to_numpy(dtype=object),
            features.categorical_indices(),
            settings.train_threads,
            settings.seed,
        )
    if task.line_oracle_column is not None and train_rows is not None and calibration_rows is not None:
        lines = fit_line_model(
            features, train_rows, calibration_rows, params, settings.train_threads, settings.seed
        )
    return reasons, lines


def fit_and_evaluate(
    task: Task,
    table: pd.DataFrame,
    holdout_start: datetime | pd.Timestamp,
    settings: Settings,
    params: BoosterParams | None = None,
    horizon_days: int | None = None,
    holdout_end: datetime | pd.Timestamp | None = None,
) -> FitResult:
    """Train on rows before `holdout_start` and evaluate on labelled rows at or after it (and before
    `holdout_end` when given; later rows stay in the table as bookings known in time).

    Point-in-time history is computed once over the whole table: a row's features use only
    outcomes from `horizon_days` or more before its own day, so no training row sees the holdout.
    """
    params = params or task.booster
    time = task.time_column
    table = table.sort_values([time, task.id_column], kind="stable").reset_index(drop=True)
    hours = settings.late_cancel_hours
    # Labels (and a synthetic table's truth) from the table as it came, before any booking time is
    # hidden: the truth of a late cancellation depends on the booking.
    defined = with_definition(table, task, hours)
    labelled = defined[task.label_column].notna().to_numpy()
    before = (table[time] < holdout_start).to_numpy()
    scored = ~before if holdout_end is None else ~before & (table[time] < holdout_end).to_numpy()
    known = table.index.isin(known_by_cutoff(table, task, holdout_start).index)
    fit_rows, holdout_rows = table[labelled & known], table[labelled & scored]
    if fit_rows.empty or holdout_rows.empty:
        raise TrainingDataError(
            f"the split at {holdout_start} leaves {len(fit_rows)} labelled rows before it and "
            f"{len(holdout_rows)} at or after it; both need rows"
        )
    if fit_rows[task.label_column].nunique() < 2:
        raise TrainingDataError(f"the label '{task.label_column}' has only one class before {holdout_start}")

    history, claim_history = history_params(
        task,
        settings,
        float(fit_rows[task.label_column].mean()),
        lambda: claim_events(fit_rows),
        horizon_days,
        lambda: lead_band_counts(fit_rows),
    )
    if history is not None:
        table = hide_booking_times(table, before, settings.hidden_booking_share, settings.seed)
        table = add_history(table, history)
    if claim_history is not None:
        table = add_claim_history(table, claim_history)
    named = [c for c in (task.label_column, task.oracle_column) if c in defined.columns]
    table = table.assign(**{c: defined[c] for c in named})
    fit_rows, holdout_rows = table[labelled & known], table[labelled & scored]
    train_rows, calibration_rows = temporal_split(fit_rows, time, settings.validation_fraction)

    pipeline = build_pipeline(task, params, n_jobs=settings.train_threads, seed=settings.seed)
    calibration_scores = fit_pipeline(
        pipeline,
        train_rows,
        labels(train_rows, task),
        calibration_rows,
        labels(calibration_rows, task),
        params,
    )
    features, _ = pipeline_steps(pipeline)
    reasons, lines = fit_submodels(task, features, fit_rows, train_rows, calibration_rows, params, settings)
    rows = {
        "rows_train": len(train_rows),
        "rows_calibration": len(calibration_rows),
        "rows_holdout": len(holdout_rows),
        "rows_unlabelled": int((~labelled).sum()),
        "rows_label_after_cutoff": int((labelled & before & ~known).sum()),
    }
    trained = build_trained(task.name, pipeline, history, claim_history, reasons, lines)
    positive_rate = fit_rows[task.label_column].mean()
    result = evaluate_holdout(
        task, trained, holdout_rows, positive_rate, rows, calibration_scores, holdout_start
    )
    result.late_cancel_hours = hours if task.counts_late_cancellations else None
    return result


def evaluate_holdout(
    task: Task,
    trained: TrainedModel,
    holdout_rows: pd.DataFrame,
    train_positive_rate: float,
    rows: dict[str, int],
    calibration_scores: dict[str, float],
    holdout_start: datetime | pd.Timestamp,
) -> FitResult:
    """Score a prepared holdout with a fitted model and gather every figure a run reports."""
    probability = trained.predict_frame(holdout_rows)
    holdout_labels = labels(holdout_rows, task)
    if len(np.unique(holdout_labels)) < 2:
        raise TrainingDataError(f"the holdout from {holdout_start} has only one class")
    metrics = {f"holdout_{k}": v for k, v in binary_metrics(holdout_labels, probability).items()}
    if task.oracle_column in holdout_rows.columns:
        oracle = holdout_rows[task.oracle_column].to_numpy(float)
        metrics |= oracle_comparison(holdout_labels, probability, oracle)
    booster = trained.classifier.booster_
    metrics["boosting_rounds"] = float(booster.current_iteration())
    metrics["train_positive_rate"] = float(train_positive_rate)
    if isinstance(trained, DenialModel):
        reason_probability = trained.predict_reasons(holdout_rows)
        if reason_probability is not None:
            metrics |= reason_metrics(holdout_rows, reason_probability, trained.reasons.categories, task)
        metrics |= line_metrics(task, trained, holdout_rows)
    return FitResult(
        trained=trained,
        holdout=holdout_rows,
        holdout_probability=probability,
        metrics=metrics,
        rows=rows,
        calibration_scores=calibration_scores,
        subgroups=subgroup_report(holdout_labels, probability, subgroup_columns(task, holdout_rows)),
    )


def reason_metrics(
    holdout: pd.DataFrame, reason_probability: np.ndarray, categories: list[str], task: Task
) -> dict[str, float]:
    """Top-1 accuracy and macro-F1 of the predicted reason on denied holdout claims with a category."""
    from sklearn.metrics import f1_score

    denied = (holdout[task.label_column] == 1).to_numpy() & holdout[task.reason_column].notna().to_numpy()
    if not denied.any():
        return {}
    truth = holdout[task.reason_column].to_numpy(dtype=object)[denied].astype(str)
    predicted = np.asarray(categories)[reason_probability[denied].argmax(axis=1)]
    return {
        "reason_top1_accuracy": float((predicted == truth).mean()),
        "reason_macro_f1": float(f1_score(truth, predicted, average="macro")),
        "reason_denied_rows": float(denied.sum()),
    }


def line_metrics(task: Task, trained: DenialModel, holdout: pd.DataFrame) -> dict[str, float]:
    """Line-level ROC-AUC, Brier and ECE on labelled holdout lines, beside the oracle's when known."""
    predicted = trained.predict_lines(holdout)
    if predicted is None:
        return {}
    probability, _ = predicted
    labels = line_labels(columns_from_frame(holdout, ["service_lines"]))
    known = ~np.isnan(labels)
    if len(np.unique(labels[known])) < 2:
        return {}
    out = {f"line_{k}": v for k, v in binary_metrics(labels[known], probability[known]).items()}
    out["line_rows"] = float(known.sum())
    if task.line_oracle_column in holdout.columns:
        oracle = np.concatenate(
            [
                np.asarray(json.loads(p) if isinstance(p, str) else p, dtype=float)
                for p in holdout[task.line_oracle_column]
            ]
        )
        comparison = oracle_comparison(labels[known], probability[known], oracle[known])
        out |= {f"line_{k}": v for k, v in comparison.items()}
    return out


def recent_holdout_start(task: Task, table: pd.DataFrame, fraction: float) -> pd.Timestamp:
    """Where the most recent `fraction` of labelled rows begins."""
    labelled = table[table[task.label_column].notna()]
    if labelled.empty:
        raise TrainingDataError("no labelled rows")
    _, later = temporal_split(labelled, task.time_column, fraction)
    return later[task.time_column].min()
