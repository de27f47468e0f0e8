"""Overbooking recommendations: add bookings where the marginal expected net value is largest.

Net value = visit value x patients seen - waiting, idle and overtime costs (LaGanga & Lawrence),
each expectation exact from the session model. Overbooks are added one at a time while the best
one still adds value and the limits hold (Muthuraman & Lawley). With fairness "equal_wait", a
placement may not push the gap in expected wait between patient groups past a tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from models.decisions.session import SessionFigures, _pmf_matrix, backlog_dynamics, evaluate_session

Fairness = Literal["none", "equal_wait"]


@dataclass(frozen=True)
class Costs:
    """Money per visit seen and per minute of patient waiting, clinic idle time and overtime."""

    visit_value: float = 100.0
    wait_per_minute: float = 0.5
    idle_per_minute: float = 2.0
    overtime_per_minute: float = 8.0

    def net_value(self, figures: SessionFigures) -> float:
        """Expected net value of a session."""
        return (
            self.visit_value * figures.patients_seen
            - self.wait_per_minute * figures.waiting_minutes
            - self.idle_per_minute * figures.idle_minutes
            - self.overtime_per_minute * figures.overtime_minutes
        )


@dataclass(frozen=True)
class Limits:
    """How far overbooking may go."""

    max_per_slot: int = 1
    max_per_session: int | None = None
    overtime_bound_minutes: float = 30.0
    max_overtime_probability: float | None = None


@dataclass
class Recommendation:
    """Where to add bookings, and the session's figures before and after."""

    overbooks: list[int]
    before: SessionFigures
    after: SessionFigures
    net_value_before: float
    net_value_after: float
    overbook_show_probability: float
    placements: list[int] = field(default_factory=list)


def _group_sums(slots: Sequence[Sequence[float]], groups: Sequence[Sequence[str | None]] | None):
    names = sorted({g for slot in groups for g in slot if g is not None}) if groups else []
    g_sum = np.zeros((len(names), len(slots)))
    g_sq = np.zeros((len(names), len(slots)))
    for t, probabilities in enumerate(slots):
        for i, p in enumerate(probabilities):
            group = groups[t][i] if groups else None
            if group is not None:
                g_sum[names.index(group), t] += p
                g_sq[names.index(group), t] += p * p
    return names, g_sum, g_sq


def recommend(
    slots: Sequence[Sequence[float]],
    slot_minutes: float,
    costs: Costs | None = None,
    limits: Limits | None = None,
    overbook_show_probability: float | None = None,
    groups: Sequence[Sequence[str | None]] | None = None,
    fairness: Fairness = "none",
    wait_gap_tolerance_minutes: float = 1.0,
) -> Recommendation:
    """Greedy overbooking on exact expectations; `slots` holds each slot's show probabilities."""
    costs, limits = costs or Costs(), limits or Limits()
    booked = [list(map(float, s)) for s in slots]
    if not booked:
        raise ValueError("a session needs at least one slot")
    everyone = [p for s in booked for p in s]
    p_new = (
        overbook_show_probability
        if overbook_show_probability is not None
        else (float(np.mean(everyone)) if everyone else 0.8)
    )
    cap = limits.max_per_session if limits.max_per_session is not None else len(booked)
    bound_slots = limits.overtime_bound_minutes / slot_minutes
    names, g_sum, g_sq = _group_sums(booked, groups if fairness == "equal_wait" else None)
    g_arrivals = g_sum.sum(axis=1)

    def gap(mean_backlog: np.ndarray, totals: np.ndarray) -> np.ndarray:
        if len(names) < 2:
            return np.zeros(mean_backlog.shape[0])
        waits = g_sum[None] * mean_backlog[:, None, :] + (g_sum[None] * totals[:, None, :] - g_sq[None]) / 2
        mean_wait = slot_minutes * waits.sum(axis=2) / np.maximum(g_arrivals[None], 1e-12)
        return mean_wait.max(axis=1) - mean_wait.min(axis=1)

    overbooks = [0] * len(booked)
    placements: list[int] = []
    current = [list(s) for s in booked]

    def value_of(pmfs: np.ndarray, sums: np.ndarray, squares: np.ndarray) -> tuple[np.ndarray, ...]:
        mean_backlog, idle, final_mean, over = backlog_dynamics(pmfs, bound_slots)
        waiting = slot_minutes * (sums * mean_backlog + (sums * sums - squares) / 2).sum(axis=1)
        value = (
            costs.visit_value * sums.sum(axis=1)
            - costs.wait_per_minute * waiting
            - costs.idle_per_minute * slot_minutes * idle.sum(axis=1)
            - costs.overtime_per_minute * slot_minutes * final_mean
        )
        return value, over, gap(mean_backlog, sums)

    base_pmf = _pmf_matrix(current)
    sums = np.array([[sum(s) for s in current]])
    squares = np.array([[sum(p * p for p in s) for s in current]])
    value_now, _, gap_now = value_of(base_pmf[None], sums, squares)
    while len(placements) < cap:
        open_slots = [t for t in range(len(current)) if overbooks[t] < limits.max_per_slot]
        if not open_slots:
            break
        width = max(len(s) for s in current) + 2
        pmfs = np.zeros((len(open_slots), len(current), width))
        pmfs[:, :, : base_pmf.shape[1]] = base_pmf
        cand_sums = np.repeat(sums, len(open_slots), axis=0)
        cand_squares = np.repeat(squares, len(open_slots), axis=0)
        for c, t in enumerate(open_slots):
            extended = np.convolve(base_pmf[t], [1 - p_new, p_new])
            pmfs[c, t, : len(extended)] = extended
            cand_sums[c, t] += p_new
            cand_squares[c, t] += p_new * p_new
        values, over, gaps = value_of(pmfs, cand_sums, cand_squares)
        feasible = values - value_now[0] > 1e-9
        if limits.max_overtime_probability is not None:
            feasible &= over <= limits.max_overtime_probability
        if fairness == "equal_wait":
            feasible &= gaps <= max(wait_gap_tolerance_minutes, gap_now[0]) + 1e-12
        if not feasible.any():
            break
        best = int(np.argmax(np.where(feasible, values, -np.inf)))
        t = open_slots[best]
        current[t].append(p_new)
        overbooks[t] += 1
        placements.append(t)
        base_pmf = _pmf_matrix(current)
        sums, squares = cand_sums[best : best + 1], cand_squares[best : best + 1]
        value_now, gap_now = values[best : best + 1], gaps[best : best + 1]

    group_labels = None
    if groups is not None:
        group_labels = [list(groups[t]) + [None] * overbooks[t] for t in range(len(booked))]
    before = evaluate_session(booked, slot_minutes, groups, limits.overtime_bound_minutes)
    after = evaluate_session(current, slot_minutes, group_labels, limits.overtime_bound_minutes)
    return Recommendation(
        overbooks=overbooks,
        before=before,
        after=after,
        net_value_before=costs.net_value(before),
        net_value_after=costs.net_value(after),
        overbook_show_probability=p_new,
        placements=placements,
    )
