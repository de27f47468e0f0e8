"""The whole monitoring loop on a practice that changes (a new clinic opens), through the real app."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from tests.monitoring.drift_loop import run_drift_loop


def test_monitor_flags_the_shift_and_retraining_from_the_store_recovers(tmp_path: Path) -> None:
    loop = run_drift_loop(tmp_path, rows=30_000, shift=date(2026, 4, 6), served_weeks=8)
    errors = loop.estimate_errors
    for week in loop.weeks:
        print(week)
    print(
        f"holdout ({loop.holdout_rows} rows): before {loop.roc_before:.4f}, after {loop.roc_after:.4f}, "
        f"oracle {loop.roc_oracle:.4f}"
    )
    # Flagged within two weeks of the shift, naming the input that moved: the clinic nobody had seen.
    assert loop.flagged_after_weeks is not None and loop.flagged_after_weeks <= 2
    assert "clinic_id" in loop.moved
    # Estimates made before the outcomes arrived, against what the outcomes then showed.
    assert abs(errors.mean()) <= 0.03 and np.abs(errors).mean() <= 0.03, loop.weeks
    # The retrained challenger passed the gate, the service reloaded it, and it is near the oracle.
    decision = loop.retrained.decision
    assert decision is not None and decision.promoted, decision
    assert loop.served_after_reload == {loop.retrained.trained.model_version}
    assert loop.roc_oracle - loop.roc_after <= 0.01
    assert loop.roc_oracle - loop.roc_before > 0.03
