"""How a synthetic claim is denied: independent mechanisms, the exact probabilities they imply (the
generator's truth, which models never see) and the outcomes drawn from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from data.schemas import DenialCategory

CATEGORIES = tuple(DenialCategory)


@dataclass(frozen=True)
class Mechanism:
    """A way the claim can be denied: its hazard, its category (None: the payer's unexplained denial,
    whose category is drawn from the payer type's shares) and the lines it denies (None: all of them)."""

    hazard: float
    category: DenialCategory | None
    lines: tuple[int, ...] | None = None

    def covers(self, line: int) -> bool:
        """Whether this mechanism, when it fires, denies `line`."""
        return self.lines is None or line in self.lines


@dataclass(frozen=True)
class Truth:
    """What the claim's observables say: P(claim denied), P(each line denied), the likeliest categories."""

    claim_probability: float
    line_probabilities: list[float]
    category: DenialCategory
    line_categories: list[DenialCategory]


def exact_truth(mechanisms: list[Mechanism], charges: list[float], base_shares: np.ndarray) -> Truth:
    """Exact probabilities under independent mechanisms.

    A claim is denied when every line is; its category is the one reported on its largest line (the
    835 rule: the largest adjustment), which is the strongest mechanism that fired on that line.
    """
    n = len(charges)
    whole = [m for m in mechanisms if m.lines is None]
    claim_survive = float(np.prod([1 - m.hazard for m in whole]))
    line_hit = [
        1 - float(np.prod([1 - m.hazard for m in mechanisms if m.lines and line in m.lines]))
        for line in range(n)
    ]
    top = int(np.argmax(charges))
    others_all_hit = float(np.prod([line_hit[k] for k in range(n) if k != top]))

    def needs_the_rest(index: int, m: Mechanism) -> float:
        # A line rule denies the top line; the claim also needs every other line denied.
        if m.lines is None:
            return 1.0
        later_whole = float(np.prod([1 - w.hazard for w in mechanisms[index + 1 :] if w.lines is None]))
        return 1 - later_whole * (1 - others_all_hit)

    share = _reported_shares(mechanisms, top, base_shares, needs_the_rest)
    return Truth(
        claim_probability=1 - claim_survive * (1 - float(np.prod(line_hit))),
        line_probabilities=[1 - claim_survive * (1 - h) for h in line_hit],
        category=max(CATEGORIES, key=lambda c: share[c]),
        line_categories=[_likeliest_line_category(mechanisms, line, base_shares) for line in range(n)],
    )


def _likeliest_line_category(
    mechanisms: list[Mechanism], line: int, base_shares: np.ndarray
) -> DenialCategory:
    """The category most likely reported on a line: the strongest mechanism that fires on it."""
    share = _reported_shares(mechanisms, line, base_shares, lambda index, m: 1.0)
    return max(CATEGORIES, key=lambda c: share[c])


def _reported_shares(
    mechanisms: list[Mechanism],
    line: int,
    base_shares: np.ndarray,
    weight: Callable[[int, Mechanism], float],
) -> dict[DenialCategory, float]:
    """P(each category is the one reported on `line`), each first-firing mechanism times `weight`.

    Mechanisms are in strength order; the first one that fires on the line is reported.
    """
    share = dict.fromkeys(CATEGORIES, 0.0)
    survive = 1.0
    for index, m in enumerate(mechanisms):
        if not m.covers(line):
            continue
        first = m.hazard * survive * weight(index, m)
        if m.category is None:
            for k, c in enumerate(CATEGORIES):
                share[c] += first * base_shares[k]
        else:
            share[m.category] += first
        survive *= 1 - m.hazard
    return share


def draw_line_outcomes(
    mechanisms: list[Mechanism], n_lines: int, base_shares: np.ndarray, rng: np.random.Generator
) -> list[DenialCategory | None]:
    """Per line, the category the payer reports (the strongest mechanism that fired on it), or None."""
    fired = []
    for m in mechanisms:
        if rng.random() < m.hazard:
            category = m.category
            if category is None:
                category = CATEGORIES[int(rng.choice(len(CATEGORIES), p=base_shares))]
            fired.append((m, category))
    return [next((c for m, c in fired if m.covers(line)), None) for line in range(n_lines)]
