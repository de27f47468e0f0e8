"""What counts as a no-show: a missed visit, and (when the practice says so) a late cancellation.

A cancellation made within `late_cancel_hours` of the visit's start frees a slot that nobody can
fill, so a practice may count it as a no-show (`CAREOPS_LATE_CANCEL_HOURS`; 0, the default, counts
missed visits only). An earlier cancellation is neither: the visit leaves the labels altogether.
Training labels, backtests, monitoring and the numbers page all read the definition from here.

History features do not: a patient's record of earlier visits counts the visits they missed or came
to, whatever the definition, in training and at scoring time alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SECONDS_PER_HOUR = 3600.0
# The synthetic world's truth of a visit under a definition (data.synthetic.appointments): its
# chance of a no-show if it is kept, its chance of being cancelled, and the mean of the exponential
# law of how many hours before the start a cancellation comes (cut at the booking).
TRUE_NO_SHOW, TRUE_CANCEL, TRUE_CANCEL_MEAN_HOURS = (
    "true_no_show_probability",
    "true_cancel_probability",
    "true_cancel_mean_hours",
)


def describe(hours: float) -> str:
    """The definition in words, as a model card and the numbers page state it."""
    if hours <= 0:
        return "a no-show is a visit the patient did not come to; cancellations are not counted"
    return (
        f"a no-show is a visit the patient did not come to, or cancelled less than {hours:g} hours "
        "before its start; earlier cancellations are not counted"
    )


def is_late(hours_before_start: np.ndarray | float, hours: float) -> np.ndarray | bool:
    """Whether cancellations made this many hours before the start are late (0 hours: none is)."""
    return (hours > 0) & (np.asarray(hours_before_start, dtype=np.float64) < hours)


def hours_before_start(starts_at: pd.Series, cancelled_at: pd.Series) -> np.ndarray:
    """Hours from each cancellation to its visit's start (NaN where the visit was not cancelled)."""
    gap = pd.to_datetime(starts_at) - pd.to_datetime(cancelled_at)
    return gap.dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan) / SECONDS_PER_HOUR


def labels(frame: pd.DataFrame, hours: float) -> pd.Series:
    """Each appointment's label under the definition: 1.0 no-show (or late cancellation), 0.0
    attended, NaN unknown or cancelled in time (no label). A frame without `cancelled_at` is read as
    having no cancellation."""
    label = frame["no_show"].astype("float64")
    if "cancelled_at" not in frame.columns:
        return label
    before = hours_before_start(frame["starts_at"], frame["cancelled_at"])
    cancelled = ~np.isnan(before)
    late = cancelled & is_late(np.nan_to_num(before, nan=np.inf), hours)
    return label.where(~cancelled, np.where(late, 1.0, np.nan))


def true_probability(frame: pd.DataFrame, hours: float) -> np.ndarray | None:
    """The synthetic world's chance that a labelled visit is a no-show under the definition, from
    its truth columns (None without them): a late cancellation, or a kept visit missed, given that
    the visit was not cancelled in time."""
    if not {TRUE_NO_SHOW, TRUE_CANCEL, TRUE_CANCEL_MEAN_HOURS} <= set(frame.columns):
        return None
    missed = frame[TRUE_NO_SHOW].to_numpy(dtype=np.float64)
    cancel = frame[TRUE_CANCEL].to_numpy(dtype=np.float64)
    mean = frame[TRUE_CANCEL_MEAN_HOURS].to_numpy(dtype=np.float64)
    lead = hours_before_start(frame["starts_at"], frame["booked_at"])
    late = late_share(lead, mean, hours)
    kept = 1.0 - cancel
    return (cancel * late + kept * missed) / (kept + cancel * late)


def late_share(lead_hours: np.ndarray, mean_hours: np.ndarray, hours: float) -> np.ndarray:
    """Of cancellations whose hours before the start follow an exponential law with `mean_hours`,
    cut at the booking `lead_hours` before the start: the share made less than `hours` before it."""
    if hours <= 0:
        return np.zeros_like(lead_hours)
    lead = np.maximum(lead_hours, 1e-9)
    inside = -np.expm1(-np.minimum(hours, lead) / mean_hours)
    return inside / -np.expm1(-lead / mean_hours)
