"""Exact linear figures of a session and of every variant that changes one slot's arrivals.

A figure here is linear in the backlog: the sum over slots t of alpha[t] E[backlog before t] and
beta[t] P(slot t idle), plus E[terminal(backlog after the last slot)]. Expected waiting, idle and
overtime cost, P(overtime beyond a bound) and each group's waiting all have that form.

The backlog is a Markov chain over slots: with b waiting and a arriving, max(b + a - 1, 0) wait
for the next slot. One forward pass gives the backlog distribution before each slot; one backward
pass gives, for each slot, the expected rest of each figure from each backlog level. A variant
that changes slot t's arrivals leaves the distribution before t and the expectations after t as
they were, so all S variants are evaluated together from the two passes, where a dynamic program
per variant would cost S times as much. Levels stop at the largest reachable backlog, so the
transition matrices stay small and the figures stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np


@dataclass(frozen=True)
class Figures:
    """K figures of the session, and of each one-slot variant: `variants[k, t]`."""

    session: np.ndarray
    variants: np.ndarray


@cache
def _moves(width: int, levels: int) -> np.ndarray:
    """(W, N * N): 1 where a arrivals take backlog b to max(b + a - 1, 0), flattened over (b, b')."""
    moves = np.zeros((width, levels, levels))
    for arrivals in range(width):
        targets = np.minimum(np.maximum(np.arange(levels) + arrivals - 1, 0), levels - 1)
        moves[arrivals, np.arange(levels), targets] = 1.0
    moves.flags.writeable = False
    return moves.reshape(width, levels * levels)


def _transitions(pmfs: np.ndarray, levels: int) -> np.ndarray:
    """(S, N, N): P(backlog b' before slot t + 1 | backlog b before slot t)."""
    return (pmfs @ _moves(pmfs.shape[1], levels)).reshape(len(pmfs), levels, levels)


class SessionPasses:
    """The forward and backward passes of one session, kept current as its slots change one by one.

    `pmfs` (S, W) and `variant_pmfs` (S, W') hold each slot's arrival distribution in the session
    and in variant t, which changes slot t only (W' may exceed W); variant t also adds
    `variant_alpha` to `alphas[:, t]`. `alphas`, `betas` are (K, S); `terminal` (K, N) is over
    backlog levels 0..N-1, where N must exceed any backlog reachable in any state to come.
    """

    def __init__(
        self,
        pmfs: np.ndarray,
        variant_pmfs: np.ndarray,
        alphas: np.ndarray,
        betas: np.ndarray,
        terminal: np.ndarray,
        variant_alpha: np.ndarray,
    ) -> None:
        self.pmfs, self.variant_pmfs = pmfs.copy(), variant_pmfs.copy()
        self.alphas, self.betas, self.terminal = alphas.copy(), betas, terminal
        self.variant_alpha = variant_alpha
        slots, levels = len(pmfs), terminal.shape[1]
        self.level = np.arange(levels, dtype=np.float64)
        self.steps = _transitions(self.pmfs, levels)
        self.variant_steps = _transitions(self.variant_pmfs, levels)
        self.own = self._own(np.arange(slots))
        self.forward = np.zeros((slots + 1, levels))
        self.forward[0, 0] = 1.0
        # rest[:, t] = expected figure from slot t + 1 on, per backlog level before slot t + 1.
        self.rest = np.empty((len(alphas), slots, levels))
        self.rest[:, slots - 1] = terminal
        self._forward_from(0)
        self._backward_from(slots - 1)

    def _own(self, slots: np.ndarray) -> np.ndarray:
        at_zero = (self.betas[:, slots] * self.pmfs[slots, 0])[:, :, None] * (self.level == 0)
        return self.alphas[:, slots, None] * self.level + at_zero

    def _forward_from(self, start: int) -> None:
        for t in range(start, len(self.pmfs)):
            self.forward[t + 1] = self.forward[t] @ self.steps[t]

    def _backward_from(self, start: int) -> None:
        for t in range(start, 0, -1):
            self.rest[:, t - 1] = self.own[:, t] + self.rest[:, t] @ self.steps[t].T

    def change(self, slot: int, pmf: np.ndarray, variant_pmf: np.ndarray, alpha: np.ndarray) -> None:
        """Slot `slot` now has these arrivals (and this variant of them) and these alphas."""
        self.pmfs[slot], self.variant_pmfs[slot], self.alphas[:, slot] = pmf, variant_pmf, alpha
        levels = len(self.level)
        self.steps[slot] = _transitions(self.pmfs[slot : slot + 1], levels)[0]
        self.variant_steps[slot] = _transitions(self.variant_pmfs[slot : slot + 1], levels)[0]
        self.own[:, slot] = self._own(np.array([slot]))[:, 0]
        self._forward_from(slot)  # what comes before the slot is as it was
        self._backward_from(slot)  # and so is what comes after it

    def backlog(self, overtime_bound_slots: float) -> tuple[np.ndarray, np.ndarray, float, float]:
        """As `session.backlog_dynamics` for the session as it stands, read off the forward pass."""
        forward = self.forward
        final = forward[len(self.pmfs)]
        over = float(final[self.level > overtime_bound_slots].sum())
        return forward[:-1] @ self.level, forward[:-1, 0] * self.pmfs[:, 0], float(final @ self.level), over

    def figures(self) -> Figures:
        """The K figures of the session and of each of its one-slot variants."""
        slots = len(self.pmfs)
        forward, alphas, betas = self.forward, self.alphas, self.betas
        mean = forward[:-1] @ self.level
        before = np.zeros((len(alphas), slots + 1))
        np.cumsum(alphas * mean + betas * forward[:-1, 0] * self.pmfs[:, 0], axis=1, out=before[:, 1:])
        session = before[:, slots] + self.terminal @ forward[slots]
        reached = (forward[:-1, None, :] @ self.variant_steps)[:, 0, :]  # backlog before t + 1
        later = (self.rest * reached).sum(axis=2)
        idle = betas * forward[:-1, 0] * self.variant_pmfs[:, 0]
        own = (alphas + self.variant_alpha[:, None]) * mean
        return Figures(session, before[:, :-1] + own + idle + later)
