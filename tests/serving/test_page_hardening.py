"""The second penetration test's findings on the pages, each with its payload: the security headers,
a form sent from another site, the huge claim handle, service lines nested thousands deep, and
page errors (413, 404, 422) answered with a page and a way back, never JSON and never a 500."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from data.loaders.canonical import claims_for_file, load_appointments
from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims
from services.access.principal import system
from serving.app import create_app
from serving.security_headers import PAGE_CSP
from tests.bodies import session_body, sign_in_form
from tests.helpers import ADMIN, TrainedStore, ensure_users

MB = 1024 * 1024


@pytest.fixture(scope="module")
def app(trained_store: TrainedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("page-hardening")
    settings = trained_store.settings.model_copy(update={"database_url": f"sqlite:///{root / 'careops.db'}"})
    ensure_users(settings)
    ensure_users(settings, {"scheduler": "cleo"}, cleo={"clinics": ["C02"]})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _csrf(client: TestClient, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def test_every_answer_carries_the_security_headers(app: TestClient) -> None:
    sign_in_form(app, "scheduler")
    day = app.get("/app/day")
    score = app.post("/v1/noshow/score", json={"appointments": session_body(1)["slots"][0]["appointments"]},
                     headers=ADMIN)  # fmt: skip
    for answer in (day, app.get("/app/sign-in"), score, app.get("/health/live"), app.get("/app/nowhere")):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-frame-options"] == "DENY"
        assert "camera=()" in answer.headers["permissions-policy"]
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in answer.headers  # plain HTTP here
    assert day.headers["content-security-policy"] == PAGE_CSP
    assert score.status_code == 200 and score.headers["content-security-policy"].startswith(
        "default-src 'none'"
    )
    static = app.get("/app/static/careops.css")
    assert static.status_code == 200 and static.headers.get("cache-control") != "no-store"
    over_tls = TestClient(app.app, base_url="https://testserver").get("/health/live")
    assert over_tls.headers["strict-transport-security"].startswith("max-age=")


def test_a_form_sent_from_another_site_is_refused(app: TestClient) -> None:
    sign_in_form(app, "scheduler")
    csrf = _csrf(app, "/app/day")
    elsewhere = (
        {"Sec-Fetch-Site": "cross-site", "Origin": "null"},
        {"Sec-Fetch-Site": "same-site"},  # another port of the same host
        {"Origin": "http://evil.example"},
        {"Referer": "http://127.0.0.1:9999/frame.html"},
    )
    for header in elsewhere:
        forged = app.post("/app/sign-out", data={"csrf": csrf}, headers=header, follow_redirects=False)
        assert forged.status_code == 403 and "sent from another site" in forged.text
        assert app.get("/app/day", follow_redirects=False).status_code == 200  # still signed in
    own_site = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}  # what Chromium sends under no-referrer
    own = app.post("/app/sign-out", data={"csrf": csrf}, headers=own_site, follow_redirects=False)
    assert own.status_code == 303
    assert app.get("/app/day", follow_redirects=False).headers["location"] == "/app/sign-in"


def test_a_claim_handle_past_any_row_id_gets_a_page_not_a_500(app: TestClient) -> None:
    sign_in_form(app, "biller")
    for handle in ("9223372036854775808", "-1", "99999999999999999999999"):
        answer = app.get(f"/app/claim/{handle}")
        assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
        assert "Back to your start page" in answer.text and "handle" in answer.text
    assert "99999999999999999999999" not in answer.text  # the limit is named, never what was sent
    csrf = _csrf(app, "/app/worklist")
    posted = app.post("/app/claim/9223372036854775808/status", data={"csrf": csrf, "status": "fixed"})
    assert posted.status_code == 422


def test_service_lines_nested_thousands_deep_are_a_quarantined_row(app: TestClient, tmp_path: Path) -> None:
    frame = generate_claims(3, seed=5)
    frame["claim_id"] = ["DEEP0", "DEEP1", "DEEP2"]
    flat = claims_for_file(frame)
    flat.loc[1, "service_lines"] = "[" * 100_000 + "]" * 100_000
    path = write_table(flat, tmp_path / "deep.csv")
    sign_in_form(app, "biller")
    csrf = _csrf(app, "/app/worklist")
    with path.open("rb") as handle:
        answer = app.post(
            "/app/worklist/upload", data={"csrf": csrf}, files={"claims_file": ("deep.csv", handle)}
        )
    assert answer.status_code == 200
    status = re.search(r'role="status">([^<]+)', answer.text).group(1)
    assert status.startswith("2 claims added") and "1 row" in answer.text


def test_page_errors_are_pages_with_a_way_back(app: TestClient) -> None:
    sign_in_form(app, "biller")
    csrf = _csrf(app, "/app/worklist")
    too_large = app.post(
        "/app/worklist/upload", data={"csrf": csrf}, files={"claims_file": ("big.csv", b"x" * (9 * MB))}
    )
    assert too_large.status_code == 413 and too_large.headers["content-type"].startswith("text/html")
    assert "larger than 8388608 bytes" in too_large.text and "Back to your start page" in too_large.text
    missing = app.get("/app/no-such-page")
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    bad_query = app.get("/app/worklist", params={"min_probability": "lots"})
    assert (
        bad_query.status_code == 422 and "min_probability" in bad_query.text and "lots" not in bad_query.text
    )
    # The API keeps its JSON.
    api = app.post(
        "/v1/noshow/score", content=b"x" * (9 * MB), headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert api.status_code == 413 and api.json()["message"].startswith("the body is larger")


def _appointments_csv(rows: int, clinic: str = "C77", day: str = "2027-05-03") -> bytes:
    """A canonical appointments CSV of `rows` visits of one clinic's day (the 83k-row payload's shape)."""
    frame = generate_appointments(rows, seed=7)
    frame["appointment_id"] = [f"BIG-{i}" for i in range(rows)]
    frame["clinic_id"] = clinic
    frame["starts_at"] = pd.Timestamp(day) + pd.to_timedelta(8 * 3600 + (frame.index % 600) * 60, unit="s")
    frame["booked_at"] = pd.Timestamp(day) - pd.Timedelta(days=10)
    return (
        frame.drop(columns=[c for c in frame.columns if c.startswith("true_")]).to_csv(index=False).encode()
    )


def test_an_upload_of_more_rows_than_allowed_is_refused_before_it_is_parsed(app: TestClient) -> None:
    line = b"A,P,C01,C01-D1,2027-05-03T08:00:00,2027-05-01T08:00:00,15,30,F,new,0,0,0,0,0,0,0,private\n"
    eight_mb = b"appointment_id,patient_id,clinic_id,provider_id,starts_at,booked_at,x\n" + line * (
        (8 * MB - 4096) // len(line) - 1
    )
    assert 8 * MB - 4096 - len(line) < len(eight_mb) < 8 * MB - 4096  # the multipart wrapping fits
    sign_in_form(app, "scheduler")
    csrf = _csrf(app, "/app/day")
    started = time.perf_counter()
    answer = app.post(
        "/app/day/upload", data={"csrf": csrf}, files={"appointments_file": ("big.csv", eight_mb)}
    )
    assert answer.status_code == 200 and "holds more than 20000 rows (CAREOPS_UPLOAD_MAX_ROWS)" in answer.text
    assert time.perf_counter() - started < 2.0  # refused on a count of lines, never parsed
    sign_in_form(app, "biller")
    csrf = _csrf(app, "/app/worklist")
    answer = app.post(
        "/app/worklist/upload", data={"csrf": csrf}, files={"claims_file": ("big.csv", eight_mb)}
    )
    assert answer.status_code == 200 and "holds more than 20000 rows" in answer.text


def test_a_day_past_a_clinics_capacity_is_refused_and_a_huge_day_is_paged(app: TestClient) -> None:
    sign_in_form(app, "scheduler")
    csrf = _csrf(app, "/app/day")
    over = _appointments_csv(600, clinic="C66")
    answer = app.post("/app/day/upload", data={"csrf": csrf}, files={"appointments_file": ("day.csv", over)})
    assert "C66 on 2027-05-03 would hold 600 visits; a clinic holds at most 500 a day" in answer.text
    assert "C66" not in app.app.state.careops.services.scheduling.clinics(system("tests"))
    # The penetration test's 83k visits of one clinic's day, booked past the pages (the API's batches
    # could do it over a day): the page shows and plans 400 at a time, in bounded time and size.
    store = app.app.state.careops.services.appointments
    loaded = load_appointments(pd.read_csv(io.BytesIO(_appointments_csv(83_000)), dtype=str))
    assert len(loaded.valid) == 83_000
    store.book_table(loaded.valid, 1)
    started = time.perf_counter()
    page = app.get("/app/day", params={"clinic": "C77", "date": "2027-05-03"})
    took = time.perf_counter() - started
    assert page.status_code == 200 and "This day holds 83000 bookings" in page.text
    visits_shown = page.text.count('action="/app/day/outcome"')  # a form per visit shown
    assert 0 < visits_shown <= 400 and len(page.content) < 2 * MB and took < 10, took
    later = app.get(re.search(r'href="([^"]+)">Later bookings', page.text).group(1).replace("&amp;", "&"))
    assert "these are bookings 401 to 800" in later.text


def test_the_day_lands_on_the_clinic_last_viewed_or_the_users_own(app: TestClient) -> None:
    for clinic in ("C01", "C02"):
        body = session_body(2, prefix=f"LAND-{clinic}", day="2027-06-01")
        visits = [dict(a, clinic_id=clinic) for s in body["slots"] for a in s["appointments"]]
        assert app.post("/v1/noshow/score", json={"appointments": visits}, headers=ADMIN).status_code == 200
    sign_in_form(app, "scheduler")
    app.get("/app/day", params={"clinic": "C02", "date": "2027-06-01"})
    assert '<option value="C02" selected>' in app.get("/app/day").text
    app.cookies.clear()
    sign_in_form(app, "scheduler", username="cleo")  # limited to C02: lands there, not on C01
    assert '<option value="C02" selected>' in app.get("/app/day").text


def test_uploads_past_the_workers_slots_are_asked_to_wait(app: TestClient) -> None:
    sign_in_form(app, "scheduler")
    csrf = _csrf(app, "/app/day")
    slots = app.app.state.careops.uploads
    slots.busy = slots.limit  # every slot taken by uploads in progress
    try:
        answer = app.post(
            "/app/day/upload", data={"csrf": csrf}, files={"appointments_file": ("a.csv", b"x\n")}
        )
    finally:
        slots.busy = 0
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    assert "try again in a few seconds" in answer.text and answer.headers["content-type"].startswith(
        "text/html"
    )
