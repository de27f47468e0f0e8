"""The recommender adds value where risk is, respects its limits, and can equalise waits."""

from __future__ import annotations

import numpy as np
import pytest

from models.decisions.overbooking import Costs, Limits, recommend
from models.decisions.session import evaluate_session


def test_nothing_to_gain_when_everyone_shows() -> None:
    plan = recommend([[0.999]] * 20, 15, overbook_show_probability=0.999)
    assert sum(plan.overbooks) == 0
    assert plan.net_value_after == plan.net_value_before


def test_overbooks_go_to_the_riskiest_slots_and_add_value() -> None:
    slots = [[0.95]] * 10
    slots[3], slots[7] = [0.4], [0.45]
    plan = recommend(
        slots, 15, Costs(visit_value=100, wait_per_minute=1, idle_per_minute=3, overtime_per_minute=6)
    )
    assert plan.overbooks[3] == 1 and plan.overbooks[7] == 1
    assert plan.net_value_after > plan.net_value_before
    # Each placement is worth its cost: removing any one lowers the net value.
    costs = Costs(visit_value=100, wait_per_minute=1, idle_per_minute=3, overtime_per_minute=6)
    for slot in plan.placements:
        fewer = [
            list(s) + [plan.overbook_show_probability] * (n - (i == slot))
            for i, (s, n) in enumerate(zip(slots, plan.overbooks, strict=True))
        ]
        assert costs.net_value(evaluate_session(fewer, 15)) < plan.net_value_after


def test_limits_hold() -> None:
    slots = [[0.5]] * 12
    per_slot = recommend(slots, 15, limits=Limits(max_per_slot=1))
    assert max(per_slot.overbooks) <= 1
    capped = recommend(slots, 15, limits=Limits(max_per_slot=2, max_per_session=3))
    assert sum(capped.overbooks) == 3
    risky = recommend(
        slots, 15, limits=Limits(max_per_slot=2, overtime_bound_minutes=15, max_overtime_probability=0.05)
    )
    assert risky.after.overtime_probability <= 0.05
    assert sum(risky.overbooks) < sum(recommend(slots, 15, limits=Limits(max_per_slot=2)).overbooks)


def test_equal_wait_narrows_the_gap_between_groups() -> None:
    rng = np.random.default_rng(3)
    groups = [["B" if rng.random() < 0.4 else "A"] for _ in range(32)]
    slots = [[0.55 if g[0] == "B" else 0.9] for g in groups]
    costs = Costs(visit_value=100, wait_per_minute=0.5, idle_per_minute=2, overtime_per_minute=4)
    plain = recommend(slots, 15, costs, groups=groups)
    fair = recommend(slots, 15, costs, groups=groups, fairness="equal_wait", wait_gap_tolerance_minutes=0.5)
    gap = lambda plan: abs(plan.after.mean_wait_by_group()["B"] - plan.after.mean_wait_by_group()["A"])  # noqa: E731
    assert gap(fair) <= max(0.5, 0.5 * gap(plain)) + 1e-9
    assert fair.net_value_after >= 0.9 * plain.net_value_after
    assert set(plain.after.mean_wait_by_group()) == {"A", "B"}


def test_an_empty_session_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        recommend([], 15)


def test_reported_figures_are_the_exact_dynamic_program_of_each_plan() -> None:
    rng = np.random.default_rng(5)
    slots = [[float(p)] for p in rng.uniform(0.5, 0.95, 24)]
    slots[4].append(0.7)  # a slot already double-booked
    groups = [["B" if rng.random() < 0.4 else "A" for _ in s] for s in slots]
    plan = recommend(slots, 15, groups=groups, limits=Limits(max_per_slot=2, overtime_bound_minutes=20))
    assert sum(plan.overbooks) > 0
    extra = plan.overbook_show_probability
    after = [list(s) + [extra] * n for s, n in zip(slots, plan.overbooks, strict=True)]
    labels = [list(g) + [None] * n for g, n in zip(groups, plan.overbooks, strict=True)]
    for reported, expected in (
        (plan.before, evaluate_session(slots, 15, groups, 20)),
        (plan.after, evaluate_session(after, 15, labels, 20)),
    ):
        names = ("patients_seen", "seen_in_session", "waiting_minutes", "idle_minutes", "overtime_minutes")
        for name in names:
            assert getattr(reported, name) == pytest.approx(getattr(expected, name), abs=1e-9), name
        assert reported.overtime_probability == pytest.approx(expected.overtime_probability, abs=1e-12)
        assert reported.mean_wait_by_group() == pytest.approx(expected.mean_wait_by_group(), abs=1e-9)
