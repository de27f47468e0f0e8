"""Recommended fixes read like payer rules and come from the claim's own fields."""

from __future__ import annotations

import pytest

from data.reference import payers, procedures
from data.schemas import Claim
from models.decisions.denial_fixes import recommended_fix
from tests.bodies import CLAIM


def fix(category: str, **change: object) -> str:
    return recommended_fix(category, Claim.model_validate({**CLAIM, **change}), payers(), procedures())


def test_prior_authorization_names_the_payer_the_code_and_the_segment() -> None:
    assert fix("prior_authorization") == (
        "Payer MCR-TX requires prior authorization for 72148; the claim has no REF*G1: "
        "obtain the authorization and add it before submitting"
    )
    assert "Check that authorization PA9 covers" in fix("prior_authorization", prior_auth_number="PA9")


@pytest.mark.parametrize(
    ("category", "change", "expected"),
    [
        ("eligibility", {}, "No eligibility check is recorded: verify MCR-TX coverage for 2026-03-02"),
        (
            "eligibility",
            {"eligibility_verified_at": "2026-01-01"},
            "last verified 60 days before the service",
        ),
        ("timely_filing", {"submitted_at": "2027-03-10"}, "The 365-day filing window closed on 2027-03-02"),
        ("timely_filing", {}, "Submit by 2027-03-02 (365-day window of MCR-TX)"),
        (
            "medical_necessity",
            {"diagnosis_codes": ["E11.9"]},
            "72148 is not supported by the diagnoses E11.9",
        ),
        (
            "missing_information",
            {"rendering_provider_id": None},
            "Add the rendering provider (NM1*82 with NPI)",
        ),
        ("duplicate", {}, "frequency code 7"),
    ],
)
def test_fixes_use_the_claims_fields(category: str, change: dict, expected: str) -> None:
    assert expected in fix(category, **change)


def test_modifier_25_and_non_covered_fixes() -> None:
    lines = [
        {"procedure_code": "99213", "units": 1, "charge": 110.0},
        {"procedure_code": "20610", "units": 1, "charge": 180.0},
    ]
    coding = fix("coding", service_lines=lines, total_charge=290.0, diagnosis_codes=["M17.11"])
    assert coding == "Add modifier 25 to 99213: it is billed with procedure 20610 on the same claim"
    eyelid = [{"procedure_code": "15823", "units": 1, "charge": 2500.0}]
    assert "does not cover 15823" in fix("non_covered", service_lines=eyelid, total_charge=2500.0)
