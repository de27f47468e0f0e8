"""Loading the registry's champion of each task, checking it, and swapping it in without downtime."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
from mlflow import MlflowClient

from config import Settings
from data.loaders.canonical import frame_records
from features.history import compile_history
from models.artifacts import golden_probabilities, read_golden_set
from models.noshow_model import NoShowModel
from models.pyfunc import CareopsModel, NotCareopsModelError, load_registered
from models.registry import alias_version
from models.scorer import CompiledScorer
from models.tasks import TASKS, Task
from models.trained import TrainedModel
from services.monitoring.reference import ReferenceProfile

log = logging.getLogger(__name__)
GOLDEN_TOLERANCE = 1e-9


class ModelUnavailableError(RuntimeError):
    """No usable model version for a task."""


@dataclass(frozen=True)
class LoadedModel:
    """A registered model version, compiled for the request path."""

    task: Task
    name: str
    version: str
    alias: str
    trained: TrainedModel
    scorer: CompiledScorer
    profile: ReferenceProfile | None = None  # versions registered before monitoring have none
    card: dict | None = None  # the model card logged with the version


@dataclass(frozen=True)
class Refusal:
    """A version that failed to load or to pass its golden-set check, and why."""

    version: str
    reason: str


def check_golden_set(model: LoadedModel, wrapper: CareopsModel) -> None:
    """Raise unless the version scores its stored golden set as it did when trained: the schema holds,
    the outputs are finite probabilities, the pipeline read from the artifacts gives the stored
    probabilities, and the compiled scorer gives the pipeline's."""
    if not wrapper.golden_set_path or not wrapper.golden_scores_path:
        raise ModelUnavailableError("the version has no stored golden set to check it on")
    task, trained = model.task, model.trained
    try:
        golden = read_golden_set(task.name, wrapper.golden_set_path)
    except ValueError as error:
        raise ModelUnavailableError(str(error)) from None
    reference = golden_probabilities(trained, golden)
    stored = np.asarray(json.loads(Path(wrapper.golden_scores_path).read_text())["probabilities"])
    if stored.shape != reference.shape or np.abs(stored - reference).max() > GOLDEN_TOLERANCE:
        raise ModelUnavailableError("the loaded model does not reproduce its golden-set scores from training")
    prepared = trained.prepare(golden)
    records = [task.record.model_validate(r) for r in frame_records(prepared[list(task.record.model_fields)])]
    supplied = {
        c: prepared[c].to_numpy() for c in model.scorer.features.input_columns if c not in task.input_columns
    }
    compiled = model.scorer.score_matrix(trained.features.batch(records, supplied).matrix)
    if not (np.all(np.isfinite(compiled)) and np.all((compiled >= 0) & (compiled <= 1))):
        raise ModelUnavailableError("golden set scores are not finite probabilities in [0, 1]")
    if np.abs(compiled - reference).max() > GOLDEN_TOLERANCE:
        raise ModelUnavailableError("the compiled scorer disagrees with the pipeline on the golden set")


def load_version(task: Task, version: str, settings: Settings) -> LoadedModel:
    """Load one registered version, compile it, and check it on its golden set."""
    mlflow.set_tracking_uri(settings.tracking_uri)
    try:
        wrapper = load_registered(f"models:/{task.name}/{version}")
    except NotCareopsModelError:
        raise ModelUnavailableError(f"'{task.name}' version {version} is not a careops model") from None
    model = LoadedModel(
        task=task,
        name=task.name,
        version=version,
        alias=settings.champion_alias,
        trained=wrapper.trained,
        scorer=wrapper.trained.scorer(settings.score_threads),
        profile=(
            ReferenceProfile.from_json(Path(wrapper.reference_path).read_text(encoding="utf-8"))
            if wrapper.reference_path
            else None
        ),
        card=json.loads(Path(wrapper.card_path).read_text(encoding="utf-8")) if wrapper.card_path else None,
    )
    check_golden_set(model, wrapper)
    model.scorer.prepare_explanations()
    if isinstance(wrapper.trained, NoShowModel):
        compile_history()
    return model


class ModelSet:
    """The model serving each task, the reason where a task has none, and refused versions.

    `refresh` follows the champion alias: a new version is loaded and checked off the request
    path and swapped in by a single assignment; a version that fails is refused and the one in
    service keeps serving.
    """

    def __init__(self) -> None:
        self.models: dict[str, LoadedModel] = {}
        self.errors: dict[str, str] = {}
        self.refusals: dict[str, Refusal] = {}
        self._lock = threading.Lock()

    def refresh(self, settings: Settings) -> dict[str, dict[str, str | None]]:
        """Bring each task up to its champion alias; returns what happened per task."""
        outcome: dict[str, dict[str, str | None]] = {}
        with self._lock:
            client = MlflowClient(tracking_uri=settings.tracking_uri)
            for name, task in TASKS.items():
                outcome[name] = self._refresh_task(client, task, settings)
        return outcome

    def _refresh_task(self, client: MlflowClient, task: Task, settings: Settings) -> dict[str, str | None]:
        current = self.models.get(task.name)
        try:
            version = alias_version(client, task.name, settings.champion_alias)
        except Exception as error:  # the registry may be unreachable; keep serving
            return {"action": "kept", "version": current.version if current else None, "reason": str(error)}
        if version is None:
            reason = (
                f"no version of '{task.name}' has the alias @{settings.champion_alias} in "
                f"{settings.tracking_uri}; "
                f"train one with `careops train {task.name} --data FILE`"
            )
            if current is None:
                self.errors[task.name] = reason
            kept = current.version if current else None
            return {"action": "kept" if current else "missing", "version": kept, "reason": reason}
        if current is not None and current.version == version:
            return {"action": "unchanged", "version": version, "reason": None}
        refused = self.refusals.get(task.name)
        if refused is not None and refused.version == version:
            return {"action": "refused", "version": version, "reason": refused.reason}
        try:
            candidate = load_version(task, version, settings)
        except Exception as error:  # any failure refuses the version; the one in service stays
            reason = f"{type(error).__name__}: {error}"
            self.refusals[task.name] = Refusal(version, reason)
            if current is None:
                self.errors[task.name] = f"version {version} refused: {reason}"
            log.error("refused model %s version %s: %s", task.name, version, reason)
            return {"action": "refused", "version": version, "reason": reason}
        self.models[task.name] = candidate
        self.errors.pop(task.name, None)
        self.refusals.pop(task.name, None)
        log.info("loaded model %s version %s (@%s)", task.name, version, settings.champion_alias)
        return {"action": "loaded", "version": version, "reason": None}

    def get(self, name: str) -> LoadedModel:
        """The loaded model for a task, or ModelUnavailableError with the reason."""
        try:
            return self.models[name]
        except KeyError:
            reason = self.errors.get(name, "not loaded")
            raise ModelUnavailableError(f"the {name} model is not available: {reason}") from None
