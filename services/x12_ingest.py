"""From a practice's 837 claims and 835 remittances to labelled canonical claims, and its 277CA
acknowledgments to front-end statuses (which are never labels).

Claims are matched on CLP01 = CLM01 and lines on REF*6R (else on position and procedure code).
Remittances without a claim, claims without a remittance, unlabelled payments (predeterminations,
forwarded claims) and unreadable files are counted and reported, never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from data.x12.acknowledgments_277 import ClaimAcknowledgment, read_277ca
from data.x12.claims_837 import read_837
from data.x12.reader import X12FileError
from data.x12.remittances_835 import ClaimPayment, LinePayment, read_835


@dataclass
class IngestReport:
    """What an ingest read, matched and could not."""

    claims: int = 0
    remittances: int = 0
    labelled: int = 0
    claims_without_remittance: list[str] = field(default_factory=list)
    remittances_without_claim: list[str] = field(default_factory=list)
    unlabelled_payments: list[str] = field(default_factory=list)
    payments_without_date: list[str] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    acknowledgments: list[ClaimAcknowledgment] = field(default_factory=list)  # from 277CA files
    payments: list[ClaimPayment] = field(default_factory=list)  # from 835 files, whether or not matched


def _match_line(line: dict[str, Any], index: int, payments: list[LinePayment]) -> LinePayment | None:
    if line.get("line_id"):
        for payment in payments:
            if payment.line_control == line["line_id"]:
                return payment
    if index < len(payments) and payments[index].procedure_code == line["procedure_code"]:
        return payments[index]
    return None


def _label(claim: dict[str, Any], payment: ClaimPayment) -> None:
    claim["denied"] = payment.denied
    claim["denial_category"] = payment.denial_category
    claim["paid_amount"] = payment.paid
    claim["carc_codes"] = ";".join(payment.carcs)
    claim["rarc_codes"] = ";".join(payment.rarcs)
    claim["remittance_file"] = payment.source
    claim["payer_claim_number"] = payment.payer_claim_number
    claim["adjudicated_at"] = None if payment.adjudicated_at is None else payment.adjudicated_at.isoformat()
    for index, line in enumerate(claim["service_lines"]):
        paid = _match_line(line, index, payment.lines)
        if paid is not None:
            line.update(
                denied=paid.denied,
                denial_category=paid.denial_category,
                paid=paid.paid,
                allowed=paid.allowed,
                carc_codes=[f"{a.group}-{a.carc}" for a in paid.adjustments],
                rarc_codes=paid.remarks,
            )
        elif not payment.lines:
            line.update(denied=payment.denied)  # a claim-level decision covers every line


def ingest_x12(
    claim_files: Sequence[Path], remittance_files: Sequence[Path], acknowledgment_files: Sequence[Path] = ()
) -> tuple[pd.DataFrame, IngestReport]:
    """Canonical claims (file form) labelled from the remittances, and the report of the ingest with
    the 277CA acknowledgments read. A front-end rejection labels nothing: it is not a denial."""
    report = IngestReport()
    for path in acknowledgment_files:
        try:
            report.acknowledgments.extend(read_277ca(path))
        except X12FileError as error:
            report.file_errors.append(str(error))
    claims: dict[str, dict[str, Any]] = {}
    for path in claim_files:
        try:
            for claim in read_837(path):
                claims[claim["claim_id"]] = claim
        except X12FileError as error:
            report.file_errors.append(str(error))
    payments: dict[str, ClaimPayment] = {}
    for path in remittance_files:
        try:
            for payment in read_835(path):
                payments[payment.claim_id] = payment
        except X12FileError as error:
            report.file_errors.append(str(error))
    report.claims, report.remittances = len(claims), len(payments)
    report.payments = list(payments.values())
    for claim_id, claim in claims.items():
        payment = payments.get(claim_id)
        if payment is None:
            report.claims_without_remittance.append(claim_id)
        elif not payment.labelled:
            report.unlabelled_payments.append(claim_id)
        else:
            _label(claim, payment)
            report.labelled += 1
            if payment.adjudicated_at is None:
                report.payments_without_date.append(claim_id)
    report.remittances_without_claim = [c for c in payments if c not in claims]
    rows = []
    for claim in claims.values():
        row = dict(claim)
        row["diagnosis_codes"] = ";".join(claim["diagnosis_codes"])
        row["service_lines"] = json.dumps(claim["service_lines"])
        rows.append(row)
    return pd.DataFrame(rows), report
