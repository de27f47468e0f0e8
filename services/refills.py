"""Refilled slots: whether time freed by a cancellation or a no-show was used by another visit, and
whether the patients booked into accepted overbookings came.

- A **freed slot** is a visit cancelled (in time or late) or missed: its provider's time from its
  start to its end. It became free at the cancellation (the visit's start less its cancellation
  lead; when that is unknown, at the visit's booking) or, for a no-show, when the visit was booked:
  an extra booking made after it is one the practice could have made to fill it.
- Its **refilled minutes** are the minutes of it that attended visits of the same provider took,
  of those booked at or after it became free; overlapping visits are counted once.
- An **accepted overbooking** (a slot of the day page's plan) holds the visits of that provider
  starting at that time and booked at or after the acceptance, the earliest first, up to the number
  accepted; they **came** when attended.

By week (the Monday of the visit's day) and clinic: the freed slots, how many of them were refilled
(for any minute), and the minutes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.epoch import as_seconds, week_of
from data.no_show_definition import SECONDS_PER_HOUR

COLUMNS = [
    "week",
    "clinic_id",
    "freed_slots",
    "freed_minutes",
    "refilled_slots",
    "refilled_minutes",
    "refilled_share",
    "overbookings",
    "overbooked",
    "overbooked_came",
]


def refilled_minutes(slots: pd.DataFrame) -> pd.DataFrame:
    """Each freed slot of `slots` (`data.stores.slots.visit_slots`) with its freed and refilled
    minutes."""
    freed = slots[slots["outcome"].isin(("cancelled", "no_show"))].copy()
    lead = freed["cancel_lead_hours"].to_numpy(dtype=np.float64, na_value=np.nan)
    start = as_seconds(freed["starts_at"].to_numpy())
    cancelled_at = start - lead * SECONDS_PER_HOUR
    use = (freed["outcome"] == "cancelled").to_numpy() & ~np.isnan(lead)
    freed["free_from"] = np.where(use, cancelled_at, freed["booked_at"].to_numpy(dtype=np.float64))
    freed["freed_minutes"] = (freed["ends_at"] - freed["starts_at"]).dt.total_seconds() / 60
    freed["day"] = freed["starts_at"].dt.normalize()
    attended = slots[slots["outcome"] == "attended"].assign(day=lambda f: f["starts_at"].dt.normalize())
    keys = ["clinic_id", "provider_id", "day"]
    pairs = freed[[*keys, "appointment_id", "starts_at", "ends_at", "free_from"]].merge(
        attended[[*keys, "starts_at", "ends_at", "booked_at"]], on=keys, suffixes=("", "_by")
    )
    seconds = {
        name: as_seconds(pairs[name].to_numpy())
        for name in ("starts_at", "starts_at_by", "ends_at", "ends_at_by")
    }
    begin = np.maximum(seconds["starts_at"], seconds["starts_at_by"])
    end = np.minimum(seconds["ends_at"], seconds["ends_at_by"])
    used = (begin < end) & (
        pairs["booked_at"].to_numpy(dtype=np.float64) >= pairs["free_from"].to_numpy(np.float64)
    )
    spans = pd.DataFrame({"appointment_id": pairs["appointment_id"], "begin": begin, "end": end})[used]
    spans = spans.sort_values(["appointment_id", "begin"], kind="stable")
    # The union of each slot's spans: what a span adds beyond the latest end before it.
    reach = spans.groupby("appointment_id")["end"].cummax().groupby(spans["appointment_id"]).shift()
    added = spans["end"] - np.maximum(spans["begin"], reach.fillna(spans["begin"]))
    refilled = (added.clip(lower=0) / 60).groupby(spans["appointment_id"]).sum()
    freed["refilled_minutes"] = freed["appointment_id"].map(refilled).fillna(0.0)
    return freed


def overbooked_visits(slots: pd.DataFrame, overbooks: pd.DataFrame) -> pd.DataFrame:
    """Each accepted overbooking's slot with the visits booked into it: clinic, start, accepted
    count, visits booked into it and of them those attended."""
    if overbooks.empty:
        return pd.DataFrame(columns=["clinic_id", "starts_at", "count", "booked", "came"])
    keys = ["clinic_id", "provider_id", "starts_at"]
    accepted = overbooks.assign(accepted=as_seconds(overbooks["accepted_at"].to_numpy()))
    taken = accepted.merge(slots[[*keys, "booked_at", "outcome"]], on=keys, how="left")
    taken = taken[taken["booked_at"] >= taken["accepted"]].sort_values([*keys, "booked_at"], kind="stable")
    taken = taken[taken.groupby(keys).cumcount() < taken["count"]]
    counts = taken.groupby(keys).agg(
        booked=("booked_at", "size"), came=("outcome", lambda o: (o == "attended").sum())
    )
    out = overbooks.merge(counts.reset_index(), on=keys, how="left").fillna({"booked": 0, "came": 0})
    return out[["clinic_id", "starts_at", "count", "booked", "came"]]


def refill_numbers(slots: pd.DataFrame, overbooks: pd.DataFrame) -> pd.DataFrame:
    """By week and clinic: freed slots and minutes, the minutes refilled and their share, the
    accepted overbookings, the patients booked into them and those who came."""
    freed = refilled_minutes(slots)
    freed["week"] = week_of(freed["starts_at"])
    by_freed = freed.groupby(["week", "clinic_id"]).agg(
        freed_slots=("appointment_id", "size"),
        freed_minutes=("freed_minutes", "sum"),
        refilled_slots=("refilled_minutes", lambda minutes: int((minutes > 0).sum())),
        refilled_minutes=("refilled_minutes", "sum"),
    )
    taken = overbooked_visits(slots, overbooks)
    taken["week"] = week_of(taken["starts_at"])
    by_overbook = taken.groupby(["week", "clinic_id"]).agg(
        overbookings=("count", "sum"), overbooked=("booked", "sum"), overbooked_came=("came", "sum")
    )
    out = by_freed.join(by_overbook, how="outer").fillna(0).reset_index()
    if out.empty:
        return pd.DataFrame(columns=COLUMNS)
    out["refilled_share"] = out["refilled_minutes"] / out["freed_minutes"].where(out["freed_minutes"] > 0)
    for column in ("freed_slots", "refilled_slots", "overbookings", "overbooked", "overbooked_came"):
        out[column] = out[column].astype(int)
    return out[COLUMNS].sort_values(["week", "clinic_id"]).reset_index(drop=True)
