"""No-show routes: explanations, risk bands and outcomes that feed later scores."""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient

from data.schemas import Appointment
from features.appointment import AppointmentFeatures
from features.history import online_history
from serving.app import create_app
from tests.bodies import bodies
from tests.helpers import ADMIN, BILLER, SCHEDULER, TrainedStore


def new_patient_visits(patient: str) -> list[dict]:
    base = {
        "patient_id": patient,
        "clinic_id": "C01",
        "provider_id": "C01-D1",
        "duration_minutes": 20,
        "appointment_type": "follow_up",
        "patient_age": 30,
        "patient_sex": "M",
        "payer_type": "commercial",
        "reminder_sent": False,
    }
    return [
        {
            **base,
            "appointment_id": f"{patient}-1",
            "booked_at": "2026-06-01T09:00:00",
            "starts_at": "2026-06-08T10:00:00",
        },
        {
            **base,
            "appointment_id": f"{patient}-2",
            "booked_at": "2026-06-01T09:05:00",
            "starts_at": "2026-06-15T10:00:00",
        },
    ]


def test_scores_carry_readable_top_factors_and_a_risk_band(
    client: TestClient, trained_store: TrainedStore
) -> None:
    response = client.post(
        "/v1/noshow/score", json=bodies(trained_store, rows=20)["noshow"], headers=SCHEDULER
    )
    assert response.status_code == 200
    names = set(AppointmentFeatures().get_feature_names_out())
    for prediction in response.json()["predictions"]:
        factors = prediction["top_factors"]
        assert 3 <= len(factors) <= 5
        assert {f["name"] for f in factors} <= names
        sizes = [abs(f["contribution"]) for f in factors]
        assert sizes == sorted(sizes, reverse=True) and sizes[0] > 0
        for factor in factors:
            if factor["name"] in ("payer_type", "patient_sex", "appointment_type"):
                assert isinstance(factor["value"], str)
        p = prediction["no_show_probability"]
        assert prediction["risk_band"] == ("high" if p >= 0.35 else "medium" if p >= 0.15 else "low")


@pytest.mark.parametrize("route", ["noshow", "denial"])
def test_explain_false_gives_the_same_scores_without_factors(
    client: TestClient, trained_store: TrainedStore, route: str
) -> None:
    body = bodies(trained_store, rows=6)[route]
    headers = SCHEDULER if route == "noshow" else BILLER
    explained = client.post(f"/v1/{route}/score", json=body, headers=headers).json()["predictions"]
    plain = client.post(f"/v1/{route}/score", json={**body, "explain": False}, headers=headers).json()
    plain = plain["predictions"]
    field = "no_show_probability" if route == "noshow" else "denial_probability"
    assert [p[field] for p in plain] == [p[field] for p in explained]
    assert all(p["top_factors"] for p in explained) and not any(p["top_factors"] for p in plain)


def test_risk_band_thresholds_can_differ_per_clinic(trained_store: TrainedStore) -> None:
    settings = trained_store.settings.model_copy(
        update={"risk_bands": '{"default": [0.98, 0.99], "C01": [0.001, 0.002]}'}
    )
    visits = new_patient_visits("BAND")
    other = copy.deepcopy(visits[0]) | {"appointment_id": "BAND-3", "clinic_id": "C02"}
    with TestClient(create_app(settings)) as banded:
        predictions = banded.post(
            "/v1/noshow/score", json={"appointments": [visits[0], other]}, headers=SCHEDULER
        ).json()
    assert [p["risk_band"] for p in predictions["predictions"]] == ["high", "low"]


def test_bad_risk_band_configuration_fails_fast(trained_store: TrainedStore) -> None:
    settings = trained_store.settings.model_copy(update={"risk_bands": '{"C01": [0.5, 0.2]}'})
    with pytest.raises(ValueError, match='must be an object with a "default" entry'):
        create_app(settings)


def test_outcomes_are_idempotent_and_feed_later_scores(client: TestClient) -> None:
    visits = new_patient_visits("OUTC")
    first = client.post("/v1/noshow/score", json={"appointments": visits}, headers=SCHEDULER).json()
    store = client.app.state.careops.services.appointments
    history = client.app.state.careops.models.get("noshow").trained.history
    later = [Appointment.model_validate(visits[1])]
    assert online_history(store, later, history)["prior_no_shows"][0] == 0

    outcome = {"outcomes": [{"appointment_id": "OUTC-1", "outcome": "no_show"}]}
    assert client.post("/v1/noshow/outcomes", json=outcome, headers=SCHEDULER).json() == {
        "recorded": 1,
        "unchanged": 0,
    }
    assert client.post("/v1/noshow/outcomes", json=outcome, headers=SCHEDULER).json() == {
        "recorded": 0,
        "unchanged": 1,
    }

    assert online_history(store, later, history)["prior_no_shows"][0] == 1
    second = client.post("/v1/noshow/score", json={"appointments": [visits[1]]}, headers=SCHEDULER).json()
    assert second["predictions"][0]["no_show_probability"] != first["predictions"][1]["no_show_probability"]


def test_unknown_appointments_get_404_naming_them_and_nothing_is_recorded(client: TestClient) -> None:
    client.post("/v1/noshow/score", json={"appointments": new_patient_visits("UNKN")}, headers=SCHEDULER)
    body = {
        "outcomes": [
            {"appointment_id": "UNKN-1", "outcome": "attended"},
            {"appointment_id": "NEVER-BOOKED-9", "outcome": "no_show"},
        ]
    }
    response = client.post("/v1/noshow/outcomes", json=body, headers=ADMIN)
    assert response.status_code == 404
    assert "NEVER-BOOKED-9" in response.json()["message"] and "UNKN-1" not in response.json()["message"]
    retry = {"outcomes": [{"appointment_id": "UNKN-1", "outcome": "attended"}]}
    assert client.post("/v1/noshow/outcomes", json=retry, headers=ADMIN).json()["recorded"] == 1


def test_outcome_requests_are_validated_and_role_checked(client: TestClient) -> None:
    conflicting = {
        "outcomes": [
            {"appointment_id": "X1", "outcome": "attended"},
            {"appointment_id": "X1", "outcome": "no_show"},
        ]
    }
    response = client.post("/v1/noshow/outcomes", json=conflicting, headers=SCHEDULER)
    assert (
        response.status_code == 422 and response.json()["detail"][0]["field"] == "outcomes[1].appointment_id"
    )
    assert "repeats outcomes[0].appointment_id" in response.json()["message"] and "X1" not in response.text
    bad = {"outcomes": [{"appointment_id": "X1", "outcome": "late"}]}
    assert client.post("/v1/noshow/outcomes", json=bad, headers=SCHEDULER).json()["detail"][0]["field"] == (
        "outcomes[0].outcome"
    )
    assert client.post("/v1/noshow/outcomes", json=bad, headers=BILLER).status_code == 403


def test_a_cancellation_carries_its_time_and_a_late_one_counts_under_the_definition(
    client: TestClient,
) -> None:
    visits = new_patient_visits("LATE")
    assert (
        client.post("/v1/noshow/score", json={"appointments": visits}, headers=SCHEDULER).status_code == 200
    )
    body = {
        "outcomes": [
            {"appointment_id": "LATE-1", "outcome": "cancelled", "cancelled_at": "2026-06-08T07:30:00"},
            {"appointment_id": "LATE-2", "outcome": "cancelled", "cancelled_at": "2026-06-10T07:30:00+02:00"},
        ]
    }
    assert client.post("/v1/noshow/outcomes", json=body, headers=SCHEDULER).json()["recorded"] == 2
    known = dict(client.app.state.careops.services.appointments.known_outcomes(24))
    assert known.get("LATE-1") == 1 and "LATE-2" not in known  # 2.5 hours and 5 days before the start
    bad = {"outcomes": [{"appointment_id": "LATE-1", "outcome": "cancelled", "cancelled_at": "soon-ish"}]}
    response = client.post("/v1/noshow/outcomes", json=bad, headers=SCHEDULER)
    assert response.status_code == 422 and "cancelled_at" in response.text and "soon-ish" not in response.text
