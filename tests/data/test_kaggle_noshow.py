"""The public Brazil 2016 no-show CSV: each quirk in docs/domain.md, then the real file itself."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from data.loaders.canonical import load_appointments

HEADER = (
    "PatientId,AppointmentID,Gender,ScheduledDay,AppointmentDay,Age,Neighbourhood,Scholarship,"
    "Hipertension,Diabetes,Alcoholism,Handcap,SMS_received,No-show"
)
# Hand-written rows in the public file's format (not copied from it).
ROWS = [
    "111,5000001,F,2016-05-02T09:15:00Z,2016-05-10T00:00:00Z,40,CENTRO,0,1,0,0,0,1,No",
    "111,5000002,F,2016-05-03T10:00:00Z,2016-05-10T00:00:00Z,40,CENTRO,0,1,0,0,0,0,Yes",
    "93779.52927,5000003,M,2016-05-10T14:30:00Z,2016-05-10T00:00:00Z,7,MARUIPE,1,0,0,0,2,0,No",
    "222,5000004,F,2016-05-11T08:00:00Z,2016-05-10T00:00:00Z,33,CENTRO,0,0,0,0,0,0,No",
    "333,5000005,M,2016-05-01T08:00:00Z,2016-05-10T00:00:00Z,-1,CENTRO,0,0,0,0,0,0,No",
]


@pytest.fixture
def kaggle_file(tmp_path: Path) -> Path:
    path = tmp_path / "noshow.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return path


def test_no_show_yes_means_absent(kaggle_file: Path) -> None:
    valid = load_appointments(kaggle_file, "kaggle-noshow").valid.set_index("appointment_id")
    assert valid.loc["5000002", "no_show"] == 1.0
    assert valid.loc["5000001", "no_show"] == 0.0


def test_same_day_booking_starts_at_its_booking_time(kaggle_file: Path) -> None:
    valid = load_appointments(kaggle_file, "kaggle-noshow").valid.set_index("appointment_id")
    same_day = valid.loc["5000003"]
    assert same_day["starts_at"] == same_day["booked_at"] == pd.Timestamp("2016-05-10 14:30")
    ahead = valid.loc["5000001"]
    assert ahead["starts_at"] == pd.Timestamp("2016-05-10") and ahead["booked_at"] == pd.Timestamp(
        "2016-05-02 09:15"
    )


def test_booking_after_the_visit_day_and_negative_age_are_quarantined(kaggle_file: Path) -> None:
    result = load_appointments(kaggle_file, "kaggle-noshow")
    quarantined = result.quarantined
    reasons = dict(zip(quarantined["appointment_id"], quarantined["quarantine_reason"], strict=True))
    assert reasons == {
        "5000004": "starts_at is before booked_at",
        "5000005": "patient_age: Input should be greater than or equal to 0",
    }


def test_non_integer_patient_ids_are_kept_as_text(kaggle_file: Path) -> None:
    valid = load_appointments(kaggle_file, "kaggle-noshow").valid.set_index("appointment_id")
    assert valid.loc["5000003", "patient_id"] == "93779.52927"


def test_two_visits_of_one_patient_on_one_day_are_both_kept(kaggle_file: Path) -> None:
    valid = load_appointments(kaggle_file, "kaggle-noshow").valid
    assert valid[valid["patient_id"] == "111"]["appointment_id"].tolist() == ["5000001", "5000002"]


def test_extra_attributes_become_optional_features(kaggle_file: Path) -> None:
    row = load_appointments(kaggle_file, "kaggle-noshow").valid.set_index("appointment_id").loc["5000003"]
    assert (row["welfare_enrolled"], row["handicap_count"], row["reminder_sent"]) == (1.0, 2.0, False)
    assert row["clinic_id"] == "MARUIPE" and row["payer_type"] == "public"


def test_a_file_without_the_public_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a kaggle-noshow file: missing columns PatientId"):
        load_appointments(path, "kaggle-noshow")


@pytest.mark.shared_data
def test_the_real_brazil_file_loads(shared_data: Path) -> None:
    result = load_appointments(shared_data / "noshow" / "noshow_brazil_2016_dev.csv.gz", "kaggle-noshow")
    assert result.rows_read == 75_283
    assert result.reason_counts == {"starts_at is before booked_at": 5}
    assert result.valid["no_show"].mean() == pytest.approx(0.2096, abs=0.001)
    assert result.valid["appointment_id"].is_unique
