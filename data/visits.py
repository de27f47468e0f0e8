"""Appointments as history reads them: arrays of visits, and the booking time an unknown one is given.

The store returns these and the history features read them; neither knows the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.epoch import SECONDS_PER_DAY


@dataclass(frozen=True)
class PatientRows:
    """Appointments as arrays: day numbers of the start, booking times (epoch seconds), outcomes
    (1 no-show, 0 attended, NaN unknown) and ids."""

    days: np.ndarray
    booked: np.ndarray
    outcome: np.ndarray
    ids: np.ndarray

    @classmethod
    def empty(cls) -> PatientRows:
        """No appointments."""
        return cls(np.empty(0), np.empty(0), np.empty(0), np.empty(0, dtype=object))

    @classmethod
    def found(cls, rows: list[tuple]) -> PatientRows:
        """A patient's stored rows, as the store reads them: (start day, booking time, outcome, id)."""
        days, booked, outcome, ids = zip(*rows, strict=True)
        return cls(
            days=np.asarray(days, dtype=np.float64),
            booked=np.asarray(booked, dtype=np.float64),
            outcome=np.asarray([{"no_show": 1.0, "attended": 0.0}.get(o, np.nan) for o in outcome]),
            ids=np.asarray(ids, dtype=object),
        )

    def take(self, rows: np.ndarray | list[int]) -> PatientRows:
        """The given rows (an index array of any shape)."""
        return PatientRows(self.days[rows], self.booked[rows], self.outcome[rows], self.ids[rows])


@dataclass(frozen=True)
class StoredHistory:
    """What a score reads from the store, from one snapshot: each patient's appointments, the
    booking times of each (clinic, day), and (no-shows, known visits) of each clinic up to a day."""

    patients: dict[str, PatientRows]
    bookings: dict[tuple[str, int], np.ndarray]
    outcomes: dict[tuple[str, int], tuple[float, float]]


def assumed_booking(booked: np.ndarray, days: np.ndarray, horizon_days: int) -> np.ndarray:
    """Booking times (epoch seconds) as history reads them: an unknown one (NaN) is taken as made
    just before the visit's prediction time (the end of day D - H), as most bookings are. It then
    counts in its own day's load (its own included, as in training) and for later visits, never
    for visits predicted before it. The store keeps it so; offline history applies the same rule."""
    booked = np.asarray(booked, dtype=np.float64)
    assumed = (np.asarray(days, dtype=np.float64) - horizon_days + 1) * SECONDS_PER_DAY - 1
    return np.where(np.isnan(booked), assumed, booked)
