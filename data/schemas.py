"""Canonical Appointment and Claim records: the one definition of a valid row, for loaders and the API."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)


def _flag_text(value: Any) -> Any:
    # Spreadsheets and pandas write a boolean column with missing values as 1.0 / 0.0.
    if isinstance(value, str) and value.strip() in ("1.0", "0.0"):
        return value.strip() == "1.0"
    return value


Flag = Annotated[bool, BeforeValidator(_flag_text)]

# Every date a record may carry lies in this range, so that no route or loader hands pandas (whose
# timestamps end in 2262) or the stores a date they cannot hold.
EARLIEST, LATEST = date(1900, 1, 1), date(2200, 12, 31)
DATE_RANGE_MESSAGE = f"must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}"


def _date_in_range(value: date) -> date:
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST <= day <= LATEST:
        raise ValueError(DATE_RANGE_MESSAGE)
    return value


Moment = Annotated[datetime, AfterValidator(_date_in_range)]
Day = Annotated[date, AfterValidator(_date_in_range)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]

CPT_HCPCS_PATTERN = re.compile(r"^(?:[0-9]{4}[0-9A-Z]|[A-Z][0-9]{4})$")
ICD10_PATTERN = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")
MODIFIER_PATTERN = re.compile(r"^[0-9A-Z]{2}$")
PLACE_OF_SERVICE_PATTERN = re.compile(r"^[0-9]{2}$")


class DenialCategory(StrEnum):
    """Root-cause categories of a claim denial (docs/domain.md, CARC by category)."""

    ELIGIBILITY = "eligibility"
    MISSING_INFORMATION = "missing_information"
    PRIOR_AUTHORIZATION = "prior_authorization"
    MEDICAL_NECESSITY = "medical_necessity"
    CODING = "coding"
    DUPLICATE = "duplicate"
    TIMELY_FILING = "timely_filing"
    NON_COVERED = "non_covered"
    PROVIDER_ENROLLMENT = "provider_enrollment"


def wall_clock(value: datetime | None) -> datetime | None:
    # Canonical times are the clinic's wall-clock time; an offset is dropped, not converted,
    # so that weekday and hour features mean the same thing for every caller.
    return value.replace(tzinfo=None) if value is not None and value.tzinfo is not None else value


class CanonicalRecord(BaseModel):
    """Shared configuration: unknown fields are ignored, numbers are accepted as identifiers."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, frozen=True)


class Appointment(CanonicalRecord):
    """One booked appointment; `no_show` is the label, present only once the outcome is known.

    `cancelled_at` is when a cancelled visit was called off (a label-side column, like `no_show`):
    whether a late cancellation counts as a no-show is the practice's definition
    (`data.no_show_definition`)."""

    appointment_id: Identifier
    patient_id: Identifier
    clinic_id: Identifier
    provider_id: Identifier
    booked_at: Moment | None = None  # unknown for many EHR Appointments (FHIR `created` is optional)
    starts_at: Moment
    duration_minutes: int = Field(gt=0, le=720)
    appointment_type: Label
    patient_age: int = Field(ge=0, le=120)
    patient_sex: Literal["F", "M", "U"]
    payer_type: Label
    reminder_sent: Flag
    welfare_enrolled: Flag | None = None
    hypertension: Flag | None = None
    diabetes: Flag | None = None
    alcoholism: Flag | None = None
    handicap_count: int | None = Field(default=None, ge=0, le=4)
    no_show: Flag | None = None
    cancelled_at: Moment | None = None

    _naive_times = field_validator("booked_at", "starts_at", "cancelled_at")(wall_clock)
    # Booked no later than it starts; the column loader reads the same pair.
    time_order: ClassVar[tuple[str, str]] = ("booked_at", "starts_at")

    @model_validator(mode="after")
    def _booked_before_start(self) -> Appointment:
        first, then = self.time_order
        if getattr(self, first) is not None and getattr(self, then) < getattr(self, first):
            raise ValueError("starts_at is before booked_at")
        return self


class ServiceLine(CanonicalRecord):
    """One service line (837 loop 2400): procedure, modifiers, units and charge."""

    line_id: Identifier | None = None
    procedure_code: str
    modifiers: list[str] = Field(default_factory=list, max_length=4)
    units: float = Field(gt=0, le=9999)
    charge: float = Field(ge=0, le=10_000_000)
    denied: Flag | None = None
    denial_category: DenialCategory | None = None

    @field_validator("procedure_code")
    @classmethod
    def _procedure_code(cls, value: str) -> str:
        value = value.strip().upper()
        if not CPT_HCPCS_PATTERN.match(value):
            raise ValueError("not a CPT/HCPCS code (5 characters, e.g. 99213 or J1100)")
        return value

    @field_validator("modifiers", mode="before")
    @classmethod
    def _split_modifiers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [m for m in re.split(r"[:;, ]+", value.strip()) if m]
        return value

    @field_validator("modifiers")
    @classmethod
    def _modifier_codes(cls, value: list[str]) -> list[str]:
        value = [m.strip().upper() for m in value]
        for modifier in value:
            if not MODIFIER_PATTERN.match(modifier):
                raise ValueError("not a 2-character modifier (e.g. 25)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ServiceLine:
        if self.denial_category is not None and self.denied is False:
            raise ValueError("denial_category is set on a line that was not denied")
        return self


class Claim(CanonicalRecord):
    """One professional or institutional claim (837 loop 2300) with its service lines."""

    claim_id: Identifier
    patient_id: Identifier
    payer_id: Identifier
    payer_type: Label
    claim_type: Literal["professional", "institutional"] = "professional"
    billing_provider_id: Identifier
    rendering_provider_id: Identifier | None = None
    service_date: Day
    submitted_at: Day
    place_of_service: str
    total_charge: float = Field(ge=0, le=100_000_000)
    diagnosis_codes: list[str] = Field(min_length=1, max_length=12)
    service_lines: list[ServiceLine] = Field(min_length=1, max_length=50)
    prior_auth_number: Identifier | None = None
    eligibility_verified_at: Day | None = None
    denied: Flag | None = None
    denial_category: DenialCategory | None = None
    adjudicated_at: Day | None = None

    @field_validator(
        "service_date", "submitted_at", "eligibility_verified_at", "adjudicated_at", mode="before"
    )
    @classmethod
    def _date_only(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, str) and len(value) > 10 and value[10] in "T ":
            return value[:10]
        return value

    @field_validator("place_of_service", mode="before")
    @classmethod
    def _place_of_service(cls, value: Any) -> Any:
        if isinstance(value, int | float) and float(value).is_integer():
            value = f"{int(value):02d}"
        if not isinstance(value, str) or not PLACE_OF_SERVICE_PATTERN.match(value.strip()):
            raise ValueError("place_of_service must be a 2-digit CMS place-of-service code")
        return value.strip()

    @field_validator("diagnosis_codes", mode="before")
    @classmethod
    def _split_diagnoses(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [c for c in re.split(r"[;, ]+", value.strip()) if c]
        return value

    @field_validator("diagnosis_codes")
    @classmethod
    def _icd10_codes(cls, value: list[str]) -> list[str]:
        value = [c.strip().upper() for c in value]
        for code in value:
            if not ICD10_PATTERN.match(code):
                raise ValueError("not an ICD-10-CM code (e.g. E11.9)")
        return value

    @field_validator("service_lines", mode="before")
    @classmethod
    def _parse_lines(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f"service_lines is not valid JSON: {error.msg}") from None
            except RecursionError:  # a crafted cell nested thousands deep: the row is refused, not the file
                raise ValueError("service_lines nests too deeply to be service lines") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Claim:
        if self.submitted_at < self.service_date:
            raise ValueError("submitted_at is before service_date")
        line_total = sum(line.charge for line in self.service_lines)
        if abs(line_total - self.total_charge) > 0.01 * max(1, len(self.service_lines)):
            raise ValueError("total_charge does not equal the sum of the service lines' charges")
        if self.denial_category is not None and self.denied is False:
            raise ValueError("denial_category is set on a claim that was not denied")
        if self.adjudicated_at is not None and self.adjudicated_at < self.submitted_at:
            raise ValueError("adjudicated_at is before submitted_at")
        return self


def service_lines(value: Any) -> list[Any]:
    """A claim's service lines as a list, whether given as a list or as file-form JSON text."""
    return json.loads(value) if isinstance(value, str) else list(value)


def line_field(line: Any, name: str) -> Any:
    """A service line's field, whether the line is a dict (file form) or a ServiceLine; None if absent."""
    return line.get(name) if isinstance(line, dict) else getattr(line, name, None)
