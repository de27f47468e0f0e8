"""What a careless or hostile caller sends: oversized, deep, out-of-range, duplicated, non-finite.

Every such request gets a clear 4xx naming the field, never a 500, and no error repeats a value.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from tests.bodies import APPOINTMENT, CLAIM, fhir_bundle, session_body
from tests.helpers import ADMIN, TrainedStore

MARKER = "ZQ9MARK"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def api(trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("hardening")
    settings = trained_store.settings.model_copy(
        update={"database_url": f"sqlite:///{root / 'careops.db'}", "max_batch": 50}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def appointment(number: int, **changes: object) -> dict:
    return {**APPOINTMENT, "appointment_id": f"H-{number}", "patient_id": f"HP-{number}", **changes}


def claim(number: int, **changes: object) -> dict:
    return {**copy.deepcopy(CLAIM), "claim_id": f"HC-{number}", **changes}


def test_a_declared_oversized_body_is_refused_at_once(api: TestClient) -> None:
    started = time.perf_counter()
    response = api.post(
        "/v1/noshow/score",
        content=b"[" + b" " * (40 * MB) + b"]",
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and "CAREOPS_MAX_BODY_BYTES" in response.json()["message"]
    assert time.perf_counter() - started < 3


def test_a_streamed_oversized_body_is_refused_without_a_length(api: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"appointments": ['
        for _ in range(20):
            yield b" " * MB
        yield b"]}"

    response = api.post(
        "/v1/noshow/score", content=chunks(), headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["detail"] == []


def test_deep_json_gets_400_and_an_operation_outcome_on_fhir(api: TestClient) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    for route in ("/v1/noshow/score", "/v1/denial/history"):
        response = api.post(route, content=deep, headers={**ADMIN, "Content-Type": "application/json"})
        assert response.status_code == 400 and "nests deeper than 32" in response.json()["message"]
    fhir = api.post(
        "/fhir/Appointment/$no-show-risk",
        content=b'{"resourceType": "Bundle", "entry": ' + deep + b"}",
        headers={**ADMIN, "Content-Type": "application/fhir+json"},
    )
    assert fhir.status_code == 400 and fhir.json()["resourceType"] == "OperationOutcome"
    # Brackets inside strings are text, not nesting.
    text = {"appointments": [appointment(1, appointment_type="[" * 40 + '\\"{' * 8)]}
    assert api.post("/v1/noshow/score", json=text, headers=ADMIN).status_code == 200


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        (
            "/v1/noshow/score",
            {"appointments": [appointment(2, starts_at="2263-01-05T10:00:00")]},
            "starts_at",
        ),
        (
            "/v1/noshow/score",
            {"appointments": [appointment(3, booked_at="1677-01-01T09:00:00")]},
            "booked_at",
        ),
        ("/v1/denial/history", {"claims": [claim(1, adjudicated_at="2300-01-01")]}, "adjudicated_at"),
        ("/v1/denial/score", {"claims": [claim(2, service_date="1850-01-01")]}, "service_date"),
        ("/v1/noshow/overbook", session_body(2) | {"session_date": "2999-01-01"}, "session_date"),
    ],
)
def test_dates_outside_1900_to_2200_get_422(api: TestClient, route: str, body: dict, field: str) -> None:
    response = api.post(route, json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    item = response.json()["detail"][0]
    assert item["field"].endswith(field) and "between 1900-01-01 and 2200-12-31" in item["message"]


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        (
            "/v1/noshow/score",
            {"appointments": [appointment(4), appointment(5), appointment(4)]},
            "appointments[2].appointment_id",
        ),
        ("/v1/denial/score", {"claims": [claim(3), claim(3)]}, "claims[1].claim_id"),
        ("/v1/denial/history", {"claims": [claim(4), claim(4)]}, "claims[1].claim_id"),
        ("/v1/denial/worklist", {"claims": [claim(5), claim(5)]}, "claims[1].claim_id"),
        (
            "/v1/noshow/outcomes",
            {"outcomes": [{"appointment_id": "H-9", "outcome": "attended"}] * 2},
            "outcomes[1].appointment_id",
        ),
    ],
)
def test_duplicate_ids_in_one_request_get_422_naming_the_field(
    api: TestClient, route: str, body: dict, field: str
) -> None:
    response = api.post(route, json=body, headers=ADMIN)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == field
    assert response.json()["detail"][0]["type"] == "duplicate_id"


def test_a_session_that_books_one_appointment_twice_is_refused(api: TestClient) -> None:
    body = session_body(3, prefix="HD")
    body["slots"][2]["appointments"] = copy.deepcopy(body["slots"][0]["appointments"])
    response = api.post("/v1/noshow/overbook", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "slots[2].appointments[0].appointment_id"


def test_a_bundle_with_one_appointment_twice_is_refused(api: TestClient) -> None:
    bundle = fhir_bundle()
    bundle["entry"].append(copy.deepcopy(bundle["entry"][-1]))
    response = api.post("/fhir/Appointment/$no-show-risk", json=bundle, headers=ADMIN)
    assert response.status_code == 422 and response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["expression"][0].endswith(".id")


@pytest.mark.parametrize(
    ("costs", "field"),
    [
        ('{"visit_value": Infinity}', "costs.visit_value"),
        ('{"wait_per_minute": NaN}', "costs.wait_per_minute"),
        ('{"overtime_per_minute": 1e308}', "costs.overtime_per_minute"),
        ('{"idle_per_minute": -1}', "costs.idle_per_minute"),
    ],
)
def test_non_finite_or_absurd_costs_get_422(api: TestClient, costs: str, field: str) -> None:
    body = json.dumps(session_body(2, prefix="HN")).removesuffix("}") + f', "costs": {costs}}}'
    response = api.post(
        "/v1/noshow/overbook", content=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == field


def test_every_list_obeys_the_batch_limit(api: TestClient) -> None:
    outcomes = {"outcomes": [{"appointment_id": f"H-{k}", "outcome": "attended"} for k in range(51)]}
    response = api.post("/v1/noshow/outcomes", json=outcomes, headers=ADMIN)
    assert response.status_code == 413 and "limit is 50" in response.json()["message"]
    slots = session_body(51, prefix="HB")
    assert api.post("/v1/noshow/overbook", json=slots, headers=ADMIN).status_code == 413


@pytest.mark.parametrize(
    ("route", "body"),
    [
        (
            "/v1/denial/score",
            {"claims": [claim(6, service_lines=[{"procedure_code": MARKER, "units": 1, "charge": 1310.0}])]},
        ),
        ("/v1/denial/score", {"claims": [claim(7, diagnosis_codes=[MARKER])]}),
        (
            "/v1/denial/score",
            {
                "claims": [
                    claim(
                        8,
                        service_lines=[
                            {"procedure_code": "99213", "modifiers": [MARKER], "units": 1, "charge": 1310.0}
                        ],
                    )
                ]
            },
        ),
        ("/v1/denial/score", {"claims": [claim(9, total_charge=987654.32)]}),
        ("/v1/noshow/score", {"appointments": [appointment(6, patient_sex=MARKER)]}),
        ("/v1/noshow/score", {"appointments": [appointment(7, starts_at=MARKER)]}),
        ("/v1/noshow/score", {"appointments": [appointment(8, patient_age=MARKER)]}),
        ("/fhir/Appointment/$no-show-risk", {"resourceType": MARKER}),
        (
            "/fhir/Appointment/$no-show-risk",
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": {"resourceType": MARKER}}],
            },
        ),
    ],
)
def test_errors_name_the_field_and_never_echo_the_value(api: TestClient, route: str, body: dict) -> None:
    response = api.post(route, json=body, headers=ADMIN)
    assert 400 <= response.status_code < 500, response.text
    assert MARKER not in response.text and "987654" not in response.text


def test_error_bodies_stay_small_whatever_was_sent(api: TestClient) -> None:
    huge_code = "9" * (2 * MB)
    bad = [
        claim(100 + k, service_lines=[{"procedure_code": huge_code, "units": 1, "charge": 1310.0}])
        for k in range(3)
    ]
    response = api.post("/v1/denial/score", json={"claims": bad}, headers=ADMIN)
    assert response.status_code == 422 and len(response.content) < 4096
    many = {"appointments": [appointment(200 + k, duration_minutes=-1) for k in range(50)]}
    response = api.post("/v1/noshow/score", json=many, headers=ADMIN)
    assert response.status_code == 422 and len(response.json()["detail"]) == 20
    assert "(and 45 more)" in response.json()["message"]


def test_no_request_is_answered_with_a_500(api: TestClient, tmp_path: Path) -> None:
    for route in (
        "/v1/noshow/score",
        "/v1/denial/score",
        "/v1/noshow/outcomes",
        "/fhir/Appointment/$no-show-risk",
    ):
        for content in (b"", b"null", b"[]", b'"x"', b"{", b"\xff\xfe", b'{"appointments": {}}'):
            response = api.post(route, content=content, headers={**ADMIN, "Content-Type": "application/json"})
            assert 400 <= response.status_code < 500, (route, content, response.status_code)
