"""The exact session model agrees with Monte Carlo on every figure, within 3 standard errors."""

from __future__ import annotations

import numpy as np
import pytest

from models.decisions.session import arrival_pmf, arrival_pmfs, evaluate_session

RUNS = 20_000
SLOT = 15.0


def simulate(slots: list[list[float]], groups: list[list[str | None]], bound: float, seed: int) -> dict:
    """Vectorised Monte Carlo of the same service process, RUNS sessions at once."""
    rng = np.random.default_rng(seed)
    backlog = np.zeros(RUNS)
    seen = np.zeros(RUNS)
    waiting = np.zeros(RUNS)
    idle = np.zeros(RUNS)
    by_group = {g: np.zeros(RUNS) for row in groups for g in row if g}
    arrivals_by_group = {g: np.zeros(RUNS) for g in by_group}
    for probabilities, labels in zip(slots, groups, strict=True):
        arrive = rng.random((RUNS, len(probabilities))) < np.asarray(probabilities)
        keys = np.where(arrive, rng.random(arrive.shape), np.inf)
        rank = keys.argsort(axis=1).argsort(axis=1)  # random order among those arriving together
        for i, label in enumerate(labels):
            wait = np.where(arrive[:, i], (backlog + rank[:, i]) * SLOT, 0.0)
            waiting += wait
            if label:
                by_group[label] += wait
                arrivals_by_group[label] += arrive[:, i]
        count = arrive.sum(axis=1)
        seen += count
        queue = backlog + count
        idle += np.where(queue == 0, SLOT, 0.0)
        backlog = np.maximum(queue - 1, 0)
    overtime = backlog * SLOT
    return {
        "patients_seen": seen,
        "waiting_minutes": waiting,
        "idle_minutes": idle,
        "overtime_minutes": overtime,
        "overtime_probability": (overtime > bound).astype(float),
        **{f"wait_{g}": v for g, v in by_group.items()},
        **{f"arrivals_{g}": v for g, v in arrivals_by_group.items()},
    }


SCENARIOS = {
    "overbooked": (
        [[0.8], [0.7, 0.6], [0.9], [0.5], [0.85, 0.4], [0.95], [0.7], [0.6, 0.6, 0.3], [0.9], [0.75]],
        [["a"], ["b", None], ["a"], ["b"], ["a", None], ["b"], ["a"], ["b", "a", None], ["a"], ["b"]],
    ),
    "empty slots and heavy tail": (
        [[], [0.99, 0.99, 0.99], [0.2], [], [0.9, 0.9], [0.5]],
        [[], ["a", "b", "a"], ["b"], [], ["a", "b"], [None]],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_exact_figures_match_monte_carlo(name: str) -> None:
    slots, groups = SCENARIOS[name]
    exact = evaluate_session(slots, SLOT, groups, overtime_bound_minutes=15.0)
    sample = simulate(slots, groups, bound=15.0, seed=7)
    expected = {
        "patients_seen": exact.patients_seen,
        "waiting_minutes": exact.waiting_minutes,
        "idle_minutes": exact.idle_minutes,
        "overtime_minutes": exact.overtime_minutes,
        "overtime_probability": exact.overtime_probability,
        **{f"wait_{g}": v for g, v in exact.waiting_by_group.items()},
        **{f"arrivals_{g}": v for g, v in exact.arrivals_by_group.items()},
    }
    assert set(expected) == set(sample)
    for figure, value in expected.items():
        draws = sample[figure]
        standard_error = max(draws.std(ddof=1) / np.sqrt(RUNS), 1e-12)
        assert abs(draws.mean() - value) <= 3 * standard_error, (figure, draws.mean(), value, standard_error)
    assert exact.seen_in_session == pytest.approx(exact.patients_seen - exact.overtime_minutes / SLOT)


def test_poisson_binomial_pmf() -> None:
    pmf = arrival_pmf([0.5, 0.2])
    assert pmf == pytest.approx([0.4, 0.5, 0.1])
    assert arrival_pmf([]) == pytest.approx([1.0])


def test_one_sure_patient_per_slot_never_waits_or_idles() -> None:
    figures = evaluate_session([[1.0]] * 8, SLOT)
    assert (figures.waiting_minutes, figures.idle_minutes, figures.overtime_minutes) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="at least one slot"):
        evaluate_session([], SLOT)


def test_the_slots_arrival_distributions_are_each_slots_convolution() -> None:
    rng = np.random.default_rng(5)
    slots = [list(rng.random(n)) for n in (0, 1, 3, 2, 1, 0, 4)]
    together = arrival_pmfs(slots)
    assert together.shape == (len(slots), 5)
    for row, probabilities in zip(together, slots, strict=True):
        alone = arrival_pmf(probabilities)
        assert row[: len(alone)] == pytest.approx(alone, abs=1e-15)
        assert not row[len(alone) :].any()
