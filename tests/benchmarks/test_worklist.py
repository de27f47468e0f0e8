"""Denials on a 50k synthetic holdout (`make bench`): quality against the oracle, and the worklist.

The worklist test counts denied dollars as the charges of denied lines, so partial denials count.
"""

from __future__ import annotations

import numpy as np
import pytest

from config import Settings
from data.loaders.canonical import load_claims
from data.synthetic.claims import generate_claims
from features.columns import columns_from_frame
from models.service_lines import line_labels
from models.tasks import get_task
from training.fit import FitResult, fit_and_evaluate, recent_holdout_start

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def result() -> FitResult:
    task = get_task("denial")
    table = load_claims(generate_claims(50_000, seed=11)).valid
    return fit_and_evaluate(task, table, recent_holdout_start(task, table, 0.2), Settings(_env_file=None))


def test_denial_model_is_close_to_the_oracle(result: FitResult) -> None:
    m = result.metrics
    print(f"\n{int(m['line_rows'])} holdout lines on {len(result.holdout)} claims (`make bench`, 50k claims)")
    print(
        f"  claim ROC-AUC {m['holdout_roc_auc']:.4f} vs oracle {m['oracle_roc_auc']:.4f} "
        f"(gap {m['roc_auc_gap_to_oracle']:.4f}); Brier {m['brier_ratio_to_oracle']:.4f}x the oracle's"
    )
    print(
        f"  line ROC-AUC {m['line_roc_auc']:.4f} vs oracle {m['line_oracle_roc_auc']:.4f} "
        f"(gap {m['line_roc_auc_gap_to_oracle']:.4f}); Brier {m['line_brier_ratio_to_oracle']:.4f}x; "
        f"ECE {m['line_ece']:.4f}"
    )
    print(
        f"  reason top-1 {m['reason_top1_accuracy']:.4f}, macro-F1 {m['reason_macro_f1']:.4f} "
        f"on {int(m['reason_denied_rows'])} denied claims"
    )
    assert m["roc_auc_gap_to_oracle"] <= 0.01 and m["brier_ratio_to_oracle"] <= 1.03
    assert m["line_roc_auc_gap_to_oracle"] <= 0.01 and m["line_brier_ratio_to_oracle"] <= 1.03
    assert m["reason_top1_accuracy"] >= 0.85


def test_top_decile_of_the_worklist_catches_the_most_denied_dollars(result: FitResult) -> None:
    holdout = result.holdout
    charge = holdout["total_charge"].to_numpy()
    columns = columns_from_frame(holdout, ["service_lines"])
    line_charge = np.array([line["charge"] for lines in columns["service_lines"] for line in lines])
    denied_line = line_labels(columns) == 1
    line_probability, lines = result.trained.predict_lines(holdout)
    claim_of_line = lines.claim_index
    rows = len(holdout)
    denied_dollars = np.bincount(claim_of_line, weights=line_charge * denied_line, minlength=rows)
    probability = result.holdout_probability
    top = int(np.ceil(0.1 * rows))
    rankings = {
        "ours: sum of line P(denied) x payment": np.bincount(
            claim_of_line, weights=line_probability * line_charge, minlength=rows
        ),
        "claim P(denied) x payment": probability * charge,
        "claim P(denied) alone": probability,
        "charge alone": charge,
    }
    total = denied_dollars.sum()
    print(f"\n{rows} holdout claims, ${total:,.0f} denied charges on {denied_line.sum()} denied lines")
    print(f"top 10% = {top} claims")
    caught = {}
    for name, score in rankings.items():
        chosen = np.argsort(-score, kind="stable")[:top]
        caught[name] = denied_dollars[chosen].sum()
        print(f"  {name:<38} catches ${caught[name]:>12,.0f} ({caught[name] / total:.1%} of denied dollars)")
    ours = caught["ours: sum of line P(denied) x payment"]
    assert ours > max(caught[name] for name in rankings if not name.startswith("ours"))
