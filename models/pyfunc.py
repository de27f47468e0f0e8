"""The MLflow pyfunc wrapper: canonical records in, one probability per record out."""

from __future__ import annotations

from typing import Any

import joblib
import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import AnyType, ColSpec, Schema
from sklearn.pipeline import Pipeline

from models.tasks import Task, get_task

PIPELINE_ARTIFACT = "pipeline"
MAX_REASONS_SHOWN = 5


class CareopsModel(mlflow.pyfunc.PythonModel):
    """Wraps the fitted sklearn pipeline; loads with plain `mlflow.pyfunc.load_model`."""

    def __init__(self, task_name: str) -> None:
        self.task_name = task_name
        self.pipeline: Pipeline | None = None

    def load_context(self, context: Any) -> None:
        """Load the joblib-saved pipeline from the model's artifacts."""
        self.pipeline = joblib.load(context.artifacts[PIPELINE_ARTIFACT])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Validate the records like a loader does, then score them with the pipeline."""
        task = get_task(self.task_name)
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        result = task.load(model_input)
        if len(result.quarantined):
            shown = result.quarantined.head(MAX_REASONS_SHOWN)
            reasons = "; ".join(
                f"row {row}: {reason}"
                for row, reason in zip(shown["source_row"], shown["quarantine_reason"], strict=True)
            )
            raise MlflowException(
                f"{len(result.quarantined)} invalid {task.name} record(s): {reasons}",
                error_code=INVALID_PARAMETER_VALUE,
            )
        if result.valid.empty:
            return pd.DataFrame({task.id_column: [], task.probability_field: []})
        probability = self.pipeline.predict_proba(result.valid)[:, 1]
        return pd.DataFrame(
            {task.id_column: result.valid[task.id_column].to_numpy(), task.probability_field: probability}
        )


def input_schema(task: Task) -> Schema:
    """Every canonical input column by name; values are validated by our own schema on predict."""
    fields = task.record.model_fields
    return Schema(
        [ColSpec(AnyType(), name, required=fields[name].is_required()) for name in task.input_columns]
    )


def output_schema(task: Task) -> Schema:
    """The id and the probability."""
    return Schema([ColSpec("string", task.id_column), ColSpec("double", task.probability_field)])
