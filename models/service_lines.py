"""The service line, in one place: each line's features beside its claim's, the line model, and the
rule that a claim is denied only when every line is (`cap_by_lines`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.schemas import line_field
from features.claim import LINE_RULES, ClaimFeatures
from features.claim_history import LINE_HISTORY_COLUMN
from features.columns import Columns, columns_from_frame
from models.booster_params import BoosterParams
from models.calibration import CalibratedClassifier
from models.estimator import fit_calibrated, make_classifier

LINE_NUMERIC = (
    "line_charge",
    "line_units",
    "line_share_of_charge",
    "line_is_largest",
    *LINE_RULES,
    "payer_code_denial_rate",
)
LINE_CATEGORICAL = ("line_procedure_code", "line_procedure_kind")
MIN_LINES_PER_CLASS = 20


@dataclass(frozen=True)
class LineMatrix:
    """One row per service line, in claim then line order: the claim's features beside the line's
    own, each line's claim row, and each line's rule checks (LINE_RULES order)."""

    matrix: np.ndarray
    claim_index: np.ndarray
    rule_flags: np.ndarray


@dataclass(frozen=True)
class LineScores:
    """P(denied) of every service line, with the matrix they were scored from."""

    probability: np.ndarray
    lines: LineMatrix


def line_categorical_indices(features: ClaimFeatures) -> list[int]:
    """Line-matrix columns that hold category codes."""
    width = len(features.get_feature_names_out())
    own = [width + len(LINE_NUMERIC) + k for k in range(len(LINE_CATEGORICAL))]
    return [*features.categorical_indices(), *own]


def line_matrix(features: ClaimFeatures, columns: Columns, claim_matrix: np.ndarray) -> LineMatrix:
    """The line matrix of a column batch whose claim features are `claim_matrix`.

    Procedure codes are coded by their place in the procedure table, so the coding needs no
    fitting; codes missing from the table are NaN (and flagged by `unknown_procedure_code`).
    """
    codes = {code: float(k) for k, code in enumerate(sorted(features.procedures_))}
    kinds = {kind: float(k) for k, kind in enumerate(sorted({p.kind for p in features.procedures_.values()}))}
    claim_index, own, rules = [], [], []
    for row, lines in enumerate(columns["service_lines"]):
        flags = features.line_flags(columns, row)
        history = columns[LINE_HISTORY_COLUMN][row]
        charges = np.array([float(line_field(line, "charge")) for line in lines])
        total = charges.sum()
        largest = int(np.argmax(charges))
        for k, line in enumerate(lines):
            code = line_field(line, "procedure_code")
            procedure = features.procedures_.get(code)
            kind = kinds.get(procedure.kind, np.nan) if procedure is not None else np.nan
            share = charges[k] / total if total > 0 else np.nan
            units = float(line_field(line, "units"))
            code_index = codes.get(code, np.nan)
            own.append(
                [charges[k], units, share, float(k == largest), *flags[k], history[k, 1], code_index, kind]
            )
            rules.append(flags[k])
            claim_index.append(row)
    index = np.asarray(claim_index, dtype=np.int64)
    width = len(LINE_NUMERIC) + len(LINE_CATEGORICAL)
    own_matrix = np.asarray(own, dtype=np.float64).reshape(-1, width)
    rule_flags = np.asarray(rules, dtype=np.float64).reshape(-1, len(LINE_RULES))
    return LineMatrix(np.hstack([claim_matrix[index], own_matrix]), index, rule_flags)


def line_labels(columns: Columns) -> np.ndarray:
    """Per line, 1.0 if denied, 0.0 if paid, NaN when unknown."""
    out = []
    for lines in columns["service_lines"]:
        for line in lines:
            denied = line_field(line, "denied")
            out.append(np.nan if denied is None or denied != denied else float(denied))
    return np.asarray(out, dtype=np.float64)


@dataclass
class LineModel:
    """P(line denied) for each service line; the claim features come from the claim pipeline."""

    model: CalibratedClassifier

    def predict(self, matrix: np.ndarray, num_threads: int = 1) -> np.ndarray:
        """Calibrated probabilities for a line matrix (`LineMatrix.matrix`)."""
        if len(matrix) == 0:
            return np.empty(0)
        raw = self.model.booster_.predict(
            matrix, num_iteration=self.model.num_iteration_, num_threads=num_threads
        )
        return self.model.calibrate(raw)


def cap_by_lines(
    claim_probability: np.ndarray, line_probability: np.ndarray, claim_index: np.ndarray
) -> np.ndarray:
    """A claim is denied only when all its lines are, so P(claim) is at most its least likely line's P.

    The two models are fitted apart; capping makes their answers agree. On synthetic holdouts it
    ranks better and scores about as well (docs/models.md).
    """
    lowest = np.full(len(claim_probability), np.inf)
    np.minimum.at(lowest, claim_index, line_probability)
    return np.minimum(claim_probability, lowest)


def frame_lines(features: ClaimFeatures, frame: pd.DataFrame) -> tuple[LineMatrix, np.ndarray]:
    """A claim table's line matrix and its line labels (NaN if unknown)."""
    columns = columns_from_frame(frame, [*features.input_columns])
    return line_matrix(features, columns, features.transform(frame)), line_labels(columns)


def fit_line_model(
    features: ClaimFeatures,
    train: pd.DataFrame,
    calibration: pd.DataFrame,
    params: BoosterParams,
    n_jobs: int,
    seed: int,
) -> LineModel | None:
    """Fit on the labelled lines of `train`, stopping early and calibrating on those of `calibration`.

    None when either slice has too few denied or paid lines to learn from.
    """
    slices = []
    for frame in (train, calibration):
        lines, labels = frame_lines(features, frame)
        known = ~np.isnan(labels)
        slices.append((lines.matrix[known], labels[known].astype(np.int64)))
    for _, labels in slices:
        if min(labels.sum(), len(labels) - labels.sum()) < MIN_LINES_PER_CLASS:
            return None
    model = make_classifier(params, n_jobs, seed)
    fit_calibrated(model, slices[0], slices[1], line_categorical_indices(features), params)
    return LineModel(model)
