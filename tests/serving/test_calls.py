"""Reminder calls: recorded through the API and the day page, kept with the visit's risk, audited,
and their patients left off the call list for the cooldown."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from config import audit_url
from data.stores.appointments import AppointmentStore
from data.stores.audit import AuditStore
from data.stores.calls import CallStore
from services.access.principal import system
from services.container import Services
from serving.app import create_app
from tests.bodies import session_body, sign_in_form
from tests.helpers import BILLER, SCHEDULER, TrainedStore, ensure_users, make_settings

DAY = "2027-04-12"


@pytest.fixture(scope="module")
def app(trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """The app on a store of its own (the trained champions), with a day of 24 visits at C01 booked,
    and a scheduler's key for C02 only."""
    root = tmp_path_factory.mktemp("calls")
    settings = make_settings(root, tracking_uri=trained_store.settings.tracking_uri, pseudonym_key=None)
    ensure_users(settings)
    services = Services.open(settings, log_scores=False, audit_now=True)
    c02 = services.accounts.add_client(system("tests"), "c02-desk", "scheduler", clinics=["C02"]).key
    services.close()
    body = session_body(24, prefix="CALL", day=DAY)
    booked = [a for slot in body["slots"] for a in slot["appointments"]]
    with TestClient(create_app(settings)) as client:
        scored = client.post("/v1/noshow/score", json={"appointments": booked}, headers=SCHEDULER)
        assert scored.status_code == 200
        risk = {p["appointment_id"]: p["no_show_probability"] for p in scored.json()["predictions"]}
        yield client, settings, booked, risk, {"X-API-Key": c02}


def _call_list_html(html: str) -> str:
    return html.split('id="calls"')[1].split("</table>")[0] if 'id="calls"' in html else ""


def _call_list(client: TestClient) -> str:
    return _call_list_html(client.get("/app/day", params={"clinic": "C01", "date": DAY}).text)


def test_a_call_is_kept_with_the_visits_risk_audited_and_its_patient_leaves_the_call_list(app) -> None:
    client, settings, booked, risk, _ = app
    assert sign_in_form(client, "scheduler").status_code == 303
    listed = re.findall(r"<td>(CALL-P\d+)</td>", _call_list(client))
    assert len(listed) == 10
    patient = listed[0]
    visit = next(a for a in booked if a["patient_id"] == patient)

    answer = client.post(
        "/v1/noshow/calls",
        json={"appointment_id": visit["appointment_id"], "outcome": "voicemail"},
        headers=SCHEDULER,
    )
    assert answer.status_code == 201, answer.text
    call = answer.json()
    assert call["outcome"] == "voicemail" and call["call_id"] >= 1
    assert abs(call["no_show_probability"] - risk[visit["appointment_id"]]) <= 1e-9
    kept = CallStore(settings.database_url).of_appointments([visit["appointment_id"]])
    assert [(c.patient_id, c.clinic_id, c.outcome) for c in kept] == [(patient, "C01", "voicemail")]

    calls = _call_list(client)
    assert patient not in re.findall(r"<td>(CALL-P\d+)</td>", calls)
    assert len(re.findall(r"<td>(CALL-P\d+)</td>", calls)) == 10  # the next one moved up
    assert (
        "1 visit left out: the patient was called, or held out of the list, in the last 7 days"
        in client.get("/app/day", params={"clinic": "C01", "date": DAY}).text
    )
    client.app.state.careops.services.audit.flush()
    trail = [s.entry for s in AuditStore(audit_url(settings)).entries()]
    entries = [e for e in trail if e.resource == "call" and visit["appointment_id"] in e.record_ids]
    assert [(e.action, e.record_ids, e.detail.get("door")) for e in entries] == [
        ("change", (visit["appointment_id"],), "api")
    ]


def test_the_day_page_records_a_call_in_one_click_and_a_cancelled_call_cancels_the_visit(app) -> None:
    client, settings, booked, _, _ = app
    assert sign_in_form(client, "scheduler").status_code == 303
    html = client.get("/app/day", params={"clinic": "C01", "date": DAY}).text
    calls = html.split('id="calls"')[1].split("</table>")[0]
    patient = re.findall(r"<td>(CALL-P\d+)</td>", calls)[0]
    record = re.search(r'action="/app/day/call".*?name="record" value="([^"]+)"', calls, re.S).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    form = {"csrf": csrf, "record": record, "clinic": "C01", "date": DAY}

    assert (
        client.post("/app/day/call", data=form | {"csrf": "forged", "outcome": "confirmed"}).status_code
        == 403
    )
    assert client.post("/app/day/call", data=form | {"outcome": "maybe"}).status_code == 400
    response = client.post("/app/day/call", data=form | {"outcome": "cancelled"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/app/day?clinic=C01&date={DAY}"
    assert patient not in response.headers["location"]

    visit = next(a for a in booked if a["patient_id"] == patient)["appointment_id"]
    assert AppointmentStore(settings.database_url).bookings_of([visit])[visit].outcome == "cancelled"
    assert patient not in _call_list(client)


def test_bad_calls_get_a_4xx_that_names_the_field_and_never_echoes_the_value(app) -> None:
    client, _, booked, _, c02 = app
    visit = booked[-1]["appointment_id"]
    wrong = client.post(
        "/v1/noshow/calls", json={"appointment_id": visit, "outcome": "sorta-reached"}, headers=SCHEDULER
    )
    assert wrong.status_code == 422 and "outcome" in wrong.text and "sorta-reached" not in wrong.text
    unknown = client.post(
        "/v1/noshow/calls",
        json={"appointment_id": "NEVER-BOOKED-77", "outcome": "voicemail"},
        headers=SCHEDULER,
    )
    assert (
        unknown.status_code == 404 and "appointment_id" in unknown.text and "NEVER-BOOKED" not in unknown.text
    )
    body = {"appointment_id": visit, "outcome": "voicemail"}
    assert client.post("/v1/noshow/calls", json=body, headers=BILLER).status_code == 403
    assert client.post("/v1/noshow/calls", json=body, headers=c02).status_code == 403  # a C01 visit
    assert client.post("/v1/noshow/calls", json=body).status_code == 401


def test_the_cooldown_is_the_practices_setting_and_zero_leaves_no_one_out(app) -> None:
    client, settings, booked, _, _ = app
    body = {"appointment_id": booked[7]["appointment_id"], "outcome": "wrong_number"}
    assert client.post("/v1/noshow/calls", json=body, headers=SCHEDULER).status_code == 201
    called = {booked[7]["patient_id"]}
    for days, expected in ((7, True), (0, False)):
        services = Services.open(settings.model_copy(update={"call_cooldown_days": days}), log_scores=False)
        try:
            lately = services.calls.recently_called(called)
        finally:
            services.close()
        assert bool(lately) is expected, days


def test_calls_are_listed_with_the_visits_outcome_and_shown_beside_the_visit(app) -> None:
    client, settings, booked, risk, c02 = app
    visit = booked[5]
    body = {"appointment_id": visit["appointment_id"], "outcome": "no_answer"}
    assert client.post("/v1/noshow/calls", json=body, headers=SCHEDULER).status_code == 201
    outcome = {"outcomes": [{"appointment_id": visit["appointment_id"], "outcome": "no_show"}]}
    assert client.post("/v1/noshow/outcomes", json=outcome, headers=SCHEDULER).status_code == 200

    listed = client.get(
        "/v1/noshow/calls", params={"appointment_id": visit["appointment_id"]}, headers=SCHEDULER
    )
    assert listed.status_code == 200
    assert [(c["outcome"], c["visit_outcome"]) for c in listed.json()["calls"]] == [("no_answer", "no_show")]
    assert abs(listed.json()["calls"][0]["no_show_probability"] - risk[visit["appointment_id"]]) <= 1e-9
    client.app.state.careops.services.audit.flush()
    trail = [s.entry for s in AuditStore(audit_url(settings)).entries()]
    reads = [e for e in trail if (e.action, e.resource) == ("read", "call")]
    assert [(e.record_ids, e.detail.get("door")) for e in reads] == [((visit["appointment_id"],), "api")]
    never = client.get("/v1/noshow/calls", params={"appointment_id": "NEVER-BOOKED"}, headers=SCHEDULER)
    assert never.status_code == 200 and never.json() == {"calls": []}
    assert client.get("/v1/noshow/calls", headers=SCHEDULER).status_code == 422
    scoped = client.get("/v1/noshow/calls", params={"appointment_id": visit["appointment_id"]}, headers=c02)
    assert scoped.status_code == 403

    assert sign_in_form(client, "scheduler").status_code == 303
    html = client.get("/app/day", params={"clinic": "C01", "date": DAY}).text
    row = html.split(f"<td>{visit['patient_id']}</td>")[-1].split("</tr>")[0]
    assert re.search(r"Called \d\d \w{3} \d\d:\d\d: no answer", row)


def test_a_hold_out_marks_listed_visits_do_not_call_once_and_keeps_them_off_other_lists(
    trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("holdout")
    settings = make_settings(
        root, tracking_uri=trained_store.settings.tracking_uri, pseudonym_key=None, call_holdout_share=0.5
    )
    ensure_users(settings)
    first = [a for s in session_body(24, prefix="HOLD", day=DAY)["slots"] for a in s["appointments"]]
    # The same patients again two days later: those held out are not listed again within the cooldown.
    later = [
        a | {"appointment_id": a["appointment_id"] + "-B", "starts_at": "2027-04-14" + a["starts_at"][10:]}
        for a in first
    ]
    with TestClient(create_app(settings)) as client:
        assert (
            client.post(
                "/v1/noshow/score", json={"appointments": first + later}, headers=SCHEDULER
            ).status_code
            == 200
        )
        assert sign_in_form(client, "scheduler").status_code == 303
        html = client.get("/app/day", params={"clinic": "C01", "date": DAY}).text
        rows = _call_list_html(html).split("<tr>")[2:]
        held = [re.findall(r"<td>(HOLD-P\d+)</td>", r)[0] for r in rows if "Do not call" in r]
        assert 1 <= len(held) <= 9 and len(rows) == 10  # 10 listed, about half held out
        assert all('name="record"' not in r for r in rows if "Do not call" in r)
        again = _call_list_html(client.get("/app/day", params={"clinic": "C01", "date": DAY}).text)
        assert [
            p for p in held if f"<td>{p}</td>" in again and "Do not call" in again
        ] == held  # the same arm
        two_days_on = _call_list_html(
            client.get("/app/day", params={"clinic": "C01", "date": "2027-04-14"}).text
        )
        assert not [p for p in held if f"<td>{p}</td>" in two_days_on]
    listings = CallStore(settings.database_url).listings(0)
    assert len(listings) == 20 and set(listings.loc[listings["held_out"], "appointment_id"]) >= {
        a["appointment_id"] for a in first if a["patient_id"] in held
    }
