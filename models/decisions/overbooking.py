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

from models.decisions.session import SessionFigures, arrival_pmfs, figures_from_backlog
from models.decisions.variants import SessionPasses

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


def _one_more(rows: np.ndarray, p_new: float) -> np.ndarray:
    """Arrival distributions with one more booking that comes with probability `p_new`."""
    out = np.zeros((len(rows), rows.shape[1] + 1))
    out[:, :-1] += (1 - p_new) * rows
    out[:, 1:] += p_new * rows
    return out


@dataclass(frozen=True)
class _GroupWaits:
    """The patient groups' sums of show probabilities per slot, for their mean waits."""

    names: list[str]
    g_sum: np.ndarray
    g_sq: np.ndarray
    slot_minutes: float

    def gap(self, backlog_ahead: np.ndarray, totals: np.ndarray) -> np.ndarray:
        """Largest minus smallest mean wait across groups: (groups, C) ahead, (C, S) slot totals."""
        if len(self.names) < 2:
            return np.zeros(backlog_ahead.shape[1])
        g_arrivals = np.maximum(self.g_sum.sum(axis=1), 1e-12)
        among = (totals @ self.g_sum.T).T - self.g_sq.sum(axis=1, keepdims=True)  # others alongside
        mean_wait = self.slot_minutes * (backlog_ahead + among / 2) / g_arrivals[:, None]
        return mean_wait.max(axis=0) - mean_wait.min(axis=0)


def _passes(
    booked: list[list[float]],
    width: int,
    p_new: float,
    cap: int,
    bound_slots: float,
    costs: Costs,
    slot_minutes: float,
    waits: _GroupWaits,
) -> tuple[SessionPasses, np.ndarray, np.ndarray]:
    """The session's forward and backward passes, with the arrival distributions and the per-slot
    figure coefficients (`alphas`) that placements update."""
    slots = len(booked)
    # Arrival distributions, wide enough for every overbook to come, and each slot's variant with
    # one more overbook; backlog levels up to the most that any of them can reach.
    pmfs = np.zeros((slots, width))
    pmfs[:, : max(len(s) for s in booked) + 1] = arrival_pmfs(booked)
    levels = np.arange(sum(max(len(s) - 1, 0) for s in booked) + cap + 3)
    # Figures: 0 the cost (waiting, idle, overtime), 1 P(overtime beyond the bound), 2.. each
    # group's expected backlog ahead of its patients; all linear in the backlog (see variants.py).
    terminal = np.vstack(
        [
            costs.overtime_per_minute * slot_minutes * levels,
            levels > bound_slots,
            np.zeros((len(waits.names), len(levels))),
        ]
    )
    betas = np.zeros((len(terminal), slots))
    betas[0] = costs.idle_per_minute * slot_minutes
    waiting_cost = costs.wait_per_minute * slot_minutes
    sums = np.array([sum(s) for s in booked])
    alphas = np.vstack([waiting_cost * sums, np.zeros(slots), waits.g_sum])
    variant_alpha = np.zeros(len(terminal))
    variant_alpha[0] = waiting_cost * p_new
    passes = SessionPasses(pmfs, _one_more(pmfs, p_new), alphas, betas, terminal, variant_alpha)
    return passes, pmfs, alphas


def _result(
    booked: list[list[float]],
    current: list[list[float]],
    groups: Sequence[Sequence[str | None]] | None,
    overbooks: list[int],
    placements: list[int],
    slot_minutes: float,
    costs: Costs,
    p_new: float,
    before_backlog: tuple,
    after_backlog: tuple,
) -> Recommendation:
    """The recommendation, with the session's figures before the first placement and after the last
    (from the backlogs the passes already hold)."""
    group_labels = None
    if groups is not None:
        group_labels = [list(groups[t]) + [None] * overbooks[t] for t in range(len(booked))]
    # The passes already hold each slot's backlog, before the first placement and after the last.
    before = figures_from_backlog(booked, slot_minutes, groups, *before_backlog)
    after = figures_from_backlog(current, slot_minutes, group_labels, *after_backlog)
    return Recommendation(
        overbooks=overbooks,
        before=before,
        after=after,
        net_value_before=costs.net_value(before),
        net_value_after=costs.net_value(after),
        overbook_show_probability=p_new,
        placements=placements,
    )


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
    bound_slots = limits.overtime_bound_minutes / slot_minutes
    waits = _GroupWaits(*_group_sums(booked, groups if fairness == "equal_wait" else None), slot_minutes)
    waiting_cost = costs.wait_per_minute * slot_minutes
    overbooks = [0] * len(booked)
    placements: list[int] = []
    current = [list(s) for s in booked]
    sums = np.array([sum(s) for s in current])
    squares = np.array([sum(p * p for p in s) for s in current])
    slots = len(booked)
    cap = min(
        slots if limits.max_per_session is None else limits.max_per_session, slots * limits.max_per_slot
    )
    width = max(len(s) for s in booked) + limits.max_per_slot + 1
    passes, pmfs, alphas = _passes(booked, width, p_new, cap, bound_slots, costs, slot_minutes, waits)
    before_backlog = passes.backlog(bound_slots)
    while len(placements) < cap:
        figures = passes.figures()
        alongside = waiting_cost * (sums * sums - squares).sum() / 2
        value_now = costs.visit_value * sums.sum() - figures.session[0] - alongside
        # An overbook at t adds p_new x sums[t] to the waiting among those arriving together.
        values = (
            costs.visit_value * (sums.sum() + p_new)
            - figures.variants[0]
            - (alongside + waiting_cost * p_new * sums)
        )
        feasible = np.array([n < limits.max_per_slot for n in overbooks])
        feasible &= values - value_now > 1e-9
        if limits.max_overtime_probability is not None:
            feasible &= figures.variants[1] <= limits.max_overtime_probability
        if fairness == "equal_wait":
            gap_now = waits.gap(figures.session[2:, None], sums[None])[0]
            candidates = np.repeat(sums[None], slots, axis=0) + p_new * np.eye(slots)
            gaps = waits.gap(figures.variants[2:], candidates)
            feasible &= gaps <= max(wait_gap_tolerance_minutes, gap_now) + 1e-12
        if not feasible.any():
            break
        t = int(np.argmax(np.where(feasible, values, -np.inf)))
        current[t].append(p_new)
        overbooks[t] += 1
        placements.append(t)
        sums[t] += p_new
        squares[t] += p_new * p_new
        alphas[0, t] = waiting_cost * sums[t]
        pmfs[t] = passes.variant_pmfs[t, :width]  # the variant just placed is the slot now
        passes.change(t, pmfs[t], _one_more(pmfs[t : t + 1], p_new)[0], alphas[:, t])

    after_backlog = passes.backlog(bound_slots)
    return _result(booked, current, groups, overbooks, placements, slot_minutes, costs, p_new,
                   before_backlog, after_backlog)  # fmt: skip
