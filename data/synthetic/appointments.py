"""Seeded synthetic appointments whose no-show risk follows lead time, calendar, patient and history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

APPOINTMENT_TYPES = ("follow_up", "new_patient", "annual_physical", "procedure", "telehealth")
TYPE_SHARES = (0.45, 0.15, 0.15, 0.10, 0.15)
TYPE_DURATION = {"follow_up": 20, "new_patient": 40, "annual_physical": 30, "procedure": 60, "telehealth": 15}
TYPE_EFFECT = {
    "follow_up": 0.0,
    "new_patient": 0.30,
    "annual_physical": -0.20,
    "procedure": -0.55,
    "telehealth": -0.35,
}
PAYER_EFFECT = {"commercial": 0.0, "medicare": -0.15, "medicaid": 0.50, "self_pay": 0.75}
WEEKDAY_EFFECT = np.array([0.20, 0.0, -0.05, 0.0, 0.30])  # Monday .. Friday

# History: a patient's smoothed no-show rate from outcomes of earlier days moves the risk.
HISTORY_PRIOR_WEIGHT = 2.0
HISTORY_PRIOR_RATE = 0.2
HISTORY_EFFECT = 3.0
FIRST_VISIT_EFFECT = 0.25


@dataclass(frozen=True)
class ClinicOpens:
    """A documented shift: from `start` on, a new clinic takes `share` of the bookings. Its patients
    miss more often (`effect` more log-odds) and its reminder system does not work, although
    reminders are still recorded as sent. Training data from before `start` has never seen it."""

    start: date
    share: float = 0.35
    effect: float = 1.0
    clinic_id: str = "C09"


CLINICS = 8  # the practice's clinics before any shift


@dataclass(frozen=True)
class Cancellations:
    """Some visits are called off before their start, more often when booked far ahead and by the
    patients who also miss more. How many hours before the start a cancellation comes follows an
    exponential law with `mean_hours`, cut at the booking: about half come within a day. A
    cancelled visit is no-one's history and has no `no_show`; its truth is recorded
    (`data.no_show_definition.true_probability`)."""

    base: float = -2.9
    lead_effect: float = 0.35  # log-odds per log(1 + lead days)
    risk_effect: float = 0.3  # log-odds per log-odds of the visit's no-show risk when booked
    mean_hours: float = 48.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _business_days(start: date, days: int) -> np.ndarray:
    calendar = pd.bdate_range(start=start, periods=days)
    return calendar.to_numpy(dtype="datetime64[s]")


def _patients(
    rng: np.random.Generator, count: int, clinics: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each patient's age, sex, payer type, home clinic and visit rate."""
    age = np.clip(np.round(rng.gamma(shape=2.2, scale=19.0, size=count)), 0, 100).astype(int)
    sex = rng.choice(np.array(["F", "M"]), size=count, p=[0.58, 0.42])
    payer = np.where(
        age >= 65,
        rng.choice(np.array(["medicare", "commercial"]), size=count, p=[0.85, 0.15]),
        rng.choice(np.array(["commercial", "medicaid", "self_pay"]), size=count, p=[0.62, 0.30, 0.08]),
    )
    home_clinic = rng.integers(0, clinics, size=count)
    visit_rate = rng.gamma(shape=1.5, scale=1.0, size=count)
    return age, sex, payer, home_clinic, visit_rate


def _static_logit(
    starts_at: np.ndarray,
    lead: np.ndarray,
    age: np.ndarray,
    payer: np.ndarray,
    appointment_type: np.ndarray,
    reminded: np.ndarray,
) -> np.ndarray:
    """Each visit's log-odds of a no-show from what is known when it is booked (the clinic's effect
    and the patient's history are added by the caller)."""
    weekday = pd.DatetimeIndex(starts_at).day_of_week.to_numpy()
    hour = pd.DatetimeIndex(starts_at).hour.to_numpy()
    return (
        -2.5
        + 0.55 * np.log1p(lead)
        - 0.9 * (lead < 1)
        + WEEKDAY_EFFECT[np.minimum(weekday, 4)]
        + 0.15 * (hour < 9)
        + 0.25 * (hour >= 16)
        + 0.45 * ((age >= 18) & (age < 30))
        - 0.30 * (age >= 65)
        - 0.15 * (age < 12)
        + np.array([PAYER_EFFECT[p] for p in payer])
        + np.array([TYPE_EFFECT[t] for t in appointment_type])
        - 0.35 * reminded
    )


def _outcomes(
    rng: np.random.Generator,
    order: np.ndarray,
    patient: np.ndarray,
    day: np.ndarray,
    static_logit: np.ndarray,
    n_patients: int,
    kept: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each visit's true probability and drawn outcome, day by day in start order: a patient's
    earlier outcomes of `kept` (not cancelled) visits move their later visits' odds once the day
    they happened has ended."""
    rows = len(patient)
    probability = np.empty(rows)
    no_show = np.empty(rows, dtype=bool)
    prior_visits = np.zeros(n_patients)
    prior_no_shows = np.zeros(n_patients)
    sorted_days = day[order]
    boundaries = np.flatnonzero(np.diff(sorted_days.astype(np.int64))) + 1
    for block in np.split(order, boundaries):
        who = patient[block]
        visits = prior_visits[who]
        rate = (prior_no_shows[who] + HISTORY_PRIOR_WEIGHT * HISTORY_PRIOR_RATE) / (
            visits + HISTORY_PRIOR_WEIGHT
        )
        logit = (
            static_logit[block]
            + HISTORY_EFFECT * (rate - HISTORY_PRIOR_RATE)
            + FIRST_VISIT_EFFECT * (visits == 0)
        )
        probability[block] = _sigmoid(logit)
        no_show[block] = rng.random(len(block)) < probability[block]
        # Outcomes become known only after the day ends.
        np.add.at(prior_visits, who, kept[block])
        np.add.at(prior_no_shows, who, no_show[block] & kept[block])
    return probability, no_show


def _bookings(rng: np.random.Generator, starts_at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each visit's booking time, lead time in days, and whether a reminder was sent."""
    rows = len(starts_at)
    same_day = rng.random(rows) < 0.22
    lead_days = np.where(same_day, 0, np.minimum(np.ceil(rng.exponential(14.0, size=rows)), 120))
    # Same-day bookings happen 30 min to 4 h before the start; others at any hour of the day.
    offset_seconds = np.where(
        same_day, rng.integers(1800, 4 * 3600, size=rows), rng.integers(-6 * 3600, 6 * 3600, size=rows)
    )
    booked_at = starts_at - (lead_days * 86400 + offset_seconds).astype("timedelta64[s]")
    lead = (starts_at - booked_at).astype("timedelta64[s]").astype(float) / 86400.0
    reminder = np.where(lead >= 2, rng.random(rows) < 0.75, rng.random(rows) < 0.03)
    return booked_at, lead, reminder


def _cancellations(
    rng: np.random.Generator, law: Cancellations, static_logit: np.ndarray, lead_days: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each visit's chance of being cancelled, and the hours before its start that a cancelled one
    was cancelled (NaN: kept), drawn from the exponential law cut at the booking."""
    logit = law.base + law.lead_effect * np.log1p(lead_days) + law.risk_effect * (static_logit + 2.0)
    probability = _sigmoid(logit)
    cancelled = rng.random(len(logit)) < probability
    lead_hours = lead_days * 24.0
    # Inverse of the cut law's distribution function.
    share = rng.random(len(logit)) * -np.expm1(-lead_hours / law.mean_hours)
    hours = -law.mean_hours * np.log1p(-share)
    return probability, np.where(cancelled, np.minimum(hours, lead_hours), np.nan)


def _record_cancellations(
    frame: pd.DataFrame, before: np.ndarray, probability: np.ndarray, law: Cancellations
) -> None:
    """Write the cancellations (hours `before` the start, NaN: kept) and their truth into `frame`."""
    frame["no_show"] = frame["no_show"].where(np.isnan(before))
    frame["cancelled_at"] = frame["starts_at"] - pd.to_timedelta(before, unit="h").round("s")
    frame["true_cancel_probability"] = probability
    frame["true_cancel_mean_hours"] = law.mean_hours


def generate_appointments(
    rows: int,
    seed: int = 42,
    start: date = date(2026, 1, 5),
    business_days: int = 130,
    shift: ClinicOpens | None = None,
    cancellations: Cancellations | None = None,
) -> pd.DataFrame:
    """Generate `rows` labelled appointments, sorted by start, with `true_no_show_probability`.

    With `shift`, the practice changes from its start date on (see `ClinicOpens`). With
    `cancellations`, some visits are cancelled (`cancelled_at`, and `no_show` empty) and their truth
    recorded (see `Cancellations`); without, every visit is kept, as in earlier worlds."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    rng = np.random.default_rng(seed)
    n_patients = max(1, rows // 4)

    age, sex, payer, home_clinic, visit_rate = _patients(rng, n_patients, CLINICS)
    clinic_effect = rng.normal(0.0, 0.25, size=CLINICS)

    patient = rng.choice(n_patients, size=rows, p=visit_rate / visit_rate.sum())
    days = _business_days(start, business_days)
    day = days[rng.integers(0, len(days), size=rows)]
    slot = rng.integers(0, 36, size=rows)  # 15-minute slots from 08:00 to 16:45
    starts_at = day + (8 * 3600 + slot * 900).astype("timedelta64[s]")
    clinic = np.where(rng.random(rows) < 0.85, home_clinic[patient], rng.integers(0, CLINICS, size=rows))
    provider = rng.integers(1, 5, size=rows)
    appointment_type = rng.choice(np.array(APPOINTMENT_TYPES), size=rows, p=TYPE_SHARES)
    duration = np.array([TYPE_DURATION[t] for t in appointment_type])

    booked_at, lead, reminder = _bookings(rng, starts_at)
    clinic_names = [f"C{c + 1:02d}" for c in range(CLINICS)]
    moved = np.zeros(rows, dtype=bool)
    if shift is not None:
        # Drawn from a generator of its own, so the practice before the shift is the same as without.
        moved = (day >= np.datetime64(shift.start)) & (
            np.random.default_rng(seed + 1).random(rows) < shift.share
        )
        clinic, clinic_effect = np.where(moved, CLINICS, clinic), np.append(clinic_effect, shift.effect)
        clinic_names.append(shift.clinic_id)
    reminder_works = ~moved

    patient_age = age[patient]
    reminded = reminder & reminder_works
    static_logit = _static_logit(starts_at, lead, patient_age, payer[patient], appointment_type, reminded)
    static_logit = static_logit + clinic_effect[clinic]
    order = np.lexsort((slot, starts_at))
    kept = np.ones(rows, dtype=bool)
    if cancellations is not None:
        # A generator of its own, so the visits and their risks are the same as without.
        cancel_probability, before = _cancellations(
            np.random.default_rng(seed + 2), cancellations, static_logit, lead
        )
        kept = np.isnan(before)
    probability, no_show = _outcomes(rng, order, patient, day, static_logit, n_patients, kept)

    frame = pd.DataFrame(
        {
            "appointment_id": [f"A{i:08d}" for i in range(1, rows + 1)],
            "patient_id": [f"P{p:07d}" for p in patient + 1],
            "clinic_id": [clinic_names[c] for c in clinic],
            "provider_id": [f"{clinic_names[c]}-D{d}" for c, d in zip(clinic, provider, strict=True)],
            "booked_at": pd.to_datetime(booked_at),
            "starts_at": pd.to_datetime(starts_at),
            "duration_minutes": duration,
            "appointment_type": appointment_type,
            "patient_age": patient_age,
            "patient_sex": sex[patient],
            "payer_type": payer[patient],
            "reminder_sent": reminder,
            "no_show": no_show,
            "true_no_show_probability": probability,
        }
    )
    if cancellations is not None:
        _record_cancellations(frame, before, cancel_probability, cancellations)
    frame = frame.iloc[order].reset_index(drop=True)
    frame["appointment_id"] = [f"A{i:08d}" for i in range(1, rows + 1)]
    return frame
