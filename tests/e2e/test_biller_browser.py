"""The biller's day in a real browser against a real server: filing deadlines on the worklist."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from data.reference import payers
from data.synthetic.claims import generate_claims
from data.x12.writer import write_837p
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
