"""The MLflow pyfunc wrapper: canonical records in, one probability per record out."""

from __future__ import annotations

from typing import Any

import joblib
import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import AnyType, ColSpec, Schema

from models.tasks import Task, get_task
from models.trained import TrainedModel

MODEL_ARTIFACT = "trained_model"
MAX_REASONS_SHOWN = 5


class CareopsModel(mlflow.pyfunc.PythonModel):
    """Wraps a TrainedModel; loads with plain `mlflow.pyfunc.load_model`.

    Batch mode: point-in-time history is computed from the rows given (those with a known label
    are history for later ones), unless the caller supplies the history columns.
    """

    def __init__(self, task_name: str) -> None:
        self.task_name = task_name
        self.trained: TrainedModel | None = None
        self.golden_set_path: str | None = None

    def load_context(self, context: Any) -> None:
        """Load the joblib-saved TrainedModel from the model's artifacts."""
        self.trained = joblib.load(context.artifacts[MODEL_ARTIFACT])
        self.golden_set_path = context.artifacts.get("golden_set")

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
        probability = self.trained.predict_frame(result.valid)
        return pd.DataFrame(
            {task.id_column: result.valid[task.id_column].to_numpy(), task.probability_field: probability}
        )


def input_schema(task: Task) -> Schema:
    """Every canonical column by name, labels optional (in batch mode they are history).

    Values are validated by our own schema on predict.
    """
    fields = task.record.model_fields
    return Schema([ColSpec(AnyType(), name, required=fields[name].is_required()) for name in fields])


def output_schema(task: Task) -> Schema:
    """The id and the probability."""
    return Schema([ColSpec("string", task.id_column), ColSpec("double", task.probability_field)])
