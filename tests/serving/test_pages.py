"""The pages under /app/: sign-in and its cookie, roles, the scheduler's day, marking outcomes."""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from data.loaders.canonical import load_appointments
from data.loaders.tables import write_table
from data.stores.appointments import AppointmentStore
from data.synthetic.appointments import generate_appointments
from data.synthetic.tomorrow import tomorrow_schedule
from serving.pages.page_sessions import COOKIE
from tests.bodies import session_body, sign_in_form
from tests.helpers import PASSWORD, SCHEDULER, USERS, TrainedStore, ensure_users


@pytest.fixture(scope="module")
def busy_day(trained_store: TrainedStore) -> tuple[str, str]:
    """The clinic and date with the most booked visits in the trained store's data."""
    table = pd.read_csv(trained_store.appointments, parse_dates=["starts_at"])
    counts = table.groupby([table["clinic_id"], table["starts_at"].dt.date]).size()
    clinic, day = counts.idxmax()
    return clinic, day.isoformat()


def signed_in(client: TestClient, key: str) -> TestClient:
    response = sign_in_form(client, key)
    assert response.status_code == 303
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_signed_out_browsers_go_to_sign_in_and_wrong_passwords_are_refused(client: TestClient) -> None:
    client.cookies.clear()
    for path in ("/app/", "/app/day"):
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/app/sign-in")
    refused = sign_in_form(client, "scheduler", password="not-the-password-x9")
    assert refused.status_code == 401 and "not-the-password-x9" not in refused.text
    assert COOKIE + "=" not in refused.headers.get("set-cookie", "")
    # A sign-in posted from elsewhere carries no token of ours: refused before the password is looked at.
    client.cookies.clear()
    form = {"username": USERS["scheduler"], "password": PASSWORD, "token": "guess"}
    forged = client.post("/app/sign-in", data=form, follow_redirects=False)
    assert forged.status_code == 400 and COOKIE + "=" not in forged.headers.get("set-cookie", "")


def test_the_session_cookie_is_httponly_strict_and_holds_no_key(client: TestClient) -> None:
    response = sign_in_form(client, "scheduler")
    assert response.headers["location"] == "/app/day"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/app" in cookie
    assert PASSWORD.split()[0] not in cookie and USERS["scheduler"] not in cookie


def test_a_scheduler_sees_the_day_scored_planned_and_in_words(
    client: TestClient, trained_store: TrainedStore, busy_day: tuple[str, str]
) -> None:
    clinic, day = busy_day
    signed_in(client, "scheduler")
    started = time.perf_counter()
    response = client.get("/app/day", params={"clinic": clinic, "date": day})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    html = response.text
    store = AppointmentStore(trained_store.settings.database_url)
    booked = [b for b in store.clinic_day(clinic, pd.Timestamp(day).toordinal() - 719163).values()]
    live = [b for b in booked if b.outcome != "cancelled"]
    assert len(live) > 10
    assert f"{len(live)} visits booked" in html
    assert len(re.findall(r'class="band band-(low|medium|high)"', html)) >= len(live)
    assert "Plan: add" in html
    assert re.search(r"booked \d+ days? ahead|booked the same day", html)
    assert elapsed < 1.0, f"the day page took {elapsed:.2f}s"


def test_tomorrows_visits_come_with_a_call_list_and_a_plan(client: TestClient) -> None:
    body = session_body(24, prefix="TMRW", day="2027-03-15")
    booked = [a for slot in body["slots"] for a in slot["appointments"]]
    scored = client.post("/v1/noshow/score", json={"appointments": booked}, headers=SCHEDULER)
    assert scored.status_code == 200
    risk = {p["appointment_id"]: p["no_show_probability"] for p in scored.json()["predictions"]}
    signed_in(client, "scheduler")
    html = client.get("/app/day", params={"clinic": "C01", "date": "2027-03-15"}).text
    assert "24 visits booked" in html and "Call first" in html
    calls = html.split('id="calls"')[1].split("</table>")[0]
    riskiest = max(risk, key=risk.__getitem__)
    first_patient = next(a["patient_id"] for a in booked if a["appointment_id"] == riskiest)
    assert re.findall(r"<td>(TMRW-P\d+)</td>", calls)[0] == first_patient
    assert f"{round(100 * risk[riskiest])}%" in calls


def test_other_roles_may_not_open_the_day_and_forms_need_their_token(
    client: TestClient, busy_day: tuple[str, str]
) -> None:
    signed_in(client, "biller")
    assert client.get("/app/day").status_code == 403
    signed_in(client, "scheduler")
    clinic, day = busy_day
    page = client.get("/app/day", params={"clinic": clinic, "date": day}).text
    record = re.search(r'name="record" value="([^"]+)"', page).group(1)
    form = {"record": record, "outcome": "no_show", "clinic": clinic, "date": day}
    assert client.post("/app/day/outcome", data=form | {"csrf": "forged"}).status_code == 403
    forged = form | {"csrf": csrf_of(page), "record": record[:-2] + "xx"}
    assert client.post("/app/day/outcome", data=forged).status_code == 403


def test_marking_an_outcome_reaches_the_store_without_an_id_in_any_url(
    client: TestClient, trained_store: TrainedStore, busy_day: tuple[str, str]
) -> None:
    clinic, day = busy_day
    signed_in(client, "scheduler")
    page = client.get("/app/day", params={"clinic": clinic, "date": day}).text
    record = re.search(r'name="record" value="([^"]+)"', page).group(1)
    form = {"csrf": csrf_of(page), "record": record, "outcome": "cancelled", "clinic": clinic, "date": day}
    response = client.post("/app/day/outcome", data=form, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location == f"/app/day?clinic={clinic}&date={day}"
    store = AppointmentStore(trained_store.settings.database_url)
    cancelled = [
        a
        for a, b in store.clinic_day(clinic, pd.Timestamp(day).toordinal() - 719163).items()
        if b.outcome == "cancelled"
    ]
    assert cancelled and all(a not in location for a in cancelled)
    after = client.get(location).text
    assert f'value="{record}"' not in after  # a cancelled visit leaves the day's scored list


def test_sign_out_ends_the_session_even_for_a_kept_cookie(client: TestClient) -> None:
    signed_in(client, "scheduler")
    kept = client.cookies.get(COOKIE)
    page = client.get("/app/day").text
    response = client.post("/app/sign-out", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert response.headers["location"] == "/app/sign-in"
    assert client.get("/app/day", follow_redirects=False).status_code == 303
    client.cookies.set(COOKIE, kept, path="/app")  # the old cookie, replayed: the server forgot it
    assert client.get("/app/day", follow_redirects=False).headers["location"] == "/app/sign-in"
    client.cookies.clear()


def test_every_role_may_read_the_practice_numbers(client: TestClient) -> None:
    for role in ("scheduler", "biller", "admin"):
        signed_in(client, role)
        response = client.get("/app/numbers")
        assert response.status_code == 200 and "<h1>Practice numbers</h1>" in response.text
        assert 'role="img"' in response.text and "<table>" in response.text


def test_the_practice_numbers_count_only_the_readers_clinics(client: TestClient) -> None:
    def clinics(text: str) -> set[str]:
        return set(re.findall(r"<tr><td>[\d-]+</td><td>(C\d+)</td>", text))

    signed_in(client, "admin")
    every = clinics(client.get("/app/numbers").text)
    assert len(every) >= 2
    mine = sorted(every)[0]
    ensure_users(client.app.state.careops.settings, {"scheduler": "cleo"}, cleo={"clinics": [mine]})
    sign_in_form(client, "scheduler", username="cleo")
    assert clinics(client.get("/app/numbers").text) == {mine}


def test_the_model_page_shows_the_champion_its_reliability_and_subgroups(
    client: TestClient, trained_store: TrainedStore
) -> None:
    signed_in(client, "scheduler")
    assert client.get("/app/models").status_code == 403
    signed_in(client, "admin")
    html = client.get("/app/models").text
    for task in ("noshow", "denial"):
        section = html.split(f'id="task-{task}"')[1].split("</section>")[0]
        roc = trained_store.results[task].metrics["holdout_roc_auc"]
        assert re.search(r"<td>1</td><td>champion</td>\s*<td>" + f"{roc:.4f}", section)
        assert "Reliability: mean predicted and observed rate" in section
        assert section.count("<tr><td>") >= 10  # the deciles, then the subgroups
        assert "patient_sex" in section or "payer_type" in section


def test_a_csv_of_appointments_is_booked_and_bad_rows_are_listed_with_why(
    client: TestClient, tmp_path: Path
) -> None:
    table = load_appointments(generate_appointments(8000, seed=515)).valid
    upcoming = tomorrow_schedule(table, date(2027, 4, 6)).head(11)
    upcoming.loc[upcoming.index[3], "duration_minutes"] = -10
    path = write_table(upcoming, tmp_path / "tomorrow.csv")
    signed_in(client, "scheduler")
    csrf = csrf_of(client.get("/app/day").text)
    with path.open("rb") as handle:
        response = client.post(
            "/app/day/upload",
            data={"csrf": csrf},
            files={"appointments_file": ("tomorrow.csv", handle, "text/csv")},
        )
    assert response.status_code == 200
    assert "10 appointments booked; 1 rows not valid" in response.text
    assert re.search(r"<td>5</td><td>[^<]*duration_minutes", response.text)  # line 5: header, then row 4
    assert "-10" not in re.search(
        r"<caption>Rows not booked</caption>.*?</table>", response.text, re.S
    ).group(0)
    clinic = upcoming["clinic_id"].iloc[0]
    day = client.get("/app/day", params={"clinic": clinic, "date": "2027-04-06"}).text
    booked = upcoming.drop(index=upcoming.index[3])
    assert f"{int((booked['clinic_id'] == clinic).sum())} visits booked" in day


def test_tomorrow_is_the_latest_day_moved_and_unlabelled() -> None:
    table = load_appointments(generate_appointments(2000, seed=516)).valid
    moved = tomorrow_schedule(table, date(2027, 5, 3))
    latest = table[table["starts_at"].dt.normalize() == table["starts_at"].dt.normalize().max()]
    assert len(moved) == len(latest) and "no_show" not in moved.columns
    assert (pd.to_datetime(moved["starts_at"]).dt.date == date(2027, 5, 3)).all()
    lead = pd.to_datetime(moved["starts_at"]) - pd.to_datetime(moved["booked_at"])
    assert (lead.to_numpy() == (latest["starts_at"] - latest["booked_at"]).to_numpy()).all()
    assert moved["appointment_id"].str.startswith("T").all()


def test_accepting_a_suggested_overbooking_counts_it_in_the_plan(client: TestClient) -> None:
    body = session_body(16, prefix="ACC", day="2027-03-22")
    booked = [a for slot in body["slots"] for a in slot["appointments"]]
    assert (
        client.post("/v1/noshow/score", json={"appointments": booked}, headers=SCHEDULER).status_code == 200
    )
    signed_in(client, "scheduler")
    html = client.get("/app/day", params={"clinic": "C01", "date": "2027-03-22"}).text
    suggested = int(re.search(r"Plan: add <strong>(\d+)</strong>", html).group(1))
    assert suggested >= 1
    form = re.search(
        r'action="/app/day/accept".*?name="slot" value="([^"]+)".*?name="count" value="(\d+)"', html, re.S
    )
    data = {"csrf": csrf_of(html), "slot": form.group(1), "count": form.group(2)}
    response = client.post("/app/day/accept", data=data, follow_redirects=False)
    assert response.headers["location"] == "/app/day?clinic=C01&date=2027-03-22"
    after = client.get(response.headers["location"]).text
    assert f"Accepted: {form.group(2)} extra." in after and "accepted (" in after
    # The plan now starts from a session with the accepted booking in it: more patients expected.
    seen = r"Expected patients seen ([\d.]+) →"
    assert float(re.search(seen, after).group(1)) > float(re.search(seen, html).group(1))
    forged = data | {"slot": form.group(1)[:-3] + "abc"}
    assert client.post("/app/day/accept", data=forged).status_code == 403
