"""Loading the registry's champion of each task and compiling it into a scorer."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient

from models.pyfunc import CareopsModel
from models.scorer import CompiledScorer
from models.tasks import TASKS, Task
from training.registry import alias_version
from training.settings import Settings

log = logging.getLogger(__name__)


class ModelUnavailableError(RuntimeError):
    """No usable model version for a task."""


@dataclass(frozen=True)
class LoadedModel:
    """A registered model version, compiled for the request path."""

    task: Task
    name: str
    version: str
    alias: str
    scorer: CompiledScorer


def load_champion(task: Task, settings: Settings) -> LoadedModel:
    """Load the version the champion alias points at and compile it into a scorer."""
    mlflow.set_tracking_uri(settings.tracking_uri)
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    alias = settings.champion_alias
    version = alias_version(client, task.name, alias)
    if version is None:
        raise ModelUnavailableError(
            f"no version of '{task.name}' has the alias @{alias} in {settings.tracking_uri}; "
            f"train one with `careops train {task.name} --data FILE`"
        )
    pyfunc = mlflow.pyfunc.load_model(f"models:/{task.name}/{version}")
    wrapper = pyfunc.unwrap_python_model()
    if not isinstance(wrapper, CareopsModel) or wrapper.trained is None:
        raise ModelUnavailableError(f"'{task.name}' version {version} is not a careops model")
    scorer = CompiledScorer(wrapper.trained, num_threads=settings.score_threads)
    log.info("loaded model %s version %s (@%s)", task.name, version, alias)
    return LoadedModel(task=task, name=task.name, version=version, alias=alias, scorer=scorer)


class ModelSet:
    """The loaded model per task, and the reason where a task has none."""

    def __init__(self) -> None:
        self.models: dict[str, LoadedModel] = {}
        self.errors: dict[str, str] = {}

    def load_all(self, settings: Settings) -> None:
        """Try to load every task's champion; failures are recorded, not raised."""
        for name, task in TASKS.items():
            try:
                self.models[name] = load_champion(task, settings)
                self.errors.pop(name, None)
            except Exception as error:  # any failure leaves the service up and not ready
                log.error("model %s not loaded: %s", name, error)
                self.errors[name] = str(error)

    def get(self, name: str) -> LoadedModel:
        """The loaded model for a task, or ModelUnavailableError with the reason."""
        try:
            return self.models[name]
        except KeyError:
            reason = self.errors.get(name, "not loaded")
            raise ModelUnavailableError(f"the {name} model is not available: {reason}") from None
