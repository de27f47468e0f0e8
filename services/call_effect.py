"""Does calling work? The no-show rate of listed visits whose patient was reached, against those not
called, by risk band; and, with a randomised hold-out, of the visits listed to call against those
held out.

- The population is the call list: each visit it listed (data.stores.calls), with its risk and band
  when first listed, and its outcome as it now stands. A visit counts as missed when it was a
  no-show or (under the practice's definition) a late cancellation; as not missed when the
  patient came or cancelled in time (its slot was freed). Visits without an outcome yet wait.
- **Observational**: reached against not called, band by band, combined with the reached visits'
  band shares as weights. Who was called, and who answered, was not decided at random: patients
  who pick up may differ from those who do not in ways the risk does not capture, so this says how
  the groups differ, not what calling did.
- **Randomised** (with `CAREOPS_CALL_HOLDOUT_SHARE`): listed to call against held out, band by band,
  weighted by the bands' sizes. The hold-out was drawn at random, so the difference is what being
  on the call list did (whether or not the call got through). Divided by the share of the listed
  visits whose patient was reached, it is what reaching a patient did, if an unanswered call does
  nothing (the instrumental-variable estimate).
- Intervals are 95%, from the normal approximation of each band's difference of proportions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.no_show_definition import is_late
from models.decisions.risk_bands import RiskBands

BANDS = ("low", "medium", "high")
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A difference of no-show rates (the group's minus the reference's: negative means fewer
    no-shows), its 95% interval, and how many visits it rests on."""

    difference: float
    low: float
    high: float
    visits: int


@dataclass(frozen=True)
class CallEffect:
    """What the call list's record says about calling."""

    by_band: pd.DataFrame  # band; reached, not called, to call, held out: visits and no-show rates
    listed: int  # listed visits with a known outcome
    observational: Estimate | None  # reached against not called
    randomised: Estimate | None  # listed to call against held out
    per_reached: Estimate | None  # the randomised estimate over the reached share
    reached_share: float | None  # of the visits listed to call


def missed(listings: pd.DataFrame, late_cancel_hours: float) -> pd.Series:
    """1.0 when a listed visit was missed (a no-show, or a late cancellation), 0.0 when the patient
    came or cancelled in time, NaN while its outcome is unknown."""
    lead = listings["cancel_lead_hours"].to_numpy(dtype=np.float64, na_value=np.nan)
    late = is_late(np.nan_to_num(lead, nan=np.inf), late_cancel_hours)
    outcome = listings["outcome"]
    values = np.where(outcome == "no_show", 1.0, np.where(outcome == "attended", 0.0, np.nan))
    values = np.where(outcome == "cancelled", np.where(late, 1.0, 0.0), values)
    return pd.Series(values, index=listings.index)


def _groups(frame: pd.DataFrame, group: pd.Series, reference: pd.Series) -> pd.DataFrame:
    """Per band: visits and no-show rate of the group and of the reference."""
    rows = []
    for band in BANDS:
        here = frame["band"] == band
        one, other = frame.loc[here & group, "missed"], frame.loc[here & reference, "missed"]
        rows.append(
            {
                "band": band,
                "n1": len(one),
                "rate1": one.mean() if len(one) else np.nan,
                "n0": len(other),
                "rate0": other.mean() if len(other) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def stratified(groups: pd.DataFrame, weights: str) -> Estimate | None:
    """The bands' differences (group minus reference) combined with weights proportional to the
    group's visits (`weights="n1"`) or to both groups' (`"n"`); None without a band holding both."""
    both = groups[(groups["n1"] > 0) & (groups["n0"] > 0)]
    if both.empty:
        return None
    size = both["n1"] if weights == "n1" else both["n1"] + both["n0"]
    w = size / size.sum()
    difference = both["rate1"] - both["rate0"]
    variance = (
        both["rate1"] * (1 - both["rate1"]) / both["n1"] + both["rate0"] * (1 - both["rate0"]) / both["n0"]
    )
    estimate, spread = float((w * difference).sum()), float(np.sqrt((w**2 * variance).sum()))
    visits = int((both["n1"] + both["n0"]).sum())
    return Estimate(estimate, estimate - Z95 * spread, estimate + Z95 * spread, visits)


def call_effect(listings: pd.DataFrame, bands: RiskBands, late_cancel_hours: float = 0) -> CallEffect:
    """The figures of the numbers page's calling section, from the call list's record
    (`CallStore.listings`)."""
    frame = listings.assign(missed=missed(listings, late_cancel_hours)).dropna(subset=["missed"])
    frame["band"] = [
        bands.band(float(r), str(c)) for r, c in zip(frame["risk"], frame["clinic_id"], strict=True)
    ]
    reached, not_called = frame["reached"], ~frame["called"]
    to_call, held = ~frame["held_out"], frame["held_out"]
    observed = _groups(frame, reached, not_called)
    assigned = _groups(frame, to_call, held)
    by_band = pd.DataFrame(
        {
            "band": observed["band"],
            "reached": observed["n1"],
            "reached_rate": observed["rate1"],
            "not_called": observed["n0"],
            "not_called_rate": observed["rate0"],
            "to_call": assigned["n1"],
            "to_call_rate": assigned["rate1"],
            "held_out": assigned["n0"],
            "held_out_rate": assigned["rate0"],
        }
    )
    randomised = stratified(assigned, "n") if held.any() else None
    share = float(frame.loc[to_call, "reached"].mean()) if to_call.any() else None
    per_reached = None
    if randomised is not None and share:
        per_reached = Estimate(
            randomised.difference / share, randomised.low / share, randomised.high / share, randomised.visits
        )
    return CallEffect(by_band, len(frame), stratified(observed, "n1"), randomised, per_reached, share)
