"""Adjustment reason codes (CARC) and remark codes (RARC) in a biller's words: the ones careops's
categories rest on (data/x12/carc.py). A code not here is named by its number."""

from __future__ import annotations

CARC_WORDS = {
    "4": "the procedure code is inconsistent with the modifier used, or a required modifier is missing",
    "11": "the diagnosis is inconsistent with the procedure",
    "16": "the claim lacks information or has billing errors needed for adjudication",
    "18": "an exact duplicate of a claim or service already received",
    "26": "services before coverage began",
    "27": "services after coverage ended",
    "29": "the time limit for filing has expired",
    "31": "the patient cannot be identified as the payer's insured",
    "49": "a routine or preventive service the plan does not cover",
    "50": "not deemed a medical necessity by the payer",
    "96": "a non-covered charge",
    "97": "the service is included in the payment for another service already adjudicated",
    "167": "the diagnosis is not covered",
    "170": "not payable when performed or billed by this type of provider",
    "185": "the rendering provider is not eligible to perform the service billed",
    "197": "precertification, authorization or notification was absent",
    "198": "the precertification or authorization was exceeded",
    "204": "not covered under the patient's current benefit plan",
    "226": "information requested from the provider was not provided or was insufficient",
    "236": "the procedure is not paid with another procedure on the same day (NCCI edits)",
    "252": "an attachment or other documentation is required to adjudicate the claim",
    "288": "the referral was absent",
    "B7": "the provider was not certified or eligible to be paid for this service on this date",
    "B13": "previously paid: payment may have been made in an earlier remittance",
}
RARC_WORDS = {
    "M51": "missing, incomplete or invalid procedure code(s)",
    "M62": "missing, incomplete or invalid treatment authorization code",
    "N30": "the patient is ineligible for this service",
    "N54": "the claim is inconsistent with the services pre-certified or authorized",
    "N115": "the decision rests on a Local Coverage Determination (LCD)",
    "N130": "the plan's benefit documents restrict this service",
    "N386": "the decision rests on a National Coverage Determination (NCD)",
    "N425": "a statutorily excluded service",
}
GROUP_WORDS = {
    "CO": "contractual obligation",
    "PR": "patient responsibility",
    "OA": "other adjustment",
    "PI": "payer-initiated reduction",
}


def carc_words(code: str) -> str:
    """A CARC (with or without its group, as in "CO-50") in words."""
    group, _, carc = code.strip().upper().rpartition("-")
    words = CARC_WORDS.get(carc, f"adjustment reason code {carc}")
    if group in GROUP_WORDS:
        return f"{words} ({GROUP_WORDS[group]}, CARC {carc})"
    return f"{words} (CARC {carc})"


def rarc_words(code: str) -> str:
    """A remark code in words."""
    code = code.strip().upper()
    return f"{RARC_WORDS.get(code, 'remark code ' + code)} (RARC {code})"
