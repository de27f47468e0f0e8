"""Loaders that validate canonical tables and quarantine bad rows with a reason."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from data.loaders.columnar import Judged, judge_columns
from data.loaders.kaggle_noshow import read_kaggle_noshow
from data.loaders.tables import read_table
from data.schemas import Appointment, CanonicalRecord, Claim

QUARANTINE_REASON = "quarantine_reason"
QUARANTINE_RULE = "quarantine_rule"
SOURCE_ROW = "source_row"


class SchemaError(ValueError):
    """A table lacks required columns, so no row of it can be read."""


@dataclass
class LoadResult:
    """Valid rows as a canonical DataFrame, and the quarantined rows with their reasons."""

    valid: pd.DataFrame
    quarantined: pd.DataFrame
    reason_counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        """Rows in the source, valid and quarantined."""
        return len(self.valid) + len(self.quarantined)


def required_columns(model: type[BaseModel]) -> list[str]:
    """Columns a table must have for `model`: its fields without defaults."""
    return [name for name, info in model.model_fields.items() if info.is_required()]


def canonical_columns(model: type[BaseModel]) -> list[str]:
    """All canonical columns of `model`, in schema order."""
    return list(model.model_fields)


def _error_text(error: Any) -> tuple[str, str]:
    path = ".".join(str(part) for part in error["loc"])
    rule_path = ".".join("[]" if isinstance(part, int) else str(part) for part in error["loc"])
    rule_path = rule_path.replace(".[]", "[]")
    if error.get("input", ...) is None or error["type"] == "missing":
        return f"{path}: missing value", f"{rule_path}: missing"
    message = error["msg"].removeprefix("Value error, ")
    if not path:
        return message, error["type"] if error["type"] != "value_error" else message
    return f"{path}: {message}", f"{rule_path}: {error['type']}"


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, with None wherever pandas holds NaN or NaT."""
    cleaned = frame.astype(object).where(frame.notna(), None)
    return cleaned.to_dict("records")


def validate_frame(frame: pd.DataFrame, model: type[CanonicalRecord], id_column: str) -> LoadResult:
    """Validate each row against `model`; rows that fail, or repeat an id, go to quarantine.

    Columns are judged whole first (`columnar.judge_columns`, the model's own rules); only rows
    that do not pass there are validated one by one, which also words their reasons.
    """
    missing = [c for c in required_columns(model) if c not in frame.columns]
    if missing:
        raise SchemaError(f"missing required columns: {', '.join(missing)}")
    frame = frame.reset_index(drop=True)
    columns = canonical_columns(model)
    judged = judge_columns(frame, model)
    fast = judged.accepted if judged is not None else np.zeros(len(frame), dtype=bool)
    slow_positions = np.flatnonzero(~fast)
    rows = _validate_rows(frame.iloc[slow_positions], slow_positions, model)
    valid = _assemble(columns, judged, fast, rows)
    # Repeated ids: the first row keeps its place, later ones go to quarantine.
    repeated = valid[id_column].duplicated().to_numpy()
    positions = valid.pop("_position").to_numpy()
    bad_positions = [*rows.bad, *positions[repeated]]
    reasons = [*rows.reasons, *[f"{id_column}: duplicate of an earlier row"] * int(repeated.sum())]
    rules = [*rows.rules, *[f"{id_column}: duplicate"] * int(repeated.sum())]
    valid = valid[~repeated].reset_index(drop=True)
    good_positions = positions[~repeated]
    extras = [c for c in frame.columns if c not in columns]
    if extras:
        extra_frame = frame.loc[good_positions, extras].reset_index(drop=True)
        valid = pd.concat([valid, extra_frame], axis=1)
    order = np.argsort(np.asarray(bad_positions, dtype=np.int64), kind="stable")
    bad_sorted = np.asarray(bad_positions, dtype=np.int64)[order]
    quarantined = frame.loc[bad_sorted].copy()
    quarantined.insert(0, SOURCE_ROW, bad_sorted + 1)
    quarantined[QUARANTINE_REASON] = [reasons[i] for i in order]
    quarantined[QUARANTINE_RULE] = [rules[i] for i in order]
    return LoadResult(
        valid=valid,
        quarantined=quarantined.reset_index(drop=True),
        reason_counts=dict(Counter(quarantined[QUARANTINE_RULE]).most_common()),
    )


def _assemble(columns: list[str], judged: Judged | None, fast: np.ndarray, rows: _Rows) -> pd.DataFrame:
    """The valid rows in source order, with a `_position` column: those judged by column, and
    those validated one by one, with the column types one list of records would give them."""
    slow = pd.DataFrame.from_records(rows.records, columns=columns).infer_objects()
    slow["_position"] = np.asarray(rows.good, dtype=np.int64)
    if judged is None or not fast.any():
        return slow
    accepted = {name: judged.values[name][fast].reset_index(drop=True) for name in columns}
    quick = pd.DataFrame(accepted, columns=columns).infer_objects()
    quick["_position"] = np.flatnonzero(fast)
    if slow.empty:
        return quick
    for name in columns:  # so that concat does not turn a whole typed column into objects
        if quick[name].dtype.kind in "Mi" and slow[name].dtype != quick[name].dtype:
            slow[name] = slow[name].astype(quick[name].dtype)
    both = pd.concat([quick, slow], ignore_index=True)
    return both.sort_values("_position", kind="stable").reset_index(drop=True).infer_objects()


@dataclass
class _Rows:
    """What row-by-row validation found: valid records and their positions; bad rows and why."""

    records: list[dict[str, Any]] = field(default_factory=list)
    good: list[int] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


def _validate_rows(frame: pd.DataFrame, positions: np.ndarray, model: type[CanonicalRecord]) -> _Rows:
    found = _Rows()
    for position, row in zip(positions, frame_records(frame), strict=True):
        try:
            record = model.model_validate(row)
        except ValidationError as error:
            texts = [_error_text(e) for e in error.errors(include_url=False)]
            found.bad.append(int(position))
            found.reasons.append("; ".join(text for text, _ in texts))
            found.rules.append(texts[0][1])
            continue
        found.good.append(int(position))
        found.records.append(record.model_dump(mode="python"))
    return found


def _typed_appointments(valid: pd.DataFrame) -> pd.DataFrame:
    for column in ("booked_at", "starts_at", "cancelled_at"):
        valid[column] = pd.to_datetime(valid[column])
    valid["reminder_sent"] = valid["reminder_sent"].astype(bool)
    for column in ("welfare_enrolled", "hypertension", "diabetes", "alcoholism", "handicap_count"):
        valid[column] = valid[column].astype("float64")
    valid["no_show"] = valid["no_show"].astype("float64")
    for column in valid.columns:
        if column.startswith("true_"):
            valid[column] = pd.to_numeric(valid[column], errors="raise")
    return valid


def _typed_claims(valid: pd.DataFrame) -> pd.DataFrame:
    for column in ("service_date", "submitted_at", "eligibility_verified_at", "adjudicated_at"):
        valid[column] = pd.to_datetime(valid[column])
    valid["denied"] = valid["denied"].astype("float64")
    valid["denial_category"] = valid["denial_category"].map(
        lambda c: None if c is None or pd.isna(c) else str(c)
    )
    for column in ("true_denial_probability",):
        if column in valid.columns:
            valid[column] = pd.to_numeric(valid[column], errors="raise")
    return valid


APPOINTMENT_FORMATS = ("careops", "kaggle-noshow")


def load_appointments(source: str | Path | pd.DataFrame, file_format: str = "careops") -> LoadResult:
    """Load appointments (canonical, or the public Kaggle no-show CSV), quarantining invalid rows."""
    if file_format not in APPOINTMENT_FORMATS:
        raise ValueError(f"unknown appointment format '{file_format}'; use one of {APPOINTMENT_FORMATS}")
    if file_format == "kaggle-noshow":
        frame = source if isinstance(source, pd.DataFrame) else read_kaggle_noshow(source)
    else:
        frame = source if isinstance(source, pd.DataFrame) else read_table(source)
    result = validate_frame(frame, Appointment, "appointment_id")
    result.valid = _typed_appointments(result.valid)
    return result


CLAIM_FORMATS = ("careops",)


def load_claims(source: str | Path | pd.DataFrame, file_format: str = "careops") -> LoadResult:
    """Load canonical claims from a file or DataFrame, quarantining invalid rows."""
    if file_format not in CLAIM_FORMATS:
        raise ValueError(f"unknown claim format '{file_format}'; use one of {CLAIM_FORMATS}")
    frame = source if isinstance(source, pd.DataFrame) else read_table(source)
    result = validate_frame(frame, Claim, "claim_id")
    result.valid = _typed_claims(result.valid)
    return result


def claims_for_file(frame: pd.DataFrame) -> pd.DataFrame:
    """Flatten claims for a file: diagnoses joined by ';', service lines and per-line truth as JSON."""
    out = frame.copy()
    out["diagnosis_codes"] = out["diagnosis_codes"].map(";".join)
    out["service_lines"] = out["service_lines"].map(
        lambda lines: json.dumps([{k: v for k, v in line.items() if v is not None} for line in lines])
    )
    for column in out.columns:
        if column.startswith("true_line_"):  # the generator's per-line truth, one list per claim
            out[column] = out[column].map(
                lambda values: values if isinstance(values, str) else json.dumps(values)
            )
    return out
