"""Point-in-time patient history and clinic load: only what was known `horizon` days before a visit.

A prediction for an appointment on day D is made at the end of day D - H (H = horizon_days), or
when the appointment is booked if that is later. It may use outcomes of visits on days up to D - H,
and bookings made before the prediction time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.appointment_store import AppointmentStore, PatientRows
from data.schemas import Appointment
from features.columns import SECONDS_PER_DAY, as_seconds

HISTORY_FEATURES = (
    "clinic_prior_no_show_rate",
    "prior_visits",
    "prior_no_shows",
    "prior_no_show_rate",
    "last_outcome_no_show",
    "days_since_last_visit",
    "same_day_visits",
    "upcoming_visits_7d",
    "clinic_day_load",
)
UPCOMING_WINDOW_DAYS = 7


def day_number(seconds: np.ndarray) -> np.ndarray:
    """Whole days since the epoch for epoch seconds."""
    return np.floor(seconds / SECONDS_PER_DAY)


def prediction_time(
    day: np.ndarray | float, booked: np.ndarray | float, horizon_days: int
) -> np.ndarray | float:
    """Epoch seconds when a prediction for day D is made: end of day D - H, or the booking if later."""
    return np.maximum((day - horizon_days + 1) * SECONDS_PER_DAY, booked)


@dataclass(frozen=True)
class HistoryParams:
    """How history is read: the horizon, and the prior that smooths a patient's no-show rate."""

    horizon_days: int = 1
    prior_rate: float = 0.2
    prior_weight: float = 2.0
    clinic_prior_weight: float = 20.0

    def __post_init__(self) -> None:
        if self.horizon_days < 1:
            raise ValueError("horizon_days must be at least 1: outcomes of the visit day are never known")


def patient_history(
    params: HistoryParams,
    target_days: np.ndarray,
    target_booked: np.ndarray,
    target_ids: np.ndarray,
    days: np.ndarray,
    booked: np.ndarray,
    outcome: np.ndarray,
    ids: np.ndarray,
) -> np.ndarray:
    """History features of one patient's target appointments from that patient's appointments.

    `days`, `booked`, `outcome` and `ids` describe every appointment of the patient that the store
    or table holds (cancelled ones excluded); `outcome` is 1 for a no-show, 0 for attended and NaN
    while unknown. Returns one row per target: the seven patient features of HISTORY_FEATURES.
    This is the one definition used offline and online.
    """
    out = np.empty((len(target_days), 7))
    order = np.lexsort((booked, days))
    days, booked, outcome, ids = days[order], booked[order], outcome[order], ids[order]
    has_outcome = ~np.isnan(outcome)
    for row, (day, target_booked_at, target_id) in enumerate(
        zip(target_days, target_booked, target_ids, strict=True)
    ):
        known = has_outcome & (days <= day - params.horizon_days)
        visits = known.sum()
        no_shows = outcome[known].sum() if visits else 0.0
        booked_by_then = booked < prediction_time(day, target_booked_at, params.horizon_days)
        others = ids != target_id
        if visits:
            last = np.flatnonzero(known)[-1]
            last_outcome, since_last = outcome[last], day - days[last]
        else:
            last_outcome, since_last = np.nan, np.nan
        out[row] = (
            visits,
            no_shows,
            (no_shows + params.prior_weight * params.prior_rate) / (visits + params.prior_weight),
            last_outcome,
            since_last,
            (booked_by_then & others & (days == day)).sum(),
            (booked_by_then & (days > day) & (days <= day + UPCOMING_WINDOW_DAYS)).sum(),
        )
    return out


def clinic_day_load(
    params: HistoryParams, day: float, target_booked: float, booked_that_day: np.ndarray
) -> float:
    """Appointments at a clinic on `day` that were booked by the prediction time."""
    return float((booked_that_day < prediction_time(day, target_booked, params.horizon_days)).sum())


def clinic_rate(params: HistoryParams, no_shows: float, visits: float) -> float:
    """A clinic's no-show rate from its known outcomes, smoothed toward the overall rate."""
    return (no_shows + params.clinic_prior_weight * params.prior_rate) / (visits + params.clinic_prior_weight)


def add_history(frame: pd.DataFrame, params: HistoryParams) -> pd.DataFrame:
    """The table with HISTORY_FEATURES added, each computed only from what the table knew in time.

    Rows with a known `no_show` are history for later rows; every row gets features. Rows whose
    outcome is unknown still count as bookings.
    """
    out = frame.copy()
    starts = as_seconds(frame["starts_at"].to_numpy())
    booked = as_seconds(frame["booked_at"].to_numpy())
    days = day_number(starts)
    outcome = frame["no_show"].to_numpy(dtype=np.float64, na_value=np.nan)
    ids = frame["appointment_id"].to_numpy()
    values = np.empty((len(frame), len(HISTORY_FEATURES)))

    patients = frame["patient_id"].to_numpy()
    order = np.argsort(patients, kind="stable")
    boundaries = np.flatnonzero(patients[order][1:] != patients[order][:-1]) + 1
    for rows in np.split(order, boundaries):
        values[rows, 1:8] = patient_history(
            params, days[rows], booked[rows], ids[rows], days[rows], booked[rows], outcome[rows], ids[rows]
        )

    clinics = frame["clinic_id"].astype(str).to_numpy(dtype=object)
    clinic_days = pd.DataFrame({"clinic": clinics, "day": days})
    for rows in clinic_days.groupby(["clinic", "day"], sort=False).indices.values():
        for row in rows:
            values[row, 8] = clinic_day_load(params, days[row], booked[row], booked[rows])

    # A clinic's outcomes known by day D - H: cumulative counts over its earlier days.
    known = ~np.isnan(outcome)
    daily = (
        pd.DataFrame({"clinic": clinics[known], "day": days[known], "no_show": outcome[known]})
        .groupby(["clinic", "day"])["no_show"]
        .agg(["sum", "count"])
        .groupby(level="clinic")
        .cumsum()
        .reset_index()
        .sort_values("day")
    )
    targets = pd.DataFrame(
        {"clinic": clinics, "day": days - params.horizon_days, "row": np.arange(len(frame))}
    )
    targets["clinic"] = targets["clinic"].astype(object)
    daily["clinic"] = daily["clinic"].astype(object)
    matched = pd.merge_asof(targets.sort_values("day"), daily, on="day", by="clinic", direction="backward")
    matched = matched.sort_values("row")
    values[:, 0] = [
        clinic_rate(params, s, c)
        for s, c in zip(matched["sum"].fillna(0), matched["count"].fillna(0), strict=True)
    ]

    for index, name in enumerate(HISTORY_FEATURES):
        out[name] = values[:, index]
    return out


def online_history(
    store: AppointmentStore, records: Sequence[Appointment], params: HistoryParams
) -> dict[str, np.ndarray]:
    """HISTORY_FEATURES for records from the store: the same definitions as `add_history`.

    The records' own bookings must already be in the store, as they are in a table offline.
    """
    starts = np.array([record.starts_at for record in records], dtype="datetime64[s]")
    days = day_number(starts.astype(np.int64).astype(np.float64))
    ids = np.array([record.appointment_id for record in records], dtype=object)
    values = np.empty((len(records), len(HISTORY_FEATURES)))
    by_patient: dict[str, list[int]] = defaultdict(list)
    for row, record in enumerate(records):
        by_patient[record.patient_id].append(row)
    booked = np.array([record.booked_at for record in records], dtype="datetime64[s]")
    booked = booked.astype(np.int64).astype(np.float64)
    stored = store.patient_rows(by_patient)
    empty = PatientRows(np.empty(0), np.empty(0), np.empty(0), np.empty(0, dtype=object))
    for patient_id, rows in by_patient.items():
        known = stored.get(patient_id, empty)
        values[rows, 1:8] = patient_history(
            params, days[rows], booked[rows], ids[rows], known.days, known.booked, known.outcome, known.ids
        )
    keys = [(record.clinic_id, int(day)) for record, day in zip(records, days, strict=True)]
    bookings = store.clinic_day_bookings(keys)
    outcomes = store.clinic_outcomes([(clinic, day - params.horizon_days) for clinic, day in keys])
    for row, (clinic, day) in enumerate(keys):
        values[row, 8] = clinic_day_load(params, days[row], booked[row], bookings[(clinic, day)])
        values[row, 0] = clinic_rate(params, *outcomes[(clinic, day - params.horizon_days)])
    return {name: values[:, index] for index, name in enumerate(HISTORY_FEATURES)}
