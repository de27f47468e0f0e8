"""Registered models are data, not code: JSON and LightGBM text, read back exactly, no pickle ever loaded."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from models.artifacts import load_trained, save_trained
from models.pyfunc import load_registered
from models.tasks import get_task
from services.model_set import load_version
from tests.helpers import TrainedStore, make_settings
from training.train import train

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".cloudpickle")


class Trap:
    """Unpickling this creates a file: proof that a pickle was loaded."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def model_folder(settings, name: str, version: str) -> Path:
    mlflow.set_tracking_uri(settings.tracking_uri)
    source = MlflowClient().get_model_version(name, version).source
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=source))


@pytest.mark.parametrize("task_name", ["noshow", "denial"])
def test_saved_models_read_back_to_the_same_probabilities(
    trained_store: TrainedStore, task_name: str, tmp_path: Path
) -> None:
    task = get_task(task_name)
    path = trained_store.appointments if task_name == "noshow" else trained_store.claims
    table = task.load(path).valid.tail(2_000)
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)  # not whichever store a test used last
    original = load_registered(f"models:/{task_name}@champion").trained
    again = load_trained(save_trained(original, tmp_path / "model"))
    assert np.array_equal(again.predict_frame(table), original.predict_frame(table))
    if task_name == "denial":
        assert again.reasons.categories == original.reasons.categories
        assert np.array_equal(again.predict_reasons(table), original.predict_reasons(table))
        assert np.array_equal(again.predict_lines(table)[0], original.predict_lines(table)[0])


@pytest.mark.parametrize("task_name", ["noshow", "denial"])
def test_a_registered_version_holds_no_pickle(trained_store: TrainedStore, task_name: str) -> None:
    folder = model_folder(trained_store.settings, task_name, "1")
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    assert "artifacts/trained_model/model.json" in files and "artifacts/trained_model/booster.txt" in files
    assert [f for f in files if f.endswith(PICKLE_SUFFIXES)] == []
    flavor = (folder / "MLmodel").read_text(encoding="utf-8")
    assert "model_code_path" in flavor and "python_model.pkl" not in flavor


def test_loading_the_champion_never_unpickles_a_planted_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    train("noshow", write_table(generate_appointments(2_000, seed=5), tmp_path / "a.csv"), settings)
    folder = model_folder(settings, "noshow", "1")
    sentinel = tmp_path / "pickle-was-loaded"
    planted = [
        folder / "python_model.pkl",
        folder / "artifacts" / "trained_model.joblib",
        folder / "artifacts" / "trained_model" / "model.pkl",
    ]
    for path in planted:
        path.write_bytes(pickle.dumps(Trap(sentinel)))
    pickle.loads(planted[0].read_bytes())  # the trap works: unpickling it creates the file
    assert sentinel.exists()
    sentinel.unlink()

    loaded = load_version(get_task("noshow"), "1", settings)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.pyfunc.load_model("models:/noshow@champion")
    assert loaded.version == "1" and not sentinel.exists()
