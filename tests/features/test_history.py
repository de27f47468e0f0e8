"""Point-in-time history: leaks would change these values; online (store) equals offline (table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.loaders.canonical import frame_records, load_appointments
from data.schemas import Appointment
from data.stores.appointments import AppointmentStore
from data.synthetic.appointments import generate_appointments
from data.visits import PatientRows, assumed_booking
from features.history import (
    HISTORY_FEATURES,
    LEAD_BAND_EDGES_DAYS,
    LEAD_BANDS,
    HistoryParams,
    add_history,
    lead_band_counts,
    lead_band_rates,
    online_history,
    patient_history,
)
from tests.bodies import visit


def history_of(rows: list[dict], params: HistoryParams) -> pd.DataFrame:
    return add_history(pd.DataFrame(rows), params).set_index("appointment_id")


def test_outcomes_of_the_visit_day_and_later_never_count() -> None:
    rows = [
        visit("A1", "2026-03-02 09:00", "2026-02-20 10:00", 1.0),
        visit("A2", "2026-03-09 09:00", "2026-02-20 10:00", 1.0),  # same day as the target: a leak if counted
        visit("T", "2026-03-09 15:00", "2026-02-20 10:00", 0.0),  # the target's own label
        visit("A3", "2026-03-12 09:00", "2026-02-20 10:00", 1.0),  # a later visit
    ]
    target = history_of(rows, HistoryParams(horizon_days=1)).loc["T"]
    assert target["prior_visits"] == 1 and target["prior_no_shows"] == 1
    assert target["last_outcome_no_show"] == 1 and target["days_since_last_visit"] == 7
    assert target["prior_no_show_rate"] == pytest.approx((1 + 2 * 0.2) / (1 + 2))
    assert target["same_day_visits"] == 1 and target["upcoming_visits_7d"] == 1


def test_a_missed_visit_weighs_by_how_far_ahead_it_was_booked() -> None:
    """Each known visit is expected to be missed at its lead band's rate; one booked at an unknown
    time at the overall rate."""
    rows = [
        visit("SAME", "2026-03-02 09:00", "2026-03-02 07:00", 1.0),  # booked that morning: band 0
        visit("T1", "2026-03-09 15:00", "2026-03-01 10:00", None),
        visit("AHEAD", "2026-03-02 09:00", "2026-01-20 10:00", 1.0, patient="P2"),  # 41 days: band 4
        visit("T2", "2026-03-09 15:00", "2026-03-01 10:00", None, patient="P2"),
        visit("HIDDEN", "2026-03-02 09:00", None, 1.0, patient="P3"),
        visit("T3", "2026-03-09 15:00", "2026-03-01 10:00", None, patient="P3"),
    ]
    params = HistoryParams(horizon_days=1, prior_rate=0.2, lead_band_rates=(0.05, 0.1, 0.2, 0.3, 0.4))
    history = history_of(rows, params)
    pseudo = params.prior_weight * params.prior_rate
    for target, expected in (("T1", 0.05), ("T2", 0.4), ("T3", 0.2)):
        assert history.loc[target, "no_show_ratio_to_expected"] == pytest.approx(
            (1 + pseudo) / (expected + pseudo)
        )
        assert history.loc[target, "last_outcome_surprise"] == pytest.approx(1 - expected)
    assert np.isnan(history.loc["SAME", "last_outcome_surprise"])  # no earlier visit
    assert history.loc["SAME", "no_show_ratio_to_expected"] == 1.0


def test_lead_band_rates_are_learned_from_known_booking_times_only() -> None:
    rows = [
        visit("A", "2026-03-02 09:00", "2026-03-02 07:00", 1.0),  # band 0
        visit("B", "2026-03-03 09:00", "2026-03-02 23:00", 0.0),  # starts the next day: band 0
        visit("C", "2026-03-10 09:00", "2026-03-02 08:00", 1.0),  # 8 days: band 2
        visit("D", "2026-03-10 09:00", None, 1.0),  # unknown: in no band
        visit("E", "2026-03-11 09:00", "2026-03-02 08:00", None),  # no outcome yet
    ]
    counts = lead_band_counts(pd.DataFrame(rows))
    assert counts["visits"].tolist() == [2, 0, 1, 0, 0] and counts["no_shows"].tolist() == [1, 0, 1, 0, 0]
    rates = lead_band_rates(counts, 0.25)
    assert rates == pytest.approx(((1 + 5) / 22, 0.25, (1 + 5) / 21, 0.25, 0.25))
    assert HistoryParams(lead_band_rates=list(rates)).lead_band_rates == rates  # as read back from JSON
    with pytest.raises(ValueError, match="one per lead-time band"):
        HistoryParams(lead_band_rates=(0.1, 0.2))


def test_a_longer_horizon_hides_recent_outcomes() -> None:
    rows = [
        visit("A1", "2026-03-02 09:00", "2026-02-20 10:00", 1.0),
        visit("A2", "2026-03-08 09:00", "2026-02-20 10:00", 1.0),  # one day before the target
        visit("T", "2026-03-09 15:00", "2026-02-20 10:00", None),
    ]
    assert history_of(rows, HistoryParams(horizon_days=1)).loc["T", "prior_no_shows"] == 2
    assert history_of(rows, HistoryParams(horizon_days=2)).loc["T", "prior_no_shows"] == 1
    with pytest.raises(ValueError, match="horizon_days must be at least 1"):
        HistoryParams(horizon_days=0)


def test_bookings_made_after_the_prediction_time_do_not_count() -> None:
    rows = [
        visit("T", "2026-03-09 15:00", "2026-03-01 10:00", None),
        visit("B1", "2026-03-09 16:00", "2026-03-09 08:00", None),  # booked on the visit day itself
        visit("B2", "2026-03-10 16:00", "2026-03-07 08:00", None),
        visit("C1", "2026-03-09 11:00", "2026-03-02 08:00", None, patient="P2"),
        visit("C2", "2026-03-09 12:00", "2026-03-09 07:00", None, patient="P3"),
    ]
    target = history_of(rows, HistoryParams(horizon_days=1)).loc["T"]
    assert target["same_day_visits"] == 0 and target["upcoming_visits_7d"] == 1
    assert target["clinic_day_load"] == 2  # T and C1; B1 and C2 were booked on the day


def test_a_same_day_booking_sees_what_was_booked_before_it() -> None:
    rows = [
        visit("B1", "2026-03-09 16:00", "2026-03-09 08:00", None),
        visit("T", "2026-03-09 17:00", "2026-03-09 12:00", None),
        visit("B2", "2026-03-09 18:00", "2026-03-09 13:00", None),
    ]
    target = history_of(rows, HistoryParams(horizon_days=1)).loc["T"]
    assert target["same_day_visits"] == 1 and target["clinic_day_load"] == 1


def test_a_clinics_rate_uses_only_known_outcomes() -> None:
    rows = [
        visit("A1", "2026-03-02 09:00", "2026-02-20 10:00", 1.0, patient="P2"),
        visit("A2", "2026-03-09 09:00", "2026-02-20 10:00", 1.0, patient="P3"),
        visit("T", "2026-03-09 15:00", "2026-02-20 10:00", 0.0),
    ]
    params = HistoryParams(horizon_days=1, prior_rate=0.1, clinic_prior_weight=20)
    assert history_of(rows, params).loc["T", "clinic_prior_no_show_rate"] == pytest.approx((1 + 2) / (1 + 20))


def test_online_features_equal_offline_features_after_replaying_outcomes(tmp_path: Path) -> None:
    table = load_appointments(generate_appointments(6_000, seed=31)).valid
    days = table["starts_at"].dt.normalize()
    cutoff = days.sort_values().unique()[60]
    params = HistoryParams(horizon_days=1, prior_rate=0.2, lead_band_rates=(0.05, 0.1, 0.2, 0.3, 0.4))
    offline = add_history(table, params).set_index("appointment_id")

    store = AppointmentStore(f"sqlite:///{tmp_path / 'store.db'}")
    # Every booking is known; outcomes are replayed up to the day before the cut-off day.
    bookings = table.assign(no_show=table["no_show"].where(days < cutoff))
    store.seed(bookings)
    targets = table[days == cutoff]
    records = [Appointment.model_validate(r) for r in frame_records(targets[list(Appointment.model_fields)])]
    online = online_history(store, records, params)

    expected = offline.loc[targets["appointment_id"], list(HISTORY_FEATURES)]
    assert len(records) > 20 and expected["prior_visits"].sum() > 0
    for name in HISTORY_FEATURES:
        np.testing.assert_allclose(online[name], expected[name].to_numpy(), rtol=0, atol=1e-12, err_msg=name)


def test_cancelled_appointments_are_neither_history_nor_load(tmp_path: Path) -> None:
    store = AppointmentStore(f"sqlite:///{tmp_path / 'store.db'}")
    rows = [
        visit("A1", "2026-03-02 09:00", "2026-02-20 10:00", 1.0),
        visit("T", "2026-03-09 15:00", "2026-02-20 10:00", None),
        visit("C1", "2026-03-09 11:00", "2026-03-02 08:00", None, patient="P2"),
    ]
    store.seed(pd.DataFrame(rows))
    target = [Appointment.model_validate(frame_records(pd.DataFrame([rows[1]]))[0])]
    before = online_history(store, target, HistoryParams())
    assert store.record_outcomes({"A1": "cancelled", "C1": "cancelled"}).changed == ["A1", "C1"]
    after = online_history(store, target, HistoryParams())
    assert (before["prior_visits"][0], after["prior_visits"][0]) == (1, 0)
    assert (before["clinic_day_load"][0], after["clinic_day_load"][0]) == (2, 1)


def test_a_visit_booked_at_an_unknown_time_counts_from_its_own_prediction_time() -> None:
    rows = [
        visit("EARLY", "2026-03-02 09:00", "2026-02-20 10:00", None),
        visit("HIDDEN", "2026-03-06 09:00", None, None),  # the booking time never sent
        visit("SAME", "2026-03-06 15:00", "2026-03-06 08:00", None, patient="P2"),
        visit("NEXT", "2026-03-10 09:00", "2026-03-09 10:00", None),
    ]
    history = history_of(rows, HistoryParams(horizon_days=1))
    # Taken as booked just before its prediction time: not upcoming for a visit predicted earlier
    # (it may have been booked later); in its day's load, its own included, as training saw it.
    assert history.loc["EARLY", "upcoming_visits_7d"] == 0
    assert history.loc["HIDDEN", "clinic_day_load"] == 1
    assert history.loc["SAME", "clinic_day_load"] == 1
    assert history.loc["NEXT", "upcoming_visits_7d"] == 0 and history.loc["NEXT", "prior_visits"] == 0


def test_online_features_equal_offline_ones_when_some_booking_times_are_unknown(tmp_path: Path) -> None:
    from training.fit import hide_booking_times

    table = load_appointments(generate_appointments(6_000, seed=32)).valid
    table = hide_booking_times(table, np.ones(len(table), dtype=bool), 0.3, seed=5)
    days = table["starts_at"].dt.normalize()
    cutoff = days.sort_values().unique()[60]
    params = HistoryParams(horizon_days=2, prior_rate=0.2, lead_band_rates=(0.05, 0.1, 0.2, 0.3, 0.4))
    offline = add_history(table, params).set_index("appointment_id")

    store = AppointmentStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.seed(table.assign(no_show=table["no_show"].where(days < cutoff)), horizon_days=2)
    targets = table[days == cutoff]
    records = [Appointment.model_validate(r) for r in frame_records(targets[list(Appointment.model_fields)])]
    assert sum(r.booked_at is None for r in records) > 5 and sum(r.booked_at is not None for r in records) > 5
    online = online_history(store, records, params)
    expected = offline.loc[targets["appointment_id"], list(HISTORY_FEATURES)]
    for name in HISTORY_FEATURES:
        np.testing.assert_allclose(online[name], expected[name].to_numpy(), rtol=0, atol=1e-12, err_msg=name)


def test_visits_booked_together_count_only_within_the_hour_and_by_the_prediction_time(tmp_path: Path) -> None:
    rows = [
        visit("T", "2026-03-09 15:00", "2026-03-01 10:00", None),
        visit("W1", "2026-03-16 15:00", "2026-03-01 10:30", None),  # half an hour later: the same sitting
        visit("W2", "2026-03-20 15:00", "2026-03-01 09:10", None),  # 50 minutes before
        visit("FAR", "2026-03-23 15:00", "2026-03-01 12:00", None),  # two hours later: another sitting
        visit("OTHER", "2026-03-16 15:00", "2026-03-01 10:10", None, patient="P2"),
        # Booked on its own visit day, so predicted at 12:00: LATE, booked at 12:30, was not yet known.
        visit("SAMEDAY", "2026-03-09 17:00", "2026-03-09 12:00", None, patient="P3"),
        visit("LATE", "2026-03-12 09:00", "2026-03-09 12:30", None, patient="P3"),
    ]
    offline = history_of(rows, HistoryParams(horizon_days=1))
    # W1 and W2 were booked 80 minutes apart: each was booked with T only.
    expected = {"T": 2, "W1": 1, "W2": 1, "FAR": 0, "OTHER": 0, "SAMEDAY": 0, "LATE": 1}
    assert offline["booked_together"].to_dict() == expected

    store = AppointmentStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.seed(pd.DataFrame(rows))
    records = [Appointment.model_validate(r) for r in frame_records(pd.DataFrame(rows))]
    online = online_history(store, records, HistoryParams(horizon_days=1))
    assert dict(zip([r["appointment_id"] for r in rows], online["booked_together"], strict=True)) == expected


def _reference_history(params: HistoryParams, target: tuple, stored: list[tuple]) -> list[float]:
    """PATIENT_FEATURES of one target, visit by visit, as the module's docstring defines them."""
    day, booked_at, target_id = target
    when = max((day - params.horizon_days + 1) * 86400.0, booked_at)
    in_time = sorted(stored, key=lambda row: (row[0], row[1]))  # stable: ties keep the stored order
    known = [r for r in in_time if r[2] == r[2] and r[0] <= day - params.horizon_days]
    by_then = [r for r in in_time if r[1] < when]
    others = [r for r in by_then if r[3] != target_id]
    visits, no_shows = float(len(known)), float(sum(r[2] for r in known))

    def expected(row: tuple) -> float:  # its lead band's rate; the overall one if booked when unknown
        if row[1] == (row[0] - params.horizon_days + 1) * 86400.0 - 1:
            return params.prior_rate
        lead = row[0] - row[1] / 86400.0
        return params.lead_band_rates[sum(edge <= lead for edge in LEAD_BAND_EDGES_DAYS)]

    pseudo = params.prior_weight * params.prior_rate
    return [
        visits,
        no_shows,
        (no_shows + params.prior_weight * params.prior_rate) / (visits + params.prior_weight),
        known[-1][2] if known else np.nan,
        day - known[-1][0] if known else np.nan,
        float(sum(r[0] == day for r in others)),
        float(sum(0 < r[0] - day <= 7 for r in by_then)),
        float(sum(abs(r[1] - booked_at) < 3600 for r in others)),
        (no_shows + pseudo) / (sum(expected(r) for r in known) + pseudo),
        known[-1][2] - expected(known[-1]) if known else np.nan,
    ]


@pytest.mark.parametrize("seed", range(4))
def test_patient_history_matches_a_visit_by_visit_reading_of_its_definition(seed: int) -> None:
    """The compiled loop, on batches of patients with ties, unknown outcomes and padding rows."""
    rng = np.random.default_rng(seed)
    params = HistoryParams(
        horizon_days=int(rng.integers(1, 4)),
        prior_rate=0.3,
        prior_weight=2.0,
        lead_band_rates=tuple(rng.uniform(0.05, 0.5, LEAD_BANDS)),
    )
    leads = np.array([0, 1800, 3600, 86400, 3, 4, 10, 15, 20, 30, 40]) * np.array([1, 1, 1, 1, *[86400] * 7])
    for _ in range(100):
        patients, targets, width = (int(n) for n in rng.integers(1, [4, 5, 9]))
        days = rng.integers(90, 110, (patients, width)).astype(float)
        booked = days * 86400 - rng.choice(leads, days.shape)  # every band, on and off its edges
        unknown = rng.random(days.shape) < 0.2  # booking times unknown, stored as assumed_booking does
        booked[unknown] = assumed_booking(np.full(unknown.sum(), np.nan), days[unknown], params.horizon_days)
        outcome = np.where(rng.random(days.shape) < 0.4, np.nan, rng.integers(0, 2, days.shape))
        ids = rng.choice(np.array([f"a{i}" for i in range(6)], dtype=object), days.shape)
        days[:, -1] = booked[:, -1] = np.inf  # a padding row: never known, booked or upcoming
        outcome[:, -1], ids[:, -1] = np.nan, None
        target_days = rng.integers(90, 110, (patients, targets)).astype(float)
        target_booked = target_days * 86400 - rng.choice([0, 3600, 2 * 86400, 9 * 86400], target_days.shape)
        target_ids = rng.choice(np.array([f"a{i}" for i in range(6)], dtype=object), target_days.shape)
        got = patient_history(
            params,
            PatientRows(target_days, target_booked, np.full(target_days.shape, np.nan), target_ids),
            PatientRows(days, booked, outcome, ids),
        )
        for p in range(patients):
            stored = list(zip(days[p], booked[p], outcome[p], ids[p], strict=True))
            for t in range(targets):
                want = _reference_history(
                    params, (target_days[p, t], target_booked[p, t], target_ids[p, t]), stored
                )
                np.testing.assert_array_equal(got[p, t], want)
