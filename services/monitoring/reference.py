"""A model version's reference profile: bin edges and reference histograms of its inputs and score.

Logged with the version as data (JSON). Scores made in service are counted into the same bins per
day, so drift is a comparison of two histograms on shared edges, and no input value is kept.

Bins of a feature: numeric features are cut at the reference's deciles (distinct edges only), plus
a last bin for missing values; a categorical feature has one bin per training code, one for
missing and one for values training never saw.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from models.trained import TrainedModel

SCORE = "__score__"
PROFILE_FILE = "reference_profile.json"  # its name among a model version's artifacts
QUANTILES = np.linspace(0.1, 0.9, 9)
SCORE_EDGES = tuple(np.round(np.linspace(0.05, 0.95, 19), 2).tolist())


@dataclass(frozen=True)
class FeatureBins:
    """How one feature is binned: numeric cut points, or the number of categorical codes."""

    name: str
    edges: tuple[float, ...] = ()
    categories: int | None = None

    @property
    def size(self) -> int:
        """Number of bins, the missing (and, for categories, the unseen) bin included."""
        if self.categories is not None:
            return self.categories + 2
        return len(self.edges) + 2

    @property
    def missing_bin(self) -> int:
        """The bin of a missing value."""
        return self.categories if self.categories is not None else len(self.edges) + 1

    @property
    def unseen_bin(self) -> int | None:
        """The bin of a category training never saw (None for numeric features)."""
        return self.categories + 1 if self.categories is not None else None

    def assign(self, values: np.ndarray, unseen: np.ndarray | None = None) -> np.ndarray:
        """The bin of every value; `unseen` marks categorical values that were present but unknown."""
        values = np.asarray(values, dtype=np.float64)
        missing = np.isnan(values)
        if self.categories is not None:
            bins = np.where(missing, self.missing_bin, np.nan_to_num(values, nan=0.0)).astype(np.int64)
            bins = np.clip(bins, 0, self.missing_bin)
            if unseen is not None:
                bins[np.asarray(unseen, dtype=bool)] = self.unseen_bin
            return bins
        bins = np.searchsorted(np.asarray(self.edges), np.nan_to_num(values, nan=0.0), side="right")
        return np.where(missing, self.missing_bin, bins)

    def counts(self, values: np.ndarray, unseen: np.ndarray | None = None) -> np.ndarray:
        """Counts per bin."""
        return np.bincount(self.assign(values, unseen), minlength=self.size).astype(np.int64)


@dataclass
class ReferenceProfile:
    """Bins and reference counts of every feature and of the score, and the holdout's metrics."""

    task: str
    features: list[FeatureBins]
    counts: dict[str, list[int]]
    metrics: dict[str, float] = field(default_factory=dict)
    rows: int = 0
    # Inputs that are not model features but are watched for values training never saw (the
    # clinic): their bins follow the model features' in `features`, 0 seen (or missing), 1 unseen.
    watched: list[str] = field(default_factory=list)

    @property
    def score_bins(self) -> FeatureBins:
        """The score's bins (fixed edges every 0.05)."""
        return FeatureBins(SCORE, SCORE_EDGES)

    def bins_of(self, name: str) -> FeatureBins:
        """A feature's bins, or the score's for SCORE."""
        if name == SCORE:
            return self.score_bins
        return self._by_name[name]

    @cached_property
    def _by_name(self) -> dict[str, FeatureBins]:
        return {f.name: f for f in self.features}

    def to_json(self) -> str:
        """The profile as JSON text."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        """A profile from `to_json` text."""
        state = json.loads(text)
        state["features"] = [
            FeatureBins(f["name"], tuple(f["edges"]), f["categories"]) for f in state["features"]
        ]
        state.setdefault("watched", [])
        return cls(**state)

    def save(self, path: Path) -> Path:
        """Write the profile; returns the path."""
        path.write_text(self.to_json(), encoding="utf-8")
        return path


def feature_bins(name: str, values: np.ndarray, categories: int | None) -> FeatureBins:
    """Bins for one feature from its reference values."""
    if categories is not None:
        return FeatureBins(name, (), categories)
    present = values[~np.isnan(values)]
    if present.size == 0:
        return FeatureBins(name, ())
    edges = np.unique(np.quantile(present, QUANTILES))
    # A decile falls on a value of the data; the cut goes halfway to the next smaller value, so that
    # a feature with few distinct values (a payer's rate) does not cross a cut when it moves a little.
    distinct = np.unique(present)
    below = distinct[np.maximum(np.searchsorted(distinct, edges) - 1, 0)]
    edges = np.where(below < edges, (below + edges) / 2, edges)
    return FeatureBins(name, tuple(float(e) for e in edges))


def build_profile(
    task: str,
    names: list[str],
    categories: dict[str, int],
    matrix: np.ndarray,
    probability: np.ndarray,
    metrics: dict[str, float],
    watched: dict[str, np.ndarray] | None = None,
) -> ReferenceProfile:
    """The reference profile of a feature matrix (columns named `names`) and its scores.

    `categories` gives each categorical feature's number of training codes; `watched` maps each
    watched input to its rows' unseen flags."""
    bins = [feature_bins(name, matrix[:, j], categories.get(name)) for j, name in enumerate(names)]
    counts = {b.name: b.counts(matrix[:, j]).tolist() for j, b in enumerate(bins)}
    for name, unseen in (watched or {}).items():
        bins.append(watch_bins(name))
        counts[name] = bins[-1].counts(np.full(len(unseen), np.nan), unseen).tolist()
    counts[SCORE] = FeatureBins(SCORE, SCORE_EDGES).counts(probability).tolist()
    return ReferenceProfile(task, bins, counts, dict(metrics), len(matrix), sorted(watched or {}))


def watch_bins(name: str) -> FeatureBins:
    """Two bins for a watched input: seen in training (or missing), and unseen."""
    return FeatureBins(name, (), categories=0)


def profile_of(trained: TrainedModel, frame: pd.DataFrame, metrics: dict[str, float]) -> ReferenceProfile:
    """The reference profile of a trained model on labelled canonical rows (its holdout)."""
    scorer = trained.scorer(1)
    batch = trained.features.frame_batch(trained.prepare(frame))
    scored = scorer.score(batch)
    categories = {name: len(codes) for name, codes in scorer.category_names.items()}
    unseen = trained.features.unseen_categories(batch.columns)
    watched = {
        name: np.array([name in row for row in unseen], dtype=bool)
        for name in trained.features.watched_
        if name not in categories
    }
    return build_profile(
        trained.task_name,
        scorer.feature_names,
        categories,
        scored.matrix,
        scored.probability,
        metrics,
        watched,
    )
