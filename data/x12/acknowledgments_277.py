"""X12 277CA claim acknowledgments (5010 X214): which submitted claims the clearinghouse or payer took
in for adjudication and which it rejected at the front end, before any 835.

A rejected claim (category A3, A4, A6, A7 or A8) was never adjudicated: it has no appeal rights, it
is not a denial, and the payer's filing clock keeps running until it is fixed and sent again. An
accepted one (A1, A2) waits for its remittance. Each claim's status is its claim-level STC (loop
2200D) after TRN*2, the practice's claim id (CLM01); REF*1K is the payer's claim number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from data.x12.reader import X12FileError, X12Segment, read_segments

ACCEPTED = frozenset({"A1", "A2"})
REJECTED = frozenset({"A3", "A4", "A6", "A7", "A8"})
CATEGORIES = {
    "A0": "forwarded to another entity",
    "A1": "received",
    "A2": "accepted into adjudication",
    "A3": "returned as unprocessable",
    "A4": "not found",
    "A5": "split",
    "A6": "rejected for missing information",
    "A7": "rejected for invalid information",
    "A8": "rejected for a relational field in error",
}
STATUS_CODES = {  # the health care claim status codes (x12.org list 508) careops meets most
    "19": "the entity acknowledges receipt of the claim",
    "20": "accepted for processing",
    "21": "missing or invalid information",
    "33": "subscriber and subscriber id not found",
    "97": "patient eligibility not found with the entity",
    "116": "claim submitted to the incorrect payer",
    "145": "the entity's primary identifier",
    "164": "the entity's contract/member number",
    "187": "date(s) of service",
    "254": "principal diagnosis code",
    "255": "diagnosis code",
    "400": "claim is out of balance",
    "454": "procedure code for services rendered",
    "562": "the entity's National Provider Identifier (NPI)",
}
ENTITIES = {
    "PR": "the payer",
    "41": "the submitter",
    "40": "the receiver",
    "85": "the billing provider",
    "82": "the rendering provider",
    "IL": "the subscriber",
    "QC": "the patient",
}


@dataclass(frozen=True)
class ClaimAcknowledgment:
    """One claim's front-end status from a 277CA."""

    claim_id: str
    category: str  # STC01-1, e.g. A7
    status_code: str  # STC01-2, e.g. 562
    entity: str  # STC01-3, e.g. 82 (may be empty)
    on: date | None  # STC02: the status's effective date
    payer_claim_number: str | None  # REF*1K
    source: str

    @property
    def accepted(self) -> bool:
        return self.category in ACCEPTED

    @property
    def rejected(self) -> bool:
        return self.category in REJECTED

    @property
    def words(self) -> str:
        """The status in words: "rejected for invalid information: the rendering provider's National
        Provider Identifier (NPI)"."""
        what = CATEGORIES.get(self.category, f"status category {self.category}")
        detail = STATUS_CODES.get(self.status_code, f"claim status code {self.status_code}")
        whose = ENTITIES.get(self.entity)
        if (whose and detail.startswith("the entity's")) or (whose and detail.startswith("the entity")):
            detail = whose + detail.removeprefix("the entity")
        elif whose:
            detail = f"{detail} ({whose})"
        return f"{what}: {detail}"


def _date(value: str) -> date | None:
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8])) if len(value) >= 8 else None
    except ValueError:
        return None


def read_277ca(path: str | Path) -> list[ClaimAcknowledgment]:
    """Every claim-level status in a 277CA file. A file that is not a 277CA, or a claim status without
    its category, refuses the whole file with an X12FileError naming the segment."""
    segments = read_segments(path)
    name = Path(path).name
    _check_kind(path, segments)
    out: list[ClaimAcknowledgment] = []
    claim_id: str | None = None
    pending: X12Segment | None = None
    payer_number: str | None = None
    level = ""  # HL03: 20 source, 21 receiver, 19 provider, PT patient (its claims)

    def close() -> None:
        nonlocal pending, payer_number
        if claim_id is not None and pending is not None:
            status = [*pending.components(1), "", "", ""]
            out.append(
                ClaimAcknowledgment(
                    claim_id, status[0], status[1], status[2], _date(pending.element(2)), payer_number, name
                )
            )
        pending, payer_number = None, None

    for segment in segments:
        tag = segment.tag
        if tag == "HL" or tag == "SE":
            close()
            claim_id, level = None, segment.element(3) if tag == "HL" else ""
        elif tag == "TRN" and segment.element(1) == "2" and level == "PT":
            close()
            claim_id = segment.element(2) or None
        elif tag == "STC" and claim_id is not None and pending is None:
            if not segment.components(1)[0]:
                raise X12FileError(path, "STC", "a claim status has no category (STC01-1)")
            pending = segment
        elif tag == "REF" and segment.element(1) == "1K" and claim_id is not None:
            payer_number = segment.element(2) or None
        elif tag == "SVC":
            close()  # line-level statuses follow; the claim's own was the first STC
            claim_id = None
    return out


def _check_kind(path: str | Path, segments: list[X12Segment]) -> None:
    for segment in segments:
        if segment.tag == "ST" and segment.element(1) != "277":
            raise X12FileError(path, "ST", "the file is not a 277 claim acknowledgment (ST01 must be 277)")
        if segment.tag == "GS" and segment.element(1) not in ("HN", ""):
            raise X12FileError(path, "GS", "the functional group is not HN (claim status notification)")
