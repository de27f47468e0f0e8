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
passes stay small and the figures stay exact.

The passes are loops over slots, levels and arrivals, compiled by numba: a greedy plan for a
40-slot session redoes them once per placement, and as numpy calls per slot they cost 4 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit


@dataclass(frozen=True)
class Figures:
    """K figures of the session, and of each one-slot variant: `variants[k, t]`."""

    session: np.ndarray
    variants: np.ndarray


@njit(cache=True)
def _step(backlog: np.ndarray, pmf: np.ndarray, out: np.ndarray) -> None:
    """`out` = the backlog distribution after a slot with these arrivals: with b waiting and a
    arriving, max(b + a - 1, 0) wait for the next slot (levels stop at the last one)."""
    top = len(out) - 1
    out[:] = 0.0
    for b in range(len(backlog)):
        weight = backlog[b]
        if weight != 0.0:
            for a in range(len(pmf)):
                out[min(max(b + a - 1, 0), top)] += weight * pmf[a]


@njit(cache=True)
def _forward(pmfs: np.ndarray, forward: np.ndarray, start: int) -> None:
    for t in range(start, len(pmfs)):
        _step(forward[t], pmfs[t], forward[t + 1])


@njit(cache=True)
def _backward(pmfs: np.ndarray, alphas: np.ndarray, betas: np.ndarray, rest: np.ndarray, start: int) -> None:
    """rest[k, t - 1] = slot t's own figure + E[rest[k, t] at the backlog after slot t], down to
    t = 1. Slot t's own figure, from backlog b: alphas[k, t] b, plus betas[k, t] when it is idle."""
    top = rest.shape[2] - 1
    for t in range(start, 0, -1):
        for k in range(rest.shape[0]):
            for b in range(top + 1):
                total = alphas[k, t] * b
                if b == 0:
                    total += betas[k, t] * pmfs[t, 0]
                for a in range(pmfs.shape[1]):
                    total += pmfs[t, a] * rest[k, t, min(max(b + a - 1, 0), top)]
                rest[k, t - 1, b] = total


@njit(cache=True)
def _figures(
    forward: np.ndarray,
    pmfs: np.ndarray,
    variant_pmfs: np.ndarray,
    alphas: np.ndarray,
    betas: np.ndarray,
    variant_alpha: np.ndarray,
    rest: np.ndarray,
    terminal: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The session's figures (K,) and each one-slot variant's (K, S), from the two passes."""
    figures, slots = alphas.shape
    levels = forward.shape[1]
    variants = np.empty((figures, slots))
    before = np.zeros(figures)  # each figure over the slots before t
    reached = np.empty(levels)
    for t in range(slots):
        mean = 0.0
        for b in range(levels):
            mean += b * forward[t, b]
        _step(forward[t], variant_pmfs[t], reached)  # the variant's backlog before t + 1
        for k in range(figures):
            later = 0.0
            for b in range(levels):
                later += rest[k, t, b] * reached[b]
            own = (alphas[k, t] + variant_alpha[k]) * mean + betas[k, t] * forward[t, 0] * variant_pmfs[t, 0]
            variants[k, t] = before[k] + own + later
            before[k] += alphas[k, t] * mean + betas[k, t] * forward[t, 0] * pmfs[t, 0]
    session = before.copy()
    for k in range(figures):
        for b in range(levels):
            session[k] += terminal[k, b] * forward[slots, b]
    return session, variants


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
        self.forward = np.zeros((slots + 1, levels))
        self.forward[0, 0] = 1.0
        # rest[:, t] = expected figure from slot t + 1 on, per backlog level before slot t + 1.
        self.rest = np.empty((len(alphas), slots, levels))
        self.rest[:, slots - 1] = terminal
        self._forward_from(0)
        self._backward_from(slots - 1)

    def _forward_from(self, start: int) -> None:
        _forward(self.pmfs, self.forward, start)

    def _backward_from(self, start: int) -> None:
        _backward(self.pmfs, self.alphas, self.betas, self.rest, start)

    def change(self, slot: int, pmf: np.ndarray, variant_pmf: np.ndarray, alpha: np.ndarray) -> None:
        """Slot `slot` now has these arrivals (and this variant of them) and these alphas."""
        self.pmfs[slot], self.variant_pmfs[slot], self.alphas[:, slot] = pmf, variant_pmf, alpha
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
        return Figures(
            *_figures(
                self.forward,
                self.pmfs,
                self.variant_pmfs,
                self.alphas,
                self.betas,
                self.variant_alpha,
                self.rest,
                self.terminal,
            )
        )


def compile_passes() -> None:
    """Compile the loops now (about a second, or a cache read), not on the first plan."""
    pmfs = np.array([[0.2, 0.8]])
    passes = SessionPasses(pmfs, pmfs, np.ones((1, 1)), np.ones((1, 1)), np.zeros((1, 3)), np.zeros(1))
    passes.figures()
