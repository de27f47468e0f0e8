"""Two `careops serve` instances on one PostgreSQL database, as two machines behind a balancer: what
one books or records, the other scores with; bookings made at once through both are all kept; a
promotion reaches both within the reload interval."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from mlflow import MlflowClient
from sqlalchemy import select

from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.schemas import Appointment
from data.stores.appointment_tables import clinic_days
from data.stores.appointments import AppointmentStore
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from features.history import HistoryParams, online_history
from tests.helpers import API_KEYS, SCHEDULER, fresh_postgres_database, make_settings, require_postgres
from tests.processes import careops_serving
from training.train import train

pytestmark = pytest.mark.e2e
RELOAD_SECONDS = 1.0


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """Instances A and B on one PostgreSQL store and one MLflow, where noshow has versions 1
    (champion) and 2; their base URLs and the store's URL."""
    require_postgres()
    root = tmp_path_factory.mktemp("two-instances")
    settings = make_settings(root, database_url=fresh_postgres_database())
    for seed in (93, 94):
        train("noshow", write_table(generate_appointments(3_000, seed=seed), root / f"a{seed}.csv"), settings)
    claims = write_table(claims_for_file(generate_claims(2_000, seed=95)), root / "claims.csv")
    train("denial", claims, settings)
    MlflowClient(tracking_uri=settings.tracking_uri).set_registered_model_alias("noshow", "champion", "1")
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CAREOPS_", "MLFLOW_"))},
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "CAREOPS_API_KEYS": API_KEYS,
        "CAREOPS_DATABASE_URL": settings.database_url,
        "CAREOPS_PSEUDONYM_KEY": "two-instances-pseudonym-key",  # the prediction log is on, on PostgreSQL
        "CAREOPS_RELOAD_INTERVAL_SECONDS": str(RELOAD_SECONDS),
    }
    with careops_serving(root, environment, "a.log") as a, careops_serving(root, environment, "b.log") as b:
        yield a, b, settings


def visit(name: str, day: str, hour: int, booked_days_before: int, patient: str | None = None) -> dict:
    starts = datetime.fromisoformat(f"{day}T08:00:00") + timedelta(minutes=10 * hour)
    return {
        "appointment_id": name, "patient_id": patient or f"P-{name}", "clinic_id": "C02",
        "provider_id": "C02-D1", "booked_at": (starts - timedelta(days=booked_days_before)).isoformat(),
        "starts_at": starts.isoformat(), "duration_minutes": 10, "appointment_type": "follow_up",
        "patient_age": 40, "patient_sex": "F", "payer_type": "commercial", "reminder_sent": True,
    }  # fmt: skip


def score(base: str, *appointments: dict) -> list[float]:
    response = httpx.post(f"{base}/v1/noshow/score", json={"appointments": list(appointments)},
                          headers=SCHEDULER, timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    return [p["no_show_probability"] for p in response.json()["predictions"]]


def test_bookings_through_a_are_in_the_clinic_day_load_of_a_later_score_through_b(instances) -> None:
    a, b, settings = instances
    target = visit("LOAD-T", "2027-06-07", 0, 2)
    before = score(b, target)[0]
    for n in range(30):  # booked before the target was: they count in its clinic-day load
        score(a, visit(f"LOAD-{n}", "2027-06-07", n + 1, 5))
    after_b, after_a = score(b, target)[0], score(a, target)[0]
    store = AppointmentStore(settings.database_url)
    load = online_history(store, [Appointment.model_validate(target)], HistoryParams())["clinic_day_load"][0]
    assert load == 31 and after_b == after_a != before


def test_an_outcome_posted_to_b_changes_the_history_of_a_later_score_through_a(instances) -> None:
    a, b, settings = instances
    first = visit("OUT-1", "2027-06-14", 0, 3, patient="P-OUT")
    later = visit("OUT-2", "2027-06-28", 0, 3, patient="P-OUT")
    score(a, first)
    unknown = score(a, later)[0]
    recorded = httpx.post(f"{b}/v1/noshow/outcomes", json={"outcomes": [{"appointment_id": "OUT-1",
                          "outcome": "no_show"}]}, headers=SCHEDULER, timeout=30)  # fmt: skip
    assert recorded.json() == {"recorded": 1, "unchanged": 0}
    missed = score(a, later)[0]
    store = AppointmentStore(settings.database_url)
    history = online_history(store, [Appointment.model_validate(later)], HistoryParams())
    assert history["prior_no_shows"][0] == 1 and missed > unknown


def test_two_instances_booking_and_recording_one_clinic_day_at_once_lose_nothing(instances) -> None:
    a, b, settings = instances
    errors: list[str] = []

    def book(base: str, prefix: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            for n in range(60):
                one = {"appointments": [visit(f"{prefix}-{n}", "2027-07-05", n % 50, 4)]}
                answer = http.post("/v1/noshow/score", headers=SCHEDULER, json=one)
                if answer.status_code != 200:
                    errors.append(answer.text[:80])

    threads = [threading.Thread(target=book, args=(base, prefix)) for base, prefix in ((a, "CA"), (b, "CB"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    day = (datetime(2027, 7, 5) - datetime(1970, 1, 1)).days
    kept = AppointmentStore(settings.database_url).clinic_day_ids("C02", day)
    assert errors == [] and kept == {f"{p}-{n}" for p in ("CA", "CB") for n in range(60)}

    def record(base: str, prefix: str) -> None:  # outcomes of one clinic-day, through both at once
        with httpx.Client(base_url=base, timeout=30) as http:
            for n in range(60):
                outcome = {
                    "appointment_id": f"{prefix}-{n}",
                    "outcome": "no_show" if n % 3 == 0 else "attended",
                }
                answer = http.post("/v1/noshow/outcomes", headers=SCHEDULER, json={"outcomes": [outcome]})
                if answer.status_code != 200:
                    errors.append(answer.text[:80])

    threads = [
        threading.Thread(target=record, args=(base, prefix)) for base, prefix in ((a, "CA"), (b, "CB"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine = AppointmentStore(settings.database_url).engine
    with engine.connect() as connection:
        counted = connection.execute(
            select(clinic_days.c.visits, clinic_days.c.no_shows).where(
                clinic_days.c.clinic_id == "C02", clinic_days.c.day == day
            )
        ).one()
    assert errors == [] and tuple(counted) == (120.0, 40.0)  # a direct count: 120 known, 2 x 20 no-shows


def test_a_promotion_is_served_by_both_within_the_reload_interval(instances) -> None:
    a, b, settings = instances
    body = {"appointments": [visit("PROMO", "2027-07-12", 0, 3)]}

    def versions() -> set[str]:
        answers = [httpx.post(f"{base}/v1/noshow/score", json=body, headers=SCHEDULER, timeout=30)
                   for base in (a, b) for _ in range(3)]  # fmt: skip
        return {answer.json()["model"]["version"] for answer in answers}

    assert versions() == {"1"}
    MlflowClient(tracking_uri=settings.tracking_uri).set_registered_model_alias("noshow", "champion", "2")
    promoted = time.monotonic()
    while versions() != {"2"}:
        assert time.monotonic() - promoted < RELOAD_SECONDS + 2.0, "a promotion did not reach both instances"
        time.sleep(0.1)
    print(f"\npromotion served by both instances after {time.monotonic() - promoted:.2f} s")
