"""What a biller can do about a likely denial: a fix that reads like a payer rule, from the claim itself."""

from __future__ import annotations

from datetime import timedelta

from data.reference import Payer, Procedure
from data.schemas import Claim, DenialCategory

EM_KIND, PROCEDURE_KIND = "em", "procedure"


def recommended_fix(
    category: str, claim: Claim, payers: dict[str, Payer], procedures: dict[str, Procedure]
) -> str:
    """A concrete next step for one likely denial reason of one claim."""
    payer = payers.get(claim.payer_id)
    payer_name = claim.payer_id
    codes = [line.procedure_code for line in claim.service_lines]
    if category == DenialCategory.PRIOR_AUTHORIZATION:
        needing = [c for c in codes if payer and c in payer.auth_required_codes]
        if needing and not claim.prior_auth_number:
            return (
                f"Payer {payer_name} requires prior authorization for {', '.join(needing)}; "
                "the claim has no REF*G1: obtain the authorization and add it before submitting"
            )
        return (
            f"Check that authorization {claim.prior_auth_number or '(none)'} covers {', '.join(codes)} on "
            f"{claim.service_date} with payer {payer_name}"
        )
    if category == DenialCategory.ELIGIBILITY:
        if claim.eligibility_verified_at is None:
            return f"No eligibility check is recorded: verify {payer_name} coverage for {claim.service_date}"
        age = (claim.service_date - claim.eligibility_verified_at).days
        return (
            f"Eligibility was last verified {age} days before the service: re-verify {payer_name} coverage "
            f"for {claim.service_date}"
        )
    if category == DenialCategory.TIMELY_FILING:
        if payer is None:
            return f"Check {payer_name}'s timely-filing window for a service on {claim.service_date}"
        deadline = claim.service_date + timedelta(days=payer.timely_filing_days)
        if claim.submitted_at > deadline:
            return (
                f"The {payer.timely_filing_days}-day filing window closed on {deadline}: attach proof of "
                "timely filing or appeal"
            )
        return f"Submit by {deadline} ({payer.timely_filing_days}-day window of {payer_name})"
    if category == DenialCategory.MEDICAL_NECESSITY:
        unsupported = [
            c for c in codes if c in procedures and not procedures[c].supported_by(claim.diagnosis_codes)
        ]
        if unsupported:
            code = unsupported[0]
            prefixes = ", ".join(procedures[code].supporting_diagnoses)
            return (
                f"{code} is not supported by the diagnoses {', '.join(claim.diagnosis_codes)}: "
                f"add a supporting diagnosis ({prefixes}) or attach documentation"
            )
        return "Attach documentation of medical necessity for the billed services"
    if category == DenialCategory.CODING:
        kinds = {c: procedures[c].kind for c in codes if c in procedures}
        ems = [line for line in claim.service_lines if kinds.get(line.procedure_code) == EM_KIND]
        surgical = [c for c in codes if kinds.get(c) == PROCEDURE_KIND]
        for line in ems:
            if surgical and "25" not in line.modifiers:
                return (
                    f"Add modifier 25 to {line.procedure_code}: it is billed with procedure {surgical[0]} "
                    "on the same claim"
                )
        return "Review code pairs and modifiers (NCCI edits) before submitting"
    if category == DenialCategory.NON_COVERED:
        excluded = [c for c in codes if payer and c in payer.noncovered_codes]
        if excluded:
            return (
                f"Payer {payer_name} does not cover {', '.join(excluded)}: "
                "obtain a signed waiver (ABN) or bill the patient"
            )
        return f"Check {payer_name}'s benefit coverage for {', '.join(codes)}"
    if category == DenialCategory.MISSING_INFORMATION:
        if claim.rendering_provider_id is None:
            return "Add the rendering provider (NM1*82 with NPI)"
        return "Check required fields: diagnosis pointers, NPIs, place of service, dates"
    if category == DenialCategory.DUPLICATE:
        return "Check for an earlier submission of this claim; send a replacement (frequency code 7) instead"
    if category == DenialCategory.PROVIDER_ENROLLMENT:
        return f"Confirm the rendering provider is enrolled and credentialed with {payer_name}"
    return "Review the claim against the payer's rules"


# The denial category each service-line rule check (features.claim.LINE_RULES) leads to.
RULE_CATEGORY: dict[str, DenialCategory] = {
    "needs_missing_prior_auth": DenialCategory.PRIOR_AUTHORIZATION,
    "not_covered_by_payer": DenialCategory.NON_COVERED,
    "not_supported_by_diagnosis": DenialCategory.MEDICAL_NECESSITY,
    "em_without_modifier_25": DenialCategory.CODING,
}


def line_fixes(
    rules_broken: list[str],
    code: str,
    claim: Claim,
    payers: dict[str, Payer],
    procedures: dict[str, Procedure],
) -> list[str]:
    """One fix per rule a service line breaks (see `recommended_fix`)."""
    fixes = []
    for rule in rules_broken:
        if rule in RULE_CATEGORY:
            fixes.append(recommended_fix(RULE_CATEGORY[rule], claim, payers, procedures))
        else:
            fixes.append(f"{code} is not in the procedure table: check the code before submitting")
    return fixes
