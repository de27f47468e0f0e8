"""The access audit trail is complete: a scripted day through every door (the API by a named client,
the FHIR operation, the pages, an HL7 message) records each access with its principal, action,
record ids and count, as it was done; and scopes hold at every door."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config import audit_url
from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.stores.audit import AuditStore
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from services.access.principal import system
from services.container import Services
from serving.app import create_app
from serving.hl7_listener import Listener
from tests.bodies import bodies, fhir_bundle, session_body, sign_in_form
from tests.helpers import TrainedStore, ensure_users, make_settings

S12 = (
    "MSH|^~\\&|PM|CLINIC|CAREOPS|CAREOPS|20260301090000||SIU^S12|CTRL9|P|2.3\r"
    "SCH|HL7-1|HL7-1|||||ROUTINE|FOLLOWUP^Follow-up|20|min|^^^20260310143000\r"
    "PID|1||PAT-9||DOE^JANE||19800101|F\r"
    "PV1|1|O|^^^C01||||C01-D1"
)


@pytest.fixture(scope="module")
def day(trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """A fresh store on the trained champions, with page users (one scheduler limited to C02), and
    named clients: an EMR for every clinic and one limited to C01."""
    root = tmp_path_factory.mktemp("doors")
    settings = make_settings(root, tracking_uri=trained_store.settings.tracking_uri, pseudonym_key=None)
    ensure_users(settings, {"scheduler": "sam", "biller": "bea", "admin": "ada"})
    ensure_users(settings, {"scheduler": "cy"}, cy={"clinics": ["C02"]})
    services = Services.open(settings, log_scores=False, audit_now=True)
    keys = {
        "emr": services.accounts.add_client(system("tests"), "emr", "admin").key,
        "c01": services.accounts.add_client(system("tests"), "c01-desk", "scheduler", clinics=["C01"]).key,
    }
    services.close()
    with TestClient(create_app(settings)) as client:
        yield client, settings, keys


def _entries(settings, principal: str | None = None) -> list:
    return [s.entry for s in AuditStore(audit_url(settings)).entries(principal=principal)]


def _flush(client: TestClient) -> None:
    client.app.state.careops.services.audit.flush()


def test_a_day_through_every_door_is_in_the_trail_as_it_was_done(day, trained_store: TrainedStore) -> None:
    client, settings, keys = day
    emr = {"X-API-Key": keys["emr"]}
    body = bodies(trained_store, rows=5)
    ids = [a["appointment_id"] for a in body["noshow"]["appointments"]]
    claim_ids = [c["claim_id"] for c in body["denial"]["claims"]]
    assert client.post("/v1/noshow/score", json=body["noshow"], headers=emr).status_code == 200
    outcomes = {"outcomes": [{"appointment_id": ids[0], "outcome": "attended"}]}
    assert client.post("/v1/noshow/outcomes", json=outcomes, headers=emr).status_code == 200
    assert client.post("/v1/denial/score", json=body["denial"], headers=emr).status_code == 200
    fhir = client.post("/fhir/Appointment/$no-show-risk", content=json.dumps(fhir_bundle()),
                       headers={**emr, "Content-Type": "application/fhir+json"})  # fmt: skip
    assert fhir.status_code == 200
    session = session_body(40, prefix="DOOR", day="2026-09-14")
    assert client.post("/v1/noshow/overbook", json=session, headers=emr).status_code == 200
    booked = tuple(a["appointment_id"] for s in session["slots"] for a in s["appointments"])
    call = {"appointment_id": ids[1], "outcome": "voicemail"}
    assert client.post("/v1/noshow/calls", json=call, headers=emr).status_code == 201
    _flush(client)
    api = [
        (e.action, e.resource, e.record_ids, e.count, e.detail.get("door"))
        for e in _entries(settings, "client:emr")
    ]
    assert api == [
        ("score", "appointment", tuple(ids), 5, "api"),
        ("change", "appointment", (ids[0],), 1, "api"),
        ("score", "claim", tuple(claim_ids), 5, "api"),
        ("score", "appointment", ("FA1",), 1, "fhir"),
        ("score", "appointment", booked, 40, "overbook"),
        ("read", "appointment", (ids[1],), 1, None),  # the visit's risk, kept with the call
        ("change", "call", (ids[1],), 1, "api"),
    ]
    assert all(e.request_id and e.source == "testclient" for e in _entries(settings, "client:emr"))

    # The pages: a scheduler's day, an outcome marked, an overbooking accepted.
    sign_in_form(client, "scheduler")
    clinic, on = "C01", "2026-09-14"
    page = client.get("/app/day", params={"clinic": clinic, "date": on}).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    record = re.search(r'name="record" value="([^"]+)"', page).group(1)
    form = {"csrf": csrf, "record": record, "outcome": "no_show", "clinic": clinic, "date": on}
    assert client.post("/app/day/outcome", data=form, follow_redirects=False).status_code == 303
    slot = re.search(r'name="slot" value="([^"]+)"', page).group(1)
    assert client.post(
        "/app/day/accept", data={"csrf": csrf, "slot": slot, "count": 1}, follow_redirects=False
    )
    # And a day's appointments uploaded on the day page.
    visits = generate_appointments(3, seed=33).assign(clinic_id=clinic)
    visits["appointment_id"] = [f"DU{i}" for i in range(3)]
    upload = write_table(visits, settings.database_url.removeprefix("sqlite:///") + ".visits.csv")
    with Path(upload).open("rb") as handle:
        uploaded = client.post(
            "/app/day/upload", data={"csrf": csrf}, files={"appointments_file": ("day.csv", handle)}
        )
    assert uploaded.status_code == 200
    _flush(client)
    sam = _entries(settings, "user:sam")
    assert [e.action for e in sam] == ["sign_in", "read", "change", "change", "book", "read"]  # the day again
    assert set(booked) == set(sam[1].record_ids) and sam[1].count == 40
    assert len(sam[2].record_ids) == 1 and sam[2].detail["change"] == "outcome"
    assert sam[3].resource == "overbook"
    assert (sam[4].record_ids, sam[4].count, sam[4].detail["door"]) == (("DU0", "DU1", "DU2"), 3, "pages")

    # A biller's worklist: an upload, the list, a claim, the export.
    sign_in_form(client, "biller")
    frame = generate_claims(12, seed=31)
    frame["claim_id"] = [f"DR{i:03d}" for i in range(12)]
    path = write_table(claims_for_file(frame), settings.database_url.removeprefix("sqlite:///") + ".csv")
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/app/worklist").text).group(1)
    with Path(path).open("rb") as handle:
        client.post("/app/worklist/upload", data={"csrf": csrf}, files={"claims_file": ("c.csv", handle)})
    listed = client.get("/app/worklist?status=all").text
    handle = re.search(r'href="/app/claim/([^"]+)"', listed).group(1)
    client.get(f"/app/claim/{handle}")
    client.get("/app/worklist.csv?status=all")
    _flush(client)
    bea = [(e.action, e.resource, e.count) for e in _entries(settings, "user:bea")]
    assert bea[0][0] == "sign_in" and ("score", "claim", 12) in bea and ("change", "claim", 12) in bea
    assert ("export", "claim", 12) in bea and bea.count(("read", "claim", 1)) == 1
    assert ("score", "claim", 1) in bea  # the claim page scores it afresh

    # An HL7 booking over the listener, scored on arrival.
    listener = Listener(settings, score=True)
    try:
        _, outcome = listener.process(S12.encode())
    finally:
        listener.close()
    assert outcome.code == "AA"
    feed = [(e.action, e.record_ids, e.source) for e in _entries(settings, "system:hl7-feed")]
    assert feed == [("change", ("HL7-1",), "hl7"), ("score", ("HL7-1",), "hl7")]

    # And the trail is intact.
    assert AuditStore(audit_url(settings)).verify().ok


def test_scopes_hold_at_the_api_and_on_the_pages(day, trained_store: TrainedStore) -> None:
    client, _, keys = day
    desk = {"X-API-Key": keys["c01"]}
    mine = session_body(2, prefix="SC1", day="2026-09-21")
    theirs = session_body(2, prefix="SC2", day="2026-09-21")
    for slot in theirs["slots"]:
        for a in slot["appointments"]:
            a["clinic_id"] = "C03"
    own = {"appointments": [s["appointments"][0] for s in mine["slots"]]}
    scored = client.post("/v1/noshow/score", json=own, headers=desk)
    assert scored.status_code == 200
    mixed = [mine["slots"][0]["appointments"][0], theirs["slots"][0]["appointments"][0]]
    refused = client.post("/v1/noshow/score", json={"appointments": mixed}, headers=desk)
    assert refused.status_code == 403 and "1 appointment record(s) are outside your scope" in refused.text
    assert "SC2" not in refused.text  # the count, never the ids
    # A scheduler limited to C02 sees only C02 on the pages, and cannot open C01's day.
    sign_in_form(client, "scheduler", username="cy")
    page = client.get("/app/day", params={"clinic": "C01", "date": "2026-09-21"}).text
    assert ">C01<" not in page
    assert client.get("/app/day").status_code == 200


def test_an_admin_reads_the_trail_and_ends_another_users_session(day) -> None:
    client, settings, _ = day
    scheduler = TestClient(client.app)  # a second browser on the same running app
    sign_in_form(scheduler, "scheduler")
    assert scheduler.get("/app/day", follow_redirects=False).status_code == 200
    sign_in_form(client, "admin")
    page = client.get("/app/admin/audit", params={"principal": "user:sam"}).text
    assert "The chain verifies" in page and "user:sam" in page and "user:bea" not in page
    sessions = client.get("/app/admin/sessions").text
    assert "End sam&#39;s sessions" in sessions or "End sam's sessions" in sessions
    csrf = re.search(r'name="csrf" value="([^"]+)"', sessions).group(1)
    ended = client.post(
        "/app/admin/sessions/end", data={"csrf": csrf, "username": "sam"}, follow_redirects=False
    )
    assert ended.status_code == 303
    assert scheduler.get("/app/day", follow_redirects=False).headers["location"] == "/app/sign-in"
    forged = client.post("/app/admin/sessions/end", data={"csrf": "no", "username": "bea"})
    assert forged.status_code == 403
    sign_in_form(scheduler, "scheduler")
    assert scheduler.get("/app/admin/audit").status_code == 403
    _flush(client)
    assert ("session_revoke", ("sam",)) in [(e.action, e.record_ids) for e in _entries(settings, "user:ada")]


def test_wrong_api_keys_from_one_address_get_429_with_retry_after(day) -> None:
    # Last in this module: it leaves the test client's address throttled.
    client, settings, keys = day
    answers = [
        client.post("/v1/noshow/score", json={"appointments": []}, headers={"X-API-Key": f"guess-{n}"})
        for n in range(200)
    ]
    codes = [a.status_code for a in answers]
    allowed = settings.auth_address_failures_allowed
    assert codes[:allowed] == [401] * allowed and set(codes[allowed:]) == {429}
    assert int(answers[-1].headers["Retry-After"]) > 0 and "guess-199" not in answers[-1].text
    # A valid key is never throttled: guessing one is what the count stops.
    assert (
        client.post(
            "/v1/noshow/score", json={"appointments": []}, headers={"X-API-Key": keys["emr"]}
        ).status_code
        != 429
    )
    _flush(client)
    refused = [e for e in _entries(settings, "client:unknown") if e.action == "key_refused"]
    assert len(refused) == allowed
