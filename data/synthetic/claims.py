"""Seeded synthetic claims whose denials follow payer rules, each with its true probability and reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import numpy as np
import pandas as pd

from data.reference import Payer, Procedure, payers, procedures
from data.schemas import DenialCategory
from data.synthetic.claim_truth import CATEGORIES, Mechanism, draw_line_outcomes, exact_truth

# Encounter profiles: the diagnoses seen together and the services they usually lead to.
PROFILES: dict[str, tuple[float, tuple[str, ...], tuple[str, ...]]] = {
    "back_pain": (0.13, ("M54.50", "M51.26", "M48.061"), ("72148", "97110")),
    "knee": (0.10, ("M17.11", "M25.561"), ("20610", "J1100", "97110")),
    "diabetes": (0.16, ("E11.9", "E78.5", "I10"), ("80053", "85025", "36415")),
    "hypertension": (0.14, ("I10", "E78.5"), ("93000", "80053", "36415")),
    "wellness": (0.12, ("Z00.00", "Z00.01"), ("85025", "80053")),
    "headache": (0.06, ("R51.9", "G43.909"), ("70553",)),
    "skin": (0.10, ("L82.1", "L57.0"), ("11102", "17000")),
    "gastro": (0.08, ("K63.5", "R19.7", "K57.30"), ("45378",)),
    "eyelid": (0.015, ("H02.831",), ("15823",)),
    "fatigue": (0.08, ("R53.83", "D64.9"), ("85025", "80053", "36415")),
}
PAYER_TYPE_SHARES_UNDER_65 = {
    "commercial": 0.58,
    "medicaid": 0.12,
    "managed_medicaid": 0.14,
    "marketplace": 0.16,
}
PAYER_TYPE_SHARES_65_PLUS = {"medicare": 0.55, "medicare_advantage": 0.45}
# Unexplained denials by payer type, spread over root causes by their published shares.
BASE_HAZARD = {
    "medicare": 0.017,
    "commercial": 0.070,
    "managed_medicaid": 0.072,
    "medicare_advantage": 0.082,
    "medicaid": 0.094,
    "marketplace": 0.108,
}
# Payers' unexplained denials concentrate on a typical reason per payer type; the rest follow the shares.
DOMINANT_BASE_CATEGORY = {
    "medicare": DenialCategory.MEDICAL_NECESSITY,
    "medicare_advantage": DenialCategory.PRIOR_AUTHORIZATION,
    "medicaid": DenialCategory.ELIGIBILITY,
    "managed_medicaid": DenialCategory.ELIGIBILITY,
    "marketplace": DenialCategory.ELIGIBILITY,
    "commercial": DenialCategory.MISSING_INFORMATION,
}
DOMINANT_SHARE = 0.9
HIGH_CHURN_PAYER_TYPES = {"medicaid", "managed_medicaid", "marketplace"}
ROOT_CAUSE_SHARES = {
    DenialCategory.ELIGIBILITY: 0.266,
    DenialCategory.MISSING_INFORMATION: 0.172,
    DenialCategory.PRIOR_AUTHORIZATION: 0.116,
    DenialCategory.NON_COVERED: 0.106,
    DenialCategory.MEDICAL_NECESSITY: 0.158,
    DenialCategory.TIMELY_FILING: 0.054,
    DenialCategory.CODING: 0.128,
}
EDITS_SEED, EDITS_PER_PAYER, EDIT_HAZARD = 2026, 2, 0.4
EDIT_CATEGORIES = (DenialCategory.MEDICAL_NECESSITY, DenialCategory.CODING, DenialCategory.NON_COVERED)
DUPLICATE_RATE = 0.02  # claims sent again, unchanged, while the first is still open


def _units(code: str, rng: np.random.Generator) -> int:
    if code == "97110":
        return int(rng.integers(1, 5))
    if code == "J1100":
        return int(rng.integers(4, 11))
    return 1


def _claim_lines(
    profile: str, age: int, rng: np.random.Generator, catalog: dict[str, Procedure]
) -> tuple[list[str], list[list[str]], list[int]]:
    _, _, services = PROFILES[profile]
    codes: list[str] = []
    if profile == "wellness":
        codes.append("G0439" if age >= 65 else "99395")
    elif rng.random() < 0.85:
        codes.append(str(rng.choice(["99213", "99214", "99203"], p=[0.55, 0.3, 0.15])))
    extra = rng.choice(services, size=min(len(services), int(rng.integers(1, 3))), replace=False)
    codes.extend(str(c) for c in extra)
    has_procedure = any(catalog[c].kind == "procedure" for c in codes)
    modifiers: list[list[str]] = []
    for code in codes:
        mods: list[str] = []
        if catalog[code].kind == "em" and has_procedure and rng.random() < 0.88:
            mods.append("25")
        modifiers.append(mods)
    units = [_units(c, rng) for c in codes]
    return codes, modifiers, units


@cache
def payer_edits() -> dict[tuple[str, str], DenialCategory]:
    """Each payer's unpublished edits: (payer, code) pairs it often denies, and the category it gives.

    They are in no table a practice has; only the payer's past remittances reveal them. Fixed across
    seeds: they belong to the payers, not to a sample.
    """
    rng = np.random.default_rng(EDITS_SEED)
    codes = sorted(procedures())
    edits = {}
    for payer in sorted(payers().values(), key=lambda p: p.payer_id):
        listed = set(payer.auth_required_codes) | set(payer.noncovered_codes)
        candidates = [c for c in codes if c not in listed]
        for code in rng.choice(candidates, size=EDITS_PER_PAYER, replace=False):
            edits[(payer.payer_id, str(code))] = EDIT_CATEGORIES[int(rng.integers(0, len(EDIT_CATEGORIES)))]
    return edits


def _mechanisms(
    payer: Payer,
    codes: list[str],
    modifiers: list[list[str]],
    diagnoses: list[str],
    service_date: date,
    submitted_at: date,
    eligibility_verified_at: date | None,
    prior_auth: str | None,
    rendering_missing: bool,
    catalog: dict[str, Procedure],
    duplicate: bool = False,
) -> list[Mechanism]:
    """The claim's denial mechanisms, strongest first.

    Eligibility, missing data, timely filing and duplicates deny the whole claim; prior auth, medical
    necessity, coding, coverage and the payer's own edits deny the lines that break the rule, so a
    claim can be denied in part.
    """
    out = []
    churn = 1.5 if payer.payer_type in HIGH_CHURN_PAYER_TYPES else 1.0
    if eligibility_verified_at is None:
        out.append(Mechanism(0.22 * churn, DenialCategory.ELIGIBILITY))
    elif (service_date - eligibility_verified_at).days > 30:
        out.append(Mechanism(0.12 * churn, DenialCategory.ELIGIBILITY))
    if rendering_missing:
        out.append(Mechanism(0.6, DenialCategory.MISSING_INFORMATION))
    if (submitted_at - service_date).days > payer.timely_filing_days:
        out.append(Mechanism(0.92, DenialCategory.TIMELY_FILING))
    if duplicate:
        out.append(Mechanism(0.9, DenialCategory.DUPLICATE))
    edits = payer_edits()
    kinds = [catalog[c].kind for c in codes]
    has_procedure = "procedure" in kinds
    for line, (code, kind, mods) in enumerate(zip(codes, kinds, modifiers, strict=True)):
        if prior_auth is None and code in payer.auth_required_codes:
            out.append(Mechanism(0.7, DenialCategory.PRIOR_AUTHORIZATION, (line,)))
        if not catalog[code].supported_by(diagnoses):
            out.append(Mechanism(0.5, DenialCategory.MEDICAL_NECESSITY, (line,)))
        if has_procedure and kind == "em" and "25" not in mods:
            out.append(Mechanism(0.5, DenialCategory.CODING, (line,)))
        if code in payer.noncovered_codes:
            out.append(Mechanism(0.85, DenialCategory.NON_COVERED, (line,)))
        if (payer.payer_id, code) in edits:
            out.append(Mechanism(EDIT_HAZARD, edits[(payer.payer_id, code)], (line,)))
    out.append(Mechanism(BASE_HAZARD[payer.payer_type], None))
    return sorted(out, key=lambda m: -m.hazard)


def _adjudicate(
    draft: dict,
    number: int,
    duplicate: bool,
    base_shares: dict[str, np.ndarray],
    catalog: dict[str, Procedure],
    rng: np.random.Generator,
) -> dict:
    """The claim record: the draft with ids, drawn line and claim outcomes, and the generator's truth."""
    payer: Payer = draft["payer"]
    claim_id = f"CLM{number:09d}"
    lines = [{"line_id": f"{claim_id}-{k + 1}", **line} for k, line in enumerate(draft["lines"])]
    codes = [line["procedure_code"] for line in lines]
    mechanisms = _mechanisms(
        payer,
        codes,
        [line["modifiers"] for line in lines],
        draft["diagnosis_codes"],
        draft["service_date"],
        draft["submitted_at"],
        draft["eligibility_verified_at"],
        draft["prior_auth_number"],
        draft["rendering_provider_id"] is None,
        catalog,
        duplicate,
    )
    if draft.get("tightened"):
        mechanisms = sorted(
            [*mechanisms, Mechanism(draft["extra_hazard"], DenialCategory.MISSING_INFORMATION)],
            key=lambda m: -m.hazard,
        )
    shares = base_shares[payer.payer_type]
    charges = [line["charge"] for line in lines]
    truth = exact_truth(mechanisms, charges, shares)
    line_categories = draw_line_outcomes(mechanisms, len(lines), shares, rng)
    for line, line_category in zip(lines, line_categories, strict=True):
        line["denied"] = line_category is not None
        line["denial_category"] = None if line_category is None else line_category.value
    denied = all(c is not None for c in line_categories)
    category = line_categories[int(np.argmax(charges))] if denied else None
    # Medicare pays no sooner than 14 days after an electronic claim arrives; others take 1-6 weeks.
    lag = 14 + int(rng.integers(0, 8)) if payer.payer_type == "medicare" else int(rng.integers(7, 43))
    verified = draft["eligibility_verified_at"]
    return {
        "claim_id": claim_id,
        "patient_id": draft["patient_id"],
        "payer_id": payer.payer_id,
        "payer_type": payer.payer_type,
        "claim_type": draft["claim_type"],
        "billing_provider_id": draft["billing_provider_id"],
        "rendering_provider_id": draft["rendering_provider_id"],
        "service_date": pd.Timestamp(draft["service_date"]),
        "submitted_at": pd.Timestamp(draft["submitted_at"]),
        "place_of_service": draft["place_of_service"],
        "total_charge": round(sum(charges), 2),
        "diagnosis_codes": draft["diagnosis_codes"],
        "service_lines": lines,
        "prior_auth_number": draft["prior_auth_number"],
        "eligibility_verified_at": None if verified is None else pd.Timestamp(verified),
        "denied": denied,
        "denial_category": None if category is None else category.value,
        "adjudicated_at": pd.Timestamp(draft["submitted_at"] + timedelta(days=lag)),
        "true_denial_probability": truth.claim_probability,
        "true_denial_category": truth.category.value,
        "true_line_denial_probabilities": truth.line_probabilities,
        "true_line_denial_categories": [c.value for c in truth.line_categories],
    }


@dataclass(frozen=True)
class PayerTightens:
    """A documented shift: for services from `start` on, payer `payer_id` runs its claims through a
    new editing vendor that rejects a share of them for missing information (`hazard`, the whole
    claim). Nothing on the claim shows it; only the payer's remittances do."""

    start: date
    payer_id: str = "COM-BCBS"
    hazard: float = 0.5


def _base_shares() -> dict[str, np.ndarray]:
    """Per payer type, the shares of root causes its unexplained denials are drawn from."""
    published = np.array([ROOT_CAUSE_SHARES.get(c, 0.0) for c in CATEGORIES])
    published /= published.sum()
    base_shares = {}
    for payer_type, dominant in DOMINANT_BASE_CATEGORY.items():
        shares = (1 - DOMINANT_SHARE) * published
        shares[CATEGORIES.index(dominant)] += DOMINANT_SHARE
        base_shares[payer_type] = shares
    return base_shares


def _patients(rng: np.random.Generator, count: int) -> tuple[np.ndarray, list[Payer]]:
    """Each patient's age and payer (Medicare past 65; the payer types' shares below)."""
    by_type: dict[str, list[Payer]] = {}
    for payer in payers().values():
        by_type.setdefault(payer.payer_type, []).append(payer)
    ages = np.clip(np.round(rng.normal(52, 20, size=count)), 0, 99).astype(int)
    chosen: list[Payer] = []
    for age in ages:
        shares = PAYER_TYPE_SHARES_65_PLUS if age >= 65 else PAYER_TYPE_SHARES_UNDER_65
        payer_type = str(rng.choice(list(shares), p=list(shares.values())))
        choices = by_type[payer_type]
        chosen.append(choices[int(rng.integers(0, len(choices)))])
    return ages, chosen


def _diagnoses(rng: np.random.Generator, profile: str, profile_names: list[str]) -> list[str]:
    """The claim's diagnoses: the profile's primary and some of its others (now and then another's)."""
    diagnosis_pool = PROFILES[profile][1]
    if rng.random() < 0.03:  # documentation points at another problem: necessity fails
        other = str(rng.choice([p for p in profile_names if p != profile]))
        diagnosis_pool = PROFILES[other][1]
    secondary = rng.choice(diagnosis_pool[1:], size=int(rng.integers(0, len(diagnosis_pool))), replace=False)
    return [diagnosis_pool[0], *(str(d) for d in secondary)]


def _dates(rng: np.random.Generator, start: date, days: int) -> tuple[date, date, date | None]:
    """Submission, service and eligibility-check dates: submissions at a steady pace, the service
    `delay` days earlier, eligibility checked shortly before it (or long before, or never)."""
    submitted_at = start + timedelta(days=int(rng.integers(0, days)))
    delay_kind = rng.random()
    if delay_kind < 0.93:
        delay = int(rng.geometric(0.15))
    elif delay_kind < 0.985:
        delay = int(rng.integers(20, 90))
    else:
        delay = int(rng.integers(90, 400))
    service_date = submitted_at - timedelta(days=delay)
    verification = rng.random()
    if verification < 0.06:
        eligibility_verified_at = None
    elif verification < 0.10:
        eligibility_verified_at = service_date - timedelta(days=int(rng.integers(31, 120)))
    else:
        eligibility_verified_at = service_date - timedelta(days=int(rng.integers(0, 11)))
    return submitted_at, service_date, eligibility_verified_at


def generate_claims(
    rows: int,
    seed: int = 42,
    start: date = date(2026, 1, 5),
    days: int = 180,
    shift: PayerTightens | None = None,
) -> pd.DataFrame:
    """Generate `rows` labelled claims, sorted by submission, with true probability and reason.

    With `shift`, a payer changes its rules from the shift's start on (see `PayerTightens`)."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    rng = np.random.default_rng(seed)
    catalog = procedures()
    profile_names = list(PROFILES)
    profile_weights = np.array([PROFILES[p][0] for p in profile_names])
    profile_weights /= profile_weights.sum()
    base_shares = _base_shares()
    n_patients = max(1, rows // 3)
    patient_age, patient_payer = _patients(rng, n_patients)

    records: list[dict] = []
    while len(records) < rows:
        patient = int(rng.integers(0, n_patients))
        payer = patient_payer[patient]
        age = int(patient_age[patient])
        profile = str(rng.choice(profile_names, p=profile_weights))
        codes, modifiers, units = _claim_lines(profile, age, rng, catalog)
        diagnoses = _diagnoses(rng, profile, profile_names)
        submitted_at, service_date, eligibility_verified_at = _dates(rng, start, days)
        needs_auth = any(c in payer.auth_required_codes for c in codes)
        has_auth = rng.random() < (0.85 if needs_auth else 0.05)
        rendering_missing = rng.random() < 0.03
        institutional = any(catalog[c].kind == "imaging" for c in codes) or "45378" in codes
        institutional = institutional and rng.random() < 0.5
        draft = {
            "patient_id": f"P{patient + 1:07d}",
            "payer": payer,
            "claim_type": "institutional" if institutional else "professional",
            "billing_provider_id": "1234567893" if not institutional else "1841293725",
            "rendering_provider_id": None
            if rendering_missing
            else f"{1003000000 + int(rng.integers(0, 40)) * 7}",
            "service_date": service_date,
            "submitted_at": submitted_at,
            "place_of_service": "22" if institutional else "11",
            "diagnosis_codes": diagnoses,
            "lines": [
                {
                    "procedure_code": code,
                    "modifiers": mods,
                    "units": float(n),
                    "charge": round(catalog[code].base_charge * n * float(rng.lognormal(0, 0.1)), 2),
                }
                for code, mods, n in zip(codes, modifiers, units, strict=True)
            ],
            "prior_auth_number": f"PA{rng.integers(10**7, 10**8)}" if has_auth else None,
            "eligibility_verified_at": eligibility_verified_at,
            "tightened": shift is not None
            and payer.payer_id == shift.payer_id
            and service_date >= shift.start,
            "extra_hazard": shift.hazard if shift is not None else 0.0,
        }
        records.append(_adjudicate(draft, len(records) + 1, False, base_shares, catalog, rng))
        resent = submitted_at + timedelta(days=int(rng.integers(5, 14)))
        if len(records) < rows and rng.random() < DUPLICATE_RATE and resent < start + timedelta(days=days):
            # Sent again, unchanged, before the first one came back (within the window, like all claims).
            again = {**draft, "submitted_at": resent}
            records.append(_adjudicate(again, len(records) + 1, True, base_shares, catalog, rng))
    frame = pd.DataFrame.from_records(records)
    frame = frame.sort_values(["submitted_at", "claim_id"], kind="stable").reset_index(drop=True)
    return frame
