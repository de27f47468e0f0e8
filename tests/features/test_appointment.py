"""Appointment features: hand-checked values, and one definition offline and online."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.loaders.canonical import frame_records, load_appointments
from data.schemas import Appointment
from data.synthetic.appointments import generate_appointments
from features.appointment import AppointmentFeatures
from features.columns import columns_from_records
from features.history import HISTORY_FEATURES, HistoryParams, add_history
from tests.bodies import APPOINTMENT


@pytest.fixture(scope="module")
def fitted() -> tuple[AppointmentFeatures, pd.DataFrame]:
    frame = add_history(load_appointments(generate_appointments(2_000, seed=3)).valid, HistoryParams())
    return AppointmentFeatures().fit(frame), frame


def named(features: AppointmentFeatures, matrix: np.ndarray) -> dict[str, float]:
    return dict(zip(features.get_feature_names_out(), matrix[0], strict=True))


def test_values_for_one_appointment(fitted: tuple[AppointmentFeatures, pd.DataFrame]) -> None:
    features, _ = fitted
    record = Appointment.model_validate({**APPOINTMENT, "booked_at": "2026-03-04T08:00:00"})
    values = named(features, features.transform_columns(_columns([record])))
    assert values["lead_time_days"] == pytest.approx(6 + 6.5 / 24)  # 2026-03-04 08:00 -> 03-10 14:30
    assert values["start_weekday"] == 1  # 2026-03-10 is a Tuesday
    assert values["start_hour"] == 14.5
    assert values["patient_age"] == 34
    assert values["reminder_sent"] == 1
    assert values["booked_weekday"] == 2 and values["booked_hour"] == 8  # booked Wednesday 08:00
    assert values["appointment_type"] == features.vocabularies_["appointment_type"].codes["follow_up"]
    assert values["prior_visits"] == 0 and np.isnan(values["welfare_enrolled"])


def test_offline_and_online_features_are_identical(fitted: tuple[AppointmentFeatures, pd.DataFrame]) -> None:
    features, frame = fitted
    head = frame.head(300)
    records = [Appointment.model_validate(row) for row in frame_records(head[list(Appointment.model_fields)])]
    history = {name: head[name].to_numpy() for name in HISTORY_FEATURES}
    offline = features.transform(head)
    online = features.transform_columns(_columns(records, history))
    np.testing.assert_array_equal(offline, online)


def test_unseen_categories_are_scored_as_missing_and_flagged(
    fitted: tuple[AppointmentFeatures, pd.DataFrame],
) -> None:
    features, _ = fitted
    record = Appointment.model_validate({**APPOINTMENT, "clinic_id": "NEW-CLINIC", "payer_type": "barter"})
    columns = _columns([record])
    values = named(features, features.transform_columns(columns))
    assert np.isnan(values["payer_type"])
    assert features.unseen_categories(columns) == [["clinic_id", "payer_type"]]


def test_feature_names_are_readable(fitted: tuple[AppointmentFeatures, pd.DataFrame]) -> None:
    features, frame = fitted
    names = list(features.get_feature_names_out())
    assert names[0] == "lead_time_days"
    assert len(names) == features.transform(frame.head(2)).shape[1]
    assert [names[i] for i in features.categorical_indices()] == list(features.categorical)


def _columns(
    records: list[Appointment], history: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    columns = columns_from_records(records, AppointmentFeatures.record_columns)
    columns.update(history or {name: np.zeros(len(records)) for name in HISTORY_FEATURES})
    return columns
