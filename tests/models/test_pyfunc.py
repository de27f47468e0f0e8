"""The registered pyfunc loads by alias in a fresh process, takes its typed signature and validates
what it is given."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.types.schema import Array, DataType, Object

from models.pyfunc import load_registered, model_input
from models.tasks import caller_form, caller_records, get_task
from tests.helpers import TrainedStore

# As `mlflow models serve` reads a body: JSON records, typed by the version's signature.
FRESH_PROCESS = """
import json, sys
import mlflow
from mlflow.utils.proto_json_utils import dataframe_from_parsed_json
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = dataframe_from_parsed_json(json.loads(sys.argv[2]), "records", model.metadata.get_input_schema())
print(json.dumps(model.predict(rows).to_dict(orient="list")))
"""


@pytest.mark.parametrize("task_name", ["noshow", "denial"])
def test_champion_loads_and_predicts_in_a_fresh_process(trained_store: TrainedStore, task_name: str) -> None:
    task = get_task(task_name)
    path = trained_store.appointments if task_name == "noshow" else trained_store.claims
    rows = task.load(path).valid.tail(4)
    environment = {**os.environ, "MLFLOW_TRACKING_URI": trained_store.settings.tracking_uri}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            FRESH_PROCESS,
            f"models:/{task_name}@champion",
            json.dumps(caller_records(task, rows)),
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    predicted = json.loads(completed.stdout.strip().splitlines()[-1])

    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    in_process = mlflow.pyfunc.load_model(f"models:/{task_name}@champion").predict(model_input(task, rows))
    own = load_registered(f"models:/{task_name}@champion").predict(None, caller_form(task, rows))
    assert predicted[task.id_column] == rows[task.id_column].tolist()
    probabilities = np.array(predicted[task.probability_field])
    assert np.abs(probabilities - in_process[task.probability_field].to_numpy()).max() <= 1e-12
    assert np.abs(probabilities - own[task.probability_field].to_numpy()).max() <= 1e-12


def test_the_signature_types_the_inputs_marks_the_optional_ones_and_leaves_labels_out(
    trained_store: TrainedStore,
) -> None:
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    noshow = mlflow.pyfunc.load_model("models:/noshow@champion").metadata.get_input_schema()
    specs = {spec.name: spec for spec in noshow.inputs}
    assert "no_show" not in specs
    assert (specs["appointment_id"].type, specs["appointment_id"].required) == (DataType.string, True)
    assert (specs["starts_at"].type, specs["booked_at"].type) == (DataType.datetime, DataType.datetime)
    assert specs["booked_at"].required is False and specs["starts_at"].required is True
    assert (specs["patient_age"].type, specs["reminder_sent"].type) == (DataType.double, DataType.boolean)
    # A flag that may be unknown: MLflow would make a missing boolean False, so it is 1, 0 or missing.
    assert (specs["diabetes"].type, specs["diabetes"].required) == (DataType.double, False)

    model = mlflow.pyfunc.load_model("models:/denial@champion")
    specs = {spec.name: spec for spec in model.metadata.get_input_schema().inputs}
    assert not {"denied", "denial_category", "adjudicated_at"} & set(specs)
    assert specs["claim_id"].required is True and specs["prior_auth_number"].required is False
    assert specs["diagnosis_codes"].type == Array(DataType.string)
    lines = specs["service_lines"].type
    assert isinstance(lines, Array) and isinstance(lines.dtype, Object)
    properties = {p.name: p for p in lines.dtype.properties}
    assert set(properties) == {"line_id", "procedure_code", "modifiers", "units", "charge"}
    assert properties["units"].dtype == DataType.double and properties["line_id"].required is False
    assert model.metadata.get_output_schema().input_names() == ["claim_id", "denial_probability"]


def test_invalid_records_are_refused_with_row_and_field(trained_store: TrainedStore) -> None:
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    model = mlflow.pyfunc.load_model("models:/noshow@champion")
    task = get_task("noshow")
    example = model_input(task, task.load(trained_store.appointments).valid.head(2))
    example.loc[1, "patient_age"] = 130.0
    with pytest.raises(
        MlflowException, match=r"row 2: patient_age: Input should be less than or equal to 120"
    ):
        model.predict(example)
    example.loc[1, "patient_age"] = 30.5  # a double the signature takes; our schema wants whole years
    with pytest.raises(MlflowException, match=r"row 2: patient_age: Input should be a valid integer"):
        model.predict(example)
