"""The MLflow pyfunc wrapper: canonical records in, one probability per record out.

It is logged as MLflow "models from code" (training/model_code.py): a registered version carries
this module and the ones it imports under a name of their own, a typed signature, its requirements
and data-only artifacts, so it loads wherever MLflow can and loading it unpickles nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import mlflow
import mlflow.artifacts
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc.model import PythonModelContext
from mlflow.types.schema import Array, ColSpec, DataType, Object, Property, Schema
from pydantic.fields import FieldInfo

from data.schemas import CanonicalRecord
from models.artifacts import load_trained
from models.tasks import Task, caller_records
from models.trained import TrainedModel

MODEL_ARTIFACT = "trained_model"
GOLDEN_SET_ARTIFACT = "golden_set"
GOLDEN_SCORES_ARTIFACT = "golden_scores"
REFERENCE_ARTIFACT = "reference_profile"
MAX_REASONS_SHOWN = 5


class CareopsModel(mlflow.pyfunc.PythonModel):
    """Wraps a TrainedModel; loads with plain `mlflow.pyfunc.load_model`.

    Point-in-time history is computed from the rows given: each row counts as a booking of its
    patient. Called directly (careops's batch mode), rows with a known label are also outcome
    history for later rows; through MLflow the signature leaves labels out, so they are not.
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
    """The columns a caller sends, typed, the optional ones marked; labels are not inputs.

    Numbers are doubles, so that MLflow passes 2.5 on for our schema to refuse rather than cutting
    it to 2; flags that may be unknown are doubles too (1, 0 or missing), because MLflow would turn
    a missing boolean into False. Our own schema validates the values on predict.
    """
    fields = task.record.model_fields
    return Schema(
        [
            ColSpec(_type(info, task.label_columns), name, required=info.is_required())
            for name, info in fields.items()
            if name not in task.label_columns
        ]
    )


def _type(info: FieldInfo, labels: tuple[str, ...]) -> DataType | Array:
    """The MLflow type of one field of our schema; a list of records leaves their labels out."""
    annotation = info.annotation
    if get_origin(annotation) in (Union, UnionType):
        annotation = next(kind for kind in get_args(annotation) if kind is not type(None))
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        if isinstance(item, type) and issubclass(item, CanonicalRecord):
            properties = [
                Property(name, _type(field, labels), required=field.is_required())
                for name, field in item.model_fields.items()
                if name not in labels
            ]
            return Array(Object(properties))
        return Array(DataType.string)
    if annotation is bool:
        return DataType.boolean if info.is_required() else DataType.double
    if annotation in (int, float):
        return DataType.double
    if annotation in (datetime, date):
        return DataType.datetime
    return DataType.string


def model_input(task: Task, frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical rows as the signature takes them in process: lists as lists, times as datetimes."""
    rows = pd.DataFrame(caller_records(task, frame), columns=task.input_columns)
    for name, kind in zip(rows.columns, input_schema(task).input_types(), strict=True):
        if kind == DataType.datetime:
            rows[name] = pd.to_datetime(rows[name])
        elif kind == DataType.double:
            rows[name] = rows[name].astype("float64")
    return rows


def output_schema(task: Task) -> Schema:
    """The id and the probability."""
    return Schema([ColSpec("string", task.id_column), ColSpec("double", task.probability_field)])


class NotCareopsModelError(ValueError):
    """A model URI that does not hold a careops model."""


def load_registered(uri: str) -> CareopsModel:
    """The careops model a URI names (`models:/name@alias`, `models:/name/version`, a run's
    artifacts): this careops's CareopsModel over the version's data files. Every command, training
    step and the service load registered models through this; the code a version carries is for
    loaders outside careops, and nothing is unpickled either way."""
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    try:
        flavor = Model.load(local).flavors[mlflow.pyfunc.FLAVOR_NAME]
    except (MlflowException, OSError, KeyError):
        raise NotCareopsModelError(f"{uri} is not a careops model") from None
    artifacts = {name: str(local / entry["path"]) for name, entry in flavor.get("artifacts", {}).items()}
    if MODEL_ARTIFACT not in artifacts:
        raise NotCareopsModelError(f"{uri} is not a careops model")
    model = CareopsModel()
    model.load_context(PythonModelContext(artifacts=artifacts, model_config={}))
    return model
