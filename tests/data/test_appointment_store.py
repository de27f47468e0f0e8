"""The appointment store's booking write: the daily counts follow an outcome that moves, and only then."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from data.stores.appointments import AppointmentStore
from data.stores.bookings import booking_row
from tests.bodies import APPOINTMENT, visit
from tests.helpers import fresh_postgres_database

DAY = 20_513  # 2026-03-02


def counts(store: AppointmentStore) -> dict[str, tuple[float, float]]:
    found = store.history([], clinic_outcomes=[("C1", DAY + 30), ("C2", DAY + 30)]).outcomes
    return {clinic: found[(clinic, DAY + 30)] for clinic in ("C1", "C2")}


def _store(backend: str, tmp_path: Path) -> AppointmentStore:
    """A new store on SQLite, or on PostgreSQL."""
    url = fresh_postgres_database() if backend == "postgresql" else f"sqlite:///{tmp_path / 's.db'}"
    return AppointmentStore(url)


def test_rebooking_a_visit_with_an_outcome_moves_its_count(backend: str, tmp_path: Path) -> None:
    store = _store(backend, tmp_path)
    store.seed(
        pd.DataFrame(
            [
                visit("A1", "2026-03-02 09:00", "2026-02-20 10:00", 1.0),
                visit("A2", "2026-03-02 10:00", "2026-02-20 10:00", 0.0),
            ]
        )
    )
    assert counts(store) == {"C1": (1.0, 2.0), "C2": (0.0, 0.0)}
    seconds = DAY * 86400.0 + 9 * 3600
    store.upsert_bookings([booking_row("A1", "P1", "C1", seconds, seconds - 86400)])  # same place
    assert counts(store) == {"C1": (1.0, 2.0), "C2": (0.0, 0.0)}
    store.upsert_bookings([booking_row("A1", "P1", "C2", seconds, seconds - 86400)])  # another clinic
    assert counts(store) == {"C1": (0.0, 1.0), "C2": (1.0, 1.0)}
    store.upsert_bookings([booking_row("A3", "P3", "C2", seconds, seconds)])  # no outcome yet: no count
    assert counts(store) == {"C1": (0.0, 1.0), "C2": (1.0, 1.0)}
    assert sorted(store.history(["P1", "P3"]).patients["P1"].ids) == ["A1", "A2"]


def test_many_patients_are_read_in_chunks_as_each_alone(tmp_path: Path) -> None:
    store = AppointmentStore(f"sqlite:///{tmp_path / 's.db'}")
    visits = [
        visit(
            f"A{p}-{k}", f"2026-03-0{2 + k} 09:00", "2026-02-20 10:00", [1.0, 0.0, None][(p + k) % 3], f"P{p}"
        )
        for p in range(150)  # more patients than one look-up statement takes
        for k in range(p % 4)
    ]
    store.seed(pd.DataFrame(visits))
    patients = [f"P{p}" for p in range(150)] + ["NOBODY"]
    together = store.history(patients).patients
    assert len(together) == sum(1 for p in range(150) if p % 4)  # patients without visits are absent
    for patient in patients:
        alone = store.history([patient]).patients.get(patient)
        if alone is None:
            assert patient not in together
            continue
        for field in ("days", "booked", "outcome", "ids"):
            np.testing.assert_array_equal(getattr(together[patient], field), getattr(alone, field))


def test_a_booking_that_moves_an_outcome_is_found_beyond_the_first_chunk(
    backend: str, tmp_path: Path
) -> None:
    store = _store(backend, tmp_path)
    store.seed(pd.DataFrame([visit("A-LAST", "2026-03-02 09:00", "2026-02-20 10:00", 1.0)]))
    seconds = DAY * 86400.0 + 9 * 3600
    rows = [booking_row(f"N{i:03d}", f"Q{i}", "C1", seconds, seconds - 86400) for i in range(100)]
    rows.append(booking_row("A-LAST", "P1", "C2", seconds, seconds - 86400))  # moves its no-show
    store.upsert_bookings(rows)
    assert counts(store) == {"C1": (0.0, 0.0), "C2": (1.0, 1.0)}


def test_a_booking_stores_the_appointment_fields_alone_and_no_outcome() -> None:
    from data.schemas import Appointment
    from data.stores.bookings import booking_rows
    from serving.schemas import SessionAppointment

    fields = APPOINTMENT | {"patient_age": 40, "no_show": True}
    plain = Appointment.model_validate(fields)
    in_session = SessionAppointment.model_validate(fields | {"group": "g1"})
    stored = [json.loads(row["record"]) for row in booking_rows([plain, in_session])]
    assert stored[0] == stored[1]
    assert set(stored[0]) == set(Appointment.model_fields) - {"no_show", "cancelled_at"}
    assert stored[0]["patient_age"] == 40 and stored[0]["starts_at"] == APPOINTMENT["starts_at"]


def test_an_older_store_gets_the_covering_index_and_the_clinic_load_reads_only_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = AppointmentStore(url)
    with store.engine.begin() as connection:  # as a store made before the index existed
        connection.exec_driver_sql("DROP INDEX ix_careops_appointments_clinic_day_booked")
    store.engine.dispose()
    store = AppointmentStore(url)
    statement = store._statements.clinic_day
    with store.engine.connect() as connection:
        plan = connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement.sql}", statement.parameters({"clinic_id": "C1", "day": 1})
        ).all()
    assert any("COVERING INDEX ix_careops_appointments_clinic_day_booked" in row[-1] for row in plan), plan


def test_booking_again_writes_only_what_changed_and_a_batch_keeps_each_ids_last_booking(
    backend: str, tmp_path: Path
) -> None:
    import sqlite3

    from sqlalchemy import text

    store = _store(backend, tmp_path)
    seconds = DAY * 86400.0 + 9 * 3600
    watcher = sqlite3.connect(tmp_path / "s.db") if backend == "sqlite" else None

    def version() -> str:
        """PostgreSQL: the transaction that wrote A1's row version (xmin). SQLite: the file's data
        version as another connection sees it, which moves with any commit that changed the file."""
        if watcher is not None:
            return str(watcher.execute("PRAGMA data_version").fetchone()[0])
        with store.engine.connect() as connection:
            return connection.execute(
                text("SELECT xmin::text FROM careops_appointments WHERE appointment_id = 'A1'")
            ).scalar_one()

    store.upsert_bookings([booking_row("A1", "P1", "C1", seconds, seconds - 86400)])
    first = version()
    store.upsert_bookings([booking_row("A1", "P1", "C1", seconds, seconds - 86400)])  # as it is
    assert version() == first
    store.upsert_bookings(
        [
            booking_row("A1", "P1", "C1", seconds, seconds - 7200),
            booking_row("A1", "P1", "C1", seconds, seconds - 3600),  # the batch's last booking of A1
        ]
    )
    assert version() != first
    assert store.history(["P1"]).patients["P1"].booked.tolist() == [seconds - 3600]
