"""Timely filing: each claim's deadline from its payer's window, the days left, and how the worklist
weighs dollars at risk by them.

A payer refuses a claim filed more than its window of days after the service date. Until a claim is
accepted, the clock runs: for claims still to be filed (open, fixed, or rejected at the front end)
the list flags those past their deadline and those within the warning window, and ranks the latter
first by doubling (by default) their dollars at risk. A claim past its deadline is flagged but not
weighted: only proof of timely filing saves it, and speed no longer does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from data.epoch import epoch_day

UNFILED = ("open", "fixed", "rejected")  # statuses whose filing clock still runs
PAST, NEAR = "past deadline", "due soon"


def filing_deadline(service_date: date, window_days: int | None) -> date | None:
    """The last day a payer takes the claim (None when its payer has no window on file)."""
    return None if window_days is None else service_date + timedelta(days=window_days)


@dataclass(frozen=True)
class DeadlinePolicy:
    """The warning window and the weight of a claim due within it."""

    warning_days: int = 14
    urgency_weight: float = 2.0
    today: date | None = None  # None: the day it is asked

    def on(self, today: date) -> DeadlinePolicy:
        """The policy as of a day."""
        return DeadlinePolicy(self.warning_days, self.urgency_weight, today)

    @property
    def day(self) -> int:
        """Today's day number."""
        return int(epoch_day(self.today or date.today()))

    def days_left(self, deadline: date | None) -> int | None:
        """Days from today to the deadline (negative once past it)."""
        return None if deadline is None else (deadline - (self.today or date.today())).days

    def flag(self, deadline: date | None, status: str) -> str:
        """PAST, NEAR or "" (not yet due, already filed, or no deadline on file)."""
        left = self.days_left(deadline)
        if left is None or status not in UNFILED:
            return ""
        return PAST if left < 0 else NEAR if left <= self.warning_days else ""

    def weight(self, deadline: date | None, status: str) -> float:
        """What the claim's dollars at risk are multiplied by in the default ranking."""
        return self.urgency_weight if self.flag(deadline, status) == NEAR else 1.0

    def describe(self) -> str:
        """The ranking in a sentence, for the page."""
        return (
            f"Ranked by dollars at risk, times {self.urgency_weight:g} for claims still to be filed "
            f"whose payer's filing deadline is within {self.warning_days} days; claims past their "
            "deadline are flagged, not weighted (only proof of timely filing saves them)."
        )
