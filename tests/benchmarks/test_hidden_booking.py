"""Appointments scored without their booking time (EHRs rarely send FHIR `created`): on three
time-ordered folds of the synthetic data, with a tenth of each holdout's booking times hidden, the
model trained with CAREOPS_HIDDEN_BOOKING_SHARE keeps those scores calibrated (ECE <= 0.03) and
the others as good as a model trained without hiding (ROC-AUC within 0.002)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from config import Settings
from data.loaders.canonical import load_appointments
from data.synthetic.appointments import generate_appointments
from models.evaluation import expected_calibration_error
from models.tasks import get_task
from training.fit import fit_and_evaluate, hide_booking_times, recent_holdout_start

pytestmark = pytest.mark.bench
ROWS, HOLDOUT_HIDDEN = 100_000, 0.1


def test_scores_without_a_booking_time_stay_calibrated_on_rolling_folds() -> None:
    task = get_task("noshow")
    table = load_appointments(generate_appointments(ROWS, seed=42)).valid
    table = table.sort_values(["starts_at", "appointment_id"], kind="stable").reset_index(drop=True)
    default = Settings(_env_file=None).hidden_booking_share
    assert default > 0
    edges: list[pd.Timestamp | None] = [recent_holdout_start(task, table, f) for f in (0.36, 0.24, 0.12)]
    edges.append(None)
    print(f"\n{ROWS} synthetic appointments; {HOLDOUT_HIDDEN:.0%} of each holdout without a booking time")
    print(f"{'fold from':<12} {'hidden':>6} {'ECE hidden':>10} {'ROC rest':>9} {'no hiding':>9} {'diff':>7}")
    results = []
    for k in range(3):
        start, end = edges[k], edges[k + 1]
        hidden_table = hide_booking_times(
            table, (table["starts_at"] >= start).to_numpy(), HOLDOUT_HIDDEN, 2026 + k
        )
        figures = {}
        for share in (0.0, default):
            settings = Settings(_env_file=None, hidden_booking_share=share, train_threads=2)
            fit = fit_and_evaluate(task, hidden_table, start, settings, holdout_end=end)
            hidden = fit.holdout["booked_at"].isna().to_numpy()
            y, p = fit.holdout["no_show"].to_numpy(float), fit.holdout_probability
            figures[share] = (
                hidden.sum(),
                expected_calibration_error(y[hidden], p[hidden]),
                roc_auc_score(y[~hidden], p[~hidden]),
            )
        count, ece, roc = figures[default]
        diff = roc - figures[0.0][2]
        print(f"{start:%Y-%m-%d}   {count:>6} {ece:>10.4f} {roc:>9.4f} {figures[0.0][2]:>9.4f} {diff:>+7.4f}")
        results.append((count, ece, diff))
    for k, (count, ece, diff) in enumerate(results):
        assert count > 500 and np.isfinite(ece)
        assert ece <= 0.03, f"fold {k}: ECE {ece:.4f} on scores without a booking time"
        assert abs(diff) <= 0.002, f"fold {k}: ROC-AUC on the rest moved {diff:+.4f}"
