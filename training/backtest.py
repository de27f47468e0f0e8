"""Backtests: train on what was known before a cut-off date, score what came on or after it."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from config import Settings
from data.loaders.canonical import LoadResult
from data.loaders.tables import file_sha256
from models.denial_model import DenialModel
from models.noshow_model import NoShowModel
from models.tasks import Task, get_task
from training.fit import FitResult, fit_and_evaluate
from training.train import experiment_for, log_evaluation


@dataclass
class BacktestResult:
    """The summary printed as JSON, the per-row predictions, and the MLflow run."""

    summary: dict[str, Any]
    predictions: pd.DataFrame
    fit: FitResult
    run_id: str | None


def run_backtest(
    task_name: str,
    data_path: str | Path,
    cutoff: date,
    settings: Settings,
    file_format: str = "careops",
    horizon_days: int | None = None,
    log_run: bool = True,
) -> BacktestResult:
    """Train on rows starting before `cutoff`, score labelled rows on or after it, and report."""
    task = get_task(task_name)
    data_path = Path(data_path)
    loaded = task.load(data_path, file_format)
    result = fit_and_evaluate(task, loaded.valid, pd.Timestamp(cutoff), settings, horizon_days=horizon_days)
    summary = summarise(task, data_path, file_format, cutoff, loaded, result)
    predictions = fold_predictions(task, result)
    run_id = _log_run(summary, result, settings, file_sha256(data_path)) if log_run else None
    return BacktestResult(summary=summary, predictions=predictions, fit=result, run_id=run_id)


def summarise(
    task: Task, data_path: Path, file_format: str, cutoff: date, loaded: LoadResult, result: FitResult
) -> dict[str, Any]:
    """The JSON summary of one backtest: rows, rates, metrics, subgroups, and reasons, lines, oracle."""
    history = result.trained.history if isinstance(result.trained, NoShowModel) else None
    holdout_labels = result.holdout[task.label_column].to_numpy(dtype=int)
    summary: dict[str, Any] = {
        "task": task.name,
        "data_file": data_path.name,
        "data_format": file_format,
        "cutoff": cutoff.isoformat(),
        "horizon_days": history.horizon_days if history else None,
        "rows": {
            "read": loaded.rows_read,
            "quarantined": len(loaded.quarantined),
            "train": result.rows["rows_train"],
            "calibration": result.rows["rows_calibration"],
            "test": result.rows["rows_holdout"],
            "label_after_cutoff": result.rows.get("rows_label_after_cutoff", 0),
        },
        "train_positive_rate": result.metrics["train_positive_rate"],
        "test_positive_rate": float(holdout_labels.mean()),
        "calibration_method": result.trained.classifier.calibration_method_,
        "metrics": {
            k.removeprefix("holdout_"): v for k, v in result.metrics.items() if k.startswith("holdout_")
        },
        "subgroups": result.subgroups,
    }
    reasons = {k: v for k, v in result.metrics.items() if k.startswith("reason_")}
    if reasons:
        summary["reasons"] = reasons
    lines = {k.removeprefix("line_"): v for k, v in result.metrics.items() if k.startswith("line_")}
    if lines:
        summary["lines"] = lines
    oracle = {k: v for k, v in result.metrics.items() if k.startswith(("oracle_", "roc_auc_", "brier_"))}
    if oracle:
        summary["oracle"] = oracle
    return summary


def fold_predictions(task: Task, result: FitResult) -> pd.DataFrame:
    """One row per scored record: id, probability, predicted reason (denials) and label."""
    predictions = pd.DataFrame(
        {
            task.id_column: result.holdout[task.id_column].to_numpy(),
            task.probability_field: result.holdout_probability,
        }
    )
    trained = result.trained
    reason_probability = trained.predict_reasons(result.holdout) if isinstance(trained, DenialModel) else None
    if reason_probability is not None:
        predictions["denial_category_predicted"] = [
            trained.reasons.categories[k] for k in reason_probability.argmax(1)
        ]
    predictions[task.label_column] = result.holdout[task.label_column].to_numpy(dtype=int)
    return predictions


# How each metric's worst fold is chosen; calibration slope is worst farthest from 1.
WORST = {"roc_auc": min, "pr_auc": min, "brier": max, "log_loss": max, "ece": max}


def run_rolling_backtest(
    task_name: str,
    data_path: str | Path,
    last_cutoff: date,
    folds: int,
    fold_days: int,
    settings: Settings,
    file_format: str = "careops",
    horizon_days: int | None = None,
    log_run: bool = True,
) -> BacktestResult:
    """Rolling-origin evaluation: K consecutive cut-offs `fold_days` apart, ending at `last_cutoff`.

    Each fold trains only on what was known before its cut-off and scores the `fold_days` after it.
    The summary holds every fold's figures, their mean and worst, and each subgroup's calibration
    and ROC-AUC averaged over the folds. With MLflow, each fold is a nested run of one parent run.
    """
    if folds < 1 or fold_days < 1:
        raise ValueError("--folds and --fold-days must be at least 1")
    task = get_task(task_name)
    data_path = Path(data_path)
    loaded = task.load(data_path, file_format)
    cutoffs = [last_cutoff - timedelta(days=fold_days * (folds - 1 - k)) for k in range(folds)]
    summaries, results, predictions = [], [], []
    for cutoff in cutoffs:
        start = pd.Timestamp(cutoff)
        result = fit_and_evaluate(
            task,
            loaded.valid,
            start,
            settings,
            horizon_days=horizon_days,
            holdout_end=start + pd.Timedelta(days=fold_days),
        )
        summary = summarise(task, data_path, file_format, cutoff, loaded, result)
        summary["window_days"] = fold_days
        summaries.append(summary)
        results.append(result)
        predictions.append(fold_predictions(task, result).assign(fold_cutoff=cutoff.isoformat()))
    summary = {
        "task": task.name,
        "data_file": data_path.name,
        "data_format": file_format,
        "cutoffs": [c.isoformat() for c in cutoffs],
        "fold_days": fold_days,
        "folds": summaries,
        "mean": _mean([s["metrics"] for s in summaries]),
        "worst": _worst([s["metrics"] for s in summaries]),
        "subgroups": _subgroups_over_folds([s["subgroups"] for s in summaries]),
    }
    if all("oracle" in s for s in summaries):  # synthetic data: the ceiling beside each fold
        summary["oracle_mean"] = _mean([s["oracle"] for s in summaries])
    run_id = None
    if log_run:
        run_id = _log_rolling(summary, results, settings, file_sha256(data_path))
    return BacktestResult(
        summary=summary, predictions=pd.concat(predictions, ignore_index=True), fit=results[-1], run_id=run_id
    )


def _mean(metrics: list[dict[str, float]]) -> dict[str, float]:
    return {name: float(np.mean([m[name] for m in metrics])) for name in metrics[0]}


def _worst(metrics: list[dict[str, float]]) -> dict[str, float]:
    worst = {
        name: float(pick(m[name] for m in metrics)) for name, pick in WORST.items() if name in metrics[0]
    }
    slopes = [m["calibration_slope"] for m in metrics]
    worst["calibration_slope"] = float(max(slopes, key=lambda s: abs(s - 1)))
    intercepts = [m["calibration_intercept"] for m in metrics]
    worst["calibration_intercept"] = float(max(intercepts, key=abs))
    return worst


def _subgroups_over_folds(folds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per subgroup: rows over all folds, and the mean over folds of its slope, intercept and ROC-AUC."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rows in folds:
        for row in rows:
            grouped.setdefault((row["attribute"], row["group"]), []).append(row)
    out = []
    for (attribute, group), rows in grouped.items():
        entry: dict[str, Any] = {
            "attribute": attribute,
            "group": group,
            "count": sum(r["count"] for r in rows),
        }
        for name in ("calibration_slope", "calibration_intercept", "roc_auc"):
            values = [r[name] for r in rows if r[name] is not None]
            entry[f"mean_{name}"] = float(np.mean(values)) if values else None
            entry[f"folds_with_{name}"] = len(values)
        out.append(entry)
    return out


def _log_rolling(
    summary: dict[str, Any], results: list[FitResult], settings: Settings, data_sha256: str
) -> str:
    task = get_task(summary["task"])
    mlflow.set_tracking_uri(settings.tracking_uri)
    experiment_id = experiment_for(MlflowClient(), f"careops-{task.name}-backtest", settings)
    name = f"rolling-{task.name}-{summary['cutoffs'][0]}-x{len(results)}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=name) as parent:
        mlflow.set_tags({"careops.task": task.name, "data_sha256": data_sha256, "careops.rolling": "true"})
        mlflow.log_params(
            {
                "folds": len(results),
                "fold_days": summary["fold_days"],
                "cutoffs": ",".join(summary["cutoffs"]),
                "data_file": summary["data_file"],
            }
        )
        mlflow.log_metrics({f"mean_{k}": v for k, v in summary["mean"].items()})
        mlflow.log_metrics({f"worst_{k}": v for k, v in summary["worst"].items()})
        mlflow.log_dict(summary, "rolling_backtest.json")
        for fold, result in zip(summary["folds"], results, strict=True):
            with (
                mlflow.start_run(experiment_id=experiment_id, run_name=f"fold-{fold['cutoff']}", nested=True),
                tempfile.TemporaryDirectory() as tmp,
            ):
                mlflow.log_params(
                    {
                        "cutoff": fold["cutoff"],
                        "window_days": fold["window_days"],
                        **{f"rows_{k}": v for k, v in fold["rows"].items()},
                    }
                )
                log_evaluation(result, task, Path(tmp))
    return parent.info.run_id


def _log_run(summary: dict[str, Any], result: FitResult, settings: Settings, data_sha256: str) -> str:
    task = get_task(summary["task"])
    mlflow.set_tracking_uri(settings.tracking_uri)
    experiment_id = experiment_for(MlflowClient(), f"careops-{task.name}-backtest", settings)
    with (
        mlflow.start_run(
            experiment_id=experiment_id, run_name=f"backtest-{task.name}-{summary['cutoff']}"
        ) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        mlflow.set_tags({"careops.task": task.name, "data_sha256": data_sha256})
        mlflow.log_params(
            {
                "cutoff": summary["cutoff"],
                "horizon_days": summary["horizon_days"],
                "data_file": summary["data_file"],
                "data_format": summary["data_format"],
                "calibration": summary["calibration_method"],
                **{f"rows_{k}": v for k, v in summary["rows"].items()},
            }
        )
        log_evaluation(result, task, Path(tmp))
    return run.info.run_id
