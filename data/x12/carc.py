"""Claim adjustment reason codes (CARC): which adjustments are denials, and their root-cause category.

From the x12.org list (docs/domain.md). Deactivated codes still found in old files are mapped by their
former meaning: 15, 38, 62 and 165 (authorisation, referral) as prior authorization; 42, A2 and A7
(fee schedule, contractual and presumptive payment adjustments) as not denials.
"""

from __future__ import annotations

from data.schemas import DenialCategory

_BY_CATEGORY: dict[DenialCategory, str] = {
    DenialCategory.ELIGIBILITY: "26 27 31 32 33 140 177 200 239 109 B11 22 24",
    DenialCategory.MISSING_INFORMATION: "16 226 227 250 251 252 163 206 207 208",
    DenialCategory.PRIOR_AUTHORIZATION: "197 198 284 296 302 39 210 243 287 288 15 38 62 165",
    DenialCategory.MEDICAL_NECESSITY: "50 55 56 150 151 152 167 11 40 58 272 273",
    DenialCategory.CODING: "4 5 6 7 8 9 10 146 181 182 189 199 282 97 234 236 231 B15 B20",
    DenialCategory.DUPLICATE: "18 B13",
    DenialCategory.TIMELY_FILING: "29",
    DenialCategory.NON_COVERED: "96 204 49 119 35 149 B9 242 279",
    DenialCategory.PROVIDER_ENROLLMENT: "183 184 185 170 B7 299",
}
CARC_CATEGORY: dict[str, DenialCategory] = {
    code: category for category, codes in _BY_CATEGORY.items() for code in codes.split()
}
NOT_DENIALS = frozenset({"1", "2", "3", "45", "253", "23", "59", "94", "42", "A2", "A7"})
DENYING_GROUPS = frozenset({"CO", "PI", "OA"})
PATIENT_GROUP_DENIALS = frozenset({"96", "204"})  # PR adjustments that are denials, not cost sharing


def is_denial(group: str, code: str) -> bool:
    """Whether an adjustment (group, CARC) denies payment, rather than sharing or contracting it."""
    code = code.strip().upper()
    if code in NOT_DENIALS:
        return False
    if group == "PR":
        return code in PATIENT_GROUP_DENIALS
    return group in DENYING_GROUPS and code in CARC_CATEGORY


def category_of(code: str) -> DenialCategory | None:
    """The root-cause category of a CARC, or None when it is not a categorised denial code."""
    return CARC_CATEGORY.get(code.strip().upper())


# The CARCs a payer most often sends for each category (docs/domain.md, most common first).
LIKELY_CARCS: dict[DenialCategory, tuple[str, ...]] = {
    DenialCategory.ELIGIBILITY: ("27", "26", "31"),
    DenialCategory.MISSING_INFORMATION: ("16", "252", "226"),
    DenialCategory.PRIOR_AUTHORIZATION: ("197", "198", "288"),
    DenialCategory.MEDICAL_NECESSITY: ("50", "11", "167"),
    DenialCategory.CODING: ("4", "97", "236"),
    DenialCategory.DUPLICATE: ("18", "B13"),
    DenialCategory.TIMELY_FILING: ("29",),
    DenialCategory.NON_COVERED: ("96", "204", "49"),
    DenialCategory.PROVIDER_ENROLLMENT: ("185", "170", "B7"),
}


# CARCs 16 and 96 say only "missing information" and "not covered"; their remark codes (RARC) say why.
# Only remarks that name another root cause move the category (x12.org RARC list).
REFINED_BY_RARC = frozenset({"16", "96"})
RARC_CATEGORY: dict[str, DenialCategory] = {
    "M62": DenialCategory.PRIOR_AUTHORIZATION,  # missing/invalid treatment authorization code
    "N54": DenialCategory.PRIOR_AUTHORIZATION,  # inconsistent with pre-certified/authorized services
    "N30": DenialCategory.ELIGIBILITY,  # patient ineligible for this service
    "M51": DenialCategory.CODING,  # missing/incomplete/invalid procedure code(s)
    "N115": DenialCategory.MEDICAL_NECESSITY,  # decision based on a Local Coverage Determination
    "N386": DenialCategory.MEDICAL_NECESSITY,  # decision based on a National Coverage Determination
    "N425": DenialCategory.NON_COVERED,  # statutorily excluded service
    "N130": DenialCategory.NON_COVERED,  # restrictions in the plan's benefit documents
}


def refined_category(code: str, remarks: list[str]) -> DenialCategory | None:
    """The CARC's category, moved by the first remark code that names another root cause (16 and 96)."""
    category = category_of(code)
    if code.strip().upper() in REFINED_BY_RARC:
        for remark in remarks:
            if remark.strip().upper() in RARC_CATEGORY:
                return RARC_CATEGORY[remark.strip().upper()]
    return category
