"""Intercept updates: a registered version's probabilities moved to the latest outcomes, booster kept.

Base rates drift from week to week (reminder systems break, seasons turn, a payer changes a rule).
Between retrains, an intercept update from the most recent labelled days corrects the model's
calibration-in-the-large without touching its ranking. The result is registered as a new version
and is a challenger like any other: `careops promote` gates it against the champion.
"""

from __future__ import annotations

import copy
import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from config import Settings
from data.loaders.tables import file_sha256
from models.calibration import Calibrator, intercept_offset, shifted
from models.evaluation import binary_metrics
from models.pyfunc import load_registered
from models.registry import alias_version
from models.tasks import Task, get_task
from models.trained import TrainedModel
from training.reports import dump_json
from training.train import experiment_for, register_version

REPORTED = ("roc_auc", "brier", "ece", "calibration_intercept", "calibration_slope")


class RecalibrationError(ValueError):
    """No champion to start from, or too few labelled rows in the window. Nothing was registered."""


@dataclass
class RecalibrationResult:
    """What the update did: the versions, the shift, and the window's figures before and after."""

    task: str
    base_version: str
    version: str
    offset: float
    window_start: str
    window_end: str
    rows: int
    observed_rate: float
    before: dict[str, float]
    after: dict[str, float]


def with_offset(trained: TrainedModel, offset: float) -> TrainedModel:
    """A copy of `trained` whose calibrated probabilities are shifted by `offset` more log-odds."""
    updated = copy.deepcopy(trained)
    classifier = updated.classifier
    calibrator = classifier.calibrator_ or Calibrator("none")
    classifier.calibrator_ = replace(calibrator, offset=calibrator.offset + offset)
    return updated


def _window(
    task: Task, table: pd.DataFrame, days: int, name: str
) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    """The labelled rows of the last `days` days and the window's first day and last time; an error
    unless it holds 200 rows with both outcomes."""
    labelled = table[table[task.label_column].notna()]
    if labelled.empty:
        raise RecalibrationError(f"{name} has no labelled {task.name} rows")
    end = labelled[task.time_column].max()
    start = end.normalize() - pd.Timedelta(days=days - 1)
    window = labelled[labelled[task.time_column] >= start]
    y = window[task.label_column].to_numpy(dtype=int)
    if len(window) < 200 or len(np.unique(y)) < 2:
        raise RecalibrationError(
            f"the last {days} labelled days hold {len(window)} rows; an update needs 200 with both outcomes"
        )
    return window, start, end


def recalibrate(
    task_name: str, data_path: str | Path, settings: Settings, days: int = 7, file_format: str = "careops"
) -> RecalibrationResult:
    """Register the champion with an intercept update from the last `days` labelled days of the file.

    History is computed from the whole file, as in a backtest, so the window's rows are scored as
    the service would have scored them. The champion alias does not move.
    """
    task = get_task(task_name)
    data_path = Path(data_path)
    mlflow.set_tracking_uri(settings.tracking_uri)
    client = MlflowClient()
    base = alias_version(client, task.name, settings.champion_alias)
    if base is None:
        raise RecalibrationError(f"{task.name} has no @{settings.champion_alias} version to update")
    trained: TrainedModel = load_registered(f"models:/{task.name}/{base}").trained
    table = task.load(data_path, file_format).valid
    window, start, end = _window(task, table, days, data_path.name)
    y = window[task.label_column].to_numpy(dtype=int)
    probability = trained.predict_frame(table)[table.index.get_indexer(window.index)]
    offset = intercept_offset(probability, y)
    updated = with_offset(trained, offset)
    before = {k: binary_metrics(y, probability)[k] for k in REPORTED}
    after = {k: binary_metrics(y, shifted(probability, offset))[k] for k in REPORTED}

    with (
        mlflow.start_run(
            experiment_id=experiment_for(client, f"careops-{task.name}", settings),
            run_name=f"recalibrate-{task.name}",
        ),
        tempfile.TemporaryDirectory() as tmp,
    ):
        folder = Path(tmp)
        mlflow.set_tags({"careops.task": task.name, "data_sha256": file_sha256(data_path)})
        mlflow.log_params(
            {
                "task": task.name,
                "base_version": base,
                "data_file": data_path.name,
                "window_days": days,
                "window_start": str(start),
                "window_end": str(end),
                "window_rows": len(window),
            }
        )
        mlflow.log_metrics(
            {
                "intercept_offset": offset,
                "window_observed_rate": float(y.mean()),
                "window_mean_before": float(probability.mean()),
                **{f"window_{k}_before": v for k, v in before.items()},
                **{f"window_{k}_after": v for k, v in after.items()},
            }
        )
        card = _card(task.name, base, offset, start, end, len(window), before, after, folder)
        mlflow.log_artifact(str(card))
        description = (
            f"Version {base} with an intercept update of {offset:+.3f} log-odds from {len(window)} rows "
            f"of the {days} labelled days to {end:%Y-%m-%d}; ECE there {before['ece']:.4f} -> "
            f"{after['ece']:.4f}. Gate it with careops promote."
        )
        version = register_version(task, updated, card, window, folder, description)
    return RecalibrationResult(
        task=task.name,
        base_version=base,
        version=version,
        offset=offset,
        window_start=str(start),
        window_end=str(end),
        rows=len(window),
        observed_rate=float(y.mean()),
        before=before,
        after=after,
    )


def _card(
    name: str,
    base: str,
    offset: float,
    start: pd.Timestamp,
    end: pd.Timestamp,
    rows: int,
    before: dict[str, float],
    after: dict[str, float],
    folder: Path,
) -> Path:
    """The base version's model card, with the update recorded in it."""
    try:
        model = mlflow.artifacts.download_artifacts(f"models:/{name}/{base}", dst_path=str(folder / "base"))
        card = json.loads((Path(model) / "artifacts" / "model_card.json").read_text(encoding="utf-8"))
    except (OSError, mlflow.exceptions.MlflowException):  # a version logged without a card
        card = {}
    card["recalibration"] = {
        "base_version": base,
        "intercept_offset": offset,
        "window": {"start": str(start), "end": str(end), "rows": rows},
        "window_metrics_before": before,
        "window_metrics_after": after,
    }
    return dump_json(card, folder / "model_card.json")
