"""Retraining from the service store: a challenger trained on what the practice's service has seen.

The store keeps each booking's and each claim's canonical record beside its outcome. `retrain`
exports the labelled ones (appointments with a recorded attended/no-show outcome; claims whose
remittance has arrived) to a canonical file, trains on it exactly as on any file (the same
point-in-time history, the same recent holdout), registers the version, and runs the promotion
gate against the champion on the most recent labelled weeks of the same export.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from config import Settings
from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.stores.appointments import AppointmentStore
from data.stores.claims import ClaimStore
from models.tasks import get_task
from training.promotion import GateDecision, PromotionError, promote
from training.train import TrainResult, train

MIN_LABELLED = 1000


class RetrainError(ValueError):
    """Too little labelled history in the store; nothing was trained."""


@dataclass
class RetrainResult:
    """The version trained, from how many labelled records, and the gate's decision."""

    trained: TrainResult
    labelled_rows: int
    decision: GateDecision | None  # None when the new version became champion as the first one


def export_labelled(task_name: str, settings: Settings, path: Path) -> int:
    """Write the store's labelled records of `task_name` as a canonical file; returns the rows."""
    if task_name == "noshow":
        store = AppointmentStore(settings.database_url)
        try:
            frame = store.labelled_records()
        finally:
            store.engine.dispose()
    else:
        claims = ClaimStore(settings.database_url)
        try:
            frame = claims.labelled_records()
        finally:
            claims.engine.dispose()
        frame = claims_for_file(frame) if len(frame) else frame
    write_table(frame, path)
    return len(frame)


def retrain(task_name: str, settings: Settings, keep_export: Path | None = None) -> RetrainResult:
    """Train a challenger on the store's labelled history, then gate it against the champion."""
    task = get_task(task_name)
    with tempfile.TemporaryDirectory() as tmp:
        path = keep_export or Path(tmp) / f"{task.name}-from-store.csv"
        rows = export_labelled(task.name, settings, path)
        if rows < MIN_LABELLED:
            raise RetrainError(
                f"the service store holds {rows} labelled {task.name} records; retraining needs at "
                f"least {MIN_LABELLED} (record outcomes or remittances first)"
            )
        result = train(task.name, path, settings)
        if result.champion_set:
            return RetrainResult(result, rows, None)
        try:
            decision = promote(task.name, path, settings, candidate=result.model_version)
        except PromotionError as error:
            raise RetrainError(str(error)) from None
    return RetrainResult(result, rows, decision)
