"""The compiled scorer gives the pipeline's and the pyfunc's numbers on a golden set."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest

from data.loaders import frame_records
from models.scorer import CompiledScorer
from models.tasks import caller_form, get_task
from tests.conftest import TrainedStore


@pytest.mark.parametrize("task_name", ["noshow", "denial"])
def test_compiled_scorer_equals_pipeline_and_pyfunc(trained_store: TrainedStore, task_name: str) -> None:
    task = get_task(task_name)
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{task_name}@champion")
    pipeline = pyfunc.unwrap_python_model().pipeline
    path = trained_store.appointments if task_name == "noshow" else trained_store.claims
    golden = task.load(path).valid.tail(500)
    records = [task.record.model_validate(row) for row in frame_records(golden[task.input_columns])]

    compiled = CompiledScorer(pipeline).score_records(records)
    reference = pipeline.predict_proba(golden)[:, 1]
    served = pyfunc.predict(caller_form(task, golden)).loc[:, task.probability_field]

    assert compiled.shape == (500,)
    assert np.abs(compiled - reference).max() <= 1e-9
    assert np.abs(compiled - served.to_numpy()).max() <= 1e-9
    assert len(np.unique(compiled)) > 100  # a golden set that exercises the model


def test_empty_input_scores_nothing(trained_store: TrainedStore) -> None:
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    pipeline = mlflow.pyfunc.load_model("models:/noshow@champion").unwrap_python_model().pipeline
    assert CompiledScorer(pipeline).score_records([]).shape == (0,)
