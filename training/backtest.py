"""Backtests: train on what was known before a cut-off date, score what came on or after it."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient

from config import Settings
from data.loaders.tables import file_sha256
from models.tasks import get_task
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
    history = result.trained.history
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
    predictions = pd.DataFrame(
        {
            task.id_column: result.holdout[task.id_column].to_numpy(),
            task.probability_field: result.holdout_probability,
        }
    )
    trained = result.trained
    reason_probability = trained.predict_reasons(result.holdout)
    if reason_probability is not None:
        predictions["denial_category_predicted"] = [
            trained.reasons.categories[k] for k in reason_probability.argmax(1)
        ]
    predictions[task.label_column] = holdout_labels
    run_id = _log_run(summary, result, settings, file_sha256(data_path)) if log_run else None
    return BacktestResult(summary=summary, predictions=predictions, fit=result, run_id=run_id)


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
