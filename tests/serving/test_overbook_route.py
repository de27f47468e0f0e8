"""POST /v1/noshow/overbook: a whole clinic session planned from the champion's scores."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.bodies import session_body
from tests.helpers import BILLER, SCHEDULER


def test_a_40_slot_session_gets_a_plan(client: TestClient) -> None:
    response = client.post("/v1/noshow/overbook", json=session_body(), headers=SCHEDULER)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["model"]["name"] == "noshow" and len(plan["slots"]) == 40
    assert plan["overbooks_total"] == sum(s["recommended_overbooks"] for s in plan["slots"]) > 0
    assert plan["after"]["net_value"] > plan["before"]["net_value"]
    assert set(plan["before"]["mean_wait_by_group"]) == {"A", "B"} == set(plan["after"]["mean_wait_by_group"])
    for slot in plan["slots"]:
        assert slot["expected_arrivals"] == pytest.approx(
            sum(a["show_probability"] for a in slot["appointments"])
        )
    assert plan["assumptions"]["costs"]["overtime_per_minute"] == 8.0 and plan["unscored"] == []
    # Show probabilities are 1 - the no-show scores the score route gives.
    one = session_body()["slots"][5]["appointments"][0]
    scored = client.post("/v1/noshow/score", json={"appointments": [one]}, headers=SCHEDULER).json()
    assert plan["slots"][5]["appointments"][0]["show_probability"] == pytest.approx(
        1 - scored["predictions"][0]["no_show_probability"], abs=1e-12
    )


def test_equal_wait_is_reported_and_bounded(client: TestClient) -> None:
    body = session_body(prefix="OBF") | {"fairness": "equal_wait", "wait_gap_tolerance_minutes": 0.25}
    plan = client.post("/v1/noshow/overbook", json=body, headers=SCHEDULER).json()
    waits = plan["after"]["mean_wait_by_group"]
    assert abs(waits["A"] - waits["B"]) <= 0.25 + 1e-9
    assert plan["assumptions"]["fairness"] == "equal_wait"


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"slots": []}, "slots", "at least 1 item"),
        ({"costs": {"idle_per_minute": -1}}, "costs.idle_per_minute", "greater than or equal to 0"),
        ({"slot_minutes": 0}, "slot_minutes", "greater than 0"),
    ],
)
def test_bad_sessions_get_422_naming_the_problem(
    client: TestClient, change: dict, field: str, text: str
) -> None:
    response = client.post("/v1/noshow/overbook", json=session_body(4) | change, headers=SCHEDULER)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == field and text in response.json()["message"]


def test_overlapping_and_too_many_slots_are_refused(client: TestClient) -> None:
    body = session_body(4)
    body["slots"][2]["starts_at"] = body["slots"][1]["starts_at"]
    overlapping = client.post("/v1/noshow/overbook", json=body, headers=SCHEDULER)
    assert (
        overlapping.status_code == 422
        and "slots[2] starts inside slots[1]" in overlapping.json()["message"]
        and "08:15" not in overlapping.text
    )
    too_many = client.post("/v1/noshow/overbook", json=session_body(65, prefix="OBM"), headers=SCHEDULER)
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["field"] == "slots"
    assert "the most slots one request may plan is 64" in too_many.json()["message"]


def test_billers_may_not_plan_sessions(client: TestClient) -> None:
    assert client.post("/v1/noshow/overbook", json=session_body(2), headers=BILLER).status_code == 403
