"""What calling did, from the call list's record: the missed share by group and band, the stratified
differences with their intervals, and the randomised estimate over the reached share."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.decisions.risk_bands import RiskBands
from services.call_effect import Z95, call_effect, missed

BANDS = RiskBands.from_json('{"default": [0.15, 0.35]}')


def listings(groups: list[tuple[float, bool, bool, bool, int, int]]) -> pd.DataFrame:
    """Rows of (risk, held out, called, reached, visits, of them no-shows); the rest attended."""
    rows = []
    for risk, held_out, called, reached, visits, no_shows in groups:
        for k in range(visits):
            rows.append(
                {
                    "appointment_id": f"A{len(rows)}",
                    "clinic_id": "C01",
                    "start_day": 20_000,
                    "risk": risk,
                    "held_out": held_out,
                    "outcome": "no_show" if k < no_shows else "attended",
                    "cancel_lead_hours": np.nan,
                    "called": called,
                    "reached": reached,
                }
            )
    return pd.DataFrame(rows)


def test_each_comparison_is_stratified_by_band_with_a_95_percent_interval() -> None:
    frame = listings(
        [
            (0.5, False, True, True, 300, 60),  # high band: reached, 20% missed
            (0.5, False, True, False, 100, 40),  # high band: called, not reached, 40%
            (0.5, True, False, False, 100, 40),  # high band: held out, 40%
            (0.2, False, True, True, 100, 10),  # medium band: reached, 10%
            (0.2, True, False, False, 100, 20),  # medium band: held out, 20%
        ]
    )
    effect = call_effect(frame, BANDS)
    assert effect.listed == 700
    high = effect.by_band.set_index("band").loc["high"]
    assert (high["reached"], high["not_called"], high["to_call"], high["held_out"]) == (300, 100, 400, 100)
    assert high["to_call_rate"] == pytest.approx(0.25)

    # Reached against not called: weights are the reached visits' bands (300 high, 100 medium).
    observational = effect.observational
    assert observational.difference == pytest.approx(0.75 * -0.2 + 0.25 * -0.1)
    spread = math.sqrt(
        0.75**2 * (0.2 * 0.8 / 300 + 0.4 * 0.6 / 100) + 0.25**2 * (0.1 * 0.9 / 100 + 0.2 * 0.8 / 100)
    )
    assert observational.high - observational.difference == pytest.approx(Z95 * spread)

    # Listed to call against held out: weights are the bands' sizes (500 high, 200 medium).
    randomised = effect.randomised
    assert randomised.difference == pytest.approx(5 / 7 * (0.25 - 0.4) + 2 / 7 * (0.1 - 0.2))
    assert effect.reached_share == pytest.approx(400 / 500)
    assert effect.per_reached.difference == pytest.approx(randomised.difference / 0.8)
    assert effect.per_reached.low == pytest.approx(randomised.low / 0.8)


def test_without_a_hold_out_there_is_no_randomised_estimate() -> None:
    effect = call_effect(
        listings([(0.5, False, True, True, 50, 10), (0.5, False, False, False, 50, 20)]), BANDS
    )
    assert effect.observational is not None and effect.randomised is None and effect.per_reached is None


def test_a_late_cancellation_is_missed_only_under_the_definition_and_an_early_one_is_not() -> None:
    frame = pd.DataFrame(
        {
            "outcome": ["no_show", "attended", "cancelled", "cancelled", "cancelled", None],
            "cancel_lead_hours": [np.nan, np.nan, 2.0, 72.0, np.nan, np.nan],
        }
    )
    assert missed(frame, 24).fillna(-1).tolist() == [1.0, 0.0, 1.0, 0.0, 0.0, -1.0]
    assert missed(frame, 0).fillna(-1).tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]
