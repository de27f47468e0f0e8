"""The compiled scorer: a trained model reduced to column arrays, a raw booster and a calibrator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from features.columns import Columns
from features.transformer import CanonicalFeatures, FeatureBatch
from models.calibration import CalibratedClassifier
from models.treeshap import TreeShap
from models.wording import CONTEXT, factor_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from models.service_lines import LineScores

# Up to this many rows, explanations come from TreeShap's tables (0.1-0.25 ms a row, holding the
# GIL); more go to LightGBM's own TreeSHAP, which releases the GIL and runs on `num_threads`.
TABLE_SHAP_ROWS = 16


@dataclass(frozen=True)
class ScoreFactor:
    """One input's push on a score: its name, its value and its signed contribution (log-odds)."""

    name: str
    value: float | str | None
    contribution: float
    text: str = ""  # the factor in words (models.wording)


@dataclass(frozen=True)
class Scored:
    """What scoring a column batch gives: probabilities, the feature matrix and, for claims, lines."""

    probability: np.ndarray
    matrix: np.ndarray
    lines: LineScores | None = None


class CompiledScorer:
    """Scores canonical records without pandas or a per-row pipeline walk.

    Built once at load time; gives the same probabilities as the pipeline (a test holds it to 1e-9).
    """

    def __init__(
        self,
        features: CanonicalFeatures,
        classifier: CalibratedClassifier,
        finish: Callable[[Columns, Scored, int], Scored] | None = None,
        num_threads: int = 1,
    ) -> None:
        """`finish` is the model's step after the claim-level probabilities (a denial model's lines)."""
        self.features = features
        self.classifier = classifier
        self.finish = finish
        self.booster = self.classifier.booster_
        self.num_iteration = self.classifier.num_iteration_
        self.num_threads = num_threads
        self._tree_shap: TreeShap | None = None
        self._tree_shap_tried = False
        self.feature_names = list(self.features.get_feature_names_out())
        self._context = [i for i, name in enumerate(self.feature_names) if name in CONTEXT]
        self.category_names = {
            self.feature_names[index]: {code: value for value, code in vocabulary.codes.items()}
            for index, vocabulary in zip(
                self.features.categorical_indices(), self.features.vocabularies_.values(), strict=True
            )
        }

    def score_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for a prepared feature matrix."""
        if len(matrix) == 0:
            return np.empty(0)
        raw = self.booster.predict(matrix, num_iteration=self.num_iteration, num_threads=self.num_threads)
        return self.classifier.calibrate(raw)

    def score(self, batch: FeatureBatch) -> Scored:
        """Probabilities of a feature batch, finished by the model (a denial model adds its lines)."""
        scored = Scored(self.score_matrix(batch.matrix), batch.matrix)
        return self.finish(batch.columns, scored, self.num_threads) if self.finish is not None else scored

    def prepare_explanations(self) -> TreeShap | None:
        """Build the TreeSHAP tables (a few tenths of a second) and compile their loop (a cache read
        after the first time), or None when the model is too deep for them; the service calls it at
        load time so that no request pays for it."""
        if not self._tree_shap_tried:
            try:
                self._tree_shap = TreeShap(self.booster, self.num_iteration)
                self._tree_shap.contributions(np.zeros((1, self.booster.num_feature())))  # compiled now
            except ValueError:
                self._tree_shap = None
            self._tree_shap_tried = True
        return self._tree_shap

    def top_factors(self, matrix: np.ndarray, count: int = 5) -> list[list[ScoreFactor]]:
        """Per row, the `count` inputs with the largest TreeSHAP contributions (from the tables of
        models.treeshap for a few rows, LightGBM's pred_contrib for more: the same numbers).

        TreeSHAP costs several times the prediction itself, so `count` = 0 skips it."""
        if len(matrix) == 0 or count <= 0:
            return [[] for _ in range(len(matrix))]
        tables = self.prepare_explanations() if len(matrix) <= TABLE_SHAP_ROWS else None
        if tables is not None:
            contributions = tables.contributions(matrix)
        else:
            contributions = self.booster.predict(
                matrix, num_iteration=self.num_iteration, num_threads=self.num_threads, pred_contrib=True
            )[:, :-1]
        order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :count]
        factors = []
        names = self.feature_names
        for row, columns in enumerate(order):
            shown = [c for c in columns if contributions[row, c] != 0]
            values = {names[c]: self._readable(c, matrix[row, c]) for c in (*shown, *self._context)}
            factors.append(
                [
                    ScoreFactor(
                        names[c],
                        values[names[c]],
                        float(contributions[row, c]),
                        factor_text(names[c], values[names[c]], values),
                    )
                    for c in shown
                ]
            )
        return factors

    def _readable(self, column: int, value: float) -> float | str | None:
        if np.isnan(value):
            return None
        names = self.category_names.get(self.feature_names[column])
        if names is not None:
            return names.get(int(value))
        return float(value)
