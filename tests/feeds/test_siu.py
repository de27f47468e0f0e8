"""HL7 v2 SIU messages read into schedule events and applied to the appointment store."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from data.feeds.code_tables import CodeTableError, CodeTables
from data.feeds.mllp import ack, split_messages
from data.feeds.siu import MessageError, read_message
from data.schemas import Appointment
from data.stores.appointments import AppointmentStore
from features.history import CLINIC_LOAD, HistoryParams, online_history
from services.access.audit import AuditTrail
from services.access.principal import system
from services.schedule_feed import ScheduleFeed
from serving.app import create_app
from tests.bodies import APPOINTMENT
from tests.feeds.listener import BIN
from tests.helpers import SCHEDULER, TrainedStore, make_settings

TABLES = CodeTables()
S12 = (
    "MSH|^~\\&|PM|CLINIC|CAREOPS|CAREOPS|20260301090000||SIU^S12|C1|P|{version}\r"
    "SCH|APPT-1|APPT-1|||||ROUTINE|FOLLOWUP^Follow-up|20|min|^^^20260310143000||||||||||||||Booked\r"
    "PID|1||PAT-1^^^PM^MR||DOE^JANE||19800311|F\r"
    "PV1|1|O|^^^C01||||C01-D1\r"
    "IN1|1|BCBS|||||||||||||PPO\r"
    "ZCO||Y"
)


def message(version: str = "2.3", swaps: dict[str, str] | None = None) -> str:
    text = S12.format(version=version)
    for old, new in (swaps or {}).items():
        text = text.replace(old, new)
    return text


@pytest.fixture
def feed(tmp_path: Path) -> ScheduleFeed:
    return ScheduleFeed(
        AppointmentStore(f"sqlite:///{tmp_path / 'feed.db'}"), AuditTrail(None), system("tests")
    )


def test_a_booking_maps_every_field_in_any_version_and_with_any_terminator() -> None:
    expected = {
        "starts_at": datetime(2026, 3, 10, 14, 30),
        "duration_minutes": 20,
        "patient_id": "PAT-1",
        "patient_age": 45,  # one day before the 46th birthday
        "patient_sex": "F",
        "clinic_id": "C01",
        "provider_id": "C01-D1",
        "appointment_type": "follow_up",
        "payer_type": "commercial",
        "reminder_sent": True,
    }
    for version in ("2.2", "2.3", "2.4", "2.5", "2.5.1"):
        for terminator in ("\r", "\n", "\r\n"):
            event = read_message(message(version).replace("\r", terminator), TABLES)
            assert (event.kind, event.appointment_id, event.fields) == ("book", "APPT-1", expected)
            assert event.recorded_at == datetime(2026, 3, 1, 9, 0)


def test_start_and_duration_come_from_tq1_or_the_resource_segments_when_sch_has_none() -> None:
    text = message("2.5.1").replace("|20|min|^^^20260310143000|", "||||")
    with_tq1 = read_message(text + "\rTQ1|1||||||20260310150000", TABLES)
    assert with_tq1.fields["starts_at"] == datetime(2026, 3, 10, 15, 0)
    with_ais = read_message(text + "\rAIS|1||99213^Visit|20260310160000|||45|min", TABLES)
    assert with_ais.fields["starts_at"] == datetime(2026, 3, 10, 16, 0)
    assert with_ais.fields["duration_minutes"] == 45
    hours = read_message(message().replace("|20|min|", "|1.5|hours|"), TABLES)
    assert hours.fields["duration_minutes"] == 90


def test_the_event_of_each_trigger_and_filler_status() -> None:
    kinds = {
        trigger: read_message(message(swaps={"SIU^S12": "SIU^" + trigger}), TABLES).kind
        for trigger in ("S12", "S13", "S14", "S15", "S16", "S17", "S26", "S20")
    }
    assert kinds == {
        "S12": "book", "S13": "update", "S14": "update", "S15": "cancel", "S16": "cancel",
        "S17": "cancel", "S26": "no_show", "S20": "ignore",
    }  # fmt: skip
    assert read_message(message().replace("|Booked", "|Complete"), TABLES).kind == "attend"
    assert read_message(message().replace("|Booked", "|Noshow"), TABLES).kind == "no_show"
    other = read_message(message().replace("SIU^S12", "ORU^R01"), TABLES)
    assert other.kind == "ignore" and other.reason == "not a scheduling event"


def test_unusable_messages_say_which_field_and_never_its_value() -> None:
    with pytest.raises(MessageError) as no_header:
        read_message("PID|1||PAT-1", TABLES)
    assert no_header.value.reject and "MSH" in no_header.value.reason
    with pytest.raises(MessageError) as no_id:
        read_message(message().replace("SCH|APPT-1|APPT-1|", "SCH|||"), TABLES)
    assert not no_id.value.reject and "SCH-2" in no_id.value.reason


def test_a_booking_then_its_reschedule_cancellation_and_outcomes(feed: ScheduleFeed) -> None:
    store = feed.store
    assert feed.apply(read_message(message(), TABLES)) == "booked"
    moved = message(
        swaps={"SIU^S12": "SIU^S13", "20260301090000": "20260305120000", "20260310143000": "20260312100000"}
    )
    assert feed.apply(read_message(moved, TABLES)) == "updated"
    record = store.bookings_of(["APPT-1"])["APPT-1"].record
    assert record["starts_at"] == "2026-03-12T10:00:00"
    assert record["booked_at"] == "2026-03-01T09:00:00"  # an S13 is not a new booking
    # An S14 that carries only the new time keeps the rest of the stored record.
    bare = (
        "MSH|^~\\&|PM|CLINIC|CAREOPS|CAREOPS|20260306120000||SIU^S14|C3|P|2.3\r"
        "SCH|APPT-1|APPT-1|||||||30|min|^^^20260312110000"
    )
    assert feed.apply(read_message(bare, TABLES)) == "updated"
    record = store.bookings_of(["APPT-1"])["APPT-1"].record
    assert (record["starts_at"], record["duration_minutes"], record["payer_type"]) == (
        "2026-03-12T11:00:00", 30, "commercial",
    )  # fmt: skip
    assert feed.apply(read_message(message(swaps={"SIU^S12": "SIU^S26"}), TABLES)) == "no_show"
    assert store.bookings_of(["APPT-1"])["APPT-1"].outcome == "no_show"
    assert feed.apply(read_message(message(swaps={"SIU^S12": "SIU^S15"}), TABLES)) == "cancelled"
    cancel_unknown = message(swaps={"SIU^S12": "SIU^S15", "APPT-1": "APPT-9"})
    assert feed.apply(read_message(cancel_unknown, TABLES)).startswith("ignored")
    assert "APPT-9" not in store.bookings_of(["APPT-9"])
    assert feed.report.applied == {"booked": 1, "updated": 2, "no_show": 1, "cancelled": 1}


def test_an_arrival_without_a_visit_number_is_matched_to_the_patients_booking(feed: ScheduleFeed) -> None:
    feed.apply(read_message(message(), TABLES))
    arrival = (
        "MSH|^~\\&|PM|CLINIC|CAREOPS|CAREOPS|20260310142500||ADT^A04|C9|P|2.3\r"
        "EVN|A04|20260310142500\rPID|1||PAT-1||DOE^JANE||19800311|F\rPV1|1|O|^^^C01"
    )
    assert feed.apply(read_message(arrival, TABLES)) == "attended"
    assert feed.store.bookings_of(["APPT-1"])["APPT-1"].outcome == "attended"
    elsewhere = arrival.replace("^^^C01", "^^^C02")
    assert feed.apply(read_message(elsewhere, TABLES)).startswith("ignored: an arrival that matches no")


def test_a_practice_edits_its_code_tables(tmp_path: Path) -> None:
    path = tmp_path / "codes.json"
    path.write_text(
        json.dumps({"appointment_types": {"WART": "procedure"}, "payer_types": {"BCBS": "medicare"}})
    )
    tables = CodeTables.load(path)
    text = message().replace("FOLLOWUP^Follow-up", "wart^wart removal").replace("|PPO", "|")
    event = read_message(text, tables)
    assert (event.fields["appointment_type"], event.fields["payer_type"]) == ("procedure", "medicare")
    unmapped = read_message(message().replace("FOLLOWUP^Follow-up", "XRAY^Chest film"), TABLES)
    assert unmapped.fields["appointment_type"] == "xray"  # kept, and shown to the scorer as unseen
    path.write_text(json.dumps({"appointment_types": ["not", "a", "table"]}))
    with pytest.raises(CodeTableError):
        CodeTables.load(path)


def test_acks_echo_the_control_id_and_escape_the_reason() -> None:
    answer = ack(message().encode(), "AE", "SIU^S12 lacks | something").decode()
    msh, msa = answer.rstrip("\r").split("\r")
    assert msh.split("|")[8] == "ACK^S12" and msh.split("|")[11] == "2.3"
    assert msa == "MSA|AE|C1|SIU\\S\\S12 lacks \\F\\ something"
    assert ack(b"garbage", "AR", "no MSH").decode().endswith("MSA|AR||no MSH\r")
    assert len(split_messages(b"\x0b" + message().encode() + b"\x1c\r" + message().encode())) == 2


ATHENA = "hl7/athena_siu"


@pytest.mark.shared_data
def test_athena_s12_messages_are_read_with_every_field_the_model_needs(shared_data: Path) -> None:
    files = sorted((shared_data / ATHENA).glob("*.hl7"))
    assert len(files) == 50
    for path in files:
        event = read_message(path.read_bytes(), TABLES)
        assert event.kind == "book" and event.trigger == "SIU^S12"
        for name in (
            "starts_at",
            "duration_minutes",
            "patient_age",
            "patient_sex",
            "clinic_id",
            "provider_id",
        ):
            assert name in event.fields, (path.name, name)
        assert event.fields["patient_sex"] in ("F", "M")


@pytest.mark.shared_data
def test_ingested_athena_bookings_are_in_the_clinic_load_of_a_later_score(
    shared_data: Path, tmp_path: Path, trained_store: TrainedStore
) -> None:
    settings = make_settings(tmp_path, tracking_uri=trained_store.settings.tracking_uri)
    environment = {"CAREOPS_DATABASE_URL": settings.database_url, "PATH": str(BIN)}
    files = sorted(str(p) for p in (shared_data / ATHENA).glob("*.hl7"))
    done = subprocess.run(
        [str(BIN / "careops"), "ingest", "hl7", *files, "--record"],
        env=environment, capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert "messages: 50 (SIU^S12 50)" in done.stdout and "applied: booked 50" in done.stdout
    store = AppointmentStore(settings.database_url)
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT record FROM careops_appointments").scalars().all()
    records = [Appointment.model_validate_json(r) for r in rows]
    assert len(records) == 50 and all(r.clinic_id == "Brockton" for r in records)

    walk_in = APPOINTMENT | {
        "appointment_id": "NEW-1",
        "patient_id": "NEW-P",
        "clinic_id": "Brockton",
        "provider_id": "kmurphy2",
        "booked_at": "2004-03-22T10:00:00",
        "starts_at": "2004-03-22T16:00:00",
    }
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/noshow/score", json={"appointments": [walk_in]}, headers=SCHEDULER)
    assert response.status_code == 200
    history = online_history(store, [Appointment.model_validate(walk_in)], HistoryParams())
    assert history[CLINIC_LOAD][0] == 50  # every athena booking of that day, made before this one


@pytest.mark.parametrize(("sent", "late"), [("20260310100000", True), ("20260305100000", False)])
def test_a_cancellation_keeps_the_time_the_practice_system_made_it(
    feed: ScheduleFeed, sent: str, late: bool
) -> None:
    feed.apply(read_message(message(), TABLES))
    cancel = message(swaps={"SIU^S12": "SIU^S15", "20260301090000": sent})
    assert feed.apply(read_message(cancel, TABLES)) == "cancelled"
    # 4.5 hours or 5 days before the 14:30 start: a no-show under a 24-hour definition, or not.
    assert feed.store.known_outcomes(24) == ([("APPT-1", 1)] if late else [])
    assert feed.store.known_outcomes(0) == []
