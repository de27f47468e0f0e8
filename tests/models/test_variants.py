"""Every one-overbook variant's figures from two passes equal a full session model of that variant."""

from __future__ import annotations

import numpy as np
import pytest

from models.decisions.overbooking import Costs
from models.decisions.session import arrival_pmfs, evaluate_session
from models.decisions.variants import SessionPasses

SLOT_MINUTES, BOUND_MINUTES, P_NEW = 15.0, 30.0, 0.7
COSTS = Costs(visit_value=100, wait_per_minute=0.7, idle_per_minute=2.5, overtime_per_minute=6)


def cost_and_overtime(slots: list[list[float]]) -> tuple[float, float]:
    """The session model's cost, less the waiting among patients arriving together (not linear in
    the backlog, so the recommender adds it itself), and its P(overtime beyond the bound)."""
    figures = evaluate_session(slots, SLOT_MINUTES, overtime_bound_minutes=BOUND_MINUTES)
    pairs = sum((sum(s) ** 2 - sum(p * p for p in s)) / 2 for s in slots)
    alongside = pairs * COSTS.wait_per_minute * SLOT_MINUTES
    cost = COSTS.visit_value * figures.patients_seen - COSTS.net_value(figures) - alongside
    return cost, figures.overtime_probability


def passes_for(slots: list[list[float]], width: int, levels: int) -> SessionPasses:
    pmfs = np.zeros((len(slots), width))
    natural = arrival_pmfs(slots)
    pmfs[:, : natural.shape[1]] = natural
    variants = np.zeros((len(slots), width + 1))
    variants[:, :-1] += (1 - P_NEW) * pmfs
    variants[:, 1:] += P_NEW * pmfs
    level = np.arange(levels)
    terminal = np.vstack([COSTS.overtime_per_minute * SLOT_MINUTES * level, level > BOUND_MINUTES / 15])
    sums = np.array([sum(s) for s in slots])
    alphas = np.vstack([COSTS.wait_per_minute * SLOT_MINUTES * sums, np.zeros(len(slots))])
    betas = np.vstack([np.full(len(slots), COSTS.idle_per_minute * SLOT_MINUTES), np.zeros(len(slots))])
    offset = np.array([COSTS.wait_per_minute * SLOT_MINUTES * P_NEW, 0.0])
    return SessionPasses(pmfs, variants, alphas, betas, terminal, offset)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_variant_figures_equal_the_session_model(seed: int) -> None:
    rng = np.random.default_rng(seed)
    slots = [list(rng.uniform(0.4, 0.95, size=int(rng.integers(1, 3)))) for _ in range(12)]
    passes = passes_for(slots, width=5, levels=20)
    changed = 4  # one overbook is placed first: the passes must follow it
    moved = [list(s) for s in slots]
    moved[changed].append(P_NEW)
    whole = passes_for(moved, width=5, levels=20)
    passes.change(changed, whole.pmfs[changed], whole.variant_pmfs[changed], whole.alphas[:, changed])
    figures = passes.figures()
    cost, overtime = cost_and_overtime(moved)
    assert figures.session[0] == pytest.approx(cost, rel=1e-12, abs=1e-9)
    assert figures.session[1] == pytest.approx(overtime, abs=1e-12)
    for t in range(len(slots)):
        variant = [list(s) for s in moved]
        variant[t].append(P_NEW)
        cost, overtime = cost_and_overtime(variant)
        assert figures.variants[0, t] == pytest.approx(cost, rel=1e-12, abs=1e-9)
        assert figures.variants[1, t] == pytest.approx(overtime, abs=1e-12)
