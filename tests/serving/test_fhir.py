"""FHIR R4: a Bundle of Appointments in, R4B RiskAssessments out; bad FHIR gets an OperationOutcome."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.riskassessment import RiskAssessment

from serving.fhir_mapping import EXT_PAYER_TYPE, EXT_REMINDER_SENT, EXT_TOP_FACTOR
from tests.helpers import BILLER, SCHEDULER

ROUTE = "/fhir/Appointment/$no-show-risk"


def appointment(
    identifier: str, patient_reference: str, start: str, contained: list | None = None
) -> Appointment:
    return Appointment.model_validate(
        {
            "resourceType": "Appointment",
            "id": identifier,
            "status": "booked",
            "created": "2026-09-01T09:30:00Z",
            "start": start,
            "minutesDuration": 20,
            "appointmentType": {"coding": [{"code": "follow_up"}]},
            "participant": [
                {"actor": {"reference": patient_reference}, "status": "accepted"},
                {"actor": {"reference": "Location/C02"}, "status": "accepted"},
                {"actor": {"reference": "Practitioner/C02-D1"}, "status": "accepted"},
            ],
            "extension": [
                {"url": EXT_PAYER_TYPE, "valueCode": "medicaid"},
                {"url": EXT_REMINDER_SENT, "valueBoolean": True},
            ],
            "contained": contained or [],
        }
    )


def bundle() -> Bundle:
    referenced = Patient.model_validate(
        {"resourceType": "Patient", "id": "FP1", "gender": "female", "birthDate": "1990-05-04"}
    )
    contained = Patient.model_validate(
        {"resourceType": "Patient", "id": "inline", "gender": "male", "birthDate": "1950-01-20"}
    )
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                BundleEntry.model_validate({"fullUrl": "urn:uuid:p1", "resource": referenced}),
                BundleEntry.model_validate(
                    {"resource": appointment("FA1", "Patient/FP1", "2026-09-15T10:00:00Z")}
                ),
                BundleEntry.model_validate(
                    {"resource": appointment("FA2", "#inline", "2026-09-15T10:20:00Z", contained=[contained])}
                ),
            ],
        }
    )


def post(client: TestClient, body: str | bytes, headers: dict | None = None):
    return client.post(
        ROUTE, content=body, headers={**SCHEDULER, "Content-Type": "application/fhir+json", **(headers or {})}
    )


def test_round_trip_returns_valid_r4b_risk_assessments(client: TestClient) -> None:
    response = post(client, bundle().model_dump_json(exclude_none=True))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    result = Bundle.model_validate(response.json())
    assessments = [entry.resource for entry in result.entry]
    assert all(isinstance(a, RiskAssessment) for a in assessments) and len(assessments) == 2
    first, second = assessments
    assert first.subject.reference == "Patient/FP1" and first.basis[0].reference == "Appointment/FA1"
    assert second.subject.reference == "#inline" and second.basis[0].reference == "Appointment/FA2"
    assert first.method.coding[0].code == "noshow" and first.method.coding[0].version == "1"
    for assessment in assessments:
        prediction = assessment.prediction[0]
        assert 0 < float(prediction.probabilityDecimal) < 1
        assert prediction.rationale.endswith("the risk)") and "=" not in prediction.rationale
        assert prediction.qualitativeRisk.coding[0].code in {"low", "medium", "high"}
        assert {e.url for e in assessment.extension} == {EXT_TOP_FACTOR}

    # The same appointments through the JSON route give the same probabilities.
    canonical = [
        {"appointment_id": "FA1", "patient_id": "FP1", "patient_age": 36, "patient_sex": "F"},
        {"appointment_id": "FA2", "patient_id": "inline", "patient_age": 76, "patient_sex": "M"},
    ]
    common = {
        "clinic_id": "C02",
        "provider_id": "C02-D1",
        "booked_at": "2026-09-01T09:30:00",
        "duration_minutes": 20,
        "appointment_type": "follow_up",
        "payer_type": "medicaid",
        "reminder_sent": True,
    }
    starts = ["2026-09-15T10:00:00", "2026-09-15T10:20:00"]
    body = {"appointments": [c | common | {"starts_at": s} for c, s in zip(canonical, starts, strict=True)]}
    scored = client.post("/v1/noshow/score", json=body, headers=SCHEDULER).json()["predictions"]
    for assessment, prediction in zip(assessments, scored, strict=True):
        assert float(assessment.prediction[0].probabilityDecimal) == pytest.approx(
            prediction["no_show_probability"], abs=1e-6
        )


@pytest.mark.parametrize(
    ("body", "status", "expression"),
    [
        (b"{not json", 400, None),
        (json.dumps({"resourceType": "Patient", "id": "x"}), 422, "Bundle"),
        (
            json.dumps(
                {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [{"resource": {"resourceType": "Nope"}}],
                }
            ),
            422,
            "Bundle.entry",
        ),
        (json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}), 422, "Bundle.entry"),
    ],
)
def test_unreadable_input_gets_an_operation_outcome(
    client: TestClient, body, status: int, expression
) -> None:
    response = post(client, body)
    assert response.status_code == status
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["severity"] == "error"
    if expression:
        assert outcome["issue"][0]["expression"][0].startswith(expression)


@pytest.mark.parametrize(
    ("edit", "expression"),
    [
        (lambda a: a.pop("start"), "Bundle.entry[1].resource.start"),
        (
            lambda a: a.update(participant=[{"actor": {"reference": "Location/C02"}, "status": "accepted"}]),
            "Bundle.entry[1].resource.participant",
        ),
        (lambda a: a.update(start="next tuesday"), "Bundle.entry[1].resource.start"),
    ],
)
def test_incomplete_appointments_are_named_by_path(client: TestClient, edit, expression: str) -> None:
    payload = json.loads(bundle().model_dump_json(exclude_none=True))
    edit(payload["entry"][1]["resource"])
    response = post(client, json.dumps(payload))
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == [expression]


def test_billers_may_not_call_the_fhir_route(client: TestClient) -> None:
    assert post(client, bundle().model_dump_json(exclude_none=True), BILLER).status_code == 403
