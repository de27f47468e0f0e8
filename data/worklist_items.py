"""A claim on the biller's worklist, with its latest score and status (kept by data/stores/worklist.py)."""

from __future__ import annotations

from dataclasses import dataclass

from data.schemas import Claim

STATUSES = ("open", "fixed", "submitted")


@dataclass(frozen=True)
class WorkItem:
    """One claim on the worklist, with its latest score."""

    handle: int
    claim: Claim
    status: str
    probability: float
    expected_payment: float
    dollars_at_risk: float
    top_reason: str | None
    model_version: str | None


@dataclass(frozen=True)
class ItemScore:
    """What a scoring of one claim gives the list."""

    probability: float
    expected_payment: float
    dollars_at_risk: float
    top_reason: str | None
