"""Validation by column gives exactly what row-by-row validation gives, for any mix of cells."""

from __future__ import annotations

import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import data.loaders.canonical as canonical
from data.loaders.canonical import load_appointments, validate_frame
from data.loaders.columnar import judge_columns
from data.schemas import Appointment
from data.synthetic.appointments import generate_appointments

MISSING = st.sampled_from([None, np.nan])
SPACE = st.sampled_from(["", " ", "\t", "\x1c", "\xa0", "\u3000", "\n"])
TEXT = st.one_of(
    st.text(string.ascii_letters + string.digits + "-_ ÔÃ", min_size=0, max_size=70),
    st.builds(lambda a, t, b: a + t + b, SPACE, st.text(string.ascii_letters, min_size=0, max_size=8), SPACE),
    st.integers(-5, 10**6),
    MISSING,
)
MOMENT = st.one_of(
    st.builds(
        lambda y, m, d, h, mi, s, sep, frac: f"{y:04d}-{m:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}",
        st.sampled_from([1899, 1900, 2016, 2026, 2200, 2201, 2300]),
        st.integers(1, 13),
        st.integers(1, 31),
        st.integers(0, 24),
        st.integers(0, 59),
        st.integers(0, 60),
        st.sampled_from(["T", " "]),
        st.sampled_from(["", ".5", ".123456", ".1234567", "Z", "+02:00"]),
    ),
    st.sampled_from(["2026-07-03", "2026-07-03T15:45", "03/07/2026 10:00", "soon", ""]),
    MISSING,
)
INTEGER = st.one_of(
    st.integers(-3, 800).map(str),
    st.sampled_from(["007", "+5", " 5", "5.0", "1_000", "-0", "x", "", "1e2"]),
    st.integers(-3, 800),
    st.floats(-3, 800),
    MISSING,
)
FLAG = st.one_of(
    st.sampled_from(["true", "false", "True", "FALSE", "1", "0", "1.0", "0.0", "yes", " 1.0 ", "2", ""]),
    st.booleans(),
    st.sampled_from([0, 1, 2, 1.0]),
    MISSING,
)
SEX = st.one_of(st.sampled_from(["F", "M", "U", "f", " F", "X", ""]), MISSING)
ROW = st.fixed_dictionaries(
    {
        "appointment_id": st.one_of(st.sampled_from(["A1", "A2", " A1", "A3"]), TEXT),
        "patient_id": TEXT,
        "clinic_id": TEXT,
        "provider_id": TEXT,
        "booked_at": MOMENT,
        "starts_at": MOMENT,
        "duration_minutes": INTEGER,
        "appointment_type": TEXT,
        "patient_age": INTEGER,
        "patient_sex": SEX,
        "payer_type": TEXT,
        "reminder_sent": FLAG,
        "handicap_count": INTEGER,
        "no_show": FLAG,
    }
)


def row_by_row(frame: pd.DataFrame) -> canonical.LoadResult:
    judge, canonical.judge_columns = canonical.judge_columns, lambda frame, model: None
    try:
        return validate_frame(frame, Appointment, "appointment_id")
    finally:
        canonical.judge_columns = judge


def assert_same(frame: pd.DataFrame) -> None:
    by_column = validate_frame(frame, Appointment, "appointment_id")
    by_row = row_by_row(frame)
    pd.testing.assert_frame_equal(by_column.valid, by_row.valid)
    pd.testing.assert_frame_equal(by_column.quarantined, by_row.quarantined)
    assert by_column.reason_counts == by_row.reason_counts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW, min_size=1, max_size=12), st.booleans())
def test_any_mix_of_cells_gets_the_same_answer(rows: list[dict], as_text: bool) -> None:
    frame = pd.DataFrame(rows)
    if as_text:  # as a CSV is read: text cells, missing ones NaN
        frame = frame.map(lambda v: v if v is None or v != v else str(v)).astype("str")
    assert_same(frame)


def test_a_table_in_plain_form_is_judged_by_column_and_loads_the_same() -> None:
    frame = generate_appointments(3_000, seed=5)
    as_csv = frame.astype(str).where(frame.notna(), np.nan).astype("str")
    assert judge_columns(as_csv, Appointment).accepted.all()
    assert_same(as_csv)
    assert_same(frame)
    loaded = load_appointments(as_csv)
    assert len(loaded.valid) == 3_000 and loaded.quarantined.empty


@pytest.mark.parametrize(
    "bad", [{"patient_age": "121"}, {"starts_at": "2026-01-01 00:00:00"}, {"patient_sex": "X"}]
)
def test_a_broken_rule_goes_to_the_model_for_its_reason(bad: dict) -> None:
    frame = generate_appointments(50, seed=6).astype(str).astype("str")
    for name, value in bad.items():
        frame.loc[7, name] = value
    assert not judge_columns(frame, Appointment).accepted[7]
    result = validate_frame(frame, Appointment, "appointment_id")
    assert list(result.quarantined["source_row"]) == [8]
    assert_same(frame)
