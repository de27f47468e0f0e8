"""A trained denial model: the shared core, payer history, the likely reasons and the service lines."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pandas as pd

from features.claim_history import CLAIM_HISTORY_COLUMNS, ClaimHistoryParams, add_claim_history
from features.columns import Columns
from models.reasons import ReasonModel
from models.scorer import Scored
from models.service_lines import LineMatrix, LineModel, LineScores, cap_by_lines, frame_lines, line_matrix
from models.trained import TrainedModel


@dataclass
class DenialModel(TrainedModel):
    """P(denied) of claims before submission; with a line model, each line's too, and the claim capped."""

    task_name: ClassVar[str] = "denial"
    claim_history: ClaimHistoryParams
    reasons: ReasonModel | None = None
    lines: LineModel | None = None

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The table with its payer history, computed from the table itself unless it is already there."""
        if set(CLAIM_HISTORY_COLUMNS) <= set(frame.columns):
            return frame
        return add_claim_history(frame, self.claim_history)

    def finish(self, columns: Columns, scored: Scored, num_threads: int) -> Scored:
        """Each line's P(denied) and the claim's capped by its lines: the one place a claim's probability
        is capped, offline and online alike."""
        if self.lines is None or len(scored.matrix) == 0:
            return scored
        lines = line_matrix(self.features, columns, scored.matrix)
        line_probability = self.lines.predict(lines.matrix, num_threads=num_threads)
        capped = cap_by_lines(scored.probability, line_probability, lines.claim_index)
        return replace(scored, probability=capped, lines=LineScores(line_probability, lines))

    def predict_reasons(self, frame: pd.DataFrame) -> np.ndarray | None:
        """P(category | denied) per row, columns in `reasons.categories` order (None without reasons)."""
        if self.reasons is None or frame.empty:
            return None
        return self.reasons.predict(self.features.transform(self.prepare(frame)))

    def predict_lines(self, frame: pd.DataFrame) -> tuple[np.ndarray, LineMatrix] | None:
        """P(line denied) for every service line, with the line matrix (None without a line model)."""
        if self.lines is None or frame.empty:
            return None
        lines, _ = frame_lines(self.features, self.prepare(frame))
        return self.lines.predict(lines.matrix), lines
