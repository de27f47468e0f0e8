"""An exact model of a clinic session: arrivals, backlog, waiting, idle time and overtime.

A session has S slots of L minutes. Each booked patient arrives at the start of their slot with
their show probability, independently (so a slot's arrivals are Poisson-binomial). The provider
sees one patient per slot, first come first served, in random order among patients arriving
together; patients not seen carry over, and those left at the end are seen in overtime.
A dynamic program over the backlog distribution gives every expectation exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SessionFigures:
    """Expected outcomes of one session."""

    patients_seen: float
    seen_in_session: float
    waiting_minutes: float
    idle_minutes: float
    overtime_minutes: float
    overtime_probability: float
    waiting_by_group: dict[str, float] = field(default_factory=dict)
    arrivals_by_group: dict[str, float] = field(default_factory=dict)

    def mean_wait_by_group(self) -> dict[str, float]:
        """Expected waiting minutes per arriving patient, by group."""
        return {
            g: self.waiting_by_group[g] / self.arrivals_by_group[g]
            for g in self.waiting_by_group
            if self.arrivals_by_group[g] > 0
        }


def arrival_pmf(probabilities: Sequence[float]) -> np.ndarray:
    """The Poisson-binomial distribution of how many of these patients arrive."""
    pmf = np.ones(1)
    for p in probabilities:
        pmf = np.convolve(pmf, [1.0 - p, p])
    return pmf


def arrival_pmfs(slots: Sequence[Sequence[float]]) -> np.ndarray:
    """Each slot's `arrival_pmf`, one row per slot, zero-padded to the longest slot plus one.

    The slots are convolved together, one booked patient position at a time: a slot has a patient
    or two, and a loop over slots cost more than the arithmetic."""
    most = max((len(s) for s in slots), default=0)
    out = np.zeros((len(slots), most + 1))
    out[:, 0] = 1.0
    for j in range(most):
        p = np.array([s[j] if j < len(s) else 0.0 for s in slots])[:, None]
        arrived = out[:, :-1] * p
        out *= 1.0 - p
        out[:, 1:] += arrived
    return out


def backlog_dynamics(pmfs: np.ndarray, overtime_bound_slots: float = 0.0) -> tuple[np.ndarray, ...]:
    """Run the DP for C candidate sessions at once.

    `pmfs` has shape (C, S, K): the arrival distribution of each slot of each candidate. Returns
    E[backlog before slot t] (C, S), P(slot t idle) (C, S), E[final backlog] (C,) and
    P(final backlog > overtime_bound_slots) (C,).
    """
    candidates, slots, width = pmfs.shape
    size = slots * (width - 1) + 2
    backlog = np.zeros((candidates, size))
    backlog[:, 0] = 1.0
    levels = np.arange(size)
    mean_backlog = np.empty((candidates, slots))
    idle = np.empty((candidates, slots))
    for t in range(slots):
        mean_backlog[:, t] = backlog @ levels
        queue = np.zeros((candidates, size))
        for k in range(width):
            weight = pmfs[:, t, k : k + 1]
            if k == 0:
                queue += weight * backlog
            else:
                queue[:, k:] += weight * backlog[:, :-k]
        idle[:, t] = queue[:, 0]
        backlog = np.zeros((candidates, size))
        backlog[:, 0] = queue[:, 0] + queue[:, 1]
        backlog[:, 1:-1] = queue[:, 2:]
    final_mean = backlog @ levels
    over = backlog[:, levels > overtime_bound_slots].sum(axis=1)
    return mean_backlog, idle, final_mean, over


def evaluate_session(
    slots: Sequence[Sequence[float]],
    slot_minutes: float,
    groups: Sequence[Sequence[str | None]] | None = None,
    overtime_bound_minutes: float = 0.0,
) -> SessionFigures:
    """Exact expected figures for a session; `groups` labels each patient (None: unlabelled)."""
    if not slots:
        raise ValueError("a session needs at least one slot")
    pmfs = arrival_pmfs(slots)[None]
    mean_backlog, idle, final_mean, over = backlog_dynamics(pmfs, overtime_bound_minutes / slot_minutes)
    return figures_from_backlog(
        slots, slot_minutes, groups, mean_backlog[0], idle[0], float(final_mean[0]), float(over[0])
    )


def figures_from_backlog(
    slots: Sequence[Sequence[float]],
    slot_minutes: float,
    groups: Sequence[Sequence[str | None]] | None,
    mean_backlog: np.ndarray,
    idle: np.ndarray,
    final_mean: float,
    over: float,
) -> SessionFigures:
    """A session's figures from its expected backlog before each slot and its idle probabilities."""
    waiting_by_group: dict[str, float] = {}
    arrivals_by_group: dict[str, float] = {}
    waiting = 0.0
    arrivals = 0.0
    for t, probabilities in enumerate(slots):
        total = float(sum(probabilities))
        backlog = float(mean_backlog[t])
        arrivals += total
        for i, p in enumerate(probabilities):
            # Ahead of patient i: the backlog, and on average half the others arriving with them.
            wait = p * slot_minutes * (backlog + (total - p) / 2.0)
            waiting += wait
            group = groups[t][i] if groups is not None else None
            if group is not None:
                waiting_by_group[group] = waiting_by_group.get(group, 0.0) + wait
                arrivals_by_group[group] = arrivals_by_group.get(group, 0.0) + p
    return SessionFigures(
        patients_seen=arrivals,
        seen_in_session=arrivals - float(final_mean),
        waiting_minutes=float(waiting),
        idle_minutes=float(idle.sum()) * slot_minutes,
        overtime_minutes=float(final_mean) * slot_minutes,
        overtime_probability=float(over),
        waiting_by_group=waiting_by_group,
        arrivals_by_group=arrivals_by_group,
    )
