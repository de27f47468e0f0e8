"""The canonical records accept what the contracts allow and name what they refuse."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from data.schemas import Appointment, Claim
from tests.bodies import APPOINTMENT, CLAIM


def error_fields(error: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in error.errors()}


def test_a_valid_appointment_parses_with_types() -> None:
    appointment = Appointment.model_validate(APPOINTMENT)
    assert appointment.starts_at == datetime(2026, 3, 10, 14, 30)
    assert appointment.no_show is None


def test_numeric_identifiers_are_kept_as_text() -> None:
    appointment = Appointment.model_validate({**APPOINTMENT, "patient_id": 29872499824296})
    assert appointment.patient_id == "29872499824296"


def test_an_offset_is_dropped_keeping_the_clinic_wall_clock() -> None:
    appointment = Appointment.model_validate({**APPOINTMENT, "starts_at": "2026-03-10T14:30:00-05:00"})
    assert appointment.starts_at == datetime(2026, 3, 10, 14, 30)
    assert appointment.starts_at.tzinfo is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"patient_age": -1}, "patient_age"),
        ({"patient_sex": "female"}, "patient_sex"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"appointment_id": "  "}, "appointment_id"),
    ],
)
def test_bad_appointment_fields_are_named(change: dict, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Appointment.model_validate({**APPOINTMENT, **change})
    assert field in error_fields(raised.value)


def test_an_appointment_cannot_start_before_it_was_booked() -> None:
    with pytest.raises(ValidationError, match="starts_at is before booked_at"):
        Appointment.model_validate({**APPOINTMENT, "booked_at": "2026-03-11T09:00:00"})


def test_claim_text_forms_parse_like_lists() -> None:
    text_form = {
        **CLAIM,
        "diagnosis_codes": "m54.50;E11.9",
        "service_lines": '[{"procedure_code": "99213", "modifiers": "25", "units": 1, "charge": 110.0},'
        ' {"procedure_code": "72148", "units": 1, "charge": 1200.0}]',
        "place_of_service": 11,
    }
    claim = Claim.model_validate(text_form)
    assert claim.diagnosis_codes == ["M54.50", "E11.9"]
    assert claim.service_lines[0].modifiers == ["25"]
    assert claim.place_of_service == "11"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"diagnosis_codes": ["123"]}, "diagnosis_codes"),
        ({"diagnosis_codes": []}, "diagnosis_codes"),
        ({"service_lines": []}, "service_lines"),
        (
            {"service_lines": [{"procedure_code": "9921", "units": 1, "charge": 1310.0}]},
            "service_lines.0.procedure_code",
        ),
        (
            {"service_lines": [{"procedure_code": "99213", "units": 1, "charge": -5.0}]},
            "service_lines.0.charge",
        ),
        ({"place_of_service": "office"}, "place_of_service"),
    ],
)
def test_bad_claim_fields_are_named_down_to_the_line(change: dict, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Claim.model_validate({**CLAIM, **change})
    assert field in error_fields(raised.value)


def test_total_charge_must_match_the_lines() -> None:
    with pytest.raises(ValidationError, match="does not equal the sum of the service lines"):
        Claim.model_validate({**CLAIM, "total_charge": 999.0})


def test_a_claim_cannot_be_submitted_before_the_service() -> None:
    with pytest.raises(ValidationError, match="submitted_at is before service_date"):
        Claim.model_validate({**CLAIM, "submitted_at": "2026-03-01"})


def test_flags_written_as_floats_are_read_as_booleans() -> None:
    appointment = Appointment.model_validate({**APPOINTMENT, "reminder_sent": "0.0", "no_show": "1.0"})
    assert appointment.reminder_sent is False and appointment.no_show is True
    with pytest.raises(ValidationError):
        Appointment.model_validate({**APPOINTMENT, "no_show": "0.5"})
