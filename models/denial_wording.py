"""Plain-language wording of a denial score's factors: "no eligibility check on file", "filed 3 days
before MCR-TX's 365-day deadline", "COM-AET denies 73% of claims".

The denial model's inputs (features/claim.py, features/claim_history.py), each with its phrase; the
no-show wording (models/wording.py) reads them beside its own. A test holds every input the denial
model can emit to a phrase here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

Value = float | str | None


def count(value: float, one: str, many: str) -> str:
    """ "1 line", "3 lines"."""
    n = round(value)
    return f"{n} {one if n == 1 else many}"


def _payer(values: Mapping[str, Value]) -> str:
    payer = values.get("payer_id")
    return payer if isinstance(payer, str) else "the payer"


def _deadline(value: float, values: Mapping[str, Value]) -> str:
    window = values.get("filing_window_days")
    whose = f"{_payer(values)}'s"
    deadline = (
        f"{whose} {round(window)}-day deadline" if isinstance(window, float | int) else f"{whose} deadline"
    )
    days = round(value)
    if days == 0:
        return f"filed on the day of {deadline}"
    return f"filed {count(abs(days), 'day', 'days')} {'after' if days > 0 else 'before'} {deadline}"


def _eligibility_age(value: float, _: Mapping[str, Value]) -> str:
    days = round(value)
    if days < 0:
        return f"eligibility checked {count(-days, 'day', 'days')} after the service"
    return (
        "eligibility checked on the day of service"
        if days == 0
        else (f"eligibility checked {count(days, 'day', 'days')} before the service")
    )


def _lines(one: str, many: str) -> Callable[[float, Mapping[str, Value]], str]:
    return lambda v, _: count(v, one, many)


def _payer_rate(reason: str) -> Callable[[float, Mapping[str, Value]], str]:
    return lambda v, values: f"{_payer(values)} denies {v:.1%} of claims for {reason}"


DENIAL_CONTEXT = ("payer_id", "filing_window_days")  # read beside the phrases that name them

DENIAL_PHRASES: dict[str, Callable[[float, Mapping[str, Value]], str]] = {
    "total_charge": lambda v, _: f"charges of ${v:,.2f}",
    "line_count": _lines("service line", "service lines"),
    "diagnosis_count": _lines("diagnosis", "diagnoses"),
    "days_to_submit": lambda v, _: f"submitted {count(v, 'day', 'days')} after the service",
    "filing_window_days": lambda v, values: f"{_payer(values)} allows {count(v, 'day', 'days')} to file",
    "days_past_filing_window": _deadline,
    "eligibility_age_days": _eligibility_age,
    "lines_needing_missing_auth": _lines(
        "line needs a prior authorization not on file", "lines need a prior authorization not on file"
    ),
    "noncovered_lines": _lines("line the payer does not cover", "lines the payer does not cover"),
    "lines_unsupported_by_diagnosis": _lines("line no diagnosis supports", "lines no diagnosis supports"),
    "em_with_procedure_without_modifier_25": _lines(
        "visit line billed with a procedure but no modifier 25",
        "visit lines billed with a procedure but no modifier 25",
    ),
    "unknown_procedure_lines": _lines(
        "line with an unknown procedure code", "lines with an unknown procedure code"
    ),
    "lines_breaking_a_rule": _lines("line breaks a payer rule", "lines break a payer rule"),
    "lines_breaking_no_rule": _lines("line breaks no rule", "lines break no rule"),
    "payer_denial_rate": lambda v, values: f"{_payer(values)} denies {v:.0%} of claims",
    "payer_eligibility_rate": _payer_rate("eligibility"),
    "payer_missing_information_rate": _payer_rate("missing information"),
    "payer_prior_authorization_rate": _payer_rate("prior authorization"),
    "payer_medical_necessity_rate": _payer_rate("medical necessity"),
    "payer_coding_rate": _payer_rate("coding"),
    "payer_duplicate_rate": _payer_rate("duplicates"),
    "payer_timely_filing_rate": _payer_rate("late filing"),
    "payer_non_covered_rate": _payer_rate("services it does not cover"),
    "max_payer_code_denial_rate": lambda v, values: (
        f"{_payer(values)} denies {v:.0%} of the lines of this claim's riskiest procedure"
    ),
    "earlier_submissions_same_service": _lines(
        "earlier submission of the same service", "earlier submissions of the same service"
    ),
}
DENIAL_FLAGS = {
    "eligibility_not_verified": ("no eligibility check on file", "eligibility checked"),
    "prior_auth_present": ("a prior authorization is on file", "no prior authorization on file"),
    "rendering_provider_missing": ("no rendering provider on the claim", "a rendering provider on the claim"),
}
DENIAL_MISSING = {
    "eligibility_age_days": "no eligibility check on file",
    "days_past_filing_window": "filing deadline not known",
    "filing_window_days": "filing window not known",
    "days_to_submit": "submission date not known",
}
PLACES_OF_SERVICE = {
    "02": "telehealth",
    "11": "the office",
    "12": "the patient's home",
    "19": "an off-campus outpatient hospital",
    "21": "an inpatient hospital",
    "22": "an on-campus outpatient hospital",
    "23": "an emergency room",
    "24": "an ambulatory surgical centre",
    "31": "a skilled nursing facility",
    "81": "an independent laboratory",
}
DENIAL_CATEGORIES: dict[str, Callable[[str], str]] = {
    "payer_id": lambda v: f"payer {v}",
    "claim_type": lambda v: f"{article(v)} {v.replace('_', ' ')} claim",
    "place_of_service": lambda v: (
        f"at {PLACES_OF_SERVICE[v]}" if v in PLACES_OF_SERVICE else f"place of service {v}"
    ),
}


def article(word: str) -> str:
    """ "an" before a vowel sound, else "a" (by the first letter: good enough for careops's labels)."""
    return "an" if word[:1].lower() in "aeiou" else "a"
