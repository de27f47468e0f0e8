"""PSI, the confidence-based performance estimate, and reference bins."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from services.monitoring.drift import level, psi
from services.monitoring.estimation import expected_roc_auc
from services.monitoring.log_store import LogBatch, PredictionLog
from services.monitoring.recorder import PredictionRecorder
from services.monitoring.reference import SCORE, FeatureBins, ReferenceProfile, build_profile
from services.monitoring.report import Thresholds, retrain_reasons


def test_expected_roc_auc_matches_realized_auc_of_labels_drawn_from_the_scores() -> None:
    rng = np.random.default_rng(3)
    p = rng.beta(2, 6, 20_000)
    realized = np.mean([roc_auc_score(rng.random(p.size) < p, p) for _ in range(20)])
    assert abs(expected_roc_auc(p) - realized) < 0.005
    # Scores that all agree carry no ranking power.
    assert abs(expected_roc_auc(np.full(1000, 0.3)) - 0.5) < 1e-9


def test_psi_is_small_for_a_sample_of_the_same_population_and_large_after_a_shift() -> None:
    rng = np.random.default_rng(4)
    bins = FeatureBins("lead", tuple(np.quantile(rng.exponential(10, 50_000), np.linspace(0.1, 0.9, 9))))
    reference = bins.counts(rng.exponential(10, 50_000))
    same = psi(reference, bins.counts(rng.exponential(10, 2_000)))
    shifted = psi(reference, bins.counts(rng.exponential(20, 2_000)))
    assert same < 0.02 and level(same) == "ok"
    assert shifted > 0.25 and level(shifted) == "act"


def test_bins_keep_missing_and_unseen_categories_apart() -> None:
    numeric = FeatureBins("age", (10.0, 20.0))
    assert numeric.assign(np.array([5.0, 10.0, 25.0, np.nan])).tolist() == [0, 1, 2, 3]
    category = FeatureBins("clinic", categories=3)
    codes = np.array([0.0, 2.0, np.nan, np.nan])
    unseen = np.array([False, False, False, True])
    assert category.assign(codes, unseen).tolist() == [0, 2, 3, 4]
    assert category.counts(codes, unseen).tolist() == [1, 0, 1, 1, 1]


def test_profile_round_trips_through_json() -> None:
    rng = np.random.default_rng(5)
    matrix = np.column_stack([rng.normal(size=500), rng.integers(0, 4, 500).astype(float)])
    profile = build_profile("noshow", ["x", "c"], {"c": 4}, matrix, rng.random(500), {"holdout_roc_auc": 0.7})
    again = ReferenceProfile.from_json(profile.to_json())
    assert again == profile
    assert sum(again.counts[SCORE]) == 500 and sum(again.counts["c"]) == 500
    assert again.bins_of("c").categories == 4 and len(again.bins_of("x").edges) == 9


def test_the_recorder_purges_what_is_older_than_the_retention(tmp_path: Path) -> None:
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    today = int(time.time() // 86400)
    row = {
        "scored_at": 0.0,
        "event_day": None,
        "task": "noshow",
        "model_version": "1",
        "source": "api",
        "record_key": "k",
        "probability": 0.2,
        "top_reason": None,
        "line_probabilities": None,
        "segments": "{}",
    }
    old, recent = today - 500, today - 10
    log.write(
        [
            LogBatch(
                [row | {"scored_day": old}, row | {"scored_day": recent}],
                {("noshow", "1", old, "x", 0): 3, ("noshow", "1", recent, "x", 0): 4},
            )
        ]
    )
    recorder = PredictionRecorder(log, b"key", {}, retention_days=400, flush_seconds=0.05)
    recorder.flush()
    assert log.predictions("noshow")["scored_day"].tolist() == [recent]
    assert log.bin_counts("noshow")[["day", "count"]].values.tolist() == [[recent, 4]]
    recorder.close()


def test_a_handful_of_scores_never_calls_for_retraining_on_drift_alone() -> None:
    profile = build_profile("noshow", ["x"], {}, np.arange(1000.0).reshape(-1, 1), np.full(1000, 0.2), {})
    few = {"version": "1", "rows": 3, "score": {"feature": "__score__", "psi": 1.7}, "moved": ["x"]}
    many = few | {"rows": 5000}
    rows = pd.DataFrame({"label": [], "week": [], "probability": []})
    assert retrain_reasons(profile.metrics, [], rows, few, Thresholds()) == []
    assert retrain_reasons(profile.metrics, [], rows, many, Thresholds())[0].startswith("score PSI 1.70")
