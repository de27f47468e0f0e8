"""The second penetration test's findings on the pages, each with its payload: the security headers,
a form sent from another site, the huge claim handle, service lines nested thousands deep, and
page errors (413, 404, 422) answered with a page and a way back, never JSON and never a 500."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.synthetic.claims import generate_claims
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
