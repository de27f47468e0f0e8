"""Loaders keep every row: valid ones typed, bad ones quarantined with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from data.loaders.canonical import SchemaError, claims_for_file, load_appointments, load_claims
from data.loaders.tables import write_table
from data.synthetic.appointments import generate_appointments
from data.synthetic.claims import generate_claims


def test_bad_appointment_rows_are_quarantined_with_reasons(tmp_path: Path) -> None:
    frame = generate_appointments(50, seed=1)
    frame.loc[3, "patient_age"] = -1
    frame.loc[7, "starts_at"] = pd.NaT
    frame.loc[9, "booked_at"] = frame.loc[9, "starts_at"] + pd.Timedelta(days=2)
    frame.loc[11, "appointment_id"] = frame.loc[10, "appointment_id"]
    path = write_table(frame, tmp_path / "appointments.csv")

    result = load_appointments(path)

    assert len(result.valid) == 46
    assert result.rows_read == 50
    reasons = dict(
        zip(result.quarantined["source_row"], result.quarantined["quarantine_reason"], strict=True)
    )
    assert reasons == {
        4: "patient_age: Input should be greater than or equal to 0",
        8: "starts_at: missing value",
        10: "starts_at is before booked_at",
        12: "appointment_id: duplicate of an earlier row",
    }
    assert result.reason_counts == {
        "patient_age: greater_than_equal": 1,
        "starts_at: missing": 1,
        "starts_at is before booked_at": 1,
        "appointment_id: duplicate": 1,
    }
    # The quarantine keeps the row as it was read, so it can be fixed and reloaded.
    assert result.quarantined.loc[0, "patient_age"] == "-1"


def test_valid_rows_are_typed_and_keep_extra_columns(tmp_path: Path) -> None:
    frame = generate_appointments(30, seed=2)
    result = load_appointments(write_table(frame, tmp_path / "a.parquet"))
    assert result.quarantined.empty
    assert pd.api.types.is_datetime64_any_dtype(result.valid["starts_at"])
    assert result.valid["no_show"].tolist() == frame["no_show"].astype(float).tolist()
    assert result.valid["true_no_show_probability"].tolist() == pytest.approx(
        frame["true_no_show_probability"].tolist()
    )


def test_a_table_missing_required_columns_is_refused_whole() -> None:
    frame = generate_appointments(5, seed=3).drop(columns=["starts_at", "clinic_id"])
    with pytest.raises(SchemaError, match=r"^missing required columns: clinic_id, starts_at$"):
        load_appointments(frame)


def test_claims_round_trip_through_csv_and_quarantine_bad_lines(tmp_path: Path) -> None:
    claims = generate_claims(40, seed=4)
    flat = claims_for_file(claims)
    lines = json.loads(flat.loc[5, "service_lines"])
    lines[0]["procedure_code"] = "ABC"
    flat.loc[5, "service_lines"] = json.dumps(lines)
    flat.loc[6, "diagnosis_codes"] = ""
    result = load_claims(write_table(flat, tmp_path / "claims.csv"))

    assert len(result.valid) == 38
    reasons = dict(
        zip(result.quarantined["source_row"], result.quarantined["quarantine_reason"], strict=True)
    )
    assert reasons[6].startswith("service_lines.0.procedure_code: not a CPT/HCPCS code")
    assert reasons[7] == "diagnosis_codes: missing value"
    kept = result.valid.set_index("claim_id")
    original = claims.set_index("claim_id")
    for claim_id in kept.index:
        assert kept.loc[claim_id, "diagnosis_codes"] == original.loc[claim_id, "diagnosis_codes"]
        assert [line["charge"] for line in kept.loc[claim_id, "service_lines"]] == [
            line["charge"] for line in original.loc[claim_id, "service_lines"]
        ]
