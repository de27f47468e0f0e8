"""The model class of each task, and the one place a trained model is built from its parts."""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from features.claim_history import ClaimHistoryParams
from features.history import HistoryParams
from models.denial_model import DenialModel
from models.noshow_model import NoShowModel
from models.reasons import ReasonModel
from models.service_lines import LineModel
from models.trained import TrainedModel


def build_trained(
    task_name: str,
    pipeline: Pipeline,
    history: HistoryParams | None = None,
    claim_history: ClaimHistoryParams | None = None,
    reasons: ReasonModel | None = None,
    lines: LineModel | None = None,
) -> TrainedModel:
    """The task's model from a fit's (or a saved model's) parts; a ValueError when one it reads is missing."""
    if task_name == NoShowModel.task_name:
        if history is None:
            raise ValueError("a no-show model reads history: its parameters are missing")
        return NoShowModel(pipeline, history)
    if task_name == DenialModel.task_name:
        if claim_history is None:
            raise ValueError("a denial model reads payer history: its parameters are missing")
        return DenialModel(pipeline, claim_history, reasons, lines)
    raise ValueError(f"unknown task '{task_name}'")
