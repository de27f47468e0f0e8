"""Reference tables shipped as CSV beside this file: the payer table and the procedure coverage policy.

A practice edits its own copy: a file of the same name in CAREOPS_REFERENCE_DIR replaces the shipped
one for what the services read at run time (filing deadlines, appeal letters). The models keep the
payer table they were trained with.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path


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


class ReferenceTableError(ValueError):
    """A practice's reference table cannot be read or has the wrong shape (the message names the file
    and the row, never a value)."""


def shipped_text(name: str) -> str:
    """The text of a table shipped with careops."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def table_text(name: str, directory: Path | None) -> tuple[str, str]:
    """A table's text and where it came from: the practice's copy in `directory` when there is one,
    else the shipped one."""
    if directory is not None and (Path(directory) / name).is_file():
        path = Path(directory) / name
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, ValueError) as error:
            raise ReferenceTableError(f"{path}: {type(error).__name__}") from None
    return shipped_text(name), name


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(shipped_text(name).splitlines()))


def _payer(row: dict[str, str]) -> Payer:
    return Payer(
        payer_id=row["payer_id"].strip(),
        payer_name=row["payer_name"].strip(),
        payer_type=row["payer_type"].strip(),
        timely_filing_days=int(row["timely_filing_days"]),
        auth_required_codes=frozenset((row.get("auth_required_codes") or "").split()),
        noncovered_codes=frozenset((row.get("noncovered_codes") or "").split()),
    )


@cache
def payers() -> dict[str, Payer]:
    """The shipped payer table, keyed by payer_id."""
    return {row["payer_id"]: _payer(row) for row in _rows("payers.csv")}


def load_payers(directory: Path | None) -> dict[str, Payer]:
    """The practice's payer table (its payers.csv in `directory`), else the shipped one; a row without
    an id, a name or a whole number of filing days from 1 to 3,650 refuses the file."""
    text, source = table_text("payers.csv", directory)
    table: dict[str, Payer] = {}
    for number, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            payer = _payer(row)
        except (KeyError, ValueError, AttributeError, TypeError):
            raise ReferenceTableError(
                f"{source} line {number}: needs payer_id, payer_name, payer_type and a whole number "
                "of timely_filing_days"
            ) from None
        if not payer.payer_id or not 1 <= payer.timely_filing_days <= 3650:
            raise ReferenceTableError(f"{source} line {number}: timely_filing_days must be 1 to 3650")
        table[payer.payer_id] = payer
    return table


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


@dataclass(frozen=True)
class AppealTemplate:
    """What to say and send after a denial of one category: an appeal's argument and attachments, and
    for an administrative reason ("corrected"), the checklist of a corrected claim."""

    category: str
    kind: str  # "appeal" or "corrected"
    argument: str
    attachments: tuple[str, ...]
    checklist: tuple[str, ...]


def load_appeals(directory: Path | None) -> dict[str, AppealTemplate]:
    """The practice's appeal templates (its appeals.csv in `directory`), else the shipped ones, keyed by
    denial category; a row without a category, an argument or attachments, or of another kind than
    appeal or corrected, refuses the file."""
    text, source = table_text("appeals.csv", directory)
    table: dict[str, AppealTemplate] = {}
    for number, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        split = [[part.strip() for part in (row.get(name) or "").split(";") if part.strip()]
                 for name in ("attachments", "checklist")]  # fmt: skip
        template = AppealTemplate(
            (row.get("category") or "").strip(), (row.get("kind") or "").strip(),
            (row.get("argument") or "").strip(), tuple(split[0]), tuple(split[1]),
        )  # fmt: skip
        if not (template.category and template.argument and template.attachments) or template.kind not in (
            "appeal", "corrected"
        ):  # fmt: skip
            raise ReferenceTableError(
                f"{source} line {number}: needs a category, kind (appeal or corrected), argument and "
                "attachments"
            )
        table[template.category] = template
    return table
