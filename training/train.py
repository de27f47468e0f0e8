"""Train one task: load and quarantine, fit and evaluate in time, log reports, register in MLflow."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import ModelSignature

from config import Settings
from data.loaders.tables import file_sha256
from data.stores.appointments import AppointmentStore
from data.stores.claims import ClaimStore
from models.artifacts import golden_probabilities, read_golden_set, save_trained
from models.booster_params import BoosterParams
from models.denial_model import DenialModel
from models.noshow_model import NoShowModel
from models.pyfunc import (
    GOLDEN_SCORES_ARTIFACT,
    GOLDEN_SET_ARTIFACT,
    MODEL_ARTIFACT,
    REFERENCE_ARTIFACT,
    input_schema,
    model_input,
    output_schema,
)
from models.registry import set_alias_if_absent
from models.tasks import Task, caller_form, get_task
from models.trained import TrainedModel
from services.monitoring.reference import PROFILE_FILE, profile_of
from training.distributed_fit import fit_and_evaluate_distributed
from training.fit import FitResult, TrainingDataError, fit_and_evaluate, labels, recent_holdout_start
from training.model_code import MODEL_CODE, importable, requirements, write_package
from training.provenance import git_commit, library_versions
from training.reports import dump_json, feature_importance, gain_by_decile, model_card, write_charts

log = logging.getLogger(__name__)

INPUT_EXAMPLE_ROWS = 3
GOLDEN_SET_ROWS = 200

__all__ = ["TrainResult", "TrainingDataError", "train"]


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
    subgroups: list[dict[str, object]] = field(default_factory=list)


def input_example(task: Task, frame: pd.DataFrame) -> pd.DataFrame:
    """A few canonical records in the form the signature takes."""
    return model_input(task, frame.head(INPUT_EXAMPLE_ROWS))


def experiment_for(client: MlflowClient, name: str, settings: Settings) -> str:
    """The id of experiment `name`, created with the configured artifact location if new."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=settings.artifact_location)


def log_evaluation(result: FitResult, task: Task, folder: Path) -> None:
    """Log metrics, reports and charts of a holdout evaluation to the active run."""
    mlflow.log_metrics(result.metrics)
    mlflow.log_dict(feature_importance(result), "feature_importance_gain.json")
    mlflow.log_dict({"subgroups": result.subgroups}, "subgroup_report.json")
    mlflow.log_dict(result.calibration_scores, "calibration_log_loss_by_method.json")
    gains = gain_by_decile(labels(result.holdout, task), result.holdout_probability)
    mlflow.log_dict({"deciles": gains.to_dict("records")}, "gain_by_decile.json")
    for chart in write_charts(result, labels(result.holdout, task), folder):
        mlflow.log_artifact(str(chart), "charts")


def register_version(
    task: Task, trained: TrainedModel, card: Path, recent: pd.DataFrame, folder: Path, description: str
) -> str:
    """Log `trained` in the active run as a models-from-code version of `task`, and register it.

    `recent` holds labelled canonical rows: its latest ones become the golden set, scored now and
    checked again by the API before the version serves.
    """
    registry = MlflowClient()
    model_path = save_trained(trained, folder / "trained_model")
    golden_path = folder / "golden_set.json"
    golden = caller_form(task, recent.tail(GOLDEN_SET_ROWS), with_labels=True)
    golden_path.write_text(golden.to_json(orient="records", date_format="iso"), encoding="utf-8")
    scores = golden_probabilities(trained, read_golden_set(task.name, golden_path))
    scores_path = dump_json({"probabilities": scores.tolist()}, folder / "golden_scores.json")
    holdout_metrics = json.loads(card.read_text(encoding="utf-8"))["quantitative_analysis"]["holdout_metrics"]
    profile = profile_of(trained, recent, holdout_metrics).save(folder / PROFILE_FILE)
    code_path = folder / "careops_model.py"
    code_path.write_text(MODEL_CODE, encoding="utf-8")
    package = write_package(folder / "code")
    with importable(package.parent):  # MLflow runs the model code as it logs it
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(code_path),
            code_paths=[str(package)],
            artifacts={
                MODEL_ARTIFACT: str(model_path),
                "model_card": str(card),
                GOLDEN_SET_ARTIFACT: str(golden_path),
                GOLDEN_SCORES_ARTIFACT: str(scores_path),
                REFERENCE_ARTIFACT: str(profile),
            },
            signature=ModelSignature(inputs=input_schema(task), outputs=output_schema(task)),
            input_example=input_example(task, recent),
            registered_model_name=task.name,
            pip_requirements=requirements(),
        )
    version = str(info.registered_model_version)
    registry.update_model_version(task.name, version, description=description)
    return version


def _fit(
    task: Task,
    data_path: Path,
    settings: Settings,
    params: BoosterParams,
    file_format: str,
    client: object | None,
) -> tuple[FitResult, tuple, Iterable[pd.DataFrame]]:
    """Fit and evaluate in process or on a Dask cluster; the fit, the row counts (read, valid,
    quarantined, reasons) and the valid table's partitions."""
    if client is None:
        loaded = task.load(data_path, file_format)
        table = loaded.valid
        start = recent_holdout_start(task, table, settings.holdout_fraction)
        result = fit_and_evaluate(task, table, start, settings, params)
        counts = (loaded.rows_read, len(table), len(loaded.quarantined), loaded.reason_counts)
        return result, counts, [table]
    result, load, valid = fit_and_evaluate_distributed(
        task, [data_path], settings, client, params, file_format
    )
    counts = (load.rows_read, load.rows_valid, load.rows_quarantined, load.reason_counts)
    return result, counts, (valid.get_partition(i).compute() for i in range(valid.npartitions))


def _seed_stores(
    task: Task, result: FitResult, settings: Settings, partitions: Iterable[pd.DataFrame]
) -> None:
    """Seed the service's store with the training table: the history online scores read."""
    if isinstance(result.trained, NoShowModel):
        store = AppointmentStore(settings.database_url)
        horizon = result.trained.history.horizon_days
        seeded = sum(store.seed(part, horizon) for part in partitions)
        log.info("seeded the appointment store with %d appointments", seeded)
    if isinstance(result.trained, DenialModel):
        claim_store = ClaimStore(settings.database_url)
        seeded = sum(claim_store.record(part) for part in partitions)
        claim_store.engine.dispose()
        log.info("seeded the claim store with %d claims", seeded)


def _log_inputs(
    task: Task,
    result: FitResult,
    data_path: Path,
    file_format: str,
    distributed: bool,
    settings: Settings,
    params: BoosterParams,
    rows: dict,
    data_sha256: str,
) -> None:
    """The run's tags (data hash, commit, library versions) and parameters (data, settings, rows)."""
    history = result.trained.history if isinstance(result.trained, NoShowModel) else None
    mlflow.set_tags(
        {
            "careops.task": task.name,
            "data_sha256": data_sha256,
            "careops.git_commit": git_commit(),
            **{f"lib.{name}": value for name, value in library_versions().items()},
        }
    )
    mlflow.log_params(
        {
            "task": task.name,
            "data_file": data_path.name,
            "data_format": file_format,
            "distributed": distributed,
            "seed": settings.seed,
            "train_threads": settings.train_threads,
            "holdout_fraction": settings.holdout_fraction,
            "holdout_starts": str(result.holdout[task.time_column].min()),
            "horizon_days": history.horizon_days if history else None,
            "late_cancel_hours": result.late_cancel_hours,
            "calibration": result.trained.classifier.calibration_method_,
            **params.as_params(),
            **rows,
        }
    )


def train(
    task_name: str,
    data_path: str | Path,
    settings: Settings,
    params: BoosterParams | None = None,
    file_format: str = "careops",
    client: object | None = None,
) -> TrainResult:
    """Train `task_name` on the file at `data_path` and register a model version.

    With a Dask `client`, the table is loaded, prepared and fitted on the cluster (lightgbm.dask).
    """
    task = get_task(task_name)
    params = params or task.booster
    data_path = Path(data_path)
    result, counts, partitions = _fit(task, data_path, settings, params, file_format, client)
    rows_read, rows_valid, rows_quarantined, reason_counts = counts
    rows = {
        "rows_read": rows_read,
        "rows_valid": rows_valid,
        "rows_quarantined": rows_quarantined,
        **result.rows,
    }
    data_sha256 = file_sha256(data_path)

    distributed = client is not None
    mlflow.set_tracking_uri(settings.tracking_uri)
    registry = MlflowClient()
    experiment_id = experiment_for(registry, f"careops-{task.name}", settings)
    with (
        mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{task.name}") as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        folder = Path(tmp)
        _log_inputs(task, result, data_path, file_format, distributed, settings, params, rows, data_sha256)
        mlflow.log_dict(reason_counts, "quarantine_reasons.json")
        log_evaluation(result, task, folder)
        card = dump_json(
            model_card(result, task.name, data_path.name, data_sha256, params), folder / "model_card.json"
        )
        mlflow.log_artifact(str(card))
        description = (
            f"Holdout ROC-AUC {result.metrics['holdout_roc_auc']:.4f}, "
            f"Brier {result.metrics['holdout_brier']:.4f}, ECE {result.metrics['holdout_ece']:.4f}; "
            "model card in the model's artifacts/model_card.json."
        )
        version = register_version(task, result.trained, card, result.holdout, folder, description)
        champion_set = set_alias_if_absent(registry, task.name, settings.champion_alias, version)
        mlflow.set_tag("careops.champion_set", str(champion_set).lower())
    _seed_stores(task, result, settings, partitions)
    return TrainResult(
        task=task.name,
        run_id=run.info.run_id,
        model_version=version,
        champion_set=champion_set,
        metrics=result.metrics,
        rows=rows,
        quarantine_reasons=reason_counts,
        subgroups=result.subgroups,
    )
