"""The registered pyfunc loads by alias in a fresh process and validates what it is given."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlflow
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from models.tasks import caller_form, get_task
from tests.helpers import TrainedStore

FRESH_PROCESS = """
import json, sys
import mlflow
import pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = pd.DataFrame(json.loads(sys.argv[2]))
print(model.predict(rows).to_json(orient="records", double_precision=15))
"""


@pytest.mark.parametrize("task_name", ["noshow", "denial"])
def test_champion_loads_and_predicts_in_a_fresh_process(trained_store: TrainedStore, task_name: str) -> None:
    task = get_task(task_name)
    path = trained_store.appointments if task_name == "noshow" else trained_store.claims
    example = caller_form(task, task.load(path).valid.tail(4))
    environment = {**os.environ, "MLFLOW_TRACKING_URI": trained_store.settings.tracking_uri}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            FRESH_PROCESS,
            f"models:/{task_name}@champion",
            example.to_json(orient="records"),
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    predicted = pd.DataFrame(json.loads(completed.stdout.strip().splitlines()[-1]))

    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    in_process = mlflow.pyfunc.load_model(f"models:/{task_name}@champion").predict(example)
    assert predicted[task.id_column].tolist() == example[task.id_column].tolist()
    assert predicted[task.probability_field].tolist() == pytest.approx(
        in_process[task.probability_field].tolist(), abs=1e-12
    )


def test_signature_names_the_canonical_columns(trained_store: TrainedStore) -> None:
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    model = mlflow.pyfunc.load_model("models:/denial@champion")
    inputs = {spec.name: spec.required for spec in model.metadata.get_input_schema().inputs}
    assert inputs["claim_id"] is True and inputs["service_lines"] is True
    assert inputs["prior_auth_number"] is False
    assert inputs["denied"] is False
    assert model.metadata.get_output_schema().input_names() == ["claim_id", "denial_probability"]


def test_invalid_records_are_refused_with_row_and_field(trained_store: TrainedStore) -> None:
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    model = mlflow.pyfunc.load_model("models:/noshow@champion")
    task = get_task("noshow")
    example = caller_form(task, task.load(trained_store.appointments).valid.head(2))
    example.loc[1, "patient_age"] = 130
    with pytest.raises(
        MlflowException, match=r"row 2: patient_age: Input should be less than or equal to 120"
    ):
        model.predict(example)
