"""The compiled scorer gives the pipeline's and the pyfunc's numbers on a golden set."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest

from data.loaders.canonical import frame_records
from models.denial_model import DenialModel
from models.pyfunc import load_registered
from models.service_lines import cap_by_lines
from models.tasks import caller_form, get_task
from tests.helpers import TrainedStore


@pytest.mark.parametrize("task_name", ["noshow", "denial"])
def test_compiled_scorer_equals_pipeline_and_pyfunc(trained_store: TrainedStore, task_name: str) -> None:
    task = get_task(task_name)
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    pyfunc = load_registered(f"models:/{task_name}@champion")
    trained = pyfunc.trained
    path = trained_store.appointments if task_name == "noshow" else trained_store.claims
    table = task.load(path).valid
    prepared = trained.prepare(table)
    golden = prepared.tail(500)
    records = [task.record.model_validate(row) for row in frame_records(golden[task.input_columns])]
    supplied = {c: golden[c].to_numpy() for c in trained.features.input_columns}

    scorer = trained.scorer(1)
    batch = trained.features.batch(records, {c: supplied[c] for c in supplied if c not in task.input_columns})
    compiled = scorer.score_matrix(batch.matrix)
    reference = trained.pipeline.predict_proba(golden)[:, 1]
    batch_mode = caller_form(task, table, with_labels=True)
    served = pyfunc.predict(None, batch_mode).tail(500)[task.probability_field]

    assert compiled.shape == (500,)
    assert np.abs(compiled - reference).max() <= 1e-9
    # The pyfunc serves the claim probability capped by the line model's (models.service_lines.cap_by_lines).
    if isinstance(trained, DenialModel) and trained.lines is not None:
        line_probability, lines = trained.predict_lines(golden)
        compiled = cap_by_lines(compiled, line_probability, lines.claim_index)
    assert np.abs(compiled - served.to_numpy()).max() <= 1e-9
    # A golden set that exercises the model (raw scores: an isotonic calibrator maps them to few steps).
    assert len(np.unique(scorer.booster.predict(batch.matrix))) > 100


def test_empty_input_scores_nothing(trained_store: TrainedStore) -> None:
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    trained = load_registered("models:/noshow@champion").trained
    assert trained.scorer(1).score(trained.features.batch([])).probability.shape == (0,)
