"""X12 837 claims (5010 837P X222 and 837I X223) read into canonical claim rows.

Mapping: CLM01 claim_id, CLM02 total_charge, CLM05-1 place of service (837P) or facility type
(837I); the subscriber's NM1*PR payer id and SBR09 filing indicator (payer type); the patient
(NM1*QC, else the subscriber NM1*IL) id; NM1*85 billing and NM1*82 rendering providers; REF*G1
prior authorization; HI diagnoses (ICD-10 ABK/ABF; ICD-9 BK/BF are kept and fail validation
with a reason); lines SV1 / SV2 with REF*6R line control; the earliest DTP*472 is the service
date and BHT04 the submission date. Only the primary payer (the first SBR of a claim) is used.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from data.x12.reader import X12Segment, read_segments

FILING_INDICATOR_PAYER_TYPE = {
    "MA": "medicare",
    "MB": "medicare",
    "16": "medicare_advantage",
    "MC": "medicaid",
    "CI": "commercial",
    "BL": "commercial",
    "HM": "commercial",
    "12": "commercial",
    "13": "commercial",
    "14": "commercial",
    "15": "commercial",
    "17": "commercial",
    "CH": "commercial",
    "VA": "commercial",
}
DIAGNOSIS_QUALIFIERS = {"ABK", "ABF", "BK", "BF", "APR", "PR"}


def _date(value: str) -> date | None:
    try:
        return datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _icd(code: str) -> str:
    # X12 sends ICD-10 codes without their dot: E119 -> E11.9
    code = code.strip().upper()
    return f"{code[:3]}.{code[3:]}" if len(code) > 3 and "." not in code else code


def read_837(path: str | Path) -> list[dict[str, Any]]:
    """Canonical claim rows (not yet validated) from an 837 file."""
    claims: list[dict[str, Any]] = []
    context: dict[str, Any] = {"claim_type": "professional"}
    claim: dict[str, Any] | None = None
    line: dict[str, Any] | None = None
    level = ""
    for segment in read_segments(path):
        tag, e = segment.tag, segment.element
        if tag == "GS":
            context["claim_type"] = "institutional" if "X223" in e(8) else "professional"
        elif tag == "BHT":
            context["submitted_at"] = _date(e(4))
        elif tag == "HL":
            level, claim, line = e(3), None, None  # 20 billing provider, 22 subscriber, 23 patient
        elif tag == "NM1" and e(1) == "85":
            context["billing_provider_id"] = e(9)
        elif tag == "SBR" and claim is None:
            context["payer_type"] = FILING_INDICATOR_PAYER_TYPE.get(e(9), "unknown")
        elif tag == "NM1" and e(1) == "IL" and claim is None:
            context["patient_id"] = e(9) or context.get("patient_id")
        elif tag == "NM1" and e(1) == "QC" and level == "23":
            context["patient_id"] = e(9) or f"{e(3)}-{e(4)}".strip("-") or context.get("patient_id")
        elif tag == "NM1" and e(1) == "PR" and claim is None:
            context["payer_id"] = e(9)
        elif tag == "CLM":
            claim = _new_claim(segment, context, Path(path).name)
            claims.append(claim)
            line = None
        elif claim is None:
            continue
        elif tag == "SBR":
            claim["_other_payer"] = True  # later SBRs in a claim are secondary payers (2320)
        elif tag == "NM1" and e(1) == "82" and not claim.get("_other_payer"):
            claim["rendering_provider_id"] = e(9) or None
        elif tag == "REF" and e(1) == "G1" and line is None:
            claim["prior_auth_number"] = e(2) or None
        elif tag == "HI":
            for position in range(1, 13):
                parts = segment.components(position)
                if len(parts) >= 2 and parts[0] in DIAGNOSIS_QUALIFIERS:
                    claim["diagnosis_codes"].append(_icd(parts[1]))
        elif tag in ("SV1", "SV2"):
            procedure = segment.procedure(1 if tag == "SV1" else 2)
            charge, units = (e(2), e(4)) if tag == "SV1" else (e(3), e(5))
            line = {
                "line_id": None,
                "procedure_code": procedure[1] if len(procedure) > 1 else procedure[0],
                "modifiers": [m for m in procedure[2:6] if m],
                "units": float(units or 1),
                "charge": float(charge or 0),
            }
            claim["service_lines"].append(line)
        elif tag == "REF" and e(1) == "6R" and line is not None:
            line["line_id"] = e(2)
        elif tag == "DTP" and e(1) == "472":
            service = _date(e(3))
            if service and (claim["service_date"] is None or service < claim["service_date"]):
                claim["service_date"] = service
    for claim in claims:
        claim.pop("_other_payer", None)
    return claims


def _new_claim(segment: X12Segment, context: dict[str, Any], source: str) -> dict[str, Any]:
    place = segment.components(5)[0] if segment.element(5) else ""
    return {
        "claim_id": segment.element(1),
        "patient_id": context.get("patient_id"),
        "payer_id": context.get("payer_id"),
        "payer_type": context.get("payer_type", "unknown"),
        "claim_type": context["claim_type"],
        "billing_provider_id": context.get("billing_provider_id"),
        "rendering_provider_id": None,
        "service_date": None,
        "submitted_at": context.get("submitted_at"),
        "place_of_service": place,
        "total_charge": float(segment.element(2) or 0),
        "diagnosis_codes": [],
        "service_lines": [],
        "prior_auth_number": None,
        "eligibility_verified_at": None,
        "source_file": source,
    }
