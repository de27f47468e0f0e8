"""The editable tables that turn a practice's appointment-type and payer codes into careops labels.

HL7 v2 (SCH-8, AIS-3, IN1) and FHIR (Appointment.appointmentType, serviceType, Coverage) carry the
practice's own codes. A table maps a code or its text, compared case-insensitively, to the label the
models know. The defaults below cover HL7 table 0276 and common wording; a practice extends or
overrides them with a JSON file (CAREOPS_CODE_TABLES):

    {"appointment_types": {"ov": "follow_up"}, "payer_types": {"blue cross": "commercial"}}

A code found in no table is kept, lower-cased, as the label: the score then lists the input among
its unseen inputs rather than guessing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

APPOINTMENT_TYPES: dict[str, str] = {
    # HL7 table 0276 (appointment type codes)
    "routine": "follow_up",
    "followup": "follow_up",
    "follow-up": "follow_up",
    "follow up": "follow_up",
    "checkup": "annual_physical",
    "walkin": "walk_in",
    "emergency": "urgent",
    # careops's own labels map to themselves
    "follow_up": "follow_up",
    "new_patient": "new_patient",
    "annual_physical": "annual_physical",
    "procedure": "procedure",
    "telehealth": "telehealth",
    # common wording in practice systems
    "office visit": "follow_up",
    "ov": "follow_up",
    "new patient": "new_patient",
    "np": "new_patient",
    "well exam": "annual_physical",
    "physical": "annual_physical",
    "annual physical": "annual_physical",
    "cpe": "annual_physical",
    "telemedicine": "telehealth",
    "video visit": "telehealth",
}

PAYER_TYPES: dict[str, str] = {
    "medicare": "medicare",
    "mc": "medicare",
    "medicaid": "medicaid",
    "md": "medicaid",
    "self pay": "self_pay",
    "self-pay": "self_pay",
    "self_pay": "self_pay",
    "selfpay": "self_pay",
    "sp": "self_pay",
    "commercial": "commercial",
    "ci": "commercial",
    "hmo": "commercial",
    "ppo": "commercial",
    "pos": "commercial",
    "epo": "commercial",
    "pub": "medicaid",
}

_SPACES = re.compile(r"\s+")


def _key(text: str) -> str:
    return _SPACES.sub(" ", text.strip().lower())


class CodeTableError(ValueError):
    """The code-table file cannot be read or has the wrong shape."""


@dataclass(frozen=True)
class CodeTables:
    """Appointment-type and payer-type tables, keyed by normalised code or text."""

    appointment_types: dict[str, str] = field(default_factory=lambda: dict(APPOINTMENT_TYPES))
    payer_types: dict[str, str] = field(default_factory=lambda: dict(PAYER_TYPES))

    @classmethod
    def load(cls, path: Path | None) -> CodeTables:
        """The defaults, extended and overridden by the JSON file at `path` when given."""
        tables = cls()
        if path is None:
            return tables
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CodeTableError(f"code tables {path}: {type(error).__name__}") from None
        for name in ("appointment_types", "payer_types"):
            entries = document.get(name, {})
            if not isinstance(entries, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in entries.items()
            ):
                raise CodeTableError(f"code tables {path}: '{name}' must map codes to labels")
            getattr(tables, name).update({_key(k): v.strip() for k, v in entries.items()})
        return tables

    def appointment_type(self, *sources: tuple[str, ...]) -> str | None:
        """The label from the first source that has any value: its code or text (in that order)
        through the table, else its first value lower-cased; None when every source is empty."""
        return _lookup(self.appointment_types, sources)

    def payer_type(self, *sources: tuple[str, ...]) -> str | None:
        """As `appointment_type`, through the payer table."""
        return _lookup(self.payer_types, sources)


def _lookup(table: dict[str, str], sources: tuple[tuple[str, ...], ...]) -> str | None:
    for source in sources:
        present = [_key(value) for value in source if value and value.strip()]
        if present:
            found = next((table[value] for value in present if value in table), None)
            return found or present[0].replace(" ", "_")
    return None
