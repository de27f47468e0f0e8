"""After a denial: the claim page offers an appeal draft for the 835's reason, as a page and as a PDF
whose text holds the claim, the CARC in words and the attachments; an administrative reason adds
the corrected-claim checklist; a claim not denied has no draft."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from data.loaders.canonical import claims_for_file
from data.loaders.tables import write_table
from data.reference import load_appeals
from data.synthetic.claims import generate_claims
from data.x12.remittances_835 import read_835
from data.x12.writer import write_835
from services.access.principal import system
from tests.bodies import sign_in_form, signed_in, upload

DENIALS = {"APTF": "timely_filing", "APMN": "medical_necessity", "APCD": "coding", "APOK": None}


@pytest.fixture(scope="module")
def denied(client: TestClient, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """Four claims on the list, three denied by an 835 (one per reason) and one paid: their handles."""
    folder = tmp_path_factory.mktemp("appeals")
    frame = generate_claims(len(DENIALS), seed=515)
    frame["claim_id"] = list(DENIALS)
    csrf = signed_in(client, "biller")
    assert upload(client, csrf, write_table(claims_for_file(frame), folder / "claims.csv")).startswith(
        "4 claims"
    )
    remitted = []
    for record in frame.to_dict("records"):
        category = DENIALS[record["claim_id"]]
        lines = [{**line, "denied": category is not None, "denial_category": category}
                 for line in record["service_lines"]]  # fmt: skip
        when = pd.Timestamp(record["submitted_at"]) + timedelta(days=20)
        remitted.append({**record, "denied": category is not None, "denial_category": category,
                         "service_lines": lines, "adjudicated_at": when})  # fmt: skip
    services = client.app.state.careops.services
    assert (
        services.worklist.settle(system("tests"), read_835(write_835(remitted, folder / "r.835")), "tests")
        == 4
    )
    return {claim_id: services.worklist.search(system("tests"), claim_id)[0].handle for claim_id in DENIALS}


def pdf_text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())


@pytest.mark.parametrize(
    ("claim_id", "carc_words"),
    [
        ("APTF", "CO-29: the time limit for filing has expired"),
        ("APMN", "CO-50: not deemed a medical necessity"),
    ],
)
def test_an_appeal_draft_renders_as_a_page_and_as_a_pdf_with_the_claim_the_carc_and_the_attachments(
    client: TestClient, denied: dict[str, int], claim_id: str, carc_words: str
) -> None:
    signed_in(client, "biller")
    handle = denied[claim_id]
    claim_page = client.get(f"/app/claim/{handle}").text
    assert "Status: <strong>denied</strong>" in claim_page and f"/app/claim/{handle}/appeal" in claim_page
    page = client.get(f"/app/claim/{handle}/appeal")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    assert claim_id in text and carc_words in text
    assert text.count(carc_words.split(":")[0] + ":") == 1  # a code denying several lines is said once
    pdf = client.get(f"/app/claim/{handle}/appeal.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "no-store" and pdf.content.startswith(b"%PDF-")
    read_back = pdf_text(pdf.content)
    assert f"Claim {claim_id}" in read_back and carc_words in read_back
    attachments = load_appeals(None)[denied_category(claim_id)].attachments
    assert attachments and all(" ".join(a.split()) in read_back for a in attachments)
    assert "Corrected-claim checklist" not in read_back  # an appeal, not an administrative reason


def denied_category(claim_id: str) -> str:
    return DENIALS[claim_id]


def test_an_administrative_denial_comes_with_the_corrected_claim_checklist(
    client: TestClient, denied: dict[str, int]
) -> None:
    signed_in(client, "biller")
    read_back = pdf_text(client.get(f"/app/claim/{denied['APCD']}/appeal.pdf").content)
    assert "Corrected claim and request for reconsideration" in read_back
    assert all(" ".join(step.split()) in read_back for step in load_appeals(None)["coding"].checklist)


def test_a_paid_claim_has_no_draft_and_a_scheduler_cannot_open_one(
    client: TestClient, denied: dict[str, int]
) -> None:
    signed_in(client, "biller")
    assert client.get(f"/app/claim/{denied['APOK']}/appeal").status_code == 404
    assert client.get(f"/app/claim/{denied['APOK']}/appeal.pdf").status_code == 404
    assert "/appeal" not in client.get(f"/app/claim/{denied['APOK']}").text
    sign_in_form(client, "scheduler")
    assert client.get(f"/app/claim/{denied['APTF']}/appeal.pdf").status_code == 403
