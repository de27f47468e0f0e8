"""The base of our feature transformers: category coding, naming and the columnar contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from data.schemas import CanonicalRecord
from features.columns import Columns, Vocabulary, columns_from_frame, columns_from_records


@dataclass(frozen=True)
class FeatureBatch:
    """A batch's inputs as columns and its feature matrix, built in one call."""

    columns: Columns
    matrix: np.ndarray


class CanonicalFeatures(TransformerMixin, BaseEstimator):
    """A transformer from canonical records to a float matrix: numeric features, then categories.

    Subclasses name their inputs and features and implement `numeric_features`; offline
    (`transform` on a DataFrame) and online (`transform_columns` on records) share that code.
    `record_columns` are read from canonical records; any other input column (point-in-time
    history) is supplied beside them.
    """

    input_columns: ClassVar[tuple[str, ...]] = ()
    record_columns: ClassVar[tuple[str, ...]] = ()
    categorical: ClassVar[tuple[str, ...]] = ()
    watched: ClassVar[tuple[str, ...]] = ()
    numeric: ClassVar[tuple[str, ...]] = ()

    def fit(self, X: pd.DataFrame, y: Any = None) -> CanonicalFeatures:
        """Learn the category vocabularies from training rows."""
        self.vocabularies_ = {name: Vocabulary(X[name]) for name in self.categorical}
        self.watched_ = {name: Vocabulary(X[name]) for name in self.watched if name not in self.categorical}
        self.n_features_in_ = len(self.input_columns)
        return self

    def fitted_state(self) -> dict[str, Any]:
        """What `fit` learned, as JSON-ready data (saved with the model instead of a pickle)."""
        return {
            "vocabularies": {name: v.codes for name, v in self.vocabularies_.items()},
            "watched": {name: v.codes for name, v in self.watched_.items()},
        }

    def restore(self, state: dict[str, Any]) -> CanonicalFeatures:
        """Set the fitted state saved by `fitted_state`; returns self, fitted."""
        self.vocabularies_ = {name: Vocabulary.from_codes(c) for name, c in state["vocabularies"].items()}
        self.watched_ = {name: Vocabulary.from_codes(c) for name, c in state["watched"].items()}
        self.n_features_in_ = len(self.input_columns)
        return self

    def numeric_features(self, columns: Columns) -> dict[str, np.ndarray]:
        """One float array per name in `numeric`."""
        raise NotImplementedError

    def batch(
        self, records: Sequence[CanonicalRecord], extra: Mapping[str, np.ndarray] | None = None
    ) -> FeatureBatch:
        """Records' inputs and features: their attributes, plus supplied columns (point-in-time history)."""
        columns = columns_from_records(records, self.record_columns)
        columns.update(extra or {})
        if not records:
            return FeatureBatch(columns, np.empty((0, len(self.numeric) + len(self.categorical))))
        return FeatureBatch(columns, self.transform_columns(columns))

    def frame_batch(self, frame: pd.DataFrame) -> FeatureBatch:
        """A prepared canonical table's inputs and features (history columns already in it)."""
        columns = columns_from_frame(frame, self.input_columns)
        return FeatureBatch(columns, self.transform_columns(columns))

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Features for a canonical DataFrame."""
        return self.transform_columns(columns_from_frame(X, self.input_columns))

    def transform_columns(self, columns: Columns) -> np.ndarray:
        """Features from a column batch: the one definition used offline and online."""
        named = self.numeric_features(columns)
        numeric = [named[name] for name in self.numeric]
        categories = [self.vocabularies_[name].encode(columns[name]) for name in self.categorical]
        return np.column_stack([*numeric, *categories]).astype(np.float64, copy=False)

    def unseen_categories(self, columns: Columns) -> list[list[str]]:
        """For each row, the categorical inputs whose value was never seen in training."""
        vocabularies = {**self.watched_, **self.vocabularies_}
        names = [name for name in (*self.watched, *self.categorical) if name in vocabularies]
        names = list(dict.fromkeys(names))
        flags = {name: vocabularies[name].unseen(columns[name]) for name in names}
        rows = len(columns[self.input_columns[0]])
        return [[name for name in names if flags[name][i]] for i in range(rows)]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Readable feature names, in matrix column order."""
        return np.asarray([*self.numeric, *self.categorical], dtype=object)

    def categorical_indices(self) -> list[int]:
        """Matrix columns that hold category codes."""
        return list(range(len(self.numeric), len(self.numeric) + len(self.categorical)))
