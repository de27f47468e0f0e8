"""FHIR R4 (fhir.resources.R4B): Appointment bundles to canonical records, scores to RiskAssessments.

Mapping of an Appointment (docs/integration.md has it as a table):
- id -> appointment_id; start -> starts_at; minutesDuration (or end - start) -> duration_minutes.
- created -> booked_at. Most EHRs leave it out: the score is then made without it and lists
  booked_at among its missing inputs. meta.lastUpdated is when the resource last changed, not when
  the visit was booked, and is never read as one.
- appointmentType (its codings' codes, e.g. v2-0276 FOLLOWUP, then its text), failing that serviceType,
  through the editable code table (data/feeds/code_tables.py) -> appointment_type.
- participant actors: the Patient (referenced in the Bundle or contained) gives patient_id, age at the
  visit (birthDate) and sex (gender); Location/<id> -> clinic_id; Practitioner/<id> -> provider_id.
- payer: the EXT_PAYER_TYPE extension (valueCode); else a Coverage in the Bundle for that patient
  (Coverage.type, then its payor's display) through the payer table; else "unknown".
- EXT_REMINDER_SENT (valueBoolean); false when absent.

Appointments whose status is not booked, arrived, pending or proposed (cancelled, noshow, fulfilled,
entered-in-error...) are not scored; the answer says which and why. A cancelled one that careops has
booked is recorded as cancelled, at meta.lastUpdated (R4 has no cancellation date: the last change
of a cancelled Appointment is its cancellation), else when it arrives.

Each score becomes a RiskAssessment: subject = the patient, basis = the appointment, method = the
model name and version, prediction.probabilityDecimal = P(no-show), prediction.qualitativeRisk = the
risk band, prediction.rationale = the top factors in words, EXT_TOP_FACTOR extensions with each
factor's name, typed value (valueDecimal, valueString; none when missing), contribution and words,
and EXT_MISSING_INPUT for each input the score was made without.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.riskassessment import RiskAssessment
from pydantic import ValidationError

from data.feeds.code_tables import CodeTables
from data.schemas import Appointment
from models.scorer import ScoreFactor
from services.noshow import missing_inputs

BASE = "https://careops.dev/fhir"
EXT_PAYER_TYPE = f"{BASE}/StructureDefinition/payer-type"
EXT_REMINDER_SENT = f"{BASE}/StructureDefinition/reminder-sent"
EXT_TOP_FACTOR = f"{BASE}/StructureDefinition/top-factor"
EXT_MISSING_INPUT = f"{BASE}/StructureDefinition/missing-input"
SEX = {"female": "F", "male": "M"}
SCORED_STATUSES = ("booked", "arrived", "pending", "proposed")


class FhirInputError(ValueError):
    """A Bundle that cannot be read, with the FHIRPath expression of the problem."""

    def __init__(self, message: str, expression: str) -> None:
        super().__init__(message)
        self.expression = expression


@dataclass(frozen=True)
class ParsedAppointment:
    """A canonical appointment and the FHIR references to echo back."""

    record: Appointment
    appointment_reference: str
    patient_reference: str


@dataclass(frozen=True)
class SkippedAppointment:
    """An Appointment of the Bundle that is not scored, and why."""

    appointment_reference: str
    expression: str
    reason: str
    cancelled: bool = False
    changed_at: datetime | None = None  # meta.lastUpdated


@dataclass(frozen=True)
class ParsedBundle:
    """The Appointments to score, in Bundle order, and those skipped."""

    appointments: list[ParsedAppointment]
    skipped: list[SkippedAppointment]


def operation_outcome(message: str, expression: str | None = None, code: str = "invalid") -> dict[str, Any]:
    """An OperationOutcome with one error issue."""
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": message}
    if expression:
        issue["expression"] = [expression]
    return OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": [issue]}).model_dump(
        mode="json", exclude_none=True
    )


def _expression(location: tuple[Any, ...]) -> str:
    path = "Bundle"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_bundle(payload: Any, tables: CodeTables | None = None) -> ParsedBundle:
    """Canonical appointments from a Bundle of Appointments (Patients and Coverages in the Bundle,
    or contained), and the Appointments skipped for their status."""
    tables = tables or CodeTables()
    if not isinstance(payload, dict) or payload.get("resourceType") != "Bundle":
        raise FhirInputError("the body must be a FHIR Bundle (resourceType 'Bundle')", "Bundle")
    try:
        bundle = Bundle.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")[:200]
        raise FhirInputError(message, _expression(first["loc"])) from None
    except (KeyError, TypeError, ValueError):
        raise FhirInputError("an entry's resource is not a known FHIR R4 resource", "Bundle.entry") from None
    patients: dict[str, Patient] = {}
    coverages: dict[str, Coverage] = {}
    for entry in bundle.entry or []:
        if isinstance(entry.resource, Patient) and entry.resource.id:
            patients[f"Patient/{entry.resource.id}"] = entry.resource
            if entry.fullUrl:
                patients[entry.fullUrl] = entry.resource
        if isinstance(entry.resource, Coverage) and entry.resource.beneficiary:
            coverages.setdefault(entry.resource.beneficiary.reference or "", entry.resource)
    parsed, skipped = [], []
    first_of: dict[str, int] = {}
    seen = 0
    for index, entry in enumerate(bundle.entry or []):
        if isinstance(entry.resource, FhirAppointment):
            seen += 1
            path = f"Bundle.entry[{index}].resource"
            if entry.resource.status not in SCORED_STATUSES:
                reason = (
                    f"status '{entry.resource.status}' is not one of {', '.join(SCORED_STATUSES)}: "
                    "nothing is left to predict"
                )
                meta = entry.resource.meta
                skipped.append(
                    SkippedAppointment(
                        f"Appointment/{entry.resource.id}",
                        f"{path}.status",
                        reason,
                        cancelled=entry.resource.status == "cancelled",
                        changed_at=meta.lastUpdated if meta is not None else None,
                    )
                )
                continue
            parsed.append(_appointment(entry.resource, patients, coverages, tables, path))
            earlier = first_of.setdefault(parsed[-1].record.appointment_id, index)
            if earlier != index:
                raise FhirInputError(f"the Appointment id repeats Bundle.entry[{earlier}]'s", f"{path}.id")
    if not seen:
        raise FhirInputError("the Bundle holds no Appointment resources", "Bundle.entry")
    return ParsedBundle(parsed, skipped)


def _age(birth: date | None, on: datetime) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _extension(resource: Any, url: str) -> Any:
    for extension in resource.extension or []:
        if extension.url == url:
            return extension.valueCode if extension.valueCode is not None else extension.valueBoolean
    return None


def _codes(concept: Any) -> tuple[str, ...]:
    """A CodeableConcept's coding codes, then its displays, then its text."""
    if concept is None:
        return ()
    codings = concept.coding or []
    return (
        *(c.code for c in codings if c.code),
        *(c.display for c in codings if c.display),
        *((concept.text,) if concept.text else ()),
    )


def _payer(
    resource: FhirAppointment, patient_keys: list[str], coverages: dict[str, Coverage], tables: CodeTables
) -> str:
    extension = _extension(resource, EXT_PAYER_TYPE)
    if extension:
        return str(extension)
    coverage = next((coverages[k] for k in patient_keys if k in coverages), None)
    if coverage is None:
        return "unknown"
    payors = tuple(p.display for p in coverage.payor or [] if p.display)
    return tables.payer_type(_codes(coverage.type), payors) or "unknown"


def _appointment(
    resource: FhirAppointment,
    patients: dict[str, Patient],
    coverages: dict[str, Coverage],
    tables: CodeTables,
    path: str,
) -> ParsedAppointment:
    contained = {f"#{r.id}": r for r in (resource.contained or []) if isinstance(r, Patient)}
    references = [p.actor.reference for p in resource.participant or [] if p.actor and p.actor.reference]
    patient_reference = next((r for r in references if r.startswith(("Patient/", "#", "urn:"))), None)
    patient = contained.get(patient_reference) or patients.get(patient_reference or "")
    for field, present in (("id", resource.id), ("start", resource.start)):
        if not present:
            raise FhirInputError(
                f"Appointment.{field} is required to score a no-show risk", f"{path}.{field}"
            )
    if patient is None:
        raise FhirInputError(
            "the Appointment needs a Patient participant, referenced in the Bundle or contained",
            f"{path}.participant",
        )
    if resource.minutesDuration:
        duration = resource.minutesDuration
    elif resource.end:
        duration = round((resource.end - resource.start).total_seconds() / 60)
    else:
        raise FhirInputError(
            "Appointment.minutesDuration or Appointment.end is required", f"{path}.minutesDuration"
        )
    start = resource.start.replace(tzinfo=None)
    created = resource.created
    if created is not None and not isinstance(created, datetime):
        created = datetime.combine(created, datetime.min.time())
    services = [code for concept in resource.serviceType or [] for code in _codes(concept)]
    kind = tables.appointment_type(_codes(resource.appointmentType), tuple(services))

    def actor(prefix: str) -> str:
        return next((r.removeprefix(prefix) for r in references if r.startswith(prefix)), "unspecified")

    age = _age(patient.birthDate, start)
    try:
        record = Appointment.model_validate(
            {
                "appointment_id": resource.id,
                "patient_id": patient.id or patient_reference,
                "clinic_id": actor("Location/"),
                "provider_id": actor("Practitioner/"),
                "booked_at": created.replace(tzinfo=None) if created is not None else None,
                "starts_at": start,
                "duration_minutes": duration,
                "appointment_type": kind or "unspecified",
                "patient_age": age,
                "patient_sex": SEX.get(str(patient.gender), "U"),
                "payer_type": _payer(resource, _patient_keys(patient, patient_reference), coverages, tables),
                "reminder_sent": bool(_extension(resource, EXT_REMINDER_SENT)),
            }
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "Appointment"
        raise FhirInputError(f"{field}: {first['msg'].removeprefix('Value error, ')}", path) from None
    patient_ref = (
        f"Patient/{patient.id}" if patient.id and not patient_reference.startswith("#") else patient_reference
    )
    return ParsedAppointment(record, f"Appointment/{resource.id}", patient_ref)


def _patient_keys(patient: Patient, reference: str | None) -> list[str]:
    keys = [reference] if reference else []
    return [*keys, f"Patient/{patient.id}"] if patient.id else keys


def _factor_extension(factor: ScoreFactor) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"url": "name", "valueString": factor.name}]
    if isinstance(factor.value, str):
        parts.append({"url": "value", "valueString": factor.value})
    elif factor.value is not None:
        parts.append({"url": "value", "valueDecimal": round(float(factor.value), 6)})
    parts.append({"url": "contribution", "valueDecimal": round(factor.contribution, 6)})
    if factor.text:
        parts.append({"url": "text", "valueString": factor.text})
    return {"url": EXT_TOP_FACTOR, "extension": parts}


def risk_assessment_bundle(
    parsed: list[ParsedAppointment],
    probabilities: list[float],
    bands: list[str],
    factors: list[list[ScoreFactor]],
    model_name: str,
    model_version: str,
    skipped: list[SkippedAppointment] | None = None,
) -> dict[str, Any]:
    """A collection Bundle with one RiskAssessment per appointment, validated as R4B, and an
    OperationOutcome with a warning for each Appointment skipped."""
    entries: list[dict[str, Any]] = []
    for item, probability, band, top in zip(parsed, probabilities, bands, factors, strict=True):
        rationale = "; ".join(
            f"{f.text or f.name} ({'raises' if f.contribution > 0 else 'lowers'} the risk)" for f in top
        )
        missing = missing_inputs(item.record)
        assessment = RiskAssessment.model_validate(
            {
                "resourceType": "RiskAssessment",
                "id": f"noshow-{item.record.appointment_id}",
                "status": "final",
                "subject": {"reference": item.patient_reference},
                "basis": [{"reference": item.appointment_reference}],
                "method": {
                    "coding": [{"system": f"{BASE}/model", "code": model_name, "version": model_version}],
                    "text": f"careops {model_name} model version {model_version}",
                },
                "prediction": [
                    {
                        "outcome": {"text": "no-show"},
                        "probabilityDecimal": round(float(probability), 6),
                        "qualitativeRisk": {"coding": [{"system": f"{BASE}/risk-band", "code": band}]},
                        "rationale": rationale or None,
                    }
                ],
                "extension": [_factor_extension(f) for f in top]
                + [{"url": EXT_MISSING_INPUT, "valueCode": name} for name in missing],
            }
        )
        entries.append(
            {"fullUrl": f"urn:careops:riskassessment:{item.record.appointment_id}", "resource": assessment}
        )
    if skipped:
        issues = [
            {
                "severity": "warning",
                "code": "not-supported",
                "diagnostics": f"{s.appointment_reference} not scored: {s.reason}",
                "expression": [s.expression],
            }
            for s in skipped
        ]
        outcome = OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": issues})
        entries.append({"fullUrl": "urn:careops:operationoutcome:skipped", "resource": outcome})
    bundle = Bundle.model_validate({"resourceType": "Bundle", "type": "collection", "entry": entries})
    return bundle.model_dump(mode="json", exclude_none=True)


# What the OpenAPI document says of the FHIR operation: the shapes, not the whole R4 specification.
BUNDLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A FHIR R4 Bundle of Appointments, with their Patients as entries or contained resources.",
    "required": ["resourceType"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Bundle"]},
        "type": {"type": "string"},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "fullUrl": {"type": "string"},
                    "resource": {
                        "type": "object",
                        "required": ["resourceType"],
                        "properties": {
                            "resourceType": {"type": "string", "enum": ["Appointment", "Patient"]}
                        },
                    },
                },
            },
        },
    },
}
RISK_BUNDLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A FHIR R4 Bundle of RiskAssessments, one per Appointment, in request order.",
    "required": ["resourceType", "type", "entry"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Bundle"]},
        "type": {"type": "string", "enum": ["collection"]},
        "entry": {"type": "array", "items": {"type": "object"}},
    },
}
OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A FHIR OperationOutcome; each issue's expression names the element at fault.",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {"type": "array", "items": {"type": "object"}},
    },
}
