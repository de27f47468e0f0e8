"""FHIR Appointments as EHRs write them: HL7's own example, one without `created`, payers from a
Coverage, statuses that are not scored, and factors that are typed and worded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.riskassessment import RiskAssessment

from serving.fhir_mapping import EXT_MISSING_INPUT, EXT_TOP_FACTOR
from tests.bodies import APPOINTMENT
from tests.helpers import SCHEDULER

ROUTE = "/fhir/Appointment/$no-show-risk"
EXAMPLES = Path(__file__).parent / "fhir_examples"


# ehr-appointment.json as a canonical record (with a booking time and a Medicaid payer).
EHR_APPOINTMENT = APPOINTMENT | {
    "clinic_id": "21304876", "provider_id": "593923", "booked_at": "2026-09-01T10:00:00",
    "starts_at": "2026-09-15T14:00:00", "duration_minutes": 30, "patient_age": 60, "patient_sex": "F",
    "payer_type": "medicaid", "reminder_sent": False,
}  # fmt: skip


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def patient(identifier: str, gender: str = "male", birth: str = "1974-12-25") -> dict:
    return {"resourceType": "Patient", "id": identifier, "gender": gender, "birthDate": birth}


def bundle(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def assess(client: TestClient, payload: dict) -> list:
    response = client.post(
        ROUTE, content=json.dumps(payload), headers=SCHEDULER | {"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 200, response.text
    return [entry.resource for entry in Bundle.model_validate(response.json()).entry]


def factors(assessment: RiskAssessment) -> list[dict]:
    out = []
    for extension in assessment.extension:
        if extension.url == EXT_TOP_FACTOR:
            out.append({part.url: part for part in extension.extension})
    return out


def test_hl7s_example_appointment_scores_as_a_follow_up(client: TestClient) -> None:
    (assessment,) = assess(client, bundle(patient("example"), example("appointment-example.json")))
    assert assessment.basis[0].reference == "Appointment/example"
    named = {f["name"].valueString: f for f in factors(assessment)}
    if "appointment_type" in named:
        assert named["appointment_type"]["value"].valueString == "follow_up"
    # The score is the one of a canonical follow-up with the same inputs, not of an unknown type.
    same = APPOINTMENT | {
        "appointment_id": "example-json", "patient_id": "example-json", "clinic_id": "1",
        "provider_id": "example", "booked_at": "2013-10-10T00:00:00", "starts_at": "2013-12-10T09:00:00",
        "duration_minutes": 120, "patient_age": 38, "patient_sex": "M", "payer_type": "unknown",
        "reminder_sent": False,
    }  # fmt: skip
    scored = client.post("/v1/noshow/score", json={"appointments": [same]}, headers=SCHEDULER).json()
    probability = float(assessment.prediction[0].probabilityDecimal)
    assert probability == pytest.approx(scored["predictions"][0]["no_show_probability"], abs=1e-6)
    assert "appointment_type" not in scored["predictions"][0]["unseen_inputs"]


def test_an_appointment_without_created_scores_with_booked_at_missing(client: TestClient) -> None:
    resource = example("ehr-appointment.json")
    assert "created" not in resource and resource["meta"]["lastUpdated"]
    (assessment,) = assess(client, bundle(patient("12724066", "female", "1966-08-24"), resource))
    missing = [e.valueCode for e in assessment.extension if e.url == EXT_MISSING_INPUT]
    assert missing == ["booked_at"]
    assert 0 < float(assessment.prediction[0].probabilityDecimal) < 1
    # serviceType text mapped the type; lastUpdated was not taken for a booking time.
    same = EHR_APPOINTMENT | {"appointment_id": "ehr-json", "patient_id": "ehr-json", "payer_type": "unknown"}
    del same["booked_at"]
    scored = client.post("/v1/noshow/score", json={"appointments": [same]}, headers=SCHEDULER).json()
    prediction = scored["predictions"][0]
    assert prediction["missing_inputs"] == ["booked_at"]
    assert float(assessment.prediction[0].probabilityDecimal) == pytest.approx(
        prediction["no_show_probability"], abs=1e-6
    )


def test_the_payer_comes_from_a_coverage_in_the_bundle(client: TestClient) -> None:
    resource = example("ehr-appointment.json") | {"id": "cov-1", "created": "2026-09-01T10:00:00Z"}
    coverage = {
        "resourceType": "Coverage", "status": "active", "beneficiary": {"reference": "Patient/P-cov"},
        "type": {"text": "Medicaid"}, "payor": [{"display": "State Medicaid Agency"}],
    }  # fmt: skip
    resource["participant"][0]["actor"]["reference"] = "Patient/P-cov"
    with_coverage = assess(client, bundle(patient("P-cov", "female", "1966-08-24"), coverage, resource))[0]
    without = assess(client, bundle(patient("P-cov", "female", "1966-08-24"), resource | {"id": "cov-2"}))[0]
    as_medicaid = EHR_APPOINTMENT | {"appointment_id": "cov-json", "patient_id": "cov-json"}
    scored = client.post("/v1/noshow/score", json={"appointments": [as_medicaid]}, headers=SCHEDULER).json()
    medicaid = scored["predictions"][0]["no_show_probability"]
    assert float(with_coverage.prediction[0].probabilityDecimal) == pytest.approx(medicaid, abs=1e-6)
    assert float(without.prediction[0].probabilityDecimal) != pytest.approx(medicaid, abs=1e-6)


def test_appointments_not_booked_are_skipped_and_named(client: TestClient) -> None:
    booked = example("ehr-appointment.json") | {"id": "st-booked"}
    cancelled = example("ehr-appointment.json") | {"id": "st-cancelled", "status": "cancelled"}
    done = example("ehr-appointment.json") | {"id": "st-done", "status": "fulfilled"}
    resources = assess(client, bundle(patient("12724066"), cancelled, booked, done))
    assessments = [r for r in resources if isinstance(r, RiskAssessment)]
    assert [a.basis[0].reference for a in assessments] == ["Appointment/st-booked"]
    (outcome,) = [r for r in resources if isinstance(r, OperationOutcome)]
    issues = {issue.expression[0]: issue for issue in outcome.issue}
    assert set(issues) == {"Bundle.entry[1].resource.status", "Bundle.entry[3].resource.status"}
    assert all(i.severity == "warning" for i in issues.values())
    assert "Appointment/st-cancelled" in issues["Bundle.entry[1].resource.status"].diagnostics
    assert "'cancelled'" in issues["Bundle.entry[1].resource.status"].diagnostics


def test_factors_are_typed_and_worded(client: TestClient) -> None:
    resource = example("ehr-appointment.json")
    (assessment,) = assess(client, bundle(patient("12724066", "female", "1966-08-24"), resource))
    found = factors(assessment)
    assert len(found) >= 3
    for factor in found:
        value = factor.get("value")
        if value is not None:
            assert (value.valueDecimal is None) != (value.valueString is None)
            assert value.valueString not in ("None", "nan")
        assert factor["text"].valueString and "=" not in factor["text"].valueString
    rationale = assessment.prediction[0].rationale
    assert rationale.count(";") == len(found) - 1
    assert all(f["text"].valueString in rationale for f in found)


def test_json_scores_word_their_factors(client: TestClient) -> None:
    appointment = APPOINTMENT | {
        "appointment_id": "W1",
        "booked_at": "2026-07-15T09:00:00",
        "starts_at": "2026-09-14T09:00:00",
    }
    body = {"appointments": [appointment]}
    prediction = client.post("/v1/noshow/score", json=body, headers=SCHEDULER).json()["predictions"][0]
    texts = {f["name"]: f["text"] for f in prediction["top_factors"]}
    assert all(texts.values())
    if "lead_time_days" in texts:
        assert texts["lead_time_days"] == "booked 61 days ahead"
    assert prediction["missing_inputs"] == []


def test_a_cancelled_appointment_booked_here_is_recorded_at_its_last_update(client: TestClient) -> None:
    booked = example("ehr-appointment.json") | {"id": "fx-late"}
    assess(client, bundle(patient("12724066"), booked, booked | {"id": "fx-early"}))
    # Cancelled 2 hours and 3 days before the 14:00 start; one never booked here is left alone.
    cancelled = [
        booked | {"id": "fx-late", "status": "cancelled", "meta": {"lastUpdated": "2026-09-15T12:00:00Z"}},
        booked | {"id": "fx-early", "status": "cancelled", "meta": {"lastUpdated": "2026-09-12T14:00:00Z"}},
        booked | {"id": "fx-never", "status": "cancelled"},
    ]
    resources = assess(client, bundle(patient("12724066"), *cancelled))
    assert not [r for r in resources if isinstance(r, RiskAssessment)]
    store = client.app.state.careops.services.appointments
    stored = store.bookings_of(["fx-late", "fx-early", "fx-never"])
    assert {a: b.outcome for a, b in stored.items()} == {"fx-late": "cancelled", "fx-early": "cancelled"}
    late = dict(store.known_outcomes(24))
    assert late.get("fx-late") == 1 and "fx-early" not in late
