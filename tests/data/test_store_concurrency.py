"""Many writers at once: the stores neither fail nor lose a write, and keep parameters out of errors."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from data.loaders.canonical import load_claims
from data.stores.appointments import AppointmentStore
from data.stores.bookings import booking_row
from data.stores.claims import ClaimStore
from data.stores.engine import process_lock, write_transaction
from data.stores.overbooks import OverbookStore
from data.stores.worklist import WorklistStore
from data.synthetic.claims import generate_claims
from services.monitoring.log_store import PredictionLog
from tests.helpers import backend_settings

WRITERS = 8
PROCESSES = 6
ROUNDS = 12
MARKER = "ZZMARKER"


def _run(workers: list[threading.Thread]) -> None:
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)


def test_concurrent_writers_all_succeed(tmp_path: Path, backend: str) -> None:
    url = backend_settings(tmp_path, backend).database_url
    appointments, claims = AppointmentStore(url), ClaimStore(url)
    table = load_claims(generate_claims(WRITERS * ROUNDS * 5, seed=3)).valid
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for round_ in range(ROUNDS):
                # Every writer books, then records outcomes of, the same shared appointments and its own.
                shared = [booking_row(f"S{k}", f"P{k}", "C01", 86400.0 * 20_000, 0.0) for k in range(50)]
                own = [
                    booking_row(f"W{worker}-{round_}-{k}", "P1", "C01", 86400.0 * 20_000, 0.0)
                    for k in range(50)
                ]
                appointments.upsert_bookings(shared + own)
                outcome = "no_show" if (worker + round_) % 2 else "attended"
                appointments.record_outcomes({f"S{k}": outcome for k in range(50)})
                start = (worker * ROUNDS + round_) * 5
                claims.record(pd.concat([table.iloc[start : start + 5], table.iloc[:5]]))
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    _run([threading.Thread(target=write, args=(worker,)) for worker in range(WRITERS)])
    assert errors == []
    with appointments.engine.connect() as connection:
        assert (
            connection.execute(text("SELECT count(*) FROM careops_appointments")).scalar()
            == 50 + WRITERS * ROUNDS * 50
        )
        assert (
            connection.execute(text("SELECT count(*) FROM careops_claims")).scalar() == WRITERS * ROUNDS * 5
        )
    appointments.engine.dispose()
    claims.engine.dispose()


def _open_every_store(url: str, start: threading.Barrier) -> None:
    start.wait(60)
    for store in (AppointmentStore, ClaimStore, PredictionLog, WorklistStore, OverbookStore):
        store(url).engine.dispose()


def test_processes_that_open_a_new_database_at_once_all_create_it(tmp_path: Path, backend: str) -> None:
    """The API's workers, a listener and a CLI run may each be the first to open the stores."""
    url = backend_settings(tmp_path, backend).database_url
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    processes = [context.Process(target=_open_every_store, args=(url, start)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    store = AppointmentStore(url)
    store.upsert_bookings([booking_row("A1", "P1", "C01", 0.0, 0.0)])
    assert set(store.history(["P1"]).patients) == {"P1"}
    store.engine.dispose()


def test_store_errors_never_carry_parameters(tmp_path: Path) -> None:
    store = AppointmentStore(f"sqlite:///{tmp_path / 'c.db'}")
    with store.engine.begin() as connection:
        connection.execute(text("DROP TABLE careops_appointments"))
    with pytest.raises(DBAPIError) as caught:
        store.upsert_bookings([booking_row(f"{MARKER}-1", f"{MARKER}-P", "C01", 0.0, 0.0)])
    assert MARKER not in str(caught.value) and "hidden" in str(caught.value)


def test_a_write_waits_for_a_long_writer_instead_of_failing(tmp_path: Path) -> None:
    """Another process (a training run seeding the store) holds the write lock for six seconds."""
    import sqlite3
    import time

    path = tmp_path / "c.db"
    store = AppointmentStore(f"sqlite:///{path}")
    held = threading.Event()

    def long_writer() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "INSERT INTO careops_appointments (appointment_id, patient_id, clinic_id, start_day, booked_at)"
            " VALUES ('L1', 'P', 'C', 1, 0.0)"
        )
        held.set()
        time.sleep(6)
        connection.execute("COMMIT")
        connection.close()

    worker = threading.Thread(target=long_writer)
    worker.start()
    held.wait(10)
    started = time.monotonic()
    store.upsert_bookings([booking_row("A1", "P1", "C01", 0.0, 0.0)])
    waited = time.monotonic() - started
    worker.join()
    assert 4 < waited < 30
    assert set(store.history(["P", "P1"]).patients) == {"P", "P1"}
    store.engine.dispose()


def test_writers_to_one_sqlite_file_queue_on_one_lock(tmp_path: Path) -> None:
    """The bookings' writer and the prediction log's writer must not meet in SQLite's busy handler."""
    path = tmp_path / "c.db"
    appointments, log = AppointmentStore(f"sqlite:///{path}"), PredictionLog(f"sqlite:///{path}")
    other = AppointmentStore(f"sqlite:///{tmp_path / 'other.db'}")
    assert process_lock(appointments.engine) is process_lock(log.engine)
    assert process_lock(other.engine) is not process_lock(appointments.engine)
    held = threading.Event()
    release = threading.Event()

    def long_log_write() -> None:
        with write_transaction(log.engine):
            held.set()
            release.wait(10)

    worker = threading.Thread(target=long_log_write)
    worker.start()
    held.wait(10)
    # While the log's transaction is open, a booking waits on the Python lock, not in SQLite.
    assert not process_lock(appointments.engine).acquire(timeout=0.05)
    release.set()
    worker.join()
    appointments.upsert_bookings([booking_row("A1", "P1", "C01", 0.0, 0.0)])
    for store in (appointments, log, other):
        store.engine.dispose()


def _hold_the_write_lock(url: str, held: threading.Event, release: threading.Event) -> None:
    log = PredictionLog(url)
    with write_transaction(log.engine):
        held.set()
        release.wait(30)
    log.engine.dispose()


def test_writers_in_other_processes_queue_on_the_same_lock(tmp_path: Path) -> None:
    """The prediction log's writer process (or another worker) holds the write lock: a booking waits
    in the kernel and goes as soon as the lock is free, not after one of SQLite's busy sleeps."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    appointments = AppointmentStore(url)
    context = multiprocessing.get_context("spawn")
    held, release = context.Event(), context.Event()
    other = context.Process(target=_hold_the_write_lock, args=(url, held, release))
    other.start()
    assert held.wait(60)
    assert not process_lock(appointments.engine).acquire(timeout=0.05)
    # Released 0.35 s into the booking's wait; SQLite's busy handler would look again only at
    # 0.43 s (its sleeps have grown to 100 ms by then).
    threading.Timer(0.35, release.set).start()
    started = time.monotonic()
    appointments.upsert_bookings([booking_row("A1", "P1", "C01", 0.0, 0.0)])
    waited = time.monotonic() - started
    other.join(30)
    assert other.exitcode == 0
    assert 0.35 <= waited < 0.41
    assert appointments.history(["P1"]).patients["P1"].ids == ["A1"]
    appointments.engine.dispose()


def test_the_write_lock_file_is_open_only_while_the_lock_is_held(tmp_path: Path) -> None:
    descriptors = Path("/proc/self/fd")
    if not descriptors.exists():
        pytest.skip("no /proc/self/fd on this system")
    store = AppointmentStore(f"sqlite:///{tmp_path / 'c.db'}")
    lock_file = str(tmp_path / "c.db-write-lock")

    def open_lock_files() -> int:
        return sum(1 for fd in descriptors.iterdir() if os.path.realpath(fd) == lock_file)

    lock = process_lock(store.engine)
    with lock:
        assert open_lock_files() == 1
    store.upsert_bookings([booking_row("A1", "P1", "C01", 0.0, 0.0)])
    assert Path(lock_file).exists() and open_lock_files() == 0
    store.engine.dispose()
