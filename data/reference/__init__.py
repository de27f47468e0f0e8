"""Reference tables shipped as CSV beside this file: the payer table and the procedure coverage policy."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Payer:
    """A payer's rules: type, timely-filing window and the codes it needs authorization for."""

    payer_id: str
    payer_name: str
    payer_type: str
    timely_filing_days: int
    auth_required_codes: frozenset[str]
    noncovered_codes: frozenset[str]


@dataclass(frozen=True)
class Procedure:
    """A CPT/HCPCS code: its kind, typical charge and the ICD-10 prefixes that support it."""

    procedure_code: str
    description: str
    kind: str
    base_charge: float
    supporting_diagnoses: tuple[str, ...]

    def supported_by(self, diagnosis_codes: list[str]) -> bool:
        """Whether any diagnosis supports this procedure (no policy means always supported)."""
        if not self.supporting_diagnoses:
            return True
        return any(code.startswith(self.supporting_diagnoses) for code in diagnosis_codes)


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def payers() -> dict[str, Payer]:
    """The payer table, keyed by payer_id."""
    return {
        row["payer_id"]: Payer(
            payer_id=row["payer_id"],
            payer_name=row["payer_name"],
            payer_type=row["payer_type"],
            timely_filing_days=int(row["timely_filing_days"]),
            auth_required_codes=frozenset(row["auth_required_codes"].split()),
            noncovered_codes=frozenset(row["noncovered_codes"].split()),
        )
        for row in _rows("payers.csv")
    }


@cache
def procedures() -> dict[str, Procedure]:
    """The procedure table, keyed by procedure_code."""
    return {
        row["procedure_code"]: Procedure(
            procedure_code=row["procedure_code"],
            description=row["description"],
            kind=row["kind"],
            base_charge=float(row["base_charge"]),
            supporting_diagnoses=tuple(row["supporting_diagnoses"].split()),
        )
        for row in _rows("procedures.csv")
    }
