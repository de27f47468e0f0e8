"""The MLflow pyfunc wrapper: canonical records in, one probability per record out.

It is logged as MLflow "models from code": the registered version holds MODEL_CODE (three lines that
import this class from the installed careops) and data-only artifacts, so loading it unpickles nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import AnyType, ColSpec, Schema

from models.artifacts import load_trained
from models.tasks import Task
from models.trained import TrainedModel

MODEL_ARTIFACT = "trained_model"
GOLDEN_SET_ARTIFACT = "golden_set"
GOLDEN_SCORES_ARTIFACT = "golden_scores"
REFERENCE_ARTIFACT = "reference_profile"
MAX_REASONS_SHOWN = 5
MODEL_CODE = """from mlflow.models import set_model

from models.pyfunc import CareopsModel

set_model(CareopsModel())
"""


class CareopsModel(mlflow.pyfunc.PythonModel):
    """Wraps a TrainedModel; loads with plain `mlflow.pyfunc.load_model`.

    Batch mode: point-in-time history is computed from the rows given (those with a known label
    are history for later ones), unless the caller supplies the history columns.
    """

    def __init__(self) -> None:
        self.trained: TrainedModel | None = None
        self.golden_set_path: str | None = None
        self.golden_scores_path: str | None = None
        self.reference_path: str | None = None
        self.card_path: str | None = None

    def load_context(self, context: Any) -> None:
        """Read the TrainedModel from the version's data files (JSON and LightGBM text)."""
        self.trained = load_trained(Path(context.artifacts[MODEL_ARTIFACT]))
        self.golden_set_path = context.artifacts.get(GOLDEN_SET_ARTIFACT)
        self.golden_scores_path = context.artifacts.get(GOLDEN_SCORES_ARTIFACT)
        self.reference_path = context.artifacts.get(REFERENCE_ARTIFACT)
        self.card_path = context.artifacts.get("model_card")

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Validate the records like a loader does, then score them with the pipeline."""
        task = self.trained.task
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


class NotCareopsModelError(ValueError):
    """A model URI that does not hold a careops model."""


def load_registered(uri: str) -> CareopsModel:
    """The careops model a URI names (`models:/name@alias`, `models:/name/version`, a run's
    artifacts), loaded with `mlflow.pyfunc.load_model` and unwrapped: every command, training step
    and the service load registered models through this."""
    wrapper = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    if not isinstance(wrapper, CareopsModel) or wrapper.trained is None:
        raise NotCareopsModelError(f"{uri} is not a careops model")
    return wrapper
