"""The biller's worklist: expected dollars at risk per claim, and the ranking built on it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from data.schemas import Claim


def dollars_at_risk(
    claims: Sequence[Claim],
    claim_probability: np.ndarray,
    line_probability: Sequence[Sequence[float]] | None,
    payment_ratio: float,
) -> np.ndarray:
    """Expected payment lost per claim: each line's P(denied) x its expected payment, summed.

    Without line probabilities, the claim's P(denied) x its expected payment.
    """
    if line_probability is not None:
        at_risk = [
            sum(p * line.charge for p, line in zip(lines, claim.service_lines, strict=True))
            for lines, claim in zip(line_probability, claims, strict=True)
        ]
        return np.array(at_risk) * payment_ratio
    return claim_probability * np.array([c.total_charge for c in claims]) * payment_ratio


def rank(
    at_risk: np.ndarray,
    claim_probability: np.ndarray,
    min_probability: float,
    limit: int,
    weights: np.ndarray | None = None,
) -> list[int]:
    """Claim rows by dollars at risk (times their urgency `weights` when given), largest first, keeping
    those at or above `min_probability`; ties keep the order the claims came in."""
    order = np.argsort(-(at_risk if weights is None else at_risk * weights), kind="stable")
    return [int(i) for i in order if claim_probability[i] >= min_probability][:limit]
