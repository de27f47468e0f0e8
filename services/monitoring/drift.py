"""Population stability index (PSI) between reference and current bin counts."""

from __future__ import annotations

import numpy as np

WATCH, ACT = 0.1, 0.25
SMOOTHING = 0.5  # counts added to every bin, so an empty bin does not make the index infinite


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI = sum over bins of (current - reference share) x ln(current / reference share)."""
    reference = np.asarray(reference, dtype=float) + SMOOTHING
    current = np.asarray(current, dtype=float) + SMOOTHING
    expected, actual = reference / reference.sum(), current / current.sum()
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def level(value: float) -> str:
    """'ok', 'watch' (PSI at least 0.1) or 'act' (at least 0.25)."""
    return "act" if value >= ACT else "watch" if value >= WATCH else "ok"
