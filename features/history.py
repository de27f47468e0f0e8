"""Point-in-time patient history and clinic load: only what was known `horizon` days before a visit.

A prediction for an appointment on day D is made at the end of day D - H (H = horizon_days), or
when the appointment is booked if that is later. It may use outcomes of visits on days up to D - H,
and bookings made before the prediction time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numba import njit

from data.epoch import SECONDS_PER_DAY, as_seconds, day_number
from data.schemas import Appointment
from data.visits import PatientRows, StoredHistory, assumed_booking

# A patient's own history, in the order `patient_history` computes it.
PATIENT_FEATURES = (
    "prior_visits",
    "prior_no_shows",
    "prior_no_show_rate",
    "last_outcome_no_show",
    "days_since_last_visit",
    "same_day_visits",
    "upcoming_visits_7d",
    "booked_together",
    "no_show_ratio_to_expected",
    "last_outcome_surprise",
)
CLINIC_RATE, CLINIC_LOAD = "clinic_prior_no_show_rate", "clinic_day_load"
CLINIC_FEATURES = (CLINIC_RATE, CLINIC_LOAD)
# The model's column order (kept as trained: changing it changes every saved model's inputs).
HISTORY_FEATURES = (CLINIC_RATE, *PATIENT_FEATURES, CLINIC_LOAD)
UPCOMING_WINDOW_DAYS = 7
# Visits booked within this long of each other were booked in one sitting (chosen on the folds).
BOOKED_TOGETHER_SECONDS = 3600.0
# Lead-time bands (days from a booking to the start of its visit's day): a known visit is weighed by
# its band's no-show rate, since missing a visit booked that morning says more than missing one
# booked a month ahead (edges set by hand, not tuned; docs/models.md).
LEAD_BAND_EDGES_DAYS = (1.0, 4.0, 15.0, 30.0)
LEAD_BANDS = len(LEAD_BAND_EDGES_DAYS) + 1
# How many visits' worth of the overall rate smooths a band's rate.
LEAD_BAND_PRIOR_WEIGHT = 20.0


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
    # The no-show rate of each lead-time band, learned from training rows; empty: prior_rate for all.
    lead_band_rates: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.horizon_days < 1:
            raise ValueError("horizon_days must be at least 1: outcomes of the visit day are never known")
        rates = tuple(float(r) for r in self.lead_band_rates)  # a list when read back from JSON
        if len(rates) not in (0, LEAD_BANDS):
            raise ValueError(f"lead_band_rates needs {LEAD_BANDS} rates, one per lead-time band")
        object.__setattr__(self, "lead_band_rates", rates)

    def band_rates(self) -> np.ndarray:
        """The expected no-show rate of a known visit in each lead-time band."""
        return np.asarray(self.lead_band_rates or (self.prior_rate,) * LEAD_BANDS, dtype=np.float64)


def lead_bands(days: np.ndarray, booked: np.ndarray) -> np.ndarray:
    """Each visit's lead-time band (0 to LEAD_BANDS - 1) from its day number and booking time; -1
    when the booking time is unknown (NaN)."""
    lead = np.asarray(days, dtype=np.float64) - np.asarray(booked, dtype=np.float64) / SECONDS_PER_DAY
    bands = np.searchsorted(np.asarray(LEAD_BAND_EDGES_DAYS), lead, side="right")
    return np.where(np.isnan(lead), -1, bands)


def lead_band_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """No-shows and visits of the labelled appointments with a known booking time, per lead band."""
    bands = lead_bands(
        day_number(as_seconds(frame["starts_at"].to_numpy())), as_seconds(frame["booked_at"].to_numpy())
    )
    outcome = frame["no_show"].to_numpy(dtype=np.float64, na_value=np.nan)
    known = (bands >= 0) & ~np.isnan(outcome)
    return pd.DataFrame(
        {
            "no_shows": np.bincount(bands[known], weights=outcome[known], minlength=LEAD_BANDS),
            "visits": np.bincount(bands[known], minlength=LEAD_BANDS).astype(np.float64),
        }
    )


def lead_band_rates(counts: pd.DataFrame, prior_rate: float) -> tuple[float, ...]:
    """Each band's no-show rate from `lead_band_counts`, smoothed toward `prior_rate`."""
    rates = (counts["no_shows"] + LEAD_BAND_PRIOR_WEIGHT * prior_rate) / (
        counts["visits"] + LEAD_BAND_PRIOR_WEIGHT
    )
    return tuple(float(r) for r in rates)


def patient_history(params: HistoryParams, targets: PatientRows, stored: PatientRows) -> np.ndarray:
    """History features of patients' target appointments from each patient's stored appointments.

    `stored` holds every appointment of the patient that the store or table holds (cancelled ones
    excluded); its `outcome` is 1 for a no-show, 0 for attended and NaN while unknown. The targets'
    outcomes are not read. Arrays are 1-D for one patient, or 2-D (patients x appointments) for a
    batch of patients with equally many. Returns one row per target (per patient in a batch), with
    a column per name in PATIENT_FEATURES. This is the one definition used offline and online.
    """
    single = np.ndim(stored.days) == 1
    target_days, target_booked, days, booked, outcome = (
        np.atleast_2d(np.asarray(a, dtype=np.float64))
        for a in (targets.days, targets.booked, stored.days, stored.booked, stored.outcome)
    )
    target_ids, ids = (np.atleast_2d(np.asarray(a, dtype=object)) for a in (targets.ids, stored.ids))
    # Ids as numbers, so that the loop can compare them (one number per distinct id).
    codes: dict[Any, int] = {}
    target_codes, id_codes = (
        np.fromiter((codes.setdefault(i, len(codes)) for i in a.ravel()), np.int64, a.size).reshape(a.shape)
        for a in (target_ids, ids)
    )
    order = np.lexsort((booked, days), axis=-1)  # time order; ties keep the stored order
    days, booked, outcome, id_codes = (
        np.take_along_axis(a, order, axis=-1) for a in (days, booked, outcome, id_codes)
    )
    out = _patient_history_loop(
        target_days, target_booked, target_codes, days, booked, outcome, id_codes,
        float(params.horizon_days), float(params.prior_rate), float(params.prior_weight),
        np.asarray(LEAD_BAND_EDGES_DAYS), params.band_rates(),
    )  # fmt: skip
    return out[0] if single else out


def compile_history() -> None:
    """Compile the history loop now (numba reads it from its cache after the first time), so that
    no request waits for it; the service calls it when it loads a model that reads history."""
    one = PatientRows(np.zeros(1), np.zeros(1), np.full(1, np.nan), np.array(["a"], dtype=object))
    patient_history(HistoryParams(), one, one)


@njit(cache=True, error_model="numpy")  # x / 0 is inf or NaN, as in numpy
def _patient_history_loop(
    target_days,
    target_booked,
    target_ids,
    days,
    booked,
    outcome,
    ids,
    horizon,
    prior_rate,
    prior_weight,
    band_edges,
    band_rates,
):  # pragma: no cover - compiled; its results are tested through patient_history
    """PATIENT_FEATURES per (patient, target) from the patient's appointments in time order.

    Known: an outcome recorded, on a day up to the target's day - horizon. By then: booked before
    the target's prediction time. Others: not the target itself. A known visit is expected to be
    missed at its lead band's rate; at prior_rate when its booking time was unknown (stored as
    assumed_booking stores it)."""
    patients, targets = target_days.shape
    width = days.shape[1]
    out = np.empty((patients, targets, 10))
    expected_of = np.empty(width)
    for p in range(patients):
        for s in range(width):
            if booked[p, s] == (days[p, s] - horizon + 1) * SECONDS_PER_DAY - 1:  # assumed_booking
                expected_of[s] = prior_rate
            else:
                lead = days[p, s] - booked[p, s] / SECONDS_PER_DAY
                expected_of[s] = band_rates[np.searchsorted(band_edges, lead, side="right")]
        for t in range(targets):
            day = target_days[p, t]
            booked_at = target_booked[p, t]
            when = np.maximum((day - horizon + 1) * SECONDS_PER_DAY, booked_at)  # prediction_time
            visits = 0.0
            no_shows = 0.0
            expected = 0.0
            last = -1
            same_day = 0.0
            upcoming = 0.0
            together = 0.0
            for s in range(width):
                if not np.isnan(outcome[p, s]) and days[p, s] <= day - horizon:
                    visits += 1.0
                    no_shows += outcome[p, s]
                    expected += expected_of[s]
                    last = s
                if booked[p, s] < when:
                    later = days[p, s] - day
                    other = ids[p, s] != target_ids[p, t]
                    if other and later == 0:
                        same_day += 1.0
                    if later > 0 and later <= UPCOMING_WINDOW_DAYS:
                        upcoming += 1.0
                    if other and abs(booked[p, s] - booked_at) < BOOKED_TOGETHER_SECONDS:
                        together += 1.0
            out[p, t, 0] = visits
            out[p, t, 1] = no_shows
            out[p, t, 2] = (no_shows + prior_weight * prior_rate) / (visits + prior_weight)
            out[p, t, 3] = outcome[p, last] if last >= 0 else np.nan
            out[p, t, 4] = day - days[p, last] if last >= 0 else np.nan
            out[p, t, 5] = same_day
            out[p, t, 6] = upcoming
            out[p, t, 7] = together
            out[p, t, 8] = (no_shows + prior_weight * prior_rate) / (expected + prior_weight * prior_rate)
            out[p, t, 9] = outcome[p, last] - expected_of[last] if last >= 0 else np.nan
    return out


def clinic_day_loads(
    params: HistoryParams, day: float, target_booked: np.ndarray, booked_that_day: np.ndarray
) -> np.ndarray:
    """For each target on `day`, the clinic's appointments that day booked by its prediction time."""
    times = prediction_time(day, np.asarray(target_booked, dtype=np.float64), params.horizon_days)
    return np.searchsorted(np.sort(booked_that_day), times, side="left").astype(np.float64)


def clinic_rate(params: HistoryParams, no_shows: Any, visits: Any) -> Any:
    """A clinic's no-show rate from its known outcomes, smoothed toward the overall rate (numbers
    or arrays alike)."""
    return (no_shows + params.clinic_prior_weight * params.prior_rate) / (visits + params.clinic_prior_weight)


def patient_history_frame(frame: pd.DataFrame, params: HistoryParams) -> pd.DataFrame:
    """PATIENT_FEATURES per appointment; needs every appointment of each patient in `frame`."""
    days = day_number(as_seconds(frame["starts_at"].to_numpy()))
    booked = assumed_booking(as_seconds(frame["booked_at"].to_numpy()), days, params.horizon_days)
    outcome = frame["no_show"].to_numpy(dtype=np.float64, na_value=np.nan)
    ids = frame["appointment_id"].to_numpy()
    rows_of = PatientRows(days=days, booked=booked, outcome=outcome, ids=ids)
    values = np.empty((len(frame), len(PATIENT_FEATURES)))
    patients = pd.factorize(frame["patient_id"].to_numpy())[0]  # integers sort far faster than text
    order = np.argsort(patients, kind="stable")
    starts = np.flatnonzero(np.diff(patients[order], prepend=-1)) if len(frame) else np.empty(0, int)
    sizes = np.diff(starts, append=len(frame))
    # Patients with equally many appointments are computed together, as one batch.
    for size in np.unique(sizes):
        rows = order[starts[sizes == size][:, None] + np.arange(size)]
        batch_rows = rows_of.take(rows)
        values[rows.ravel()] = patient_history(params, batch_rows, batch_rows).reshape(
            -1, len(PATIENT_FEATURES)
        )
    out = pd.DataFrame(values, columns=list(PATIENT_FEATURES), index=frame.index)
    out.insert(0, "appointment_id", ids)
    return out


def clinic_history_frame(frame: pd.DataFrame, params: HistoryParams) -> pd.DataFrame:
    """CLINIC_FEATURES per appointment; needs every appointment of each clinic in `frame`."""
    days = day_number(as_seconds(frame["starts_at"].to_numpy()))
    booked = assumed_booking(as_seconds(frame["booked_at"].to_numpy()), days, params.horizon_days)
    outcome = frame["no_show"].to_numpy(dtype=np.float64, na_value=np.nan)
    clinics = frame["clinic_id"].astype(str).to_numpy(dtype=object)
    rate = np.full(len(frame), clinic_rate(params, 0.0, 0.0))
    load = np.empty(len(frame))
    clinic_days = pd.DataFrame({"clinic": clinics, "day": days})
    for rows in clinic_days.groupby(["clinic", "day"], sort=False).indices.values():
        load[rows] = clinic_day_loads(params, days[rows[0]], booked[rows], booked[rows])

    # A clinic's outcomes known by day D - H: cumulative counts over its earlier days.
    known = ~np.isnan(outcome)
    if known.any():
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
        matched = pd.merge_asof(
            targets.sort_values("day"), daily, on="day", by="clinic", direction="backward"
        )
        matched = matched.sort_values("row")
        no_shows = matched["sum"].fillna(0).to_numpy(dtype=np.float64)
        rate = clinic_rate(params, no_shows, matched["count"].fillna(0).to_numpy(dtype=np.float64))
    return pd.DataFrame(
        {
            "appointment_id": frame["appointment_id"].to_numpy(),
            CLINIC_RATE: rate,
            CLINIC_LOAD: load,
        },
        index=frame.index,
    )


def add_history(frame: pd.DataFrame, params: HistoryParams) -> pd.DataFrame:
    """The table with HISTORY_FEATURES added, each computed only from what the table knew in time.

    Rows with a known `no_show` are history for later rows; every row gets features. Rows whose
    outcome is unknown still count as bookings.
    """
    out = frame.copy()
    patient = patient_history_frame(frame, params)
    clinic = clinic_history_frame(frame, params)
    for name in HISTORY_FEATURES:
        out[name] = (patient if name in PATIENT_FEATURES else clinic)[name].to_numpy()
    return out


@dataclass(frozen=True)
class _Places:
    """Rows grouped by patient (in order), placed in a patients x appointments block: each row's
    patient and its position among theirs; the block is as wide as the largest group (at least 1)."""

    owner: np.ndarray
    position: np.ndarray
    patients: int
    width: int

    @classmethod
    def of(cls, sizes: Sequence[int]) -> _Places:
        sizes = np.asarray(sizes, dtype=np.intp)
        owner = np.repeat(np.arange(len(sizes)), sizes)
        position = np.arange(len(owner)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        return cls(owner, position, len(sizes), max(1, int(sizes.max(initial=0))))


def _padded(rows: PatientRows, places: _Places, time: float) -> PatientRows:
    """Rows grouped by patient, stacked into their block and padded with rows at `time` whose
    outcome is unknown: at +inf they are never history, load or upcoming for anyone."""

    def stacked(values: np.ndarray, fill: object, dtype: object) -> np.ndarray:
        out = np.full((places.patients, places.width), fill, dtype=dtype)
        out[places.owner, places.position] = values
        return out

    return PatientRows(
        days=stacked(rows.days, time, np.float64),
        booked=stacked(rows.booked, time, np.float64),
        outcome=stacked(rows.outcome, np.nan, np.float64),
        ids=stacked(rows.ids, None, object),
    )


class HistorySource(Protocol):
    """Where online history comes from (the appointment store implements it)."""

    def history(
        self,
        patient_ids: Iterable[str],
        clinic_days: Iterable[tuple[str, int]] = (),
        clinic_outcomes: Iterable[tuple[str, int]] = (),
    ) -> StoredHistory:
        """Each patient's visits, each (clinic, day)'s booking times, each clinic's outcomes up to a day."""
        ...


def online_history(
    store: HistorySource, records: Sequence[Appointment], params: HistoryParams
) -> dict[str, np.ndarray]:
    """HISTORY_FEATURES for records from the store: the same definitions as `add_history`.

    The records' own bookings must already be in the store, as they are in a table offline.
    """
    days = day_number(as_seconds([record.starts_at for record in records]))
    booked = assumed_booking(as_seconds([r.booked_at for r in records]), days, params.horizon_days)
    ids = np.array([record.appointment_id for record in records], dtype=object)
    targets = PatientRows(days=days, booked=booked, outcome=np.full(len(records), np.nan), ids=ids)
    by_patient: dict[str, list[int]] = defaultdict(list)
    for row, record in enumerate(records):
        by_patient[record.patient_id].append(row)
    keys = [(record.clinic_id, int(day)) for record, day in zip(records, days, strict=True)]
    known_by = [(clinic, day - params.horizon_days) for clinic, day in keys]
    stored = store.history(by_patient, keys, known_by)
    order = np.fromiter((row for rows in by_patient.values() for row in rows), np.intp, len(records))
    own = [stored.patients.get(patient_id, PatientRows.empty()) for patient_id in by_patient]
    patient = np.empty((len(records), len(PATIENT_FEATURES)))
    if len(own) == 1:  # one patient (most requests): their rows as they are, no block to pad
        patient[order] = patient_history(params, targets.take(order), own[0])
    else:
        # Every patient in one batch: padded appointments are never known, booked or upcoming.
        own_rows = PatientRows(
            *(np.concatenate([getattr(r, f) for r in own]) for f in ("days", "booked", "outcome", "ids"))
        )
        places = _Places.of([len(rows) for rows in by_patient.values()])
        values = patient_history(
            params,
            _padded(targets.take(order), places, 0.0),
            _padded(own_rows, _Places.of([len(r.days) for r in own]), np.inf),
        )
        patient[order] = values[places.owner, places.position]
    load = np.empty(len(records))
    rate = np.empty(len(records))
    # Rows of one (clinic, day) share its bookings and its clinic's outcomes: one look-up per key.
    rows_of: dict[tuple[str, int], list[int]] = defaultdict(list)
    for row, key in enumerate(keys):
        rows_of[key].append(row)
    for (clinic, day), same in rows_of.items():
        load[same] = clinic_day_loads(params, day, booked[same], stored.bookings[(clinic, day)])
        rate[same] = clinic_rate(params, *stored.outcomes[known_by[same[0]]])
    out = {name: patient[:, k] for k, name in enumerate(PATIENT_FEATURES)}
    return {**out, CLINIC_RATE: rate, CLINIC_LOAD: load}
