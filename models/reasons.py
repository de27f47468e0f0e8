"""Why a claim would be denied: a multiclass model of P(category | denied) on the claim's features."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

MIN_ROWS_PER_CATEGORY = 5
# Chosen on three time-ordered folds of synthetic claims: 100 rounds beat 300 on top-1 accuracy and
# macro-F1, and a third of the trees is a third of the cost of every score
# (docs/decisions/2026-11-28-reason-model-rounds.md).
ROUNDS = 100


@dataclass
class ReasonModel:
    """A fitted multiclass booster over denial categories; combine with P(denied) for P(category)."""

    categories: list[str]
    booster: lgb.Booster

    def predict(self, matrix: np.ndarray, num_threads: int = 1) -> np.ndarray:
        """P(category | denied), one column per entry of `categories`."""
        if len(matrix) == 0:
            return np.empty((0, len(self.categories)))
        if len(self.categories) == 1:
            return np.ones((len(matrix), 1))
        return self.booster.predict(matrix, num_threads=num_threads)


def fit_reason_model(
    matrix: np.ndarray, categories: np.ndarray, categorical: list[int], n_jobs: int, seed: int
) -> ReasonModel | None:
    """Fit on denied rows with a known category; None when there are too few to learn from."""
    known = np.array([c is not None and c == c for c in categories], dtype=bool)
    names, counts = np.unique(categories[known].astype(str), return_counts=True)
    kept = names[counts >= MIN_ROWS_PER_CATEGORY]
    if len(kept) == 0:
        return None
    rows = known & np.isin(categories.astype(str), kept)
    labels = np.searchsorted(kept, categories[rows].astype(str))
    if len(kept) == 1:
        return ReasonModel([str(kept[0])], booster=None)  # type: ignore[arg-type]
    classifier = lgb.LGBMClassifier(
        objective="multiclass",
        n_estimators=ROUNDS,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=10,
        reg_lambda=1.0,
        n_jobs=n_jobs,
        random_state=seed,
        deterministic=True,
        force_row_wise=True,
        verbosity=-1,
    )
    classifier.fit(matrix[rows], labels, categorical_feature=categorical)
    return ReasonModel([str(k) for k in kept], classifier.booster_)
