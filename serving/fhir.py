"""FHIR R4 (fhir.resources.R4B): Appointment bundles to canonical records, scores to RiskAssessments.

Mapping of an Appointment:
- id -> appointment_id; created -> booked_at; start -> starts_at; minutesDuration (or end - start)
  -> duration_minutes; appointmentType (first coding's code, or text) -> appointment_type.
- participant actors: the Patient (referenced in the Bundle or contained) gives patient_id, age at the
  visit (birthDate) and sex (gender); Location/<id> -> clinic_id; Practitioner/<id> -> provider_id.
- extensions EXT_PAYER_TYPE (valueCode) and EXT_REMINDER_SENT (valueBoolean); defaults "unknown", false.

Each score becomes a RiskAssessment: subject = the patient, basis = the appointment, method = the
model name and version, prediction.probabilityDecimal = P(no-show), prediction.qualitativeRisk = the
risk band, prediction.rationale = the top factors as text, and EXT_TOP_FACTOR extensions with each
factor's name, value and contribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.riskassessment import RiskAssessment
from pydantic import ValidationError

from data.schemas import Appointment
from models.scorer import Factor

BASE = "https://careops.dev/fhir"
EXT_PAYER_TYPE = f"{BASE}/StructureDefinition/payer-type"
EXT_REMINDER_SENT = f"{BASE}/StructureDefinition/reminder-sent"
EXT_TOP_FACTOR = f"{BASE}/StructureDefinition/top-factor"
SEX = {"female": "F", "male": "M"}


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


def parse_bundle(payload: Any) -> list[ParsedAppointment]:
    """Canonical appointments from a Bundle of Appointments (Patients in the Bundle or contained)."""
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
    for entry in bundle.entry or []:
        if isinstance(entry.resource, Patient) and entry.resource.id:
            patients[f"Patient/{entry.resource.id}"] = entry.resource
            if entry.fullUrl:
                patients[entry.fullUrl] = entry.resource
    parsed = []
    first_of: dict[str, int] = {}
    for index, entry in enumerate(bundle.entry or []):
        if isinstance(entry.resource, FhirAppointment):
            path = f"Bundle.entry[{index}].resource"
            parsed.append(_appointment(entry.resource, patients, path))
            earlier = first_of.setdefault(parsed[-1].record.appointment_id, index)
            if earlier != index:
                raise FhirInputError(f"the Appointment id repeats Bundle.entry[{earlier}]'s", f"{path}.id")
    if not parsed:
        raise FhirInputError("the Bundle holds no Appointment resources", "Bundle.entry")
    return parsed


def _age(birth: date | None, on: datetime) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _extension(resource: Any, url: str) -> Any:
    for extension in resource.extension or []:
        if extension.url == url:
            return extension.valueCode if extension.valueCode is not None else extension.valueBoolean
    return None


def _appointment(resource: FhirAppointment, patients: dict[str, Patient], path: str) -> ParsedAppointment:
    contained = {f"#{r.id}": r for r in (resource.contained or []) if isinstance(r, Patient)}
    references = [p.actor.reference for p in resource.participant or [] if p.actor and p.actor.reference]
    patient_reference = next((r for r in references if r.startswith(("Patient/", "#", "urn:"))), None)
    patient = contained.get(patient_reference) or patients.get(patient_reference or "")
    for field, present in (("id", resource.id), ("start", resource.start), ("created", resource.created)):
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
    created = (
        resource.created
        if isinstance(resource.created, datetime)
        else datetime.combine(resource.created, datetime.min.time())
    )
    coding = (
        resource.appointmentType.coding[0]
        if resource.appointmentType and resource.appointmentType.coding
        else None
    )
    kind = (coding.code if coding else None) or (
        resource.appointmentType.text if resource.appointmentType else None
    )

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
                "booked_at": created.replace(tzinfo=None),
                "starts_at": start,
                "duration_minutes": duration,
                "appointment_type": kind or "unspecified",
                "patient_age": age,
                "patient_sex": SEX.get(str(patient.gender), "U"),
                "payer_type": _extension(resource, EXT_PAYER_TYPE) or "unknown",
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


def risk_assessment_bundle(
    parsed: list[ParsedAppointment],
    probabilities: list[float],
    bands: list[str],
    factors: list[list[Factor]],
    model_name: str,
    model_version: str,
) -> dict[str, Any]:
    """A collection Bundle with one RiskAssessment per appointment, validated as R4B."""
    entries = []
    for item, probability, band, top in zip(parsed, probabilities, bands, factors, strict=True):
        rationale = "Top factors (TreeSHAP, log-odds): " + "; ".join(
            f"{f.name}={f.value} ({f.contribution:+.3f})" for f in top
        )
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
                        "rationale": rationale,
                    }
                ],
                "extension": [
                    {
                        "url": EXT_TOP_FACTOR,
                        "extension": [
                            {"url": "name", "valueString": f.name},
                            {"url": "value", "valueString": str(f.value)},
                            {"url": "contribution", "valueDecimal": round(f.contribution, 6)},
                        ],
                    }
                    for f in top
                ],
            }
        )
        entries.append(
            {"fullUrl": f"urn:careops:riskassessment:{item.record.appointment_id}", "resource": assessment}
        )
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
