"""Refilled slots: freed minutes used by visits booked after the time was freed, and the patients
booked into accepted overbookings, against a hand-made day and a direct count over a synthetic world."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from data.epoch import epoch_day
from data.loaders.canonical import load_appointments
from data.stores.appointments import AppointmentStore
from data.stores.overbooks import OverbookStore
from data.stores.slots import visit_slots
from data.synthetic.appointments import Cancellations, generate_appointments
from services.refills import refill_numbers, refilled_minutes
from tests.direct_counts import direct_refills, store_slots

DAY = datetime(2026, 3, 2)


def hand_made_day() -> pd.DataFrame:
    """Visits of provider C01-D1 on DAY: (id, start, minutes, booked, outcome, cancelled)."""
    visits = [
        ("A", "09:00", 30, "2026-02-23 09:00", None, "2026-02-28 09:00"),  # freed 48 h ahead: 30 min
        ("B", "09:10", 10, "2026-03-01 08:00", 0.0, None),  # booked after: refills 09:10-09:20
        ("C", "09:15", 30, "2026-02-27 08:00", 0.0, None),  # booked before the cancellation: no
        ("D", "09:20", 20, "2026-03-01 09:00", 0.0, None),  # refills 09:20-09:30 (B's end, not twice)
        ("E", "10:00", 20, "2026-02-20 12:00", 1.0, None),  # a no-show: 20 min freed
        ("F", "10:00", 20, "2026-02-25 12:00", 0.0, None),  # booked into the overbooking, came
    ]
    frame = generate_appointments(len(visits), seed=1).drop(columns=["true_no_show_probability"])
    frame["appointment_id"] = [v[0] for v in visits]
    frame["patient_id"] = [f"P-{v[0]}" for v in visits]
    frame["clinic_id"], frame["provider_id"] = "C01", "C01-D1"
    frame["starts_at"] = pd.to_datetime([f"2026-03-02 {v[1]}" for v in visits])
    frame["duration_minutes"] = [v[2] for v in visits]
    frame["booked_at"] = pd.to_datetime([v[3] for v in visits])
    frame["no_show"] = [v[4] for v in visits]
    frame["cancelled_at"] = pd.to_datetime([v[5] for v in visits])
    return frame


def test_a_hand_made_day_refills_as_counted_by_hand(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'refills.db'}"
    store = AppointmentStore(url)
    store.seed(hand_made_day())
    overbooks = OverbookStore(url)
    overbooks.accept("C01", "C01-D1", DAY.replace(hour=10), 1, datetime(2026, 2, 24, 9))
    overbooks.accept("C01", "C01-D1", DAY.replace(hour=11), 0, datetime(2026, 2, 24, 9))  # withdrawn
    day = epoch_day(DAY)
    numbers = refill_numbers(
        visit_slots(store.engine, day, day), overbooks.between(DAY, DAY.replace(hour=23))
    )
    assert numbers.to_dict("records") == [
        {
            "week": "2026-03-02",
            "clinic_id": "C01",
            "freed_slots": 2,
            "freed_minutes": 50.0,
            "refilled_slots": 2,
            "refilled_minutes": 40.0,
            "refilled_share": 0.8,
            "overbookings": 1,
            "overbooked": 1,
            "overbooked_came": 1,
        }
    ]


def test_refilled_minutes_equal_a_direct_count_over_a_synthetic_world(tmp_path: Path) -> None:
    world = load_appointments(
        generate_appointments(4_000, seed=9, business_days=10, cancellations=Cancellations())
    ).valid
    store = AppointmentStore(f"sqlite:///{tmp_path / 'world.db'}")
    store.seed(world)
    days = world["starts_at"].dt.normalize()
    first, last = epoch_day(days.max()) - 6, epoch_day(days.max())
    slots = visit_slots(store.engine, first, last)
    counted = refilled_minutes(slots).set_index("appointment_id")["refilled_minutes"]
    direct = direct_refills(store_slots(store.engine.url, first, last))
    assert len(direct) > 300 and sum(direct.values()) > 1_000
    assert counted.to_dict() == {k: float(v) for k, v in direct.items()}
    by_week = refill_numbers(slots, OverbookStore(store.engine).between(DAY, DAY))
    assert np.isclose(by_week["refilled_minutes"].sum(), sum(direct.values()))


def test_a_freed_slot_nobody_refilled_counts_no_minutes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'alone.db'}"
    store = AppointmentStore(url)
    store.seed(hand_made_day().iloc[[0, 4]])  # a cancellation and a no-show, alone
    day = epoch_day(DAY)
    numbers = refill_numbers(visit_slots(store.engine, day, day), OverbookStore(url).between(DAY, DAY))
    assert numbers[["freed_slots", "freed_minutes", "refilled_minutes", "overbookings"]].values.tolist() == [
        [2, 50.0, 0.0, 0]
    ]
