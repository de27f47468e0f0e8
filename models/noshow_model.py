"""A trained no-show model: the shared core and how it reads a patient's and a clinic's history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from features.history import HISTORY_FEATURES, HistoryParams, add_history
from models.trained import TrainedModel


@dataclass
class NoShowModel(TrainedModel):
    """P(no-show) of appointments, with point-in-time patient and clinic history."""

    task_name: ClassVar[str] = "noshow"
    history: HistoryParams

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The table with its history, computed from the table itself unless it is already there."""
        if set(HISTORY_FEATURES) <= set(frame.columns):
            return frame
        return add_history(frame, self.history)
