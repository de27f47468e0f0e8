"""Request bodies and small helpers that several test modules share."""

from __future__ import annotations

import re
import socket
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from models.tasks import caller_records, get_task
from tests.helpers import PASSWORD, USERS, TrainedStore, totp_now

APPOINTMENT = {
    "appointment_id": "A1",
    "patient_id": "P1",
    "clinic_id": "C01",
    "provider_id": "C01-D1",
    "booked_at": "2026-03-01T09:00:00",
    "starts_at": "2026-03-10T14:30:00",
    "duration_minutes": 20,
    "appointment_type": "follow_up",
    "patient_age": 34,
    "patient_sex": "F",
    "payer_type": "commercial",
    "reminder_sent": True,
}

CLAIM = {
    "claim_id": "CLM1",
    "patient_id": "P1",
    "payer_id": "MCR-TX",
    "payer_type": "medicare",
    "billing_provider_id": "1234567893",
    "rendering_provider_id": "1003000007",
    "service_date": "2026-03-02",
    "submitted_at": "2026-03-05",
    "place_of_service": "11",
    "total_charge": 1310.0,
    "diagnosis_codes": ["M54.50"],
    "service_lines": [
        {"procedure_code": "99213", "units": 1, "charge": 110.0},
        {"procedure_code": "72148", "units": 1, "charge": 1200.0},
    ],
}


def bodies(store: TrainedStore, rows: int = 5) -> dict[str, dict]:
    """Request bodies of canonical records, as a caller sends them."""
    out = {}
    for task_name, field, path in (
        ("noshow", "appointments", store.appointments),
        ("denial", "claims", store.claims),
    ):
        task = get_task(task_name)
        out[task_name] = {field: caller_records(task, task.load(path).valid.tail(rows))}
    return out


def session_body(slots: int = 40, prefix: str = "OB", day: str = "2026-09-14") -> dict:
    start = datetime.fromisoformat(f"{day}T08:00:00")
    items = []
    for index in range(slots):
        at = start + timedelta(minutes=15 * index)
        appointment = {
            "appointment_id": f"{prefix}-{index}",
            "patient_id": f"{prefix}-P{index}",
            "clinic_id": "C01",
            "provider_id": "C01-D1",
            "booked_at": (at - timedelta(days=3 + index % 20)).isoformat(),
            "starts_at": at.isoformat(),
            "duration_minutes": 15,
            "appointment_type": "follow_up",
            "patient_age": 20 + index,
            "patient_sex": "F" if index % 2 else "M",
            "payer_type": "medicaid" if index % 3 == 0 else "commercial",
            "reminder_sent": index % 4 != 0,
            "group": "B" if index % 3 == 0 else "A",
        }
        items.append({"starts_at": at.isoformat(), "appointments": [appointment]})
    return {
        "clinic_id": "C01",
        "provider_id": "C01-D1",
        "session_date": day,
        "slot_minutes": 15,
        "slots": items,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fhir_bundle() -> dict:
    """A FHIR R4 Bundle with a Patient and one booked Appointment that refers to it."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:p1",
                "resource": {
                    "resourceType": "Patient",
                    "id": "FP1",
                    "gender": "female",
                    "birthDate": "1990-05-04",
                },
            },
            {
                "resource": {
                    "resourceType": "Appointment",
                    "id": "FA1",
                    "status": "booked",
                    "created": "2026-09-01T09:30:00Z",
                    "start": "2026-09-15T10:00:00Z",
                    "minutesDuration": 20,
                    "appointmentType": {"coding": [{"code": "follow_up"}]},
                    "participant": [
                        {"actor": {"reference": "Patient/FP1"}, "status": "accepted"},
                        {"actor": {"reference": "Location/C02"}, "status": "accepted"},
                        {"actor": {"reference": "Practitioner/C02-D1"}, "status": "accepted"},
                    ],
                }
            },
        ],
    }


def visit(
    appointment_id: str,
    starts: str,
    booked: str,
    no_show: float | None,
    patient: str = "P1",
    clinic: str = "C1",
) -> dict:
    return {
        "appointment_id": appointment_id,
        "patient_id": patient,
        "clinic_id": clinic,
        "provider_id": "D1",
        "booked_at": pd.Timestamp(booked),
        "starts_at": pd.Timestamp(starts),
        "duration_minutes": 20,
        "appointment_type": "follow_up",
        "patient_age": 40,
        "patient_sex": "F",
        "payer_type": "commercial",
        "reminder_sent": True,
        "no_show": no_show,
    }


def outcomes_of(appointments: pd.DataFrame) -> list[dict]:
    """The `/v1/noshow/outcomes` items of labelled appointments: attended or no-show."""
    return [
        {"appointment_id": a, "outcome": "no_show" if y else "attended"}
        for a, y in zip(appointments["appointment_id"], appointments["no_show"], strict=True)
    ]


def sign_in_form(
    client, role: str, follow_redirects: bool = False, password: str = PASSWORD, username: str | None = None
):
    """Sign a TestClient in through the pages' form as the test user of `role` (its token comes with
    the form; an admin's TOTP code is read from the store)."""
    settings = client.app.state.careops.settings
    username = username or USERS.get(role, role)
    client.cookies.clear()
    form = client.get("/app/sign-in").text
    token = re.search(r'name="token" value="([^"]+)"', form).group(1)
    data = {"username": username, "password": password, "code": totp_now(settings, username), "token": token}
    return client.post("/app/sign-in", data=data, follow_redirects=follow_redirects)


def signed_in(client, key: str) -> str:
    """Sign in as the test user of `key`'s role; the worklist form's CSRF token."""
    sign_in_form(client, key)
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/app/worklist").text).group(1)


def upload(client, csrf: str, path: Path) -> str:
    """Upload a claims file to the worklist; the notice the page answers with."""
    with path.open("rb") as handle:
        response = client.post(
            "/app/worklist/upload",
            data={"csrf": csrf},
            files={"claims_file": (path.name, handle, "text/plain")},
        )
    assert response.status_code == 200
    return re.search(r'role="status">([^<]+)', response.text).group(1)
