"""X12 835 remittances (5010 X221A1) read with pyx12, and the denial labels derived from them.

Each claim payment takes its date from the transaction's BPR16 (the payment or notice date): that
is when the practice learns the outcome, which point-in-time history needs.
Rules (docs/domain.md): a line is denied when paid = 0, charge > 0 and a denial CARC is present (group
CO/PI/OA, or PR 96/204); a claim is denied when it is paid 0 on a positive charge with a denial
CARC on the claim or its lines. CLP02 is not used for denial (4 means "patient not recognized" in
5010). Predeterminations (CLP02=25) and forwarded claims (19-21, 23) are left out of labelling.
The category is the category of the denial CARC with the largest amount, refined by its remark codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from data.x12.carc import category_of, is_denial, refined_category
from data.x12.reader import X12Segment, read_segments

UNLABELLED_STATUSES = {
    "19": "forwarded",
    "20": "forwarded",
    "21": "forwarded",
    "23": "forwarded",
    "25": "predetermination",
}


@dataclass(frozen=True)
class Adjustment:
    """One CAS triple: group, CARC, amount and quantity."""

    group: str
    carc: str
    amount: float
    quantity: float | None = None


def largest_denial_category(adjustments: list[tuple[Adjustment, list[str]]]) -> str | None:
    """Category of the denial adjustment with the largest amount (the first one on a tie), refined by
    the remark codes that come with it (see `data.carc.refined_category`)."""
    denials = [(a, r) for a, r in adjustments if is_denial(a.group, a.carc) and category_of(a.carc)]
    if not denials:
        return None
    largest, remarks = max(denials, key=lambda item: item[0].amount)
    return str(refined_category(largest.carc, remarks).value)


@dataclass
class LinePayment:
    """An 835 service line (SVC) and what happened to it."""

    procedure_code: str
    modifiers: list[str]
    charge: float
    paid: float
    units: float | None = None
    line_control: str | None = None
    allowed: float | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)

    @property
    def denied(self) -> bool:
        """Paid nothing on a positive charge, with a denial CARC."""
        return (
            self.paid == 0 and self.charge > 0 and any(is_denial(a.group, a.carc) for a in self.adjustments)
        )

    @property
    def denial_category(self) -> str | None:
        """Category of the line's largest denial adjustment when the line is denied."""
        return largest_denial_category([(a, self.remarks) for a in self.adjustments]) if self.denied else None


@dataclass
class ClaimPayment:
    """An 835 claim (CLP) with its adjustments and lines."""

    claim_id: str
    status: str
    charge: float
    paid: float
    patient_responsibility: float | None
    adjustments: list[Adjustment] = field(default_factory=list)
    lines: list[LinePayment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    source: str = ""
    adjudicated_at: date | None = None  # the payment's date (BPR16), None when absent or not a date
    payer_claim_number: str | None = None  # CLP07, the payer's own number for the claim

    @property
    def labelled(self) -> bool:
        """False for predeterminations and forwarded claims, which are not adjudications."""
        return self.status not in UNLABELLED_STATUSES

    def all_adjustments(self) -> list[Adjustment]:
        """Claim-level and line-level adjustments."""
        return [*self.adjustments, *(a for line in self.lines for a in line.adjustments)]

    @property
    def denied(self) -> bool:
        """Paid nothing on a positive charge, with a denial CARC on the claim or a line."""
        return (
            self.paid == 0
            and self.charge > 0
            and any(is_denial(a.group, a.carc) for a in self.all_adjustments())
        )

    @property
    def denial_category(self) -> str | None:
        """Category of the largest denial adjustment (claim or line level) when the claim is denied."""
        if not self.denied:
            return None
        claim_level = [(a, self.remarks) for a in self.adjustments]
        lines = [(a, [*line.remarks, *self.remarks]) for line in self.lines for a in line.adjustments]
        return largest_denial_category([*claim_level, *lines])

    @property
    def carcs(self) -> list[str]:
        """Every adjustment as GROUP-CARC, in file order."""
        return [f"{a.group}-{a.carc}" for a in self.all_adjustments()]

    @property
    def rarcs(self) -> list[str]:
        """Every remark code (claim MOA/MIA and line LQ*HE), in file order."""
        return [*self.remarks, *(r for line in self.lines for r in line.remarks)]


def _amount(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _adjustments(segment: X12Segment) -> list[Adjustment]:
    group = segment.element(1)
    out = []
    for start in range(2, 20, 3):  # up to six (reason, amount, quantity) triples: parse them all
        code = segment.element(start)
        if code:
            out.append(
                Adjustment(
                    group,
                    code,
                    _amount(segment.element(start + 1)) or 0.0,
                    _amount(segment.element(start + 2)),
                )
            )
    return out


def _date(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


def read_835(path: str | Path) -> list[ClaimPayment]:
    """Every claim payment in an 835 file; X12FileError names the file and segment on bad input."""
    claims: list[ClaimPayment] = []
    claim: ClaimPayment | None = None
    line: LinePayment | None = None
    paid_on: date | None = None
    for segment in read_segments(path):
        tag = segment.tag
        if tag == "BPR":
            paid_on = _date(segment.element(16))
        elif tag == "CLP":
            claim = ClaimPayment(
                claim_id=segment.element(1),
                status=segment.element(2),
                charge=_amount(segment.element(3)) or 0.0,
                paid=_amount(segment.element(4)) or 0.0,
                patient_responsibility=_amount(segment.element(5)),
                source=Path(path).name,
                adjudicated_at=paid_on,
                payer_claim_number=segment.element(7) or None,
            )
            claims.append(claim)
            line = None
        elif claim is None:
            continue
        elif tag == "SVC":
            procedure = segment.procedure(1)
            line = LinePayment(
                procedure_code=procedure[1] if len(procedure) > 1 else procedure[0],
                modifiers=[m for m in procedure[2:6] if m],
                charge=_amount(segment.element(2)) or 0.0,
                paid=_amount(segment.element(3)) or 0.0,
                units=_amount(segment.element(5)),
            )
            claim.lines.append(line)
        elif tag == "CAS":
            (line.adjustments if line is not None else claim.adjustments).extend(_adjustments(segment))
        elif tag == "REF" and segment.element(1) == "6R" and line is not None:
            line.line_control = segment.element(2)
        elif tag == "AMT" and segment.element(1) == "B6" and line is not None:
            line.allowed = _amount(segment.element(2))
        elif tag == "LQ" and segment.element(1) == "HE" and line is not None:
            line.remarks.append(segment.element(2))
        elif tag in ("MOA", "MIA"):
            positions = range(3, 8) if tag == "MOA" else (5, 20, 21, 22, 23)
            claim.remarks.extend(c for c in (segment.element(i) for i in positions) if c)
        elif tag in ("SE", "LX", "PLB"):
            line = None
            if tag == "SE":
                claim = None
    return claims
