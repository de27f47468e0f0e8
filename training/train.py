"""Train one task: load and quarantine, split in time, fit, evaluate, log and register in MLflow."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import ModelSignature

from data.tables import file_sha256
from models.estimator import BoosterParams, build_pipeline, fit_pipeline
from models.pyfunc import PIPELINE_ARTIFACT, CareopsModel, input_schema, output_schema
from models.tasks import Task, caller_form, get_task
from training.evaluation import binary_metrics, oracle_comparison
from training.registry import set_alias_if_absent
from training.settings import Settings
from training.split import temporal_split

log = logging.getLogger(__name__)

INPUT_EXAMPLE_ROWS = 3


class TrainingDataError(ValueError):
    """The data cannot train a model (no valid labelled rows, one class only, ...)."""


@dataclass
class TrainResult:
    """What a training run produced and measured."""

    task: str
    run_id: str
    model_version: str
    champion_set: bool
    metrics: dict[str, float]
    rows: dict[str, int]
    quarantine_reasons: dict[str, int] = field(default_factory=dict)


def _labels(frame: pd.DataFrame, task: Task) -> np.ndarray:
    return frame[task.label_column].to_numpy(dtype=np.int64)


def input_example(task: Task, frame: pd.DataFrame) -> pd.DataFrame:
    """A few canonical records in the form a caller sends them."""
    return caller_form(task, frame.head(INPUT_EXAMPLE_ROWS))


def experiment_for(client: MlflowClient, name: str, settings: Settings) -> str:
    """The id of experiment `name`, created with the configured artifact location if new."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=settings.artifact_location)


def train(
    task_name: str, data_path: str | Path, settings: Settings, params: BoosterParams | None = None
) -> TrainResult:
    """Train `task_name` on the canonical file at `data_path` and register a model version."""
    task = get_task(task_name)
    params = params or BoosterParams()
    data_path = Path(data_path)
    loaded = task.load(data_path)
    labelled = loaded.valid[loaded.valid[task.label_column].notna()]
    rows = {
        "rows_read": loaded.rows_read,
        "rows_valid": len(loaded.valid),
        "rows_quarantined": len(loaded.quarantined),
        "rows_unlabelled": len(loaded.valid) - len(labelled),
    }
    if labelled.empty:
        raise TrainingDataError(f"{data_path}: no valid labelled rows to train on ({rows})")
    if labelled[task.label_column].nunique() < 2:
        raise TrainingDataError(f"{data_path}: the label '{task.label_column}' has only one class")
    labelled = labelled.sort_values(task.time_column, kind="stable")
    fit_part, holdout = temporal_split(labelled, task.time_column, settings.holdout_fraction)
    train_part, validation = temporal_split(fit_part, task.time_column, settings.validation_fraction)
    rows |= {"rows_train": len(train_part), "rows_validation": len(validation), "rows_holdout": len(holdout)}

    pipeline = build_pipeline(task, params, n_jobs=settings.train_threads, seed=settings.seed)
    fit_pipeline(
        pipeline, train_part, _labels(train_part, task), validation, _labels(validation, task), params
    )
    holdout_probability = pipeline.predict_proba(holdout)[:, 1]
    metrics = {
        f"holdout_{k}": v for k, v in binary_metrics(_labels(holdout, task), holdout_probability).items()
    }
    if task.oracle_column in holdout.columns:
        metrics |= oracle_comparison(
            _labels(holdout, task), holdout_probability, holdout[task.oracle_column].to_numpy(dtype=float)
        )
    metrics["best_iteration"] = float(pipeline.named_steps["classifier"].best_iteration_)

    mlflow.set_tracking_uri(settings.tracking_uri)
    client = MlflowClient()
    experiment_id = experiment_for(client, f"careops-{task.name}", settings)
    with (
        mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{task.name}") as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        mlflow.set_tags({"careops.task": task.name, "data_sha256": file_sha256(data_path)})
        mlflow.log_params(
            {
                "task": task.name,
                "data_file": data_path.name,
                "seed": settings.seed,
                "train_threads": settings.train_threads,
                "holdout_fraction": settings.holdout_fraction,
                "holdout_starts": str(holdout[task.time_column].min()),
                **params.as_params(),
                **rows,
            }
        )
        mlflow.log_metrics(metrics)
        mlflow.log_dict(loaded.reason_counts, "quarantine_reasons.json")
        names = pipeline.named_steps["features"].get_feature_names_out().tolist()
        gains = pipeline.named_steps["classifier"].booster_.feature_importance(importance_type="gain")
        mlflow.log_dict(
            dict(sorted(zip(names, map(float, gains), strict=True), key=lambda kv: -kv[1])),
            "feature_importance_gain.json",
        )
        pipeline_path = Path(tmp) / "pipeline.joblib"
        joblib.dump(pipeline, pipeline_path)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=CareopsModel(task.name),
            artifacts={PIPELINE_ARTIFACT: str(pipeline_path)},
            signature=ModelSignature(inputs=input_schema(task), outputs=output_schema(task)),
            input_example=input_example(task, holdout),
            registered_model_name=task.name,
            pip_requirements=_requirements(),
        )
        version = str(info.registered_model_version)
        champion_set = set_alias_if_absent(client, task.name, settings.champion_alias, version)
        mlflow.set_tag("careops.champion_set", str(champion_set).lower())
    return TrainResult(
        task=task.name,
        run_id=run.info.run_id,
        model_version=version,
        champion_set=champion_set,
        metrics=metrics,
        rows=rows,
        quarantine_reasons=loaded.reason_counts,
    )


def _requirements() -> list[str]:
    from importlib.metadata import version

    packages = ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "pydantic", "joblib")
    return [f"{name}=={version(name)}" for name in packages]
