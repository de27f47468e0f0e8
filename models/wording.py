"""Plain-language wording of a score's factors: "booked 61 days ahead", "missed 2 of 4 earlier visits".

A factor is an input and its value; some read better with a neighbour (a count of no-shows with the
count of visits). The denial model's inputs are worded in models/denial_wording.py, read here beside
these. Inputs without a phrase read as "name: value".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from models.denial_wording import (
    DENIAL_CATEGORIES,
    DENIAL_CONTEXT,
    DENIAL_FLAGS,
    DENIAL_MISSING,
    DENIAL_PHRASES,
    article,
)

Value = float | str | None
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FLAGS = {
    "welfare_enrolled": ("enrolled in a welfare programme", "not enrolled in a welfare programme"),
    "hypertension": ("has hypertension", "no hypertension recorded"),
    "diabetes": ("has diabetes", "no diabetes recorded"),
    "alcoholism": ("alcoholism recorded", "no alcoholism recorded"),
    "reminder_sent": ("a reminder was sent", "no reminder was sent"),
}


def _count(value: float, one: str, many: str) -> str:
    n = round(value)
    return f"{n} {one if n == 1 else many}"


def _clock(hours: float) -> str:
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _lead(value: float, values: Mapping[str, Value]) -> str:
    days = round(value)
    return "booked the same day" if days <= 0 else f"booked {_count(days, 'day', 'days')} ahead"


NO_EARLIER_VISITS = "no earlier visits with a known outcome"


def _earlier_visits(values: Mapping[str, Value]) -> float | None:
    """The row's count of earlier visits with a known outcome, or None when there are none."""
    visits = values.get("prior_visits")
    return float(visits) if isinstance(visits, float | int) and visits > 0 else None


def _missed(value: float, values: Mapping[str, Value]) -> str:
    visits, no_shows = _earlier_visits(values), values.get("prior_no_shows")
    if visits is None or not isinstance(no_shows, float | int):
        return NO_EARLIER_VISITS
    return f"missed {round(no_shows)} of {_count(visits, 'earlier visit', 'earlier visits')}"


def _against_expected(value: float, values: Mapping[str, Value]) -> str:
    if _earlier_visits(values) is None:
        return NO_EARLIER_VISITS
    return f"missed earlier visits {value:.1f}x as often as expected"  # expected: by how far ahead booked


# The inputs other phrases read beside their own.
CONTEXT = ("prior_visits", "prior_no_shows", *DENIAL_CONTEXT)

PHRASES: dict[str, Callable[[float, Mapping[str, Value]], str]] = {
    "lead_time_days": _lead,
    "start_weekday": lambda v, _: f"on a {WEEKDAYS[int(v) % 7]}",
    "start_hour": lambda v, _: f"starts at {_clock(v)}",
    "booked_weekday": lambda v, _: f"booked on a {WEEKDAYS[int(v) % 7]}",
    "booked_hour": lambda v, _: f"booked at {_clock(v)}",
    "duration_minutes": lambda v, _: f"a {round(v)}-minute visit",
    "patient_age": lambda v, _: f"patient aged {round(v)}",
    "handicap_count": lambda v, _: _count(v, "handicap recorded", "handicaps recorded"),
    "prior_visits": lambda v, _: _count(v, "earlier visit", "earlier visits") + " with a known outcome",
    "prior_no_shows": _missed,
    "prior_no_show_rate": _missed,
    "last_outcome_no_show": lambda v, _: "missed the last visit" if v else "came to the last visit",
    "no_show_ratio_to_expected": _against_expected,
    "last_outcome_surprise": lambda v, _: "missed the last visit" if v > 0 else "came to the last visit",
    "days_since_last_visit": lambda v, _: f"last visit {_count(v, 'day', 'days')} before",
    "same_day_visits": lambda v, _: _count(v, "other visit", "other visits") + " booked the same day",
    "upcoming_visits_7d": lambda v, _: _count(v, "more visit", "more visits") + " booked in the week after",
    "booked_together": lambda v, _: _count(v, "other visit", "other visits") + " booked within the hour",
    "clinic_prior_no_show_rate": lambda v, _: f"the clinic's no-show rate is {v:.0%}",
    "clinic_day_load": lambda v, _: (
        _count(v, "appointment", "appointments") + " booked at the clinic that day"
    ),
}
MISSING = {
    "lead_time_days": "booking time unknown",
    "booked_weekday": "booking time unknown",
    "booked_hour": "booking time unknown",
    "last_outcome_no_show": "no earlier visit on record",
    "last_outcome_surprise": "no earlier visit on record",
    "days_since_last_visit": "no earlier visit on record",
}
CATEGORIES = {
    "appointment_type": lambda v: f"{article(v)} {v.replace('_', ' ')} visit",
    "payer_type": lambda v: "payer unknown" if v == "unknown" else f"payer: {v.replace('_', ' ')}",
    "patient_sex": lambda v: {"F": "female patient", "M": "male patient"}.get(v, "sex not recorded"),
}


PHRASES |= DENIAL_PHRASES
FLAGS |= DENIAL_FLAGS
MISSING |= DENIAL_MISSING
CATEGORIES |= DENIAL_CATEGORIES


def factor_text(name: str, value: Value, values: Mapping[str, Value]) -> str:
    """One factor in words; `values` holds the row's other inputs, by name, for context."""
    if value is None:
        return MISSING.get(name, f"{name.replace('_', ' ')} not known")
    if isinstance(value, str):
        phrase = CATEGORIES.get(name)
        return phrase(value) if phrase else f"{name.replace('_', ' ')}: {value}"
    if name in FLAGS:
        return FLAGS[name][0 if value else 1]
    phrase = PHRASES.get(name)
    if phrase is not None:
        return phrase(float(value), values)
    return f"{name.replace('_', ' ')}: {value:g}"
