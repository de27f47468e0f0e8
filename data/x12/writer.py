"""Writing canonical claims as X12 837P claims and 835 remittances, so the X12 path can be tested at volume.

The 835 follows the line labels: a denied line is paid 0 and adjusted in full by the first CARC of its
category (group CO; PR for non-covered); any other line is paid PAID_SHARE of its charge with the rest
as contractual CO-45. A claim whose lines are all denied is paid 0, which is what makes it denied.
Reading both files back with `ingest_x12` reproduces the claim and line labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from data.schemas import DenialCategory
from data.x12.carc import LIKELY_CARCS

PAID_SHARE = 0.8
FILING_INDICATOR = {
    "medicare": "MB",
    "medicare_advantage": "16",
    "medicaid": "MC",
    "managed_medicaid": "MC",
    "commercial": "CI",
    "marketplace": "CI",
}
SENDER, RECEIVER = "CAREOPS", "PAYER"
FILE_STAMP = datetime(2026, 11, 27, 12, 0)


def _envelope(functional: str, version: str, transactions: list[list[str]], stamp: datetime) -> str:
    parties = f"ZZ*{SENDER:<15}*ZZ*{RECEIVER:<15}"
    isa = f"ISA*00*          *00*          *{parties}*{stamp:%y%m%d}*{stamp:%H%M}*^*00501*000000001*0*P*:"
    segments = [isa, f"GS*{functional}*{SENDER}*{RECEIVER}*{stamp:%Y%m%d}*{stamp:%H%M}*1*X*{version}"]
    for number, body in enumerate(transactions, start=1):
        kind = {"HC": "837", "HP": "835", "HN": "277"}[functional]
        control = f"{number:09d}"
        segments += [
            f"ST*{kind}*{control}" if kind == "835" else f"ST*{kind}*{control}*{version}",
            *body,
            f"SE*{len(body) + 2}*{control}",
        ]
    segments += [f"GE*{len(transactions)}*1", "IEA*1*000000001"]
    return "~\n".join(segments) + "~\n"


def _d8(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return f"{value:%Y%m%d}"


def _money(value: float) -> str:
    return f"{value:.2f}"


def _procedure(line: Mapping[str, Any]) -> str:
    return ":".join(["HC", line["procedure_code"], *line.get("modifiers", [])])


def write_837p(claims: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """An 837P file with one transaction per claim (each with its own submission date in BHT04)."""
    transactions = []
    for claim in claims:
        body = [
            f"BHT*0019*00*{claim['claim_id']}*{_d8(claim['submitted_at'])}*1200*CH",
            "HL*1**20*1",
            f"NM1*85*2*BILLING*****XX*{claim['billing_provider_id']}",
            "HL*2*1*22*0",
            f"SBR*P*18*******{FILING_INDICATOR.get(claim['payer_type'], 'ZZ')}",
            f"NM1*IL*1*PATIENT*****MI*{claim['patient_id']}",
            f"NM1*PR*2*PAYER*****PI*{claim['payer_id']}",
            f"CLM*{claim['claim_id']}*{_money(claim['total_charge'])}***{claim['place_of_service']}:B:1*Y*A*Y*Y",
        ]
        if claim.get("prior_auth_number"):
            body.append(f"REF*G1*{claim['prior_auth_number']}")
        codes = [c.replace(".", "") for c in claim["diagnosis_codes"]]
        body.append("HI*" + "*".join(f"{'ABK' if i == 0 else 'ABF'}:{c}" for i, c in enumerate(codes)))
        if claim.get("rendering_provider_id"):
            body.append(f"NM1*82*1*RENDERING*****XX*{claim['rendering_provider_id']}")
        for number, line in enumerate(claim["service_lines"], start=1):
            body += [
                f"LX*{number}",
                f"SV1*{_procedure(line)}*{_money(line['charge'])}*UN*{line['units']:g}***1",
                f"DTP*472*D8*{_d8(claim['service_date'])}",
                f"REF*6R*{line['line_id']}",
            ]
        transactions.append(body)
    path = Path(path)
    path.write_text(_envelope("HC", "005010X222A1", transactions, FILE_STAMP), encoding="utf-8")
    return path


def remittance_lines(claim: Mapping[str, Any]) -> list[tuple[float, str, str, float]]:
    """Per line: (paid, group, CARC, adjustment amount) as the writer adjudicates it."""
    out = []
    for line in claim["service_lines"]:
        charge = float(line["charge"])
        if line.get("denied"):
            category = DenialCategory(line["denial_category"])
            group = "PR" if category is DenialCategory.NON_COVERED else "CO"
            out.append((0.0, group, LIKELY_CARCS[category][0], charge))
        else:
            paid = round(charge * PAID_SHARE, 2)
            out.append((paid, "CO", "45", round(charge - paid, 2)))
    return out


def write_835(claims: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """An 835 file adjudicating each labelled claim as its labels say: one transaction per payment date
    (BPR16 = the claim's `adjudicated_at`, or the file date when it has none)."""
    by_date: dict[str, list[Mapping[str, Any]]] = {}
    for claim in claims:
        when = claim.get("adjudicated_at")
        key = _d8(when) if when is not None and when == when else f"{FILE_STAMP:%Y%m%d}"
        by_date.setdefault(key, []).append(claim)
    transactions = []
    for number, (paid_on, group) in enumerate(sorted(by_date.items()), start=1):
        body = [
            f"BPR*I*0*C*NON************{paid_on}",
            f"TRN*1*{number}*1",
            "N1*PR*PAYER",
            "N1*PE*PRACTICE*XX*1234567893",
            "LX*1",
        ]
        for claim in group:
            lines = remittance_lines(claim)
            paid = round(sum(p for p, _, _, _ in lines), 2)
            body.append(
                f"CLP*{claim['claim_id']}*1*{_money(claim['total_charge'])}*{_money(paid)}**12*{claim['claim_id']}"
            )
            for line, (line_paid, group_code, carc, amount) in zip(
                claim["service_lines"], lines, strict=True
            ):
                body += [
                    f"SVC*{_procedure(line)}*{_money(line['charge'])}*{_money(line_paid)}**{line['units']:g}",
                    f"CAS*{group_code}*{carc}*{_money(amount)}",
                    f"REF*6R*{line['line_id']}",
                ]
        transactions.append(body)
    path = Path(path)
    path.write_text(_envelope("HP", "005010X221A1", transactions, FILE_STAMP), encoding="utf-8")
    return path


def write_277ca(acknowledgments: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """A 277CA file: one transaction per payer, each claim (claim_id, patient_id, payer_id,
    billing_provider_id, total_charge, service_date) under its billing provider with its status
    (category, status_code, entity, on) and, when accepted, the payer's claim number."""
    by_payer: dict[str, list[Mapping[str, Any]]] = {}
    for ack in acknowledgments:
        by_payer.setdefault(str(ack["payer_id"]), []).append(ack)
    transactions = []
    for batch, (payer, acks) in enumerate(sorted(by_payer.items()), start=1):
        on = _d8(max(a["on"] for a in acks))
        taken = [a for a in acks if a["category"] in ("A1", "A2")]
        body = [
            f"BHT*0085*08*{batch}*{on}*1200*TH",
            "HL*1**20*1",
            f"NM1*PR*2*PAYER*****PI*{payer}",
            f"TRN*1*{batch}",
            f"DTP*050*D8*{on}",
            f"DTP*009*D8*{on}",
            "HL*2*1*21*1",
            f"NM1*41*2*{SENDER}*****46*{SENDER}",
            f"TRN*2*{batch}",
            f"STC*A1:19:PR*{on}*WQ*{_money(sum(a['total_charge'] for a in acks))}",
            f"QTY*90*{len(taken)}",
            f"QTY*AA*{len(acks) - len(taken)}",
        ]
        level = 2
        providers: dict[str, list[Mapping[str, Any]]] = {}
        for ack in acks:
            providers.setdefault(str(ack["billing_provider_id"]), []).append(ack)
        for provider, claims in providers.items():
            level += 1
            parent = level
            body += [f"HL*{level}*2*19*1", f"NM1*85*2*BILLING*****XX*{provider}", "TRN*1*0"]
            for ack in claims:
                level += 1
                accepted = ack["category"] in ("A1", "A2")
                status = ":".join(str(part) for part in (ack["category"], ack["status_code"], ack["entity"]))
                body += [
                    f"HL*{level}*{parent}*PT",
                    f"NM1*QC*1*PATIENT*****MI*{ack['patient_id']}",
                    f"TRN*2*{ack['claim_id']}",
                    f"STC*{status}*{_d8(ack['on'])}*{'WQ' if accepted else 'U'}*"
                    f"{_money(ack['total_charge'])}",
                ]
                if accepted and ack.get("payer_claim_number"):
                    body.append(f"REF*1K*{ack['payer_claim_number']}")
                body.append(f"DTP*472*D8*{_d8(ack['service_date'])}")
        transactions.append(body)
    path = Path(path)
    path.write_text(_envelope("HN", "005010X214", transactions, FILE_STAMP), encoding="utf-8")
    return path
