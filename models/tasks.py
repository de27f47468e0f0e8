"""The two prediction tasks, each described once: records, label, time axis, features and outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pandas as pd

from data.loaders.canonical import LoadResult, claims_for_file, load_appointments, load_claims
from data.schemas import Appointment, CanonicalRecord, Claim
from features.appointment import AppointmentFeatures
from features.claim import ClaimFeatures
from features.transformer import CanonicalFeatures
from models.booster_params import DEFAULT_PARAMS, NOSHOW_PARAMS, BoosterParams


@dataclass(frozen=True)
class Task:
    """One prediction task and the names it uses everywhere (registry, API, files)."""

    name: str
    record: type[CanonicalRecord]
    id_column: str
    label_column: str
    time_column: str
    probability_field: str
    oracle_column: str
    features: Callable[[], CanonicalFeatures]
    load: Callable[..., LoadResult]
    to_file_form: Callable[[pd.DataFrame], pd.DataFrame]
    label_columns: tuple[str, ...]
    uses_patient_history: bool = False
    reason_column: str | None = None
    subgroup_columns: tuple[str, ...] = ()
    line_oracle_column: str | None = None  # set for tasks that also predict each service line
    uses_claim_history: bool = False
    # When a row's label became known; a backtest trains only on labels known at its cut-off.
    label_known_column: str | None = None
    # The booster's hyper-parameters when a run gives none.
    booster: BoosterParams = DEFAULT_PARAMS
    # Whether the practice's no-show definition (late cancellations) makes the label.
    counts_late_cancellations: bool = False

    @property
    def input_columns(self) -> list[str]:
        """Canonical columns a caller sends for scoring (labels excluded)."""
        return [c for c in self.record.model_fields if c not in self.label_columns]


NOSHOW = Task(
    name="noshow",
    record=Appointment,
    id_column="appointment_id",
    label_column="no_show",
    time_column="starts_at",
    probability_field="no_show_probability",
    oracle_column="true_no_show_probability",
    features=AppointmentFeatures,
    load=load_appointments,
    to_file_form=lambda frame: frame,
    label_columns=("no_show", "cancelled_at"),
    uses_patient_history=True,
    subgroup_columns=("patient_sex", "age_band", "payer_type", "clinic_id", "welfare_enrolled"),
    booster=NOSHOW_PARAMS,
    counts_late_cancellations=True,
)

DENIAL = Task(
    name="denial",
    record=Claim,
    id_column="claim_id",
    label_column="denied",
    time_column="submitted_at",
    probability_field="denial_probability",
    oracle_column="true_denial_probability",
    features=ClaimFeatures,
    load=load_claims,
    to_file_form=claims_for_file,
    label_columns=("denied", "denial_category", "adjudicated_at"),
    reason_column="denial_category",
    subgroup_columns=("payer_type", "payer_id", "claim_type"),
    line_oracle_column="true_line_denial_probabilities",
    uses_claim_history=True,
    label_known_column="adjudicated_at",
)

TASKS: dict[str, Task] = {task.name: task for task in (NOSHOW, DENIAL)}


def get_task(name: str) -> Task:
    """The task called `name`, or a ValueError listing the known ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task '{name}'; expected one of: {', '.join(TASKS)}") from None


def caller_form(task: Task, frame: pd.DataFrame, with_labels: bool = False) -> pd.DataFrame:
    """Canonical rows as a caller sends them: file-form lists, ISO dates and times, None for missing.

    With `with_labels`, known outcomes are kept: in batch mode they are the history of later rows.
    """
    columns = list(task.record.model_fields) if with_labels else task.input_columns
    rows = task.to_file_form(frame[[c for c in columns if c in frame.columns]].copy())
    fields = task.record.model_fields
    for column in rows.columns:
        if pd.api.types.is_datetime64_any_dtype(rows[column]):
            is_date = fields[column].annotation in (date, date | None)
            rows[column] = rows[column].dt.strftime("%Y-%m-%d" if is_date else "%Y-%m-%dT%H:%M:%S")
    return rows.astype(object).where(rows.notna(), None)


def caller_records(task: Task, frame: pd.DataFrame, with_labels: bool = False) -> list[dict]:
    """Canonical rows as JSON request records: ISO dates and times, lists as JSON lists, null for missing."""
    records = json.loads(caller_form(task, frame, with_labels).to_json(orient="records"))
    for record in records:
        if isinstance(record.get("diagnosis_codes"), str):
            record["diagnosis_codes"] = record["diagnosis_codes"].split(";")
        if isinstance(record.get("service_lines"), str):
            record["service_lines"] = json.loads(record["service_lines"])
        if not with_labels:  # a line's outcome is a label too
            for line in record.get("service_lines") or ():
                for label in task.label_columns:
                    line.pop(label, None)
    return records
