"""The scoring API through TestClient against a real temporary MLflow store."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import pytest
from fastapi.testclient import TestClient

from models.pyfunc import load_registered
from models.tasks import caller_form, get_task
from serving.app import create_app
from tests.bodies import bodies
from tests.helpers import ADMIN, BILLER, SCHEDULER, TrainedStore, make_settings


def test_ready_lists_the_loaded_versions(client: TestClient) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert {name: (m["version"], m["alias"]) for name, m in body["models"].items()} == {
        "noshow": ("1", "champion"),
        "denial": ("1", "champion"),
    }
    assert client.get("/health/live").json() == {"status": "live"}


def test_not_ready_without_models_and_scoring_says_why(tmp_path: Path, trained_store: TrainedStore) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as empty:
        ready = empty.get("/health/ready")
        assert ready.status_code == 503
        assert "no version of 'noshow' has the alias @champion" in ready.json()["models"]["noshow"]["error"]
        assert empty.get("/health/live").status_code == 200
        scored = empty.post("/v1/noshow/score", json=bodies(trained_store)["noshow"], headers=SCHEDULER)
        assert scored.status_code == 503
        assert "careops train noshow" in scored.json()["message"]


@pytest.mark.parametrize("task_name", ["noshow", "denial"])
def test_api_probabilities_equal_pyfunc_predict(
    trained_store: TrainedStore, task_name: str, tmp_path: Path
) -> None:
    task = get_task(task_name)
    path = trained_store.appointments if task_name == "noshow" else trained_store.claims
    table = task.load(path).valid
    body = bodies(trained_store, rows=200)[task_name]
    # Online, history comes from the store: one as training left it, whatever other tests booked.
    with TestClient(create_app(trained_store.store_as_trained(tmp_path))) as client:
        response = client.post(f"/v1/{task_name}/score", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["model"] == {"name": task_name, "version": "1", "alias": "champion"}

    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    # Offline, in batch mode, history comes from the whole table; online it comes from the store.
    expected = (
        load_registered(f"models:/{task_name}@champion")
        .predict(None, caller_form(task, table, with_labels=True))
        .tail(200)
    )
    served = payload["predictions"]
    assert [p[task.id_column] for p in served] == expected[task.id_column].tolist()
    for prediction, reference in zip(served, expected[task.probability_field], strict=True):
        assert abs(prediction[task.probability_field] - reference) <= 1e-9
        assert prediction["model_version"] == "1"


def test_roles_and_keys(client: TestClient, trained_store: TrainedStore) -> None:
    body = bodies(trained_store, rows=1)
    assert client.post("/v1/noshow/score", json=body["noshow"]).status_code == 401
    assert (
        client.post("/v1/noshow/score", json=body["noshow"], headers={"X-API-Key": "nope"}).status_code == 401
    )
    assert client.post("/v1/noshow/score", json=body["noshow"], headers=BILLER).status_code == 403
    assert client.post("/v1/denial/score", json=body["denial"], headers=SCHEDULER).status_code == 403
    assert client.post("/v1/noshow/score", json=body["noshow"], headers=SCHEDULER).status_code == 200
    assert client.post("/v1/denial/score", json=body["denial"], headers=BILLER).status_code == 200


@pytest.mark.parametrize(
    ("task_name", "change", "field"),
    [
        ("noshow", {"patient_age": 250}, "appointments[0].patient_age"),
        ("noshow", {"starts_at": None}, "appointments[0].starts_at"),
        ("noshow", {"booked_at": "next week"}, "appointments[0].booked_at"),
        ("denial", {"diagnosis_codes": ["XYZ"]}, "claims[0].diagnosis_codes"),
        ("denial", {"service_lines": []}, "claims[0].service_lines"),
    ],
)
def test_malformed_records_get_422_naming_the_field(
    client: TestClient, trained_store: TrainedStore, task_name: str, change: dict, field: str
) -> None:
    body = bodies(trained_store, rows=1)[task_name]
    key = next(iter(body))
    body[key][0].update(change)
    response = client.post(f"/v1/{task_name}/score", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json()["detail"]]
    assert field in response.json()["message"]


def test_missing_field_and_bad_line_are_named(client: TestClient, trained_store: TrainedStore) -> None:
    body = bodies(trained_store, rows=2)
    del body["noshow"]["appointments"][1]["clinic_id"]
    missing = client.post("/v1/noshow/score", json=body["noshow"], headers=ADMIN)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["field"] == "appointments[1].clinic_id"
    body["denial"]["claims"][1]["service_lines"][0]["charge"] = -10
    negative = client.post("/v1/denial/score", json=body["denial"], headers=ADMIN)
    assert negative.status_code == 422
    assert "claims[1].service_lines[0].charge" in negative.json()["message"]


def test_invalid_json_and_wrong_shape_are_422(client: TestClient) -> None:
    broken = client.post(
        "/v1/noshow/score",
        content=b'{"appointments": [',
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and broken.json()["detail"][0]["field"] == "body"
    assert client.post("/v1/noshow/score", json=[], headers=ADMIN).status_code == 422
    assert client.post("/v1/noshow/score", json={}, headers=ADMIN).status_code == 422


def test_empty_list_gets_an_empty_result(client: TestClient) -> None:
    response = client.post("/v1/denial/score", json={"claims": []}, headers=BILLER)
    assert response.status_code == 200
    assert response.json()["predictions"] == []


def test_batches_over_the_limit_get_413(trained_store: TrainedStore) -> None:
    body = bodies(trained_store, rows=4)["noshow"]
    settings = trained_store.settings.model_copy(update={"max_batch": 3})
    with TestClient(create_app(settings)) as limited:
        response = limited.post("/v1/noshow/score", json=body, headers=SCHEDULER)
        assert response.status_code == 413
        assert "limit is 3" in response.json()["message"]
        body["appointments"] = body["appointments"][:3]
        assert limited.post("/v1/noshow/score", json=body, headers=SCHEDULER).status_code == 200


def test_unseen_categories_are_scored_and_flagged(client: TestClient, trained_store: TrainedStore) -> None:
    body = bodies(trained_store, rows=2)["noshow"]
    body["appointments"][0].update(clinic_id="BRAND-NEW-CLINIC", appointment_id="NEW-A1", patient_id="NEW-P1")
    response = client.post("/v1/noshow/score", json=body, headers=SCHEDULER)
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert predictions[0]["unseen_inputs"] == ["clinic_id"]
    assert 0 < predictions[0]["no_show_probability"] < 1
    assert predictions[1]["unseen_inputs"] == []


def test_no_patient_identifiers_in_logs(
    client: TestClient, trained_store: TrainedStore, caplog: pytest.LogCaptureFixture
) -> None:
    body = bodies(trained_store, rows=3)
    patient_ids = [a["patient_id"] for a in body["noshow"]["appointments"]]
    patient_ids += [c["patient_id"] for c in body["denial"]["claims"]]
    bad = json.loads(json.dumps(body["noshow"]))
    bad["appointments"][0]["patient_age"] = -1
    with caplog.at_level(logging.DEBUG):
        client.post("/v1/noshow/score", json=body["noshow"], headers=SCHEDULER)
        client.post("/v1/denial/score", json=body["denial"], headers=BILLER)
        client.post("/v1/noshow/score", json=bad, headers=SCHEDULER)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not [pid for pid in patient_ids if pid in logged]


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/noshow/score", "/v1/denial/score", "/health/ready", "/health/live"} <= set(paths)
