"""The pages in a real browser (Debian's Chromium, driven by Playwright) against a real server:
sign-in and roles, the scheduler's day, marking an outcome that a later score sees; axe-core finds
no serious or critical violation on any page, and no record id reaches a URL."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
import pytest

from data.loaders.uploads import claims_from_upload
from data.schemas import Appointment
from data.stores.appointments import AppointmentStore
from data.synthetic.claims import generate_claims
from data.x12.writer import write_837p
from features.history import HistoryParams, online_history
from models.tasks import caller_records, get_task
from tests.bodies import session_body
from tests.e2e.pages import ARTIFACTS, accessible_and_shot, serious_violations, sign_in
from tests.helpers import (
    BILLER,
    PASSWORD,
    SCHEDULER,
    USERS,
)

pytestmark = pytest.mark.e2e
DAY = "2027-03-15"


def test_a_scheduler_works_the_day_and_a_later_score_sees_the_outcome(server, browser) -> None:
    base, workdir = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    body = session_body(24, prefix="BRW", day=DAY)
    booked = [a for slot in body["slots"] for a in slot["appointments"]]
    assert (
        httpx.post(f"{base}/v1/noshow/score", json={"appointments": booked}, headers=SCHEDULER).status_code
        == 200
    )

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url))
    sign_in(page, base, "scheduler")
    assert serious_violations(page) == []
    page.get_by_label("Date").fill(DAY)
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_text("24 visits booked").is_visible()
    assert page.locator(".band").count() >= 24
    assert page.get_by_role("heading", name="Call first").is_visible()
    assert page.get_by_text("Plan: add").first.is_visible()
    accessible_and_shot(page, "day.png")

    from playwright.sync_api import expect

    def reached_on_numbers_page(page, base: str) -> int:
        """The reached visits the numbers page counts, over its risk bands (0 before any)."""
        page.goto(f"{base}/app/numbers")
        rows = page.locator("tr[data-reached]")
        return sum(int(rows.nth(k).get_attribute("data-reached")) for k in range(rows.count()))

    # Accepting and marking update the page in place (htmx), and work as plain forms without it.
    page.get_by_role("button", name=re.compile(r"^Accept the extra booking at")).first.click()
    expect(page.get_by_text(re.compile(r"Accepted: \d+ extra")).first).to_be_visible()

    first = booked[0]
    row = page.get_by_role("row").filter(
        has=page.get_by_role("button", name=f"No-show: 08:00 {first['patient_id']}")
    )
    row.get_by_role("button", name=f"No-show: 08:00 {first['patient_id']}").click()
    expect(row.first.locator(".done")).to_have_text("No-show")
    expect(page).to_have_url(re.compile(f"/app/day\\?clinic=C01&date={DAY}$"))

    # A reminder call, recorded in one click: the patient leaves the call list, the visit shows it.
    reached_before = reached_on_numbers_page(page, base)
    page.go_back()
    calls = page.locator("section[aria-labelledby=calls]")
    called_row = calls.get_by_role("row").nth(1)
    called = called_row.get_by_role("cell").nth(1).inner_text()
    at = called_row.get_by_role("cell").nth(0).inner_text()
    calls.get_by_role("button", name=re.compile(f"^Call reached, confirmed: .* {called}$")).click()
    expect(page.get_by_text(re.compile(r"1 visit left out: the patient was called"))).to_be_visible()
    expect(calls.get_by_role("cell", name=called, exact=True)).to_have_count(0)
    expect(page.get_by_text(re.compile(r"Called .*: reached, confirmed")).first).to_be_visible()
    # The patient comes: the numbers page counts one more reached visit with a known outcome.
    came = page.get_by_role("row").filter(has=page.get_by_role("button", name=f"Attended: {at} {called}"))
    came.get_by_role("button", name=f"Attended: {at} {called}").click()
    expect(came.first.locator(".done")).to_have_text("Attended")
    assert reached_on_numbers_page(page, base) == reached_before + 1

    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["careops_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    ids = {a["appointment_id"] for a in booked} | {a["patient_id"] for a in booked}
    assert visited and not any(any(i in url for i in ids) for url in visited)
    context.close()

    store = AppointmentStore(f"sqlite:///{workdir / 'careops.db'}")
    assert store.bookings_of([first["appointment_id"]])[first["appointment_id"]].outcome == "no_show"
    later = Appointment.model_validate(
        first
        | {
            "appointment_id": "BRW-later",
            "starts_at": "2027-03-22T09:00:00",
            "booked_at": "2027-03-16T09:00:00",
        }
    )
    assert online_history(store, [later], HistoryParams())["prior_no_shows"][0] == 1


def test_roles_keep_to_their_pages(server, browser) -> None:
    base, _ = server
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.goto(f"{base}/app/sign-in")
    accessible_and_shot(page, "sign-in.png", full_page=False)
    sign_in(page, base, "biller")
    response = page.goto(f"{base}/app/day")
    assert response.status == 403 and page.get_by_role("heading", name="Not for your role").is_visible()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert re.search(r"/app/sign-in$", page.url)
    page.goto(f"{base}/app/day")
    assert page.url.endswith("/app/sign-in")
    page.get_by_label("User name").fill(USERS["scheduler"])
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.goto(f"{base}/app/worklist").status == 403  # a scheduler cannot open the worklist
    context.close()


def test_a_biller_uploads_an_837_and_works_the_ranked_list(server, browser, tmp_path: Path) -> None:
    base, _ = server
    frame = generate_claims(40, seed=4242)
    frame["claim_id"] = [f"BRC{i:03d}" for i in range(len(frame))]
    records = caller_records(get_task("denial"), frame)
    path = write_837p(records, tmp_path / "before-submission.837")

    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url))
    sign_in(page, base, "biller")
    assert page.url.endswith("/app/worklist")
    page.get_by_label("Claims to check (canonical CSV or 837)").set_input_files(str(path))
    page.get_by_role("button", name="Upload and score").click()
    page.wait_for_load_state()
    assert page.get_by_text("40 claims added").is_visible()
    accessible_and_shot(page, "worklist.png")

    page.get_by_label("Denial probability at least").fill("0.1")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    with page.expect_download() as download:
        page.get_by_role("link", name="Export this view as CSV").click()
    exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    # The API gets the same claims as the page read them from the 837.
    as_read = caller_records(get_task("denial"), claims_from_upload(path.name, path.read_bytes()).valid)
    api = httpx.post(
        f"{base}/v1/denial/worklist", json={"claims": as_read, "min_probability": 0.1, "limit": 1000},
        headers=BILLER,
    ).json()  # fmt: skip
    ours = [r["claim_id"] for r in exported if r["claim_id"].startswith("BRC")]  # the list is shared
    assert ours and ours == [i["claim_id"] for i in api["items"]]

    page.get_by_role("link", name=ours[0]).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Lines").is_visible()
    assert page.get_by_role("heading", name="Likely reasons").is_visible()
    accessible_and_shot(page, "claim.png")
    ids = {r["claim_id"] for r in records} | {r["patient_id"] for r in records}
    assert not any(any(i in url for i in ids) for url in visited)

    page.get_by_role("link", name="Numbers").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Practice numbers").is_visible()
    accessible_and_shot(page, "numbers.png")
    context.close()


def test_an_admin_reads_the_model_page(server, browser) -> None:
    base, workdir = server
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, base, "admin", workdir)
    page.get_by_role("link", name="Models").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="noshow").is_visible()
    accessible_and_shot(page, "models.png")
    context.close()


def test_every_page_is_served_under_the_strict_policy_and_cannot_be_framed(server, browser, tmp_path) -> None:
    import http.server
    import threading
    from functools import partial

    from serving.security_headers import PAGE_CSP

    base, workdir = server
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, base, "admin", workdir)
    pages = ["day", f"day?clinic=C01&date={DAY}", "worklist", "numbers", "models", "admin/audit",
             "admin/sessions", "admin/users", "sign-in"]  # fmt: skip
    for name in pages:
        response = page.goto(f"{base}/app/{name}")
        assert response.status == 200, name
        assert response.headers["content-security-policy"] == PAGE_CSP, name
        assert (
            response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"
        )
    context.close()

    # The penetration test's framing page, on another port of the same host, with a signed-in browser.
    (tmp_path / "frame.html").write_text(
        f'<!doctype html><title>frame</title><iframe src="{base}/app/day"></iframe>'
    )
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    framing = browser.new_context(watch=False)  # the refusal is a reported violation, as it should be
    try:
        page = framing.new_page()
        sign_in(page, base, "admin", workdir)
        blocked: list[str] = []
        page.on("console", lambda message: blocked.append(message.text))
        page.goto(f"http://127.0.0.1:{other.server_address[1]}/frame.html")
        page.wait_for_timeout(500)
        inner = [f for f in page.frames if f != page.main_frame]
        assert len(inner) == 1 and "The day" not in inner[0].content()
        assert any("frame-ancestors" in text or "X-Frame-Options" in text for text in blocked), blocked
    finally:
        framing.close()
        other.shutdown()
