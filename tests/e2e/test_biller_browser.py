"""The biller's day in a real browser against a real server: filing deadlines on the worklist, and
search by claim id, patient id or payer claim number without an id in any address, and the appeal
draft of a denied claim as a page and a PDF."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from data.loaders.canonical import claims_for_file, load_claims
from data.reference import payers
from data.synthetic.acknowledgments import acknowledge
from data.synthetic.claims import generate_claims
from data.x12.writer import write_277ca, write_835, write_837p
from models.tasks import caller_records, get_task
from tests.e2e.pages import accessible_and_shot, sign_in

pytestmark = pytest.mark.e2e
DATE_COLUMNS = ("service_date", "submitted_at", "eligibility_verified_at", "adjudicated_at")


def claims_due(tmp_path: Path, prefix: str, days_left: list[int]) -> tuple[Path, dict[str, date]]:
    """An 837 of claims whose filing deadlines fall `days_left` days from today, and their deadlines
    computed straight from the payer table."""
    frame = generate_claims(len(days_left), seed=4343)
    frame["claim_id"] = [f"{prefix}{i:03d}" for i in range(len(frame))]
    deadlines = {}
    for row, left in enumerate(days_left):
        window = payers()[frame.at[row, "payer_id"]].timely_filing_days
        shift = pd.Timestamp(date.today() + timedelta(days=left - window)) - frame.at[row, "service_date"]
        for column in DATE_COLUMNS:
            frame.at[row, column] = frame.at[row, column] + shift
        deadlines[frame.at[row, "claim_id"]] = date.today() + timedelta(days=left)
    path = write_837p(caller_records(get_task("denial"), frame), tmp_path / f"{prefix}.837")
    return path, deadlines


def ingest_into(workdir: Path, tmp_path: Path, *files: str, expect: str) -> None:
    """`careops ingest x12 ... --record` into the server's store, as a practice's nightly job runs it."""
    environment = {**os.environ, "CAREOPS_DATABASE_URL": f"sqlite:///{workdir / 'careops.db'}"}
    careops = str(Path(sys.executable).parent / "careops")
    command = [careops, "ingest", "x12", *files, "--out", str(tmp_path / "ingested.csv"), "--record"]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and expect in done.stdout, done.stderr


def table_rows(page) -> list[list[str]]:
    return [
        [cell.inner_text().strip() for cell in row.locator("td").all()]
        for row in page.locator("table tbody tr").all()
    ]


def test_deadlines_are_shown_flagged_and_sorting_by_them_puts_the_urgent_claims_first(
    server, browser, tmp_path: Path
) -> None:
    base, _ = server
    left = [-30, -3, -1, 0, 5, 14, 15, 40, 90, 200] * 2
    path, deadlines = claims_due(tmp_path, "DL", left)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    sign_in(page, base, "biller")
    page.get_by_label("Claims to check (canonical CSV or 837)").set_input_files(str(path))
    page.get_by_role("button", name="Upload and score").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"{len(left)} claims added").is_visible()
    assert page.get_by_text("Ranked by dollars at risk, times 2 for claims still to be filed").is_visible()

    page.get_by_label("Sort by").select_option("deadline")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    rows = table_rows(page)
    ours = {r[1]: r for r in rows if r[1] in deadlines}
    assert len(ours) == len(deadlines)
    for claim_id, deadline in deadlines.items():  # the page's figures equal the direct computation
        days = (deadline - date.today()).days
        flag = "past deadline" if days < 0 else "due soon" if days <= 14 else ""
        assert ours[claim_id][8] == f"{deadline.isoformat()} {flag}".strip()
        assert ours[claim_id][9] == str(days)
    flagged = [r[8].endswith(("past deadline", "due soon")) for r in rows]
    assert flagged.index(False) == sum(flagged)  # every flagged claim comes before every other
    assert [int(r[9]) for r in rows[: sum(flagged)]] == sorted(int(r[9]) for r in rows[: sum(flagged)])
    accessible_and_shot(page, "worklist-deadlines.png")

    page.get_by_label("Filing deadline").select_option("past")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    past = {r[1] for r in table_rows(page)} & set(deadlines)
    assert past == {c for c, d in deadlines.items() if d < date.today()}
    context.close()


def test_a_biller_finds_a_claim_by_each_id_and_no_id_reaches_the_address_bar(
    server, browser, tmp_path: Path
) -> None:
    base, workdir = server
    path, _ = claims_due(tmp_path, "SR", [60, 61, 62])
    frame = claims_for_file(generate_claims(3, seed=4343)).assign(claim_id=[f"SR{i:03d}" for i in range(3)])
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url))
    sign_in(page, base, "biller")
    page.get_by_label("Claims to check (canonical CSV or 837)").set_input_files(str(path))
    page.get_by_role("button", name="Upload and score").click()
    page.wait_for_load_state()
    # The clearinghouse accepts them: each gets the payer's claim number.
    statuses = acknowledge(load_claims(frame).valid, share=0.0, seed=5)
    write_277ca(statuses.to_dict("records"), tmp_path / "acks.277")
    ingest_into(workdir, tmp_path, "--acks", str(tmp_path / "acks.277"), expect="3 acknowledged")

    claim = statuses.iloc[1]
    for term in (claim.claim_id, claim.patient_id, claim.payer_claim_number):
        page.get_by_label("Find a claim by claim id, patient id or payer claim number").fill(str(term))
        page.get_by_role("button", name="Find").click()
        page.wait_for_load_state()
        found = page.locator("table").first
        assert found.get_by_role("link", name=claim.claim_id).is_visible(), term
    accessible_and_shot(page, "worklist-search.png")
    found.get_by_role("link", name=claim.claim_id).click()
    page.wait_for_load_state()
    assert page.get_by_text(f"Payer claim number {claim.payer_claim_number}").is_visible()
    assert page.get_by_text("acknowledged by the payer").is_visible()

    page.get_by_role("link", name="Back to the worklist").click()
    page.wait_for_load_state()
    page.get_by_label("Find a claim by claim id, patient id or payer claim number").fill("NO-SUCH-CLAIM")
    page.get_by_role("button", name="Find").click()
    page.wait_for_load_state()
    assert page.get_by_text("0 claims found").is_visible()
    ids = {str(v) for v in statuses[["claim_id", "patient_id", "payer_claim_number"]].to_numpy().ravel()}
    assert visited and not any(any(i in url for i in ids) for url in visited)
    context.close()


def test_a_biller_opens_the_appeal_draft_of_a_denied_claim_and_downloads_its_pdf(
    server, browser, tmp_path: Path
) -> None:
    base, workdir = server
    frame = generate_claims(2, seed=4545)
    frame["claim_id"] = ["AB000", "AB001"]
    write_837p(caller_records(get_task("denial"), frame), tmp_path / "ab.837")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    sign_in(page, base, "biller")
    page.get_by_label("Claims to check (canonical CSV or 837)").set_input_files(str(tmp_path / "ab.837"))
    page.get_by_role("button", name="Upload and score").click()
    page.wait_for_load_state()
    # The payer denies AB000 for medical necessity (CO-50) in an 835.
    remitted = []
    for record in frame.to_dict("records"):
        denied = record["claim_id"] == "AB000"
        category = "medical_necessity" if denied else None
        lines = [{**line, "denied": denied, "denial_category": category} for line in record["service_lines"]]
        when = pd.Timestamp(record["submitted_at"]) + timedelta(days=30)
        remitted.append({**record, "denied": denied, "denial_category": category, "service_lines": lines,
                         "adjudicated_at": when})  # fmt: skip
    write_835(remitted, tmp_path / "ab.835")
    ingest_into(
        workdir, tmp_path, "--remits", str(tmp_path / "ab.835"), expect="2 claims marked denied or paid"
    )

    page.get_by_label("Find a claim by claim id, patient id or payer claim number").fill("AB000")
    page.get_by_role("button", name="Find").click()
    page.wait_for_load_state()
    page.locator("table").first.get_by_role("link", name="AB000").click()
    page.wait_for_load_state()
    assert page.get_by_text("not deemed a medical necessity by the payer").is_visible()
    page.get_by_role("link", name="Appeal draft and corrected-claim checklist").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Appeal: AB000").is_visible()
    assert page.get_by_text("Letter of medical necessity from the treating provider").is_visible()
    accessible_and_shot(page, "appeal.png")
    with page.expect_download() as download:
        page.get_by_role("link", name="download it as a PDF").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 2000
    context.close()
