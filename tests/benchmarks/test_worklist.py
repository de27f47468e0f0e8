"""The billers' worklist: denied dollars caught in the top 10%, against simpler rankings (`make bench`)."""

from __future__ import annotations

import numpy as np
import pytest

from data.loaders import load_claims
from data.synthetic_claims import generate_claims
from models.tasks import get_task
from training.fit import fit_and_evaluate, recent_holdout_start
from training.settings import Settings

pytestmark = pytest.mark.bench


def test_top_decile_of_the_worklist_catches_the_most_denied_dollars() -> None:
    task = get_task("denial")
    table = load_claims(generate_claims(50_000, seed=11)).valid
    result = fit_and_evaluate(task, table, recent_holdout_start(task, table, 0.2), Settings(_env_file=None))
    holdout = result.holdout
    charge = holdout["total_charge"].to_numpy()
    denied = holdout["denied"].to_numpy() == 1
    probability = result.holdout_probability
    top = int(np.ceil(0.1 * len(holdout)))
    rankings = {
        "ours: P(denied) x expected payment": probability * charge,
        "P(denied) alone": probability,
        "charge alone": charge,
    }
    total = charge[denied].sum()
    print(f"\n{len(holdout)} holdout claims, {denied.sum()} denied, ${total:,.0f} denied charges")
    print(f"top 10% = {top} claims")
    caught = {}
    for name, score in rankings.items():
        chosen = np.argsort(-score, kind="stable")[:top]
        caught[name] = charge[chosen][denied[chosen]].sum()
        print(f"  {name:<36} catches ${caught[name]:>12,.0f} ({caught[name] / total:.1%} of denied dollars)")
    ours = caught["ours: P(denied) x expected payment"]
    assert ours > caught["P(denied) alone"] and ours > caught["charge alone"]
