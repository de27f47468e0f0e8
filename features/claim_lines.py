"""Service-line features for line-level denial risk: the claim's features beside each line's own."""

from __future__ import annotations

import numpy as np

from data.schemas import line_field
from features.claim import LINE_RULES, ClaimFeatures
from features.claim_history import LINE_HISTORY_COLUMN
from features.columns import Columns

LINE_NUMERIC = (
    "line_charge",
    "line_units",
    "line_share_of_charge",
    "line_is_largest",
    *LINE_RULES,
    "payer_code_denial_rate",
)
LINE_CATEGORICAL = ("line_procedure_code", "line_procedure_kind")


def line_categorical_indices(features: ClaimFeatures) -> list[int]:
    """Line-matrix columns that hold category codes."""
    width = len(features.get_feature_names_out())
    own = [width + len(LINE_NUMERIC) + k for k in range(len(LINE_CATEGORICAL))]
    return [*features.categorical_indices(), *own]


def line_rule_flags(features: ClaimFeatures, matrix: np.ndarray) -> np.ndarray:
    """The LINE_RULES columns of a line matrix: each line's rule checks, as `line_matrix` put them."""
    start = len(features.get_feature_names_out()) + LINE_NUMERIC.index(LINE_RULES[0])
    return matrix[:, start : start + len(LINE_RULES)]


def line_matrix(
    features: ClaimFeatures, columns: Columns, claim_matrix: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One row per service line, in claim then line order, and the index of each line's claim.

    Procedure codes are coded by their place in the procedure table, so the coding needs no
    fitting; codes missing from the table are NaN (and flagged by `unknown_procedure_code`).
    """
    codes = {code: float(k) for k, code in enumerate(sorted(features.procedures_))}
    kinds = {kind: float(k) for k, kind in enumerate(sorted({p.kind for p in features.procedures_.values()}))}
    claim_index, own = [], []
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
            claim_index.append(row)
    index = np.asarray(claim_index, dtype=np.int64)
    width = len(LINE_NUMERIC) + len(LINE_CATEGORICAL)
    own_matrix = np.asarray(own, dtype=np.float64).reshape(-1, width)
    return np.hstack([claim_matrix[index], own_matrix]), index


def line_labels(columns: Columns) -> np.ndarray:
    """Per line, 1.0 if denied, 0.0 if paid, NaN when unknown."""
    out = []
    for lines in columns["service_lines"]:
        for line in lines:
            denied = line_field(line, "denied")
            out.append(np.nan if denied is None or denied != denied else float(denied))
    return np.asarray(out, dtype=np.float64)
