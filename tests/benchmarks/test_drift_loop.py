"""The monitoring loop at the make-run scale (100,000 appointments), with its figures printed.

A new clinic opens on 2026-04-06 and takes 35% of the bookings; its patients miss more and its
reminders do not work. Eight weeks are served through the API while outcomes arrive; then the
store retrains a challenger, the gate judges it, the service reloads it, and the later weeks
compare both versions with the generator's true probabilities.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from tests.monitoring.drift_loop import run_drift_loop

pytestmark = pytest.mark.bench


def test_drift_loop_at_make_run_scale(tmp_path: Path) -> None:
    loop = run_drift_loop(tmp_path, rows=100_000, shift=date(2026, 4, 6), served_weeks=8)
    print(f"\n{'week of':<12} {'estimated':>9} {'realized':>9} {'error':>7}  retrain recommended")
    for week in loop.weeks:
        error = week["estimated"] - week["realized"]
        print(
            f"{week['week']:<12} {week['estimated']:>9.4f} {week['realized']:>9.4f} {error:>+7.4f}  "
            f"{'yes' if week['recommended'] else 'no'}"
        )
    errors = loop.estimate_errors
    print(f"flagged after {loop.flagged_after_weeks} week(s); moved: {', '.join(loop.moved)}")
    print(
        f"estimate error: mean {errors.mean():+.4f}, mean absolute {np.abs(errors).mean():.4f}, "
        f"largest {np.abs(errors).max():.4f}"
    )
    decision = loop.retrained.decision
    print(
        f"gate: {'promoted' if decision.promoted else 'refused'} v{decision.candidate} "
        f"(ROC-AUC {decision.candidate_metrics['roc_auc']:.4f} "
        f"against {decision.champion_metrics['roc_auc']:.4f})"
    )
    print(
        f"later weeks ({loop.holdout_rows} rows): before {loop.roc_before:.4f}, after {loop.roc_after:.4f}, "
        f"oracle {loop.roc_oracle:.4f} (gap {loop.roc_oracle - loop.roc_after:.4f}, before "
        f"{loop.roc_oracle - loop.roc_before:.4f})"
    )
    assert loop.flagged_after_weeks is not None and loop.flagged_after_weeks <= 2
    assert "clinic_id" in loop.moved
    assert np.abs(errors).max() <= 0.03
    assert decision.promoted and loop.roc_oracle - loop.roc_after <= 0.01
