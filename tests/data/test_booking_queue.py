"""The group-commit queue: a booking is readable once its future is done; one bad batch fails alone."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from data.stores.appointments import AppointmentStore
from data.stores.booking_queue import BookingQueue
from data.stores.bookings import booking_row
from data.stores.engine import process_lock

DAY = 86400.0 * 20_000


def test_a_booking_is_in_the_store_when_its_future_is_done(tmp_path: Path) -> None:
    store = AppointmentStore(f"sqlite:///{tmp_path / 's.db'}")
    bookings = BookingQueue(store)
    futures = [bookings.submit([booking_row(f"A{k}", f"P{k % 7}", "C01", DAY, 0.0)]) for k in range(200)]
    futures[-1].result(timeout=30)
    assert all(future.done() for future in futures)  # one thread, in order: all earlier ones too
    found = store.history([f"P{p}" for p in range(7)], [("C01", 20_000)])
    assert sum(len(rows.ids) for rows in found.patients.values()) == 200
    assert len(found.bookings[("C01", 20_000)]) == 200
    bookings.close()


def test_queued_bookings_share_a_commit_and_a_bad_one_fails_alone(tmp_path: Path) -> None:
    store = AppointmentStore(f"sqlite:///{tmp_path / 's.db'}")
    bookings = BookingQueue(store)
    lock = process_lock(store.engine)
    lock.acquire()  # the writer thread waits here, so that the next submissions queue up behind it
    try:
        first = bookings.submit([booking_row("A0", "P0", "C01", DAY, 0.0)])
        good = [bookings.submit([booking_row(f"A{k}", "P1", "C01", DAY, 0.0)]) for k in range(1, 6)]
        bad = bookings.submit([{**booking_row("B1", "P2", "C01", DAY, 0.0), "patient_id": None}])
        later = bookings.submit([booking_row("A9", "P1", "C01", DAY, 0.0)])
    finally:
        lock.release()
    for future in (first, *good, later):
        assert future.result(timeout=30) is None
    with pytest.raises(DBAPIError):
        bad.result(timeout=30)
    found = store.history(["P0", "P1", "P2"])
    assert sorted(found.patients["P1"].ids) == ["A1", "A2", "A3", "A4", "A5", "A9"]
    assert "P2" not in found.patients
    bookings.close()


def test_close_writes_what_is_queued(tmp_path: Path) -> None:
    store = AppointmentStore(f"sqlite:///{tmp_path / 's.db'}")
    bookings = BookingQueue(store)
    submitted = threading.Event()

    def submit_many() -> None:
        for k in range(50):
            bookings.submit([booking_row(f"A{k}", "P1", "C01", DAY, 0.0)])
        submitted.set()

    with process_lock(store.engine):
        thread = threading.Thread(target=submit_many)
        thread.start()
        assert submitted.wait(10)
    bookings.close()
    thread.join()
    assert len(store.history(["P1"]).patients["P1"].ids) == 50
